"""Traffic routers: one module per way of splitting a workload's traffic, each behind TrafficRouter."""

from __future__ import annotations

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


def router_for(routing: TrafficRouting | None, api: client.ApiClient, *,
               elbv2: Elbv2Factory | None = session_elbv2) -> TrafficRouter:
    """The router for a canary's trafficRouting: ALB, Gateway API, or (None, or neither set) the replica ratio.
    `api` is the Kubernetes client the router talks through; `elbv2` builds the ELBv2 client the ALB router
    verifies weights with (None: verify the Ingress annotation only)."""
    if routing is not None and routing.alb is not None:
        return AlbRouter(api, elbv2)
    if routing is not None and routing.gateway_api is not None:
        return GatewayApiRouter(api)
    return ReplicaRatioRouter()


__all__ = [
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
