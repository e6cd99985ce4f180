"""The WebSocket gateway: an API Gateway v2 WebSocket API with its routes, the "live" stage, an optional custom domain.

The integration calls the gateway workload's Service at its in-cluster URL. API Gateway runs outside the
cluster and cannot resolve that name: on AWS the URL must be reachable from API Gateway, through a VPC link
(a REST API VPC link to a Network Load Balancer in front of the Service) or a public load balancer.
WAF cannot protect a WebSocket API: the stage's throttling is the guard here.
"""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

API_NAME_MAX = 128
STAGE = "live"
BUILT_IN_ROUTES = ("$connect", "$disconnect", "$default")
# What the integration tells the workload with each request, as headers: API Gateway posts a client's message
# body alone, and the workload answers through the connection id (PostToConnection) and routes by the route key.
REQUEST_PARAMETERS = {"integration.request.header.connectionId": "context.connectionId",
                      "integration.request.header.routeKey": "context.routeKey"}


def integration_uri(env: EnvironmentRef, spec: EnvironmentSpec) -> str | None:
    """The gateway workload's Service URL (the Service is named after the workload), or None without a workload."""
    name = spec.gateway.workload if spec.gateway else None
    workload = next((w for w in spec.workloads if w.name == name), None)
    if workload is None:
        return None
    return f"http://{workload.name}.{env.namespace}.svc.cluster.local:{workload.port}"


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    g = spec.gateway
    if g is None:
        return []
    tags = env.tags("gateway")
    api = Desired(
        kind="apigatewayv2.api", key="gateway/api", component="gateway",
        name=aws_name(env, "gateway", max_length=API_NAME_MAX),
        params={"route_selection_expression": g.route_selection_expression,
                "routes": tuple(dict.fromkeys((*BUILT_IN_ROUTES, *g.routes))),
                "integration_uri": integration_uri(env, spec)},
        tags=tags,
    )
    stage = Desired(
        kind="apigatewayv2.stage", key="gateway/stage", component="gateway", name=f"{api.name}/{STAGE}",
        params={"api_id": Ref(api.key, "id"), "api_endpoint": Ref(api.key, "endpoint"),
                "throttling_rate_limit": g.throttling.rate_limit,
                "throttling_burst_limit": g.throttling.burst_limit},
        tags=tags,
    )
    resources = [api, stage]
    if g.domain:
        resources.append(Desired(
            kind="apigatewayv2.domain_name", key="gateway/domain", component="gateway", name=g.domain.name,
            params={"certificate_arn": g.domain.certificate_arn, "api_id": Ref(api.key, "id"),
                    "stage": Ref(stage.key, "name")},
            tags=tags,
        ))
    return resources
