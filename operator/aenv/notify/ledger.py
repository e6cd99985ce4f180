"""The record of what was delivered: a ConfigMap `<environment>-notifications` the environment owns (garbage
collected with it), one key per target holding the ids of the notifications it received, pruned to the outbox."""

from __future__ import annotations

from collections.abc import Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..api import API_VERSION, KIND
from ..naming import EnvironmentRef
from ..plan.workloads import LABEL_ENV, MANAGED


def name_of(env: EnvironmentRef) -> str:
    return env.object_name(suffix="-notifications")


def load(core: client.CoreV1Api, env: EnvironmentRef) -> dict[str, set[str]]:
    """Target name -> the ids it received; empty when there is no ledger yet."""
    try:
        cm = core.read_namespaced_config_map(name_of(env), env.namespace)
    except ApiException as e:
        if e.status == 404:
            return {}
        raise
    return {target: set(ids.split()) for target, ids in (cm.data or {}).items()}


def store(core: client.CoreV1Api, env: EnvironmentRef, target: str, sent: Iterable[str]) -> None:
    """Write one target's key (a merge patch: the other targets' keys are left alone)."""
    data = {target: " ".join(sorted(sent))}
    try:
        core.patch_namespaced_config_map(name_of(env), env.namespace, {"data": data})
        return
    except ApiException as e:
        if e.status != 404:
            raise
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name=name_of(env), namespace=env.namespace, labels={**MANAGED, LABEL_ENV: env.label},
        owner_references=[client.V1OwnerReference(api_version=API_VERSION, kind=KIND, name=env.name, uid=env.uid)]),
        data=data)
    try:
        core.create_namespaced_config_map(env.namespace, body)
    except ApiException as e:
        if e.status != 409:  # made meanwhile by another target's write
            raise
        core.patch_namespaced_config_map(name_of(env), env.namespace, {"data": data})
