"""The WebSocket gateway in mode ack, its pure parts: the CRs each desired resource becomes (API, Integration, Routes,
Stage, DomainName, APIMapping) and their references, readiness and outputs from their status, the set of routes."""

from __future__ import annotations

from typing import Any

import pytest

from aenv import ack
from aenv.ack.apigatewayv2_api import WebSocketApis, api_object, integration_object, route_object
from aenv.ack.apigatewayv2_domain_name import ApiDomainNames
from aenv.ack.apigatewayv2_stage import WebSocketStages
from aenv.ack.resource import AckError
from aenv.api import EnvironmentSpec, effective
from aenv.aws.apigatewayv2_api import MANAGED
from aenv.aws.component import AwsTarget
from aenv.naming import EnvironmentRef
from aenv.plan import gateway
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired, Observation
from aenv.reconcile import implemented

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TARGET = AwsTarget("eu-west-1")
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
URI = "http://ws-gateway.analytics.svc.cluster.local:8080"
API_NAME = "aenv-analytics-defi-gateway"
OUTPUTS = {"gateway/api": {"id": "a1b2c3", "endpoint": "wss://a1b2c3.execute-api.eu-west-1.amazonaws.com"},
           "gateway/stage": {"api_id": "a1b2c3", "name": "live", "url": "wss://x/live"}}


def spec(gateway_section: dict[str, Any], workloads: bool = True) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({
        "tier": "prod", "aws": {"region": "eu-west-1", "mode": "ack"}, "gateway": gateway_section,
        "workloads": [{"name": "ws-gateway", "image": "example/ws:1", "port": 8080}] if workloads else [],
    }))


SPEC = spec({"workload": "ws-gateway", "routes": ["subscribe", "connect"], "throttling": {"rateLimit": 1000.0},
             "domain": {"name": "ws.example.com", "certificateArn": CERT}})


def planned(key: str, s: EnvironmentSpec = SPEC) -> Desired:
    d = {d.key: d for d in gateway.plan(ENV, s)}[key].resolve(OUTPUTS)
    assert d is not None
    return d


def synced(obj: dict[str, Any], status: dict[str, Any], *extra: dict[str, str]) -> dict[str, Any]:
    return {**obj, "status": {"conditions": [{"type": "ACK.ResourceSynced", "status": "True"}, *extra], **status}}


