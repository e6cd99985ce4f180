"""What the watches (kube/owned.py) last saw of aenv's ReplicaSets and Services, kept compact and by environment,
so that a pass reads the pod counts and selectors its rollouts step on without listing them: under load the two
lists were half of a rollout pass's time. Only while a kind's watch runs is its view served; before the first
listing, and between a broken watch and the listing that follows, a pass lists for itself.

A view may trail aenv's own writes by one watch event. The engine decides from levels, not edges, so a view one
event old costs at most a write repeated (an idempotent apply), and the event itself wakes the environment again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..plan import connection
from ..plan import workloads as plan

EnvKey = tuple[str, str]  # namespace, the environment's label value
REPLICA_SET, SERVICE = "ReplicaSet", "Service"


@dataclass(frozen=True)
class SetView:
    workload: str
    revision: str
    replicas: int
    ready: int
    credentials: str  # the pod template's credentials stamp (plan/connection.CREDENTIALS_ANNOTATION)


def set_view(obj: Mapping[str, Any]) -> SetView | None:
    """A ReplicaSet as the API sends it (camelCase JSON); None when it is no workload revision of aenv's."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if plan.LABEL_WORKLOAD not in labels or plan.LABEL_REVISION not in labels:
        return None
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    return SetView(workload=labels[plan.LABEL_WORKLOAD], revision=labels[plan.LABEL_REVISION],
                   replicas=int(spec.get("replicas") or 0), ready=int(status.get("readyReplicas") or 0),
                   credentials=str((template_meta.get("annotations") or {}).get(connection.CREDENTIALS_ANNOTATION,
                                                                                "")))


def selected_revision(obj: Mapping[str, Any]) -> str | None:
    """The revision a Service's selector picks (None: every revision of its workload)."""
    return ((obj.get("spec") or {}).get("selector") or {}).get(plan.LABEL_REVISION)


def _where(obj: Mapping[str, Any]) -> tuple[EnvKey, str] | None:
    meta = obj.get("metadata") or {}
    label = (meta.get("labels") or {}).get(plan.LABEL_ENV)
    if not label or not meta.get("name"):
        return None
    return (meta.get("namespace") or "", label), meta["name"]


class ObservedObjects:
    """Thread-safe: the watches write, the passes read."""

    def __init__(self) -> None:
        self._sets: dict[EnvKey, dict[str, SetView]] = {}
        self._services: dict[EnvKey, dict[str, str | None]] = {}
        self._served: set[tuple[str, str | None]] = set()  # (kind, namespace or None for all) whose watch runs
        self._lock = threading.Lock()

    def put(self, kind: str, obj: Mapping[str, Any], deleted: bool) -> None:
        where = _where(obj)
        if where is None or kind not in (REPLICA_SET, SERVICE):
            return
        env, name = where
        with self._lock:
            self._put(kind, env, name, obj, deleted)

    def _put(self, kind: str, env: EnvKey, name: str, obj: Mapping[str, Any], deleted: bool) -> None:
        if kind == REPLICA_SET:
            view = None if deleted else set_view(obj)
            sets = self._sets.setdefault(env, {})
            if view is None:
                sets.pop(name, None)
            else:
                sets[name] = view
            if not sets:
                self._sets.pop(env, None)
        else:
            services = self._services.setdefault(env, {})
            if deleted:
                services.pop(name, None)
            else:
                services[name] = selected_revision(obj)
            if not services:
                self._services.pop(env, None)

    def listed(self, kind: str, namespace: str | None, items: Iterable[Mapping[str, Any]]) -> None:
        """A whole listing of the kind (in one namespace, or everywhere): it replaces what was held there, and the
        kind's view is served from now on."""
        if kind not in (REPLICA_SET, SERVICE):
            return
        with self._lock:
            held = self._sets if kind == REPLICA_SET else self._services
            for env in [e for e in held if namespace is None or e[0] == namespace]:
                del held[env]
            for obj in items:
                where = _where(obj)
                if where is not None:
                    self._put(kind, where[0], where[1], obj, deleted=False)
            self._served.add((kind, namespace))

    def lost(self, kind: str, namespace: str | None) -> None:
        """The kind's watch broke: what is held may miss changes until the next listing."""
        with self._lock:
            self._served.discard((kind, namespace))

    def _serves(self, kind: str, namespace: str) -> bool:
        return (kind, None) in self._served or (kind, namespace) in self._served

    def replica_sets(self, namespace: str, label: str) -> dict[str, SetView] | None:
        """The environment's ReplicaSets by name; None when no running watch vouches for them."""
        with self._lock:
            if not self._serves(REPLICA_SET, namespace):
                return None
            return dict(self._sets.get((namespace, label), {}))

    def services(self, namespace: str, label: str) -> dict[str, str | None] | None:
        """The environment's Services by name, with the revision each selects; None as above."""
        with self._lock:
            if not self._serves(SERVICE, namespace):
                return None
            return dict(self._services.get((namespace, label), {}))


objects = ObservedObjects()
