"""spec.workloads -> the Kubernetes objects aenv runs them as: pod templates, ReplicaSets, Services. Pure.

Each revision of a workload's pod template runs as its own ReplicaSet, named after the workload and the
template's hash, so a rollout can hold two revisions side by side. Services select by revision:
`<workload>` (all ready pods of the workload — traffic by replica ratio — or, in blue-green, the active
revision), `<workload>-stable` and `<workload>-canary` (for traffic routers), `<workload>-preview`
(blue-green).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..api import API_VERSION, KIND
from ..api.spec import EnvironmentSpec, Workload
from ..naming import EnvironmentRef
from .connection import CREDENTIALS_ANNOTATION, credentials_stamp, secret_name
from .iam import service_account

LABEL_ENV = "aenv.dev/environment"
LABEL_WORKLOAD = "aenv.dev/workload"
LABEL_REVISION = "aenv.dev/revision"
MANAGED = {"app.kubernetes.io/managed-by": "aenv"}
CONNECTION_MOUNT = "/var/run/aenv/connection"  # the connection Secret as files, besides the environment variables


def owner(env: EnvironmentRef) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "name": env.name, "uid": env.uid, "controller": True,
            "blockOwnerDeletion": True}


def _meta(env: EnvironmentRef, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": env.namespace, "labels": {**MANAGED, LABEL_ENV: env.label, **(labels or {})},
            "ownerReferences": [owner(env)]}


def pod_template(env: EnvironmentRef, spec: EnvironmentSpec, w: Workload,
                 credentials: dict[str, str] | None = None) -> dict[str, Any]:
    """`credentials`: the versions of the connection Secret's credentials (plan/connection.credential_versions); a
    new version is a new template, so the workload's pods restart with it through the rollout policy."""
    container: dict[str, Any] = {
        "name": w.name, "image": w.image,
        "ports": [{"name": "http", "containerPort": w.port}],
        "envFrom": [{"secretRef": {"name": secret_name(env)}}],
        "env": [{"name": e.name, "value": e.value} for e in w.env],
        "volumeMounts": [{"name": "connection", "mountPath": CONNECTION_MOUNT, "readOnly": True}],
        "readinessProbe": {"tcpSocket": {"port": w.port}, "periodSeconds": 5},
        # The restricted Pod Security Standard (with the pod's below), so the pods are admitted where a namespace
        # enforces it: no privilege escalation, no capabilities, no root user. An image must name a non-root USER.
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if w.resources is not None:
        container["resources"] = w.resources.wire()
    metadata: dict[str, Any] = {"labels": {LABEL_ENV: env.label, LABEL_WORKLOAD: w.name}}
    if credentials:
        metadata["annotations"] = {CREDENTIALS_ANNOTATION: credentials_stamp(credentials)}
    return {
        "metadata": metadata,
        "spec": {"serviceAccountName": service_account(env), "containers": [container],
                 "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 "volumes": [{"name": "connection", "secret": {"secretName": secret_name(env)}}]},
    }


def revision(template: dict[str, Any]) -> str:
    """A stable hash of the pod template: the same spec always gives the same revision."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def replica_set_name(w: str, rev: str) -> str:
    return f"{w}-{rev}"


def replica_set(env: EnvironmentRef, w: Workload, template: dict[str, Any], rev: str, replicas: int) -> dict[str, Any]:
    labels = {LABEL_WORKLOAD: w.name, LABEL_REVISION: rev}
    tpl = {**template, "metadata": {**template["metadata"],
                                    "labels": {**template["metadata"]["labels"], LABEL_REVISION: rev}}}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": _meta(env, replica_set_name(w.name, rev), labels),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {LABEL_ENV: env.label, **labels}},
                 "template": tpl},
    }


def service_account_object(env: EnvironmentRef, role_arn: str | None) -> dict[str, Any]:
    meta = _meta(env, service_account(env))
    if role_arn:
        meta["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def service(env: EnvironmentRef, w: Workload, suffix: str, rev: str | None) -> dict[str, Any]:
    """A Service for the workload; with a revision it selects only that revision's pods."""
    selector = {LABEL_ENV: env.label, LABEL_WORKLOAD: w.name, **({LABEL_REVISION: rev} if rev else {})}
    name = f"{w.name}-{suffix}" if suffix else w.name
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(env, name, {LABEL_WORKLOAD: w.name}),
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": w.port}]},
    }