def routes_of(apis: WebSocketApis, desired: Desired, status: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [synced(apis.routes.manifest(apis.routes.route(desired, k)), status or {"routeID": f"r-{k}"})
            for k in desired.params["routes"]]


# The CRs


def test_the_api_cr_has_boto3s_name_protocol_route_selection_and_tags() -> None:
    desired = planned("gateway/api")
    obj = WebSocketApis(TARGET).manifest(desired)
    assert (obj["apiVersion"], obj["kind"]) == ("apigatewayv2.services.k8s.aws/v1alpha1", "API")
    assert obj["metadata"]["name"] == api_object(desired.name) == API_NAME == desired.name
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert obj["spec"] == {"name": API_NAME, "protocolType": "WEBSOCKET",
                           "routeSelectionExpression": "$request.body.action", "tags": ENV.tags("gateway")}


def test_the_integration_and_every_route_refer_to_the_api_and_the_routes_to_the_integration() -> None:
    apis, desired = WebSocketApis(TARGET), planned("gateway/api")
    integration = apis.integrations.manifest(desired)
    assert (integration["kind"], integration["metadata"]["name"]) == ("Integration", f"{API_NAME}-integration")
    assert integration["spec"] == {"apiRef": {"from": {"name": API_NAME}}, "integrationType": "HTTP_PROXY",
                                   "integrationMethod": "POST", "integrationURI": URI, "connectionType": "INTERNET",
                                   "description": MANAGED, "requestParameters": {
                                       "integration.request.header.connectionId": "context.connectionId",
                                       "integration.request.header.routeKey": "context.routeKey"}}
    routes = [apis.routes.manifest(apis.routes.route(desired, k)) for k in desired.params["routes"]]
    assert [r["spec"]["routeKey"] for r in routes] == ["$connect", "$disconnect", "$default", "subscribe", "connect"]
    for r in routes:
        assert r["kind"] == "Route" and "tags" not in r["spec"]
        assert r["spec"]["apiRef"] == {"from": {"name": API_NAME}}
        assert r["spec"]["targetRef"] == {"from": {"name": integration_object(API_NAME)}}
    names = [r["metadata"]["name"] for r in routes]
    assert len(set(names)) == len(names)  # "$connect" and "connect" never meet
    assert route_object(API_NAME, "subscribe") == f"{API_NAME}-route-subscribe"


def test_without_a_workload_the_routes_have_no_target() -> None:
    apis = WebSocketApis(TARGET)
    desired = planned("gateway/api", spec({"routes": ["ping"]}, workloads=False))
    route = apis.routes.manifest(apis.routes.route(desired, "ping"))["spec"]
    assert route == {"apiRef": {"from": {"name": API_NAME}}, "routeKey": "ping"}


def test_the_stage_refers_to_the_api_auto_deploys_and_is_throttled_and_tagged() -> None:
    desired = planned("gateway/stage")
    obj = WebSocketStages(TARGET).manifest(desired)
    assert obj["kind"] == "Stage" and obj["metadata"]["name"].startswith(f"{API_NAME}-live-")
    assert obj["spec"] == {"apiRef": {"from": {"name": API_NAME}}, "stageName": "live", "autoDeploy": True,
                           "defaultRouteSettings": {"throttlingRateLimit": 1000, "throttlingBurstLimit": 2000},
                           "tags": ENV.tags("gateway")}
    assert isinstance(obj["spec"]["defaultRouteSettings"]["throttlingRateLimit"], int)  # as the API server gives it


def test_the_domain_has_the_specs_certificate_and_its_root_mapping_refers_to_api_and_domain() -> None:
    domains, desired = ApiDomainNames(TARGET), planned("gateway/domain")
    obj = domains.manifest(desired)
    assert (obj["kind"], obj["metadata"]["name"]) == ("DomainName", "ws.example.com")
    assert obj["spec"] == {"domainName": "ws.example.com",
                           "domainNameConfigurations": [{"certificateARN": CERT, "endpointType": "REGIONAL",
                                                         "securityPolicy": "TLS_1_2"}],
                           "tags": ENV.tags("gateway")}
    mapping = domains.mappings.manifest(domains.mapping(desired))
    assert mapping["kind"] == "APIMapping" and mapping["metadata"]["name"] == "ws.example.com-root"
    assert mapping["spec"] == {"apiRef": {"from": {"name": API_NAME}},
                               "domainRef": {"from": {"name": "ws.example.com"}}, "stage": "live"}


# Readiness and outputs


def test_the_api_is_usable_with_an_id_and_endpoint_and_outputs_boto3s_keys() -> None:
    apis = WebSocketApis(TARGET)
    obj = apis.manifest(planned("gateway/api"))
    assert apis.unusable(synced(obj, {"apiID": "a1"})) is not None
    ready = synced(obj, {"apiID": "a1", "apiEndpoint": "https://a1.execute-api.eu-west-1.amazonaws.com"})
    assert apis.unusable(ready) is None
    assert apis.outputs(ready) == {"id": "a1", "endpoint": "wss://a1.execute-api.eu-west-1.amazonaws.com"}
    assert apis.integrations.unusable(synced(obj, {})) is not None
    assert apis.integrations.unusable(synced(obj, {"integrationID": "i1"})) is None
    assert apis.routes.unusable(synced(obj, {})) is not None
    assert apis.routes.unusable(synced(obj, {"routeID": "r1"})) is None


def test_a_retained_api_is_recorded_by_its_id_for_adoption() -> None:
    apis = WebSocketApis(TARGET)
    obj = synced(apis.manifest(planned("gateway/api")), {"apiID": "a1", "apiEndpoint": "https://a1"})
    assert apis.record(obj)["fields"] == {"apiID": "a1"}


def api_parts(apis: WebSocketApis, desired: Desired) -> tuple[Observation, dict[str, Any]]:
    api = apis.observation(desired, synced(apis.manifest(desired), {"apiID": "a1", "apiEndpoint": "https://a1"}))
    integration = synced(apis.integrations.manifest(desired), {"integrationID": "i1"})
    return api, integration


def test_the_api_is_ready_when_its_integration_and_every_route_are() -> None:
    apis, desired = WebSocketApis(TARGET), planned("gateway/api")
    api, integration = api_parts(apis, desired)
    seen = apis.with_parts(desired, api, integration, routes_of(apis, desired))
    assert seen.ready and seen.up_to_date and seen.outputs == {"id": "a1", "endpoint": "wss://a1"}
    pending = routes_of(apis, desired)
    pending[3]["status"].pop("routeID")
    seen = apis.with_parts(desired, api, integration, pending)
    assert not seen.ready and seen.up_to_date and not seen.outputs and "route subscribe" in seen.state
    missing = apis.with_parts(desired, api, None, routes_of(apis, desired)[1:])
    assert not missing.ready and set(missing.diff) == {"integration", "route $connect"}


def test_a_route_the_plan_no_longer_wants_is_drift_and_deleted() -> None:
    apis, desired = WebSocketApis(TARGET), planned("gateway/api")
    api, integration = api_parts(apis, desired)
    before = planned("gateway/api", spec({"workload": "ws-gateway", "routes": ["subscribe", "connect", "ping"]}))
    held = routes_of(apis, before)
    seen = apis.with_parts(desired, api, integration, held)
    assert not seen.up_to_date and "ping" in seen.diff["routes"][0]
    writes, deletes = apis.route_changes(desired, held)
    assert [d.params["route_key"] for d in writes] == list(desired.params["routes"])
    assert [o["spec"]["routeKey"] for o in deletes] == ["ping"]
    held[-1]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"  # being deleted: not asked again
    assert apis.route_changes(desired, held)[1] == []


def test_a_route_that_must_lose_its_target_is_deleted_and_written_again_once_gone() -> None:
    apis = WebSocketApis(TARGET)
    targeted = routes_of(apis, planned("gateway/api"))
    untargeted = planned("gateway/api", spec({"routes": ["subscribe", "connect"]}, workloads=False))
    writes, deletes = apis.route_changes(untargeted, targeted)
    assert writes == [] and len(deletes) == len(targeted)
    assert len(apis.route_changes(untargeted, [])[0]) == len(untargeted.params["routes"])


def test_a_terminal_route_is_the_components_error_with_acks_message() -> None:
    apis, desired = WebSocketApis(TARGET), planned("gateway/api")
    api, integration = api_parts(apis, desired)
    routes = routes_of(apis, desired)
    routes[0]["status"]["conditions"].append({"type": "ACK.Terminal", "status": "True",
                                              "message": "BadRequestException: invalid route key"})
    with pytest.raises(AckError) as raised:
        apis.with_parts(desired, api, integration, routes)
    assert "invalid route key" in str(raised.value)


def test_the_stage_is_ready_once_created_and_not_after_a_failed_deployment() -> None:
    stages, desired = WebSocketStages(TARGET), planned("gateway/stage")
    obj = stages.manifest(desired)
    assert not stages.observation(desired, synced(obj, {})).ready
    created = synced(obj, {"createdDate": "2026-01-01T00:00:00Z"})
    seen = stages.observation(desired, created)
    assert seen.ready and seen.up_to_date
    assert seen.outputs == {"api_id": "a1b2c3", "name": "live",
                            "url": "wss://a1b2c3.execute-api.eu-west-1.amazonaws.com/live",
                            "connections": "a1b2c3/live/POST/@connections/*"}
    failed = synced(obj, {"createdDate": "2026-01-01T00:00:00Z",
                          "lastDeploymentStatusMessage": "Deployment attempt failed: no routes"})
    assert not stages.observation(desired, failed).ready


def test_the_domain_is_ready_with_its_mapping() -> None:
    domains, desired = ApiDomainNames(TARGET), planned("gateway/domain")
    domain = domains.observation(desired, synced(domains.manifest(desired),
                                                 {"apiMappingSelectionExpression": "$request.basepath"}))
    mapping = domains.mappings.manifest(domains.mapping(desired))
    waiting = domains.mappings.observation(domains.mapping(desired), synced(mapping, {}))
    assert not domains.with_mapping(desired, domain, waiting).ready
    mapped = domains.mappings.observation(domains.mapping(desired), synced(mapping, {"apiMappingID": "m1"}))
    seen = domains.with_mapping(desired, domain, mapped)
    assert seen.ready and seen.up_to_date
    assert seen.outputs == {"name": "ws.example.com", "target": None, "hosted_zone_id": None}
    assert not domains.with_mapping(desired, domain, Observation.absent()).up_to_date


def test_mode_ack_builds_the_gateway() -> None:
    assert {"apigatewayv2.api", "apigatewayv2.stage", "apigatewayv2.domain_name"} <= set(ack.CLIENTS.factories)
    desired = desired_resources(ENV, SPEC, requested(SPEC))
    assert implemented("gateway", desired, ack.CLIENTS)
