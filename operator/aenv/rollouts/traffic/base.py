"""The traffic router interface: how a canary weight reaches the traffic, and whether it took effect.

    set_weight(workload, canary_weight)   route canary_weight % to <workload>-canary, the rest to <workload>-stable
    applied_weight(workload) -> int|None  the canary weight in effect now; None when the router cannot say
                                          (no weighted routing object yet, or a change not yet taken up)

set_weight is idempotent (nothing is written when the weights are already right) and level-triggered: the
engine calls it again until applied_weight reports the weight. applied_weight reports only what is in effect,
never what was merely written: the engine scales pods down only after it, so traffic never reaches pods
that are gone. What each router can verify is written at the top of its module.

The operator creates the Services, not the routers: `<workload>-stable` and `<workload>-canary` select the
stable and canary pods; the plain `<workload>` Service selects both (the replica-ratio router's).
A routing object that is missing or does not name those Services is a TrafficRoutingError: the user fixes it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kubernetes.client.exceptions import ApiException

from ...api.rollout import TrafficRouting

CONFLICT_ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class WorkloadTraffic:
    """One workload's traffic as a router sees it. `service_port` is the port of the stable and canary
    Services (None: trafficRouting.alb.servicePort, else 80); `ready_stable` / `ready_canary` are the ready
    pod counts, which only the replica-ratio router reads."""

    namespace: str
    workload: str
    routing: TrafficRouting | None = None
    service_port: int | None = None
    ready_stable: int = 0
    ready_canary: int = 0

    @property
    def stable_service(self) -> str:
        return f"{self.workload}-stable"

    @property
    def canary_service(self) -> str:
        return f"{self.workload}-canary"

    @property
    def service(self) -> str:
        """The Service that selects stable and canary pods alike (no traffic router)."""
        return self.workload

    @property
    def port(self) -> int:
        if self.service_port is not None:
            return self.service_port
        if self.routing is not None and self.routing.alb is not None:
            return self.routing.alb.service_port
        return 80


class TrafficRouter(Protocol):
    # The weight in effect is known only by asking again (the last applied_weight read it from AWS); otherwise a
    # change to it arrives as a watch event on a ReplicaSet or the routing object.
    polled: bool

    def set_weight(self, workload: WorkloadTraffic, canary_weight: int) -> None:
        """Route canary_weight percent (0-100) to the canary Service and the rest to the stable one."""
        ...

    def applied_weight(self, workload: WorkloadTraffic) -> int | None:
        """The canary weight in effect, or None when the router cannot confirm one."""
        ...


class TrafficRoutingError(Exception):
    """The routing object is missing or cannot carry the weights: the user must fix it (a condition + Event)."""


def check_weight(canary_weight: int) -> None:
    if isinstance(canary_weight, bool) or not 0 <= canary_weight <= 100:
        raise ValueError(f"a canary weight is 0 to 100, not {canary_weight!r}")


def share(canary: int, stable: int) -> int | None:
    """The canary's percentage of a canary:stable split, rounded half up; None when neither gets traffic."""
    total = canary + stable
    if total <= 0:
        return None
    return (200 * canary + total) // (2 * total)


def retry_on_conflict(update: Callable[[], T], what: str, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a read-modify-replace `update` again while the API server answers 409 Conflict (someone else wrote
    the object between our read and our write), with a short jittered pause; give up after `attempts`."""
    for attempt in range(attempts):
        try:
            return update()
        except ApiException as e:
            if e.status != 409:
                raise
            if attempt < attempts - 1:
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # jitter, not security
    raise TrafficRoutingError(f"{what}: gave up after {attempts} conflicting concurrent updates; retried later")
