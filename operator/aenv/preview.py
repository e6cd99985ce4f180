"""What a reconcile would do, without doing it: `aenv plan -f env.yaml`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from .api import EnvironmentSpec
from .aws.errors import AwsError, TransientError
from .kube.client import core
from .plan.actions import decide
from .plan.connection import connection_data, secret_name
from .plan.environment import desired_resources, requested
from .plan.types import Desired, Ref
from .reconcile import Environment, clients_for, implemented

PENDING = "<known after apply>"
SYMBOL = {"create": "+", "update": "~", "adopt": "~", "none": "=", "wait": "=", "conflict": "!", "delete": "-",
          "retain": "-", "missing": "?", "error": "!"}


@dataclass(frozen=True)
class Change:
    action: str  # create, update, adopt, none, wait, conflict, delete, retain, missing (not built yet), error
    kind: str
    name: str
    detail: str = ""

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"  {SYMBOL[self.action]} {self.kind:28} {self.name:60} {self.action}{detail}"


def _resolve(d: Desired, outputs: Mapping[str, Mapping[str, Any]]) -> Desired:
    params = {k: outputs.get(v.key, {}).get(v.output, PENDING) if isinstance(v, Ref) else v
              for k, v in d.params.items()}
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name, params=params, tags=d.tags)


def preview(env: Environment, spec: EnvironmentSpec, cluster: bool = True) -> list[Change]:
    """The change each resource would get: observes AWS (and the cluster), writes nothing."""
    clients, target = clients_for(spec)
    components = requested(spec)
    desired = desired_resources(env.ref, spec, components)
    changes = [Change("missing", c, "-", "aenv does not build this component yet")
               for c in components if not implemented(c, desired, clients)]
    outputs: dict[str, Mapping[str, Any]] = {}
    for d in desired:
        if not implemented(d.component, desired, clients):
            continue
        resolved = _resolve(d, outputs)
        try:
            observed = clients.get(d.kind, target).observe(resolved)
        except (AwsError, TransientError) as e:
            changes.append(Change("error", d.kind, d.name, str(e)))
            continue
        action = decide(env.ref, resolved, observed)
        if observed.exists:
            outputs[d.key] = observed.outputs
        detail = action.message if action.kind in ("conflict", "adopt") else ", ".join(sorted(observed.diff))
        changes.append(Change(action.kind, d.kind, d.name, detail if action.kind != "create" else ""))
    wanted = {d.key for d in desired}
    retire = "retain" if spec.deletion_policy == "Retain" else "delete"
    changes += [Change(retire, r.kind, r.name, "no longer in the spec")
                for r in env.status.resources if r.key not in wanted]
    if cluster:
        changes.append(_secret_change(env, connection_data(spec, outputs)))
    return changes


def _secret_change(env: Environment, data: Mapping[str, str]) -> Change:
    """Compares keys and values, and names only the keys: values may be credentials."""
    name = secret_name(env.ref)
    where = f"{env.ref.namespace}/{name}"
    try:
        current = core().read_namespaced_secret(name, env.ref.namespace).data or {}
    except ApiException as e:
        if e.status == 404:
            return Change("create", "Secret", where)
        raise
    now = {k: base64.b64decode(v).decode() for k, v in current.items()}
    changed = sorted(k for k in set(now) | set(data) if now.get(k) != data.get(k))
    return Change("update" if changed else "none", "Secret", where, ", ".join(changed))


def live(namespace: str, name: str) -> Mapping[str, Any] | None:
    """The environment as it is in the cluster, if it is there (for its uid and what it already made)."""
    from kubernetes import client

    from .api import GROUP, PLURAL, VERSION
    from .kube.client import api

    try:
        found: Mapping[str, Any] = client.CustomObjectsApi(api()).get_namespaced_custom_object(  # type: ignore[assignment]
            GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    return found
