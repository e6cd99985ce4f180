"""No traffic router: the plain `<workload>` Service selects stable and canary pods alike, so each ready pod
gets about the same share and the canary's traffic follows the ready-pod ratio (the engine scales the
canary and stable ReplicaSets to approximate the weight: 10 pods at 41% -> 4 canary + 6 stable).

set_weight writes nothing. applied_weight is the canary's share of the ready pods it is given
(WorkloadTraffic.ready_canary / ready_stable), rounded half up: what the Service's endpoints actually
spread traffic over; None while no pod is ready.
"""

from __future__ import annotations

from .base import WorkloadTraffic, check_weight, share


class ReplicaRatioRouter:
    polled = False  # the ready counts come from the ReplicaSets, which are watched

    def set_weight(self, workload: WorkloadTraffic, canary_weight: int) -> None:
        check_weight(canary_weight)  # the weight is carried by the replica counts, which the engine sets

    def applied_weight(self, workload: WorkloadTraffic) -> int | None:
        return share(max(workload.ready_canary, 0), max(workload.ready_stable, 0))
