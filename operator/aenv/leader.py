"""Leader election with a coordination.k8s.io Lease: of several operator replicas exactly one reconciles.

The rules are client-go's (k8s.io/client-go/tools/leaderelection), with times measured on this process's own
monotonic clock, never by comparing clocks across machines:

- A standby reads the Lease every `retry` seconds and takes it when it has no holder, or when its record has not
  changed for `duration` seconds since this process first saw it (the holder stopped renewing). Taking it is an
  update with the resourceVersion read, so of two standbys only one wins. A standby makes no other request.
- The leader renews every `renew` seconds. When it has not renewed for `deadline` seconds (less than `duration`)
  it steps down: `on_lost` is called, so it stops before any standby can take the Lease over.
- On release (SIGTERM) the leader clears the holder, so a standby takes over at its next read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("aenv.leader")


@dataclass(frozen=True)
class Timing:
    duration: float = 10.0  # a Lease not renewed for this long is free
    renew: float = 2.0  # the leader renews this often
    retry: float = 1.0  # a standby reads the Lease this often

    @property
    def deadline(self) -> float:
        """The leader steps down when it has not renewed for this long: well before the Lease expires."""
        return max(self.renew, self.duration * 2 / 3)


class Elector:
    """One replica's part in the election for the Lease `namespace/name`, under `identity` (the pod's name)."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, identity: str,
                 timing: Timing = Timing()) -> None:
        self.leases = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity, self.timing = namespace, name, identity, timing
        self.leading = threading.Event()
        self.lost = threading.Event()
        self.last_contact = time.monotonic()  # the last answer from the API server, for the health check
        self._observed: tuple[Any, ...] | None = None  # the Lease record last read, and when it last changed
        self._observed_at = 0.0
        self._renewed_at = 0.0
        self._lock = threading.Lock()

    # One attempt.

    def _record(self, lease: Any) -> tuple[Any, ...]:
        spec = lease.spec
        return (spec.holder_identity, spec.renew_time, spec.acquire_time, spec.lease_transitions)

    def try_acquire_or_renew(self) -> bool:
        """One read and, when the Lease is ours to take or keep, one write. True when this replica holds it."""
        now = time.monotonic()
        try:
            lease: Any = self.leases.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            return self._create()
        lease.spec = lease.spec or client.V1LeaseSpec()
        self.last_contact = time.monotonic()
        record = self._record(lease)
        if record != self._observed:
            self._observed, self._observed_at = record, now
        holder = lease.spec.holder_identity
        ours = holder == self.identity
        expired = now - self._observed_at >= self.timing.duration
        if holder and not ours and not expired:
            return False
        stamp = datetime.now(UTC)
        if not ours:
            lease.spec.acquire_time = stamp
            lease.spec.lease_transitions = (lease.spec.lease_transitions or 0) + 1
        lease.spec.holder_identity = self.identity
        lease.spec.lease_duration_seconds = max(1, round(self.timing.duration))
        lease.spec.renew_time = stamp
        try:
            updated = self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as e:
            if e.status == 409:  # someone else wrote it since it was read: theirs
                return False
            raise
        self.last_contact = time.monotonic()
        self._observed, self._observed_at = self._record(updated), now
        return True

    def _create(self) -> bool:
        stamp = datetime.now(UTC)
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=round(self.timing.duration),
                                    acquire_time=stamp, renew_time=stamp, lease_transitions=0))
        try:
            created = self.leases.create_namespaced_lease(self.namespace, body)
        except ApiException as e:
            if e.status == 409:  # created by another replica in the meantime
                return False
            raise
        self.last_contact = time.monotonic()
        self._observed, self._observed_at = self._record(created), time.monotonic()
        return True

    # The loops.

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this replica holds the Lease (True) or `stop` is set (False)."""
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    self._renewed_at = time.monotonic()
                    self.leading.set()
                    log.info("leading: holds the Lease %s/%s as %s", self.namespace, self.name, self.identity)
                    return True
            except Exception as e:  # noqa: BLE001 - the API server unreachable: a standby keeps trying
                log.warning("Lease %s/%s not read: %s", self.namespace, self.name, _brief(e))
            stop.wait(self.timing.retry)
        return False

    def keep(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew in a thread; call `on_lost` once when the Lease is lost or could not be renewed in time."""
        thread = threading.Thread(target=self._renew_loop, args=(on_lost,), name="aenv-lease", daemon=True)
        thread.start()
        return thread

    def _renew_loop(self, on_lost: Callable[[], None]) -> None:
        while self.leading.is_set():
            since = time.monotonic() - self._renewed_at
            wait = self.timing.renew if since < self.timing.renew else self.timing.retry
            if self.lost.wait(wait) or not self.leading.is_set():
                return
            try:
                with self._lock:
                    if not self.leading.is_set():
                        return
                    held = self.try_acquire_or_renew()
                if held:
                    self._renewed_at = time.monotonic()
                    continue
                reason = "another replica holds the Lease"
            except Exception as e:  # noqa: BLE001 - a failed renewal is retried until the deadline
                reason = f"not renewed: {_brief(e)}"
                if time.monotonic() - self._renewed_at < self.timing.deadline:
                    log.warning("Lease %s/%s %s; retrying", self.namespace, self.name, reason)
                    continue
            log.error("stepping down: Lease %s/%s %s", self.namespace, self.name, reason)
            self.leading.clear()
            self.lost.set()
            on_lost()
            return

    def release(self) -> None:
        """Give the Lease up (clear its holder) if this replica still holds it: a standby takes over at once."""
        with self._lock:
            if not self.leading.is_set():
                return
            self.leading.clear()
            try:
                lease: Any = self.leases.read_namespaced_lease(self.name, self.namespace)
                if lease.spec is None or lease.spec.holder_identity != self.identity:
                    return
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                lease.spec.renew_time = datetime.now(UTC)
                self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
                log.info("released the Lease %s/%s", self.namespace, self.name)
            except Exception as e:  # noqa: BLE001 - not released: it expires after its duration instead
                log.warning("Lease %s/%s not released (%s): it expires in %.0f s", self.namespace, self.name,
                            _brief(e), self.timing.duration)

    def healthy(self) -> bool:
        """The API server answered recently enough for this replica to lead or to take over."""
        return time.monotonic() - self.last_contact < max(3 * self.timing.duration, 30.0)


def _brief(error: Exception) -> str:
    status = getattr(error, "status", None)
    return f"HTTP {status}" if status else f"{type(error).__name__}: {error}"
