"""Durations and replica arithmetic: how long a pause lasts, how many pods carry a weight."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"([0-9]+)(s|m|h)")


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    """'30s', '5m', '2h' -> timedelta. The API pattern only admits these forms."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (expected a number and s, m or h, e.g. 30s, 5m, 2h)")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def routed_canary_replicas(total: int, weight: int) -> int:
    """Canary pods for `weight` percent behind a traffic router: ceil(total * weight / 100), as Argo Rollouts.

    The stable ReplicaSet stays at full size until the end, so the canary only needs enough pods to carry
    its share: 10 replicas at 41% -> 5 canary pods (and 10 stable).
    """
    return max(0, -(-total * weight // 100))


def ratio_replicas(total: int, weight: int) -> tuple[int, int]:
    """(canary, stable) pods approximating `weight` percent without a router, where a Service spreads traffic
    evenly over all pods of both revisions.

    The canary gets round-half-up(total * weight / 100) pods and the stable the rest, so the total stays at
    `total`: 10 replicas at 41% -> 4 canary + 6 stable; at 25% -> 3 + 7; at 5% -> 1 + 9. While the weight is
    strictly between 0 and 100 each side keeps at least one pod (1 replica at 50% -> 1 + 1, one pod of surge),
    so a 1% canary still gets a pod and a 99% canary still leaves the stable serving.
    """
    if total <= 0:
        return 0, 0
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    canary = min(max((2 * total * weight + 100) // 200, 1), total)
    return canary, max(total - canary, 1)
