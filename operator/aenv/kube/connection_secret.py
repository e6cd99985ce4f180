"""The connection Secret: one Secret per environment with every endpoint and credential, owned by the
environment (so Kubernetes deletes it with the environment), written only when its content changed."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..api import API_VERSION, KIND
from ..naming import EnvironmentRef
from .client import core

LABELS = {"app.kubernetes.io/managed-by": "aenv", "app.kubernetes.io/part-of": "aenv"}

# uid -> digest of the data last written, so an idle resync neither writes nor reads.
_written: dict[str, str] = {}
_lock = threading.Lock()


class SecretTaken(Exception):
    """The connection Secret's name is held by a Secret aenv does not own."""


def _digest(data: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()


def ensure(env: EnvironmentRef, name: str, data: Mapping[str, str]) -> bool:
    """Create or update the Secret; True when something was written."""
    digest = _digest(data)
    with _lock:
        if _written.get(env.uid) == digest:
            return False
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    metadata = client.V1ObjectMeta(
        name=name, namespace=env.namespace, labels={**LABELS, "aenv.dev/environment": env.name},
        owner_references=[client.V1OwnerReference(api_version=API_VERSION, kind=KIND, name=env.name, uid=env.uid,
                                                  controller=True, block_owner_deletion=False)])
    body = client.V1Secret(metadata=metadata, type="Opaque", data=encoded)
    api = core()
    try:
        current = api.read_namespaced_secret(name, env.namespace)
    except ApiException as e:
        if e.status != 404:
            raise
        api.create_namespaced_secret(env.namespace, body)
        written = True
    else:
        meta = current.metadata or client.V1ObjectMeta()
        owners = {o.uid for o in meta.owner_references or []}
        if env.uid not in owners:
            raise SecretTaken(f"Secret {env.namespace}/{name} exists and is not this environment's; "
                              "rename or delete it so aenv can write the connection details there")
        written = (current.data or {}) != encoded
        if written:
            metadata.resource_version = meta.resource_version
            api.replace_namespaced_secret(name, env.namespace, body)
    with _lock:
        _written[env.uid] = digest
    return written


def forget(env: EnvironmentRef) -> None:
    with _lock:
        _written.pop(env.uid, None)
