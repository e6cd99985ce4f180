"""What the operator keeps of each environment between passes: one object per environment, dropped with it.

Everything here is a cache of what the API server and AWS hold, or a convenience (a lock, a wake-up): a restarted
operator starts empty and its first pass fills it again. reconcile() and finalize() take an environment's memory
as an argument, so they know nothing of kopf and are tested with a fresh one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .api.rollout import TrafficRouting
from .api.status import NotificationRecord
from .dataplane import Remembered
from .kube.apply import Written
from .rollouts.traffic import TrafficRouter

RouteKey = tuple[str, str, str]  # kind, namespace, name of an object traffic is routed through


@dataclass
class EnvironmentMemory:
    uid: str
    # kopf may run a change handler, a timer and the healing daemon of one environment at the same time.
    lock: threading.Lock = field(default_factory=threading.Lock)
    _touched_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The status the last pass computed. A handler or the daemon that waited for the lock may hold a body older
    # than the last pass: it starts from this instead.
    latest: dict[str, Any] | None = None
    # The status this process last wrote (handlers.py), or None since its start.
    stored: dict[str, Any] | None = None
    # The outputs of the last AWS pass: a pass without AWS (a rollout step, healing) serves the workloads and the
    # connection Secret from them.
    outputs: Mapping[str, Mapping[str, Any]] | None = None
    written: Written = field(default_factory=Written)  # what aenv last wrote of the environment's objects
    data_plane: dict[str, Remembered] = field(default_factory=dict)  # the last data-plane check per component
    routes: set[RouteKey] = field(default_factory=set)  # the Ingresses and HTTPRoutes its traffic goes through
    routers: dict[str, TrafficRouter] = field(default_factory=dict)  # per workload, kept with their caches
    routings: dict[str, TrafficRouting | None] = field(default_factory=dict)  # what each router was made for
    # A rollout is in progress: a readiness change of its ReplicaSets wakes a pass (kube/owned.py), so a step
    # follows its gate at once instead of at the next poll.
    rolling: bool = False
    pods: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # per ReplicaSet: pods, ready, available
    # The notification sender's verdict per target (slack, webhook, the emails' topic): None delivered, else why not
    # (never a URL).
    delivery: dict[str, str | None] = field(default_factory=dict)
    # Alarm state changes from the event queue (notify/alarms.py), by event id: the notification and the receipt
    # that deletes the message once the outbox holding it is written.
    alarm_events: dict[str, tuple[NotificationRecord, str]] = field(default_factory=dict)
    # When the next pass without AWS is due (a rollout's next step, a measurement, a deadline); None: no such pass.
    requeue_at: datetime | None = None
    # The environment's daemon (handlers.py): `woken` runs a pass now, `rescheduled` makes it look at requeue_at.
    woken: asyncio.Event | None = None
    rescheduled: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    # Drift (aenv/drift): the keys of the resources CloudTrail events named since the last pass, which the next pass
    # observes in AWS; when the last full AWS pass ended (time.monotonic()), and when a sweep that left AWS work
    # should run again.
    touched: set[str] = field(default_factory=set)
    swept_at: float | None = None
    retry_at: float | None = None

    def pods_counted(self, replica_set: Mapping[str, Any], deleted: bool) -> bool:
        """A watch reports a ReplicaSet: whether its pod counts differ from the last report (a status write that
        changes only, say, its observedGeneration wakes no one). A deleted one is forgotten."""
        name = (replica_set.get("metadata") or {}).get("name") or ""
        if deleted:
            return self.pods.pop(name, None) is not None
        status = replica_set.get("status") or {}
        counts = (int(status.get("replicas") or 0), int(status.get("readyReplicas") or 0),
                  int(status.get("availableReplicas") or 0))
        if self.pods.get(name) == counts:
            return False
        self.pods[name] = counts
        return True

    def keep_workloads(self, names: set[str]) -> None:
        """Drop the routers of workloads the spec no longer has."""
        for gone in set(self.routers) - names:
            self.routers.pop(gone, None)
            self.routings.pop(gone, None)

    def wake(self) -> None:
        """From any thread: a pass without AWS runs now (something the environment owns changed)."""
        self._signal(self.woken)

    def touch(self, keys: set[str]) -> None:
        """From any thread: events named these resources; a pass observes them in AWS now."""
        with self._touched_lock:
            self.touched |= keys
        self.wake()

    def take_touched(self) -> frozenset[str]:
        with self._touched_lock:
            taken, self.touched = frozenset(self.touched), set()
        return taken

    def schedule(self, at: datetime | None) -> None:
        """From any thread: the next pass without AWS is due at `at`."""
        if at != self.requeue_at:
            self.requeue_at = at
            self._signal(self.rescheduled)

    def seconds_to_requeue(self) -> float | None:
        at = self.requeue_at
        return None if at is None else max(0.0, (at - datetime.now(UTC)).total_seconds())

    def _signal(self, event: asyncio.Event | None) -> None:
        if self.loop is not None and event is not None:
            self.loop.call_soon_threadsafe(event.set)


class Memories:
    """Every environment's memory, by uid, for as long as the environment exists."""

    GONE_KEPT = 4096  # how many forgotten uids are remembered as gone: a bound, not a history

    def __init__(self) -> None:
        self._by_uid: dict[str, EnvironmentMemory] = {}
        self._gone: dict[str, None] = {}  # forgotten uids, oldest first
        self._lock = threading.Lock()

    def __call__(self, uid: str) -> EnvironmentMemory:
        """The environment's memory, made on first use. A pass still running for an environment already forgotten
        (deleted while a daemon's pass ran) gets a memory of its own that is not kept."""
        with self._lock:
            if uid in self._gone:
                return EnvironmentMemory(uid)
            if uid not in self._by_uid:
                self._by_uid[uid] = EnvironmentMemory(uid)
            return self._by_uid[uid]

    def find(self, uid: str) -> EnvironmentMemory | None:
        with self._lock:
            return self._by_uid.get(uid)

    def all(self) -> list[EnvironmentMemory]:
        with self._lock:
            return list(self._by_uid.values())

    def forget(self, uid: str) -> None:
        """The environment is gone: its memory is dropped, and not made again for a pass that is late."""
        with self._lock:
            self._by_uid.pop(uid, None)
            self._gone[uid] = None
            while len(self._gone) > self.GONE_KEPT:
                del self._gone[next(iter(self._gone))]

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_uid)
