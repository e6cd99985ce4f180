"""Watches on what aenv writes in the cluster, so that a deletion or a hand-made edit is put right within
seconds instead of at the next resync.

Two sorts of objects are watched, each kind by one thread with one long-lived watch:
- the objects aenv owns (connection Secret, ServiceAccount, Services, ReplicaSets), selected by the label
  `app.kubernetes.io/managed-by=aenv`: kube/apply.py judges whether a change was aenv's own;
- the traffic objects aenv writes weights into but does not own (an ALB Ingress, a Gateway API HTTPRoute):
  every change to one that an environment routes through wakes that environment, whose next pass compares
  the weights in effect with the rollout's. A kind the cluster does not serve (no Gateway API) is looked for
again every few seconds, and at once when an environment starts routing through an object of it.

While an environment has a rollout in progress, a change to the pod counts of its ReplicaSets wakes it too: the
ReplicaSet controller writes the count of ready pods there, and that count is what a step's gate waits for, so
the step follows the pods at once (pods themselves are not watched: the engine reads readiness from the
ReplicaSet, and a pass woken by a pod would still see the ReplicaSet's old count).

A woken environment runs a pass without AWS (see handlers.py). A watch that breaks is listed again, and
what changed in the gap is judged against that listing, so no change is lost to a reconnect.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from ..memory import EnvironmentMemory, Memories, RouteKey
from ..plan.workloads import MANAGED
from . import apply
from .observed import objects

log = logging.getLogger("aenv.owned")

MANAGED_SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED.items())
WATCH_SECONDS = 300  # the API server ends a watch after this; it is resumed from the last version seen
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
UNSERVED_SECONDS = 5.0


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    owned: bool  # owned by an environment (selected by label) or only routed through (any object of the kind)


OWNED = (Kind("v1", "Secret", True), Kind("v1", "ServiceAccount", True), Kind("v1", "Service", True),
         Kind("apps/v1", "ReplicaSet", True))
ROUTES = (Kind("networking.k8s.io/v1", "Ingress", False), Kind("gateway.networking.k8s.io/v1", "HTTPRoute", False))

_new_route = threading.Event()  # a watch waiting for its kind to be served looks again at once


def route_through(memory: EnvironmentMemory, routes: set[RouteKey]) -> None:
    """The environment routes traffic through exactly these objects (kind, namespace, name): a change to one of
    them wakes the environment; one it no longer routes through is forgotten."""
    if routes - memory.routes:
        _new_route.set()
    memory.routes = set(routes)


def changed(memories: Memories, kind: Kind, obj: Mapping[str, Any], deleted: bool) -> list[EnvironmentMemory]:
    """The environments to wake for one reported change."""
    if kind.owned:
        memory = memories.find(apply.owner_of(obj))
        if memory is None:
            return []
        edited = memory.written.observed(obj, deleted)  # always asked: it forgets what someone else changed
        counted = kind.kind == "ReplicaSet" and memory.pods_counted(obj, deleted)
        return [memory] if edited or (memory.rolling and counted) else []
    meta = obj.get("metadata") or {}
    key = (kind.kind, meta.get("namespace") or "", meta.get("name") or "")
    return [m for m in memories.all() if key in m.routes]


class Watcher:
    """One thread per kind (and per namespace, when the operator serves named namespaces only: it may have no
    right to list cluster-wide); `stop()` ends them at their next event or timeout."""

    def __init__(self, memories: Memories, namespaces: Sequence[str] | None = None,
                 kinds: tuple[Kind, ...] = OWNED + ROUTES) -> None:
        self.memories = memories
        self.stopping = threading.Event()
        scopes: Sequence[str | None] = list(namespaces) if namespaces else [None]
        # (kind, namespace) -> "starting", "watching", "unserved" (the cluster has no such kind) or "failing"
        self.states: dict[tuple[str, str | None], str] = {(k.kind, ns): "starting" for k in kinds for ns in scopes}
        self.threads = [threading.Thread(target=self._run, args=(k, ns), name=f"aenv-watch-{k.kind}-{ns or 'all'}",
                                         daemon=True) for k in kinds for ns in scopes]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stopping.set()
        _new_route.set()

    def ready(self) -> bool:
        """Every watch is established (or its kind is not served here): what aenv writes heals (/readyz)."""
        return all(state in ("watching", "unserved") for state in list(self.states.values()))

    def _run(self, kind: Kind, namespace: str | None) -> None:
        failures = 0
        version: str | None = None  # where the last watch ended: the next resumes there, without listing again
        while not self.stopping.is_set():
            try:
                if version is None:
                    version = self._list(kind, namespace)
                    failures = 0
                    self.states[(kind.kind, namespace)] = "watching"
                for event_type, obj in self._watch(kind, namespace, version):
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    self._report(kind, obj, event_type == "DELETED")
            except ResourceNotFoundError:
                version = None
                objects.lost(kind.kind, namespace)
                self.states[(kind.kind, namespace)] = "unserved"
                self._await_served(kind)
            except ApiException as e:  # 410 Gone among them: the version to resume from is too old
                version = None
                objects.lost(kind.kind, namespace)
                if e.status == 404:  # the kind's CRD was removed
                    self.states[(kind.kind, namespace)] = "unserved"
                    self._await_served(kind)
                    continue
                failures += 1
                self.states[(kind.kind, namespace)] = "failing"
                self._pause(kind, e, failures)
            except Exception as e:  # noqa: BLE001 - a broken watch is listed and watched again, never fatal
                version = None
                objects.lost(kind.kind, namespace)
                failures += 1
                self.states[(kind.kind, namespace)] = "failing"
                self._pause(kind, e, failures)

    def _pause(self, kind: Kind, error: Exception, failures: int) -> None:
        delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1] * random.uniform(0.8, 1.2)
        log.warning("watch on %s ended (%s); listing again in %.0f s", kind.kind, _brief(error), delay)
        self.stopping.wait(delay)

    def _await_served(self, kind: Kind) -> None:
        """The kind is not served (no Gateway API in this cluster, or its CRD was removed): ask the API server
        for its group version now and then (one small request), and take up the watch once it is there."""
        path = f"/apis/{kind.api_version}" if "/" in kind.api_version else f"/api/{kind.api_version}"
        while not self.stopping.is_set():
            _new_route.wait(UNSERVED_SECONDS)
            _new_route.clear()
            try:
                apply.dynamic().request("GET", path)
            except Exception:  # noqa: BLE001 - not served yet (404) or unreachable: look again later
                continue
            apply.dynamic().resources.invalidate_cache()
            return

    def _resource(self, kind: Kind) -> Any:
        return apply.dynamic().resources.get(api_version=kind.api_version, kind=kind.kind)

    def _selector(self, kind: Kind) -> str | None:
        return MANAGED_SELECTOR if kind.owned else None

    def _list(self, kind: Kind, namespace: str | None) -> str:
        """List the kind and judge it against what aenv remembers: whatever changed while no watch ran (at
        start, after a broken watch) is caught here. Returns the version to watch from."""
        listing = self._resource(kind).get(namespace=namespace, label_selector=self._selector(kind)).to_dict()
        items = [{"apiVersion": kind.api_version, "kind": kind.kind, **item} for item in listing.get("items") or []]
        if kind.owned:
            objects.listed(kind.kind, namespace, items)
        seen = set()
        for obj in items:
            seen.add(apply.key_of(obj))
            self._report(kind, obj, deleted=False)
        if kind.owned:
            for memory in self.memories.all():
                gone = {k for k in memory.written.recorded(kind.api_version, kind.kind) - seen
                        if namespace is None or k[2] == namespace}
                for key in gone:
                    memory.written.forget(key)
                if gone:
                    memory.wake()
        return str((listing.get("metadata") or {}).get("resourceVersion", ""))

    def _watch(self, kind: Kind, namespace: str | None, version: str) -> Iterator[tuple[str, dict[str, Any]]]:
        stream = self._resource(kind).watch(namespace=namespace, label_selector=self._selector(kind),
                                            resource_version=version, timeout=WATCH_SECONDS)
        for event in stream:
            if self.stopping.is_set():
                return
            raw = event.get("raw_object") or {}
            if event.get("type") == "ERROR":
                raise ApiException(status=raw.get("code"), reason=raw.get("message"))
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                yield event["type"], raw

    def _report(self, kind: Kind, obj: Mapping[str, Any], deleted: bool) -> None:
        if kind.owned:  # before the wake: the pass it runs reads the view
            objects.put(kind.kind, obj, deleted)
        for memory in changed(self.memories, kind, obj, deleted):
            memory.wake()


def _brief(error: Exception) -> str:
    status = getattr(error, "status", None)
    return f"HTTP {status}" if status else type(error).__name__
