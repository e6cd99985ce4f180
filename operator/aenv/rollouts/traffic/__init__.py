"""Traffic routers: one module per way of splitting a workload's traffic, each behind TrafficRouter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

from ...api.rollout import TrafficRouting
from .alb import AlbRouter, Elbv2Factory
from .base import TrafficRouter, TrafficRoutingError, WorkloadTraffic
from .gateway_api import GatewayApiRouter
from .replica_ratio import ReplicaRatioRouter


def session_elbv2(region: str) -> Any:
    """aenv's shared boto3 ELBv2 client for a region (AWS_ENDPOINT_URL applies)."""
    from ...aws import session

    return session.client("elbv2", region)


# The trafficRouting field that selects each router (api/rollout.py): a new router is a module and a line here.
ROUTERS: dict[str, Callable[[client.ApiClient, Elbv2Factory | None], TrafficRouter]] = {
    "alb": lambda api, elbv2: AlbRouter(api, elbv2),
    "gateway_api": lambda api, _elbv2: GatewayApiRouter(api),
}


def router_for(routing: TrafficRouting | None, api: client.ApiClient, *,
               elbv2: Elbv2Factory | None = session_elbv2) -> TrafficRouter:
    """The router for a canary's trafficRouting: the one whose field is set, or (None, or none set) the replica
    ratio. `api` is the Kubernetes client the router talks through; `elbv2` builds the ELBv2 client the ALB
    router verifies weights with (None: verify the Ingress annotation only)."""
    for field, make in ROUTERS.items():
        if routing is not None and getattr(routing, field) is not None:
            return make(api, elbv2)
    return ReplicaRatioRouter()


__all__ = [
    "ROUTERS",
    "AlbRouter",
    "Elbv2Factory",
    "GatewayApiRouter",
    "ReplicaRatioRouter",
    "TrafficRouter",
    "TrafficRoutingError",
    "WorkloadTraffic",
    "router_for",
    "session_elbv2",
]
