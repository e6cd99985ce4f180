"""spec -> the WebSocket API with its routes and integration, the stage, the custom domain."""

from typing import Any

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import gateway
from aenv.plan.types import Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")
WORKLOADS = [{"name": "ws-gateway", "image": "example/ws:1", "port": 9000}]


def spec(gateway_section: dict[str, Any] | None, **sections: Any) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate(
        {"tier": "staging", "aws": {"region": "us-east-1"}, "gateway": gateway_section, **sections}))


def test_api_with_built_in_and_spec_routes_and_the_workload_integration() -> None:
    resources = gateway.plan(ENV, spec({"workload": "ws-gateway", "routes": ["trade", "$default", "quote"]},
                                       workloads=WORKLOADS))
    assert [d.key for d in resources] == ["gateway/api", "gateway/stage"]
    api = resources[0]
    assert api.kind == "apigatewayv2.api" and api.component == "gateway"
    assert api.name == "aenv-analytics-defi-gateway"
    assert api.params == {
        "route_selection_expression": "$request.body.action",
        "routes": ("$connect", "$disconnect", "$default", "trade", "quote"),
        "integration_uri": "http://ws-gateway.analytics.svc.cluster.local:9000",
    }
    assert api.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "gateway"}


def test_without_workload_the_routes_have_no_integration() -> None:
    api = gateway.plan(ENV, spec({"routeSelectionExpression": "$request.body.type"}))[0]
    assert api.params["integration_uri"] is None
    assert api.params["route_selection_expression"] == "$request.body.type"
    assert api.params["routes"] == ("$connect", "$disconnect", "$default")


def test_live_stage_throttles_by_default() -> None:
    stage = gateway.plan(ENV, spec({}))[1]
    assert stage.kind == "apigatewayv2.stage" and stage.key == "gateway/stage"
    assert stage.name == "aenv-analytics-defi-gateway/live"
    assert stage.params == {"api_id": Ref("gateway/api", "id"), "api_endpoint": Ref("gateway/api", "endpoint"),
                            "throttling_rate_limit": 1000, "throttling_burst_limit": 2000}
    custom = gateway.plan(ENV, spec({"throttling": {"rateLimit": 50.5, "burstLimit": 100}}))[1]
    assert custom.params["throttling_rate_limit"] == 50.5 and custom.params["throttling_burst_limit"] == 100


def test_custom_domain_maps_to_the_stage() -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    resources = gateway.plan(ENV, spec({"domain": {"name": "ws.example.com", "certificateArn": cert}}))
    domain = resources[2]
    assert domain.kind == "apigatewayv2.domain_name" and domain.key == "gateway/domain"
    assert domain.name == "ws.example.com"
    assert domain.params == {"certificate_arn": cert, "api_id": Ref("gateway/api", "id"),
                             "stage": Ref("gateway/stage", "name")}
    assert domain.depends_on == ("gateway/api", "gateway/stage")


def test_long_environment_names_fit_the_api_name_limit() -> None:
    api = gateway.plan(EnvironmentRef("n" * 63, "e" * 253, "uid"), spec({}))[0]
    assert len(api.name) <= 128


def test_no_gateway_plans_nothing() -> None:
    assert gateway.plan(ENV, spec(None)) == []


def test_the_integration_tells_the_workload_the_connection_and_the_route() -> None:
    assert gateway.REQUEST_PARAMETERS == {"integration.request.header.connectionId": "context.connectionId",
                                          "integration.request.header.routeKey": "context.routeKey"}
