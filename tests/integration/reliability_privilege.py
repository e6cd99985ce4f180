"""Least privilege, as the test and benchmarks/reliability_cases/privilege.py both check it: wildcards in the chart's
RBAC, IAM grants on Resource "*" or on resources not named aenv-*, and pods under the API server's own Pod Security
admission at `restricted` (the chart's operator pod, aenv's workload pods and its migration Job's pod)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aenv import iam_policy

from ..chart import RBAC_KINDS, of_kind
from .kube import Kube

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


def rbac_wildcards(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each rule of the chart's (Cluster)Roles that holds a `*` verb, resource, apiGroup or resource name."""
    found = []
    for kind in RBAC_KINDS:
        for role in of_kind(objects, kind):
            for rule in role.get("rules", []):
                fields = [f for f in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")
                          if any("*" in v for v in rule.get(f, []))]
                found += [f"{kind} {role['metadata']['name']}: {f} {rule[f]}" for f in fields]
    return found


def iam_unscoped() -> list[str]:
    """The IAM grants on Resource "*" of actions AWS lets a policy scope, and resources neither aenv-* nor on aenv's
    tags nor listed with why."""
    out = []
    for s in iam_policy.STATEMENTS:
        tagged = "Null" in s.condition
        if s.resources == ("*",):
            out += [f"{s.sid}: {a} on *" for a in s.actions if not tagged and a not in iam_policy.UNSCOPED]
            continue
        out += [f"{s.sid}: {r}" for r in s.resources if "aenv-" not in r and not tagged
                and iam_policy.resource_part(r) not in iam_policy.NOT_NAMED]
    return out


def restricted_namespace(kube: Kube, prefix: str) -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=RESTRICTED)))
    return name


def label_restricted(kube: Kube, namespace: str) -> None:
    kube.core.patch_namespace(namespace, {"metadata": {"labels": RESTRICTED}})


def pod_admission(kube: Kube, namespace: str, pod_spec: Mapping[str, Any], what: str) -> list[str]:
    """Dry-run a Pod with this spec: [] when admitted without a warning, else the refusal or the warnings."""
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"psa-{uuid.uuid4().hex[:8]}"}, "spec": pod_spec}
    try:
        _, _, headers = kube.core.create_namespaced_pod_with_http_info(namespace, body, dry_run="All")
    except ApiException as e:
        return [f"{what}: refused: {e.status} {e.body}"]
    return [f"{what}: warning: {w}" for w in warnings(headers)]


def create_with_warnings(kube: Kube, namespace: str, deployment: Mapping[str, Any]) -> list[str]:
    """Create a Deployment; the API server's warnings about it (Pod Security's `warn` mode names each violation)."""
    _, _, headers = kube.apps.create_namespaced_deployment_with_http_info(namespace, dict(deployment))
    return warnings(headers)


def warnings(headers: Mapping[str, str] | None) -> list[str]:
    value = (headers or {}).get("Warning", "")
    return [w.strip() for w in value.split(", 299 ") if w.strip()] if value else []
