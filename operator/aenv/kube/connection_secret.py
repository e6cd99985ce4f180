"""The connection Secret: one Secret per environment with every endpoint and credential, owned by the
environment (so Kubernetes deletes it with the environment), written only when its content changed or the
cluster's copy was deleted or edited (see kube/apply.py for how aenv knows)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..api import API_VERSION, KIND
from ..naming import EnvironmentRef
from ..plan.workloads import LABEL_ENV, MANAGED
from . import apply
from .client import core


class SecretTaken(Exception):
    """The connection Secret's name is held by a Secret aenv does not own."""


def ensure(env: EnvironmentRef, name: str, data: Mapping[str, str], written: apply.Written) -> bool:
    """Create or update the Secret unless `written` says it is already so; True when something was written."""
    key, digest = ("v1", "Secret", env.namespace, name), apply.digest_of(dict(data))
    if written.unchanged(key, digest):
        return False
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    labels = {**MANAGED, LABEL_ENV: env.label}
    metadata = client.V1ObjectMeta(
        name=name, namespace=env.namespace, labels=labels,
        owner_references=[client.V1OwnerReference(api_version=API_VERSION, kind=KIND, name=env.name, uid=env.uid,
                                                  controller=True, block_owner_deletion=False)])
    body = client.V1Secret(metadata=metadata, type="Opaque", data=encoded)
    secrets = core()
    try:
        current = secrets.read_namespaced_secret(name, env.namespace)
    except ApiException as e:
        if e.status != 404:
            raise
        current, changed = secrets.create_namespaced_secret(env.namespace, body), True
    else:
        meta = current.metadata or client.V1ObjectMeta()
        if env.uid not in {o.uid for o in meta.owner_references or []}:
            raise SecretTaken(f"Secret {env.namespace}/{name} exists and is not this environment's; "
                              "rename or delete it so aenv can write the connection details there")
        held = meta.labels or {}
        changed = (current.data or {}) != encoded or any(held.get(k) != v for k, v in labels.items())
        if changed:
            metadata.resource_version = meta.resource_version
            current = secrets.replace_namespaced_secret(name, env.namespace, body)
    meta = current.metadata or client.V1ObjectMeta()
    written.remember(key, digest, {"metadata": {"resourceVersion": meta.resource_version}})
    return changed
