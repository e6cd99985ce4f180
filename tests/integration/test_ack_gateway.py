"""The WebSocket gateway in mode ack end to end: an environment with a gateway (its workload, two routes and a
custom domain) becomes GatewayReady through the real ACK controllers; the API, its integration and routes, the stage,
the domain and its mapping are checked in the emulator; a change of the routes reaches AWS; deletion removes
everything."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from aenv.ack.apigatewayv2_api import WebSocketApis
from aenv.ack.apigatewayv2_domain_name import ApiDomainNames
from aenv.ack.apigatewayv2_stage import WebSocketStages
from aenv.api import EnvironmentSpec, effective
from aenv.aws.apigatewayv2_api import MANAGED, websocket_url
from aenv.aws.component import AwsTarget
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import connection
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired

from .conftest import Operator
from .kube import Kube

pytestmark = pytest.mark.integration
DEADLINE = 180.0  # the Routes wait for the API and the Integration, the Stage and the mapping for the API
NAME = "ws"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
BUILT_IN = {"$connect", "$disconnect", "$default"}


def env_spec(namespace: str, routes: list[str]) -> dict[str, Any]:
    return {
        "tier": "dev",
        "aws": {"region": "us-east-1", "mode": "ack"},
        "gateway": {"workload": "ws-gateway", "routes": routes, "throttling": {"rateLimit": 50, "burstLimit": 100},
                    "domain": {"name": f"ws.{namespace}.example.com", "certificateArn": CERT}},
        "workloads": [{"name": "ws-gateway", "image": "example/ws:1", "port": 8080}],
        "deletionPolicy": "Delete",
    }


def api_named(emulator: AwsEmulator, name: str) -> dict[str, Any] | None:
    apis = emulator.client("apigatewayv2").get_apis()["Items"]
    return next((a for a in apis if a["Name"] == name), None)


def route_targets(emulator: AwsEmulator, api_id: str) -> dict[str, str | None]:
    routes = emulator.client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    return {r["RouteKey"]: r.get("Target") for r in routes}


def crs(kube: Kube, namespace: str, plural: str) -> dict[str, dict[str, Any]]:
    listed = kube.custom.list_namespaced_custom_object("apigatewayv2.services.k8s.aws", "v1alpha1", namespace, plural)
    return {o["metadata"]["name"]: o for o in listed["items"]}


def no_drift(kube: Kube, namespace: str, want: dict[str, Desired], outputs: dict[str, dict[str, Any]]) -> bool:
    """Whether aenv's clients find each gateway CR ready and holding what aenv wrote, judged from the CRs as ACK
    left them."""
    target = AwsTarget("us-east-1")
    api, stage, domain = (want[k].resolve(outputs) for k in ("gateway/api", "gateway/stage", "gateway/domain"))
    assert api is not None and stage is not None and domain is not None
    apis, stages, domains = WebSocketApis(target), WebSocketStages(target), ApiDomainNames(target)
    api_seen = apis.with_parts(api, apis.observation(api, crs(kube, namespace, "apis")[apis.name_of(api)]),
                               crs(kube, namespace, "integrations")[apis.integrations.name_of(api)],
                               list(crs(kube, namespace, "routes").values()))
    stage_seen = stages.observation(stage, crs(kube, namespace, "stages")[stages.name_of(stage)])
    mapping = domains.mapping(domain)
    domain_seen = domains.with_mapping(
        domain, domains.observation(domain, crs(kube, namespace, "domainnames")[domains.name_of(domain)]),
        domains.mappings.observation(mapping, crs(kube, namespace, "apimappings")[domains.mappings.name_of(mapping)]))
    for seen in (api_seen, stage_seen, domain_seen):
        assert seen.ready and seen.up_to_date, seen
    return True


def owned(tags: dict[str, str], namespace: str, uid: str) -> bool:
    return (tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID), tags.get(TAG_COMPONENT)) == (
        f"{namespace}/{NAME}", uid, "gateway")


def test_the_gateway_through_ack_then_routes_changed_then_deleted(kube: Kube, emulator: AwsEmulator,
                                                                  ack_operator: Operator, ack_namespace: str) -> None:
    start = time.monotonic()
    spec = env_spec(ack_namespace, ["subscribe", "ping"])
    kube.create_env(ack_namespace, NAME, spec)
    # The gateway's condition, not Ready: the workload's IAM role (which grants nothing here) needs
    # AENV_AWS_ACCOUNT_ID in mode ack, which this operator does not set.
    env = kube.wait_condition(ack_namespace, NAME, "GatewayReady", timeout=DEADLINE)
    print(f"mode ack: the gateway ready in {time.monotonic() - start:.1f} s")
    uid = env["metadata"]["uid"]
    ref = EnvironmentRef(ack_namespace, NAME, uid)
    parsed = effective(EnvironmentSpec.model_validate(spec))
    want = {d.key: d for d in desired_resources(ref, parsed, requested(parsed))}
    gw = emulator.client("apigatewayv2")

    # The API: mode boto3's name, protocol, route selection and tags.
    api = api_named(emulator, want["gateway/api"].name)
    assert api is not None, want["gateway/api"].name
    assert (api["ProtocolType"], api["RouteSelectionExpression"]) == ("WEBSOCKET", "$request.body.action")
    assert owned(api.get("Tags", {}), ack_namespace, uid), api.get("Tags")
    api_id = api["ApiId"]

    # The integration to the workload's Service, and every route (built-in and the spec's) targeting it.
    [integration] = gw.get_integrations(ApiId=api_id)["Items"]
    assert (integration["IntegrationType"], integration["IntegrationMethod"], integration["IntegrationUri"],
            integration.get("Description")) == (
        "HTTP_PROXY", "POST", f"http://ws-gateway.{ack_namespace}.svc.cluster.local:8080", MANAGED)
    target = f"integrations/{integration['IntegrationId']}"
    assert route_targets(emulator, api_id) == dict.fromkeys(BUILT_IN | {"subscribe", "ping"}, target)

    # The stage: auto-deployed, throttled, tagged; its URL is the connection Secret's GATEWAY_URL.
    stage = gw.get_stage(ApiId=api_id, StageName="live")
    assert stage["AutoDeploy"] is True
    throttling = stage["DefaultRouteSettings"]
    assert (float(throttling["ThrottlingRateLimit"]), int(throttling["ThrottlingBurstLimit"])) == (50.0, 100)
    assert owned(stage.get("Tags", {}), ack_namespace, uid), stage.get("Tags")
    data = kube.core.read_namespaced_secret(connection.secret_name(ref), ack_namespace).data or {}
    assert base64.b64decode(data["GATEWAY_URL"]).decode() == f"{websocket_url(api['ApiEndpoint'])}/live"

    # The domain with the spec's certificate, mapped at its root to the stage.
    domain_name = f"ws.{ack_namespace}.example.com"
    domain = gw.get_domain_name(DomainName=domain_name)
    [config] = domain["DomainNameConfigurations"]
    assert (config["CertificateArn"], config["EndpointType"], config["SecurityPolicy"]) == (
        CERT, "REGIONAL", "TLS_1_2")
    assert owned(domain.get("Tags", {}), ack_namespace, uid), domain.get("Tags")
    [mapping] = gw.get_api_mappings(DomainName=domain_name)["Items"]
    assert (mapping["ApiId"], mapping["Stage"], mapping.get("ApiMappingKey") or "") == (api_id, "live", "")

    # What ACK writes back into the CRs (late-initialized fields, its own tags) is no drift to aenv.
    assert no_drift(kube, ack_namespace, want, {"gateway/api": {"id": api_id, "endpoint": websocket_url(
        api["ApiEndpoint"])}, "gateway/stage": {"name": "live"}})

    # A route that leaves the spec leaves AWS; a new one arrives with the same target.
    kube.patch_spec(ack_namespace, NAME, {"gateway": {"routes": ["subscribe", "quote"]}})
    routes_now = dict.fromkeys(BUILT_IN | {"subscribe", "quote"}, target)
    wait_for(lambda: route_targets(emulator, api_id) == routes_now, DEADLINE, "the routes to follow the spec")
    kube.wait_condition(ack_namespace, NAME, "GatewayReady", timeout=DEADLINE)

    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    assert api_named(emulator, want["gateway/api"].name) is None
    assert domain_name not in {d["DomainName"] for d in gw.get_domain_names()["Items"]}
