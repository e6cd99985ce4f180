"""The WebSocket API with its integration and routes, the stage, the custom domain, against moto in server mode.

moto lacks UpdateStage, UpdateDomainName and UpdateApiMapping (HTTP 500) and TagResource on stages and domain
names (HTTP 404): where aenv calls them, the test checks that the change is detected and that the call is made,
and skips only the check of its result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.api.spec import DeletionPolicy
from aenv.aws.apigatewayv2_api import MANAGED, WebSocketApis
from aenv.aws.apigatewayv2_domain_name import ApiDomainNames
from aenv.aws.apigatewayv2_stage import WebSocketStages
from aenv.aws.component import AwsTarget, ResourceClient
from aenv.aws.errors import AwsError, TransientError
from aenv.aws.iam_role import POLICY_NAME, IamRoles
from aenv.local.emulator import CREDENTIALS, AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import gateway, iam
from aenv.plan.actions import decide
from aenv.plan.types import Desired, Observation
from aenv.reconcile import act

ENV = EnvironmentRef("analytics", "defi", "uid-1")
OTHER = EnvironmentRef("analytics", "other", "uid-2")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
CLIENTS: dict[str, Callable[[AwsTarget], ResourceClient]] = {
    "apigatewayv2.api": WebSocketApis, "apigatewayv2.stage": WebSocketStages,
    "apigatewayv2.domain_name": ApiDomainNames,
    "iam.role": lambda target: IamRoles(target, oidc_issuer="oidc.example/id/1"),
}
URI = "http://ws-gateway.analytics.svc.cluster.local:8080"


def spec(section: dict[str, Any]) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({
        "tier": "prod", "aws": {"region": "us-east-1"}, "gateway": section,
        "workloads": [{"name": "ws-gateway", "image": "example/ws:1"}, {"name": "ws-next", "image": "example/ws:2"}],
    }))


SPEC = spec({"workload": "ws-gateway", "routes": ["trade", "quote"],
             "domain": {"name": "ws.example.com", "certificateArn": CERT}})


def planned(s: EnvironmentSpec = SPEC, env: EnvironmentRef = ENV) -> dict[str, Desired]:
    return {d.key: d for d in gateway.plan(env, s)}


class Aws:
    """Fresh clients each time (no listing cached across steps), boto3 for checks."""

    def __init__(self, emulator: AwsEmulator) -> None:
        emulator.reset()
        self.target = AwsTarget(region="us-east-1", endpoint=emulator.url)
        self.api = boto3.client("apigatewayv2", region_name="us-east-1", endpoint_url=emulator.url,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        self.outputs: dict[str, Any] = {}

    def client(self, kind: str) -> ResourceClient:
        return CLIENTS[kind](self.target)

    def resolved(self, d: Desired) -> Desired:
        r = d.resolve(self.outputs)
        assert r is not None, f"{d.key} waits for {d.depends_on}"
        return r

    def apply(self, resources: list[Desired], env: EnvironmentRef = ENV) -> dict[str, Observation]:
        """What the reconcile loop does: observe, decide, create or update; outputs feed later Refs."""
        seen = {}
        for d in resources:
            client, r = self.client(d.kind), self.resolved(d)
            observed, conflict = act(env, r, client)
            assert conflict is None and decide(env, r, observed).kind == "none", (d.key, observed)
            self.outputs[d.key] = observed.outputs
            seen[d.key] = observed
        return seen

    def lookup(self, d: Desired) -> tuple[Desired, Observation]:
        """What the loop knows of a resource on deletion: its kind, key and name."""
        bare = Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)
        return bare, self.client(d.kind).observe(bare)

    def retire(self, d: Desired, policy: DeletionPolicy) -> Observation:
        lookup, observed = self.lookup(d)
        assert observed.exists and observed.owner_environment == ENV.key
        self.client(d.kind).delete(lookup, observed, policy)
        return self.client(d.kind).observe(lookup)

    def routes(self, api_id: str) -> dict[str, str | None]:
        return {r["RouteKey"]: r.get("Target") for r in self.api.get_routes(ApiId=api_id)["Items"]}


@pytest.fixture
def aws(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> Aws:
    for name, value in CREDENTIALS.items():  # aenv's clients take credentials from the environment
        monkeypatch.setenv(name, value)
    return Aws(emulator)


def everything(aws: Aws, s: EnvironmentSpec = SPEC) -> dict[str, Observation]:
    return aws.apply(gateway.plan(ENV, s))


# --- apigatewayv2.api ------------------------------------------------------------------------------------------


def test_api_create_then_observe(aws: Aws) -> None:
    created = aws.client("apigatewayv2.api").create(planned()["gateway/api"])
    assert created.exists and created.ready and created.up_to_date
    assert (created.owner, created.owner_environment) == ("uid-1", "analytics/defi")
    api_id = created.outputs["id"]
    assert created.outputs["endpoint"] == f"wss://{api_id}.execute-api.us-east-1.amazonaws.com"
    api = aws.api.get_api(ApiId=api_id)
    assert api["Name"] == "aenv-analytics-defi-gateway" and api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert api["Tags"] == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "gateway"}
    (integration,) = aws.api.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "HTTP_PROXY" and integration["IntegrationUri"] == URI
    assert integration["Description"] == MANAGED
    assert integration["RequestParameters"] == {"integration.request.header.connectionId": "context.connectionId",
                                                "integration.request.header.routeKey": "context.routeKey"}
    target = f"integrations/{integration['IntegrationId']}"
    assert aws.routes(api_id) == dict.fromkeys(["$connect", "$disconnect", "$default", "trade", "quote"], target)


def test_api_second_observe_finds_the_same_one(aws: Aws) -> None:
    d = planned()["gateway/api"]
    created = aws.client("apigatewayv2.api").create(d)
    again = aws.client("apigatewayv2.api").observe(d)
    assert again.exists and again.up_to_date and again.outputs == created.outputs
    assert decide(ENV, d, again).kind == "none"
    assert len(aws.api.get_apis()["Items"]) == 1


def test_api_changes_are_applied(aws: Aws) -> None:
    api_id = aws.apply([planned()["gateway/api"]])["gateway/api"].outputs["id"]
    changed = planned(spec({"workload": "ws-next", "routes": ["trade", "cancel"],
                            "routeSelectionExpression": "$request.body.type"}))["gateway/api"]
    observed = aws.client("apigatewayv2.api").observe(changed)
    assert set(observed.diff) == {"route_selection_expression", "integration", "routes"}
    assert aws.client("apigatewayv2.api").update(changed, observed).up_to_date
    assert aws.api.get_api(ApiId=api_id)["RouteSelectionExpression"] == "$request.body.type"
    (integration,) = aws.api.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationUri"] == "http://ws-next.analytics.svc.cluster.local:8080"
    assert sorted(aws.routes(api_id)) == ["$connect", "$default", "$disconnect", "cancel", "trade"]


def test_api_without_workload_has_routes_without_integration(aws: Aws) -> None:
    api_id = aws.apply([planned()["gateway/api"]])["gateway/api"].outputs["id"]
    bare = planned(spec({}))["gateway/api"]
    observed = aws.client("apigatewayv2.api").observe(bare)
    assert aws.client("apigatewayv2.api").update(bare, observed).up_to_date
    assert aws.routes(api_id) == dict.fromkeys(["$connect", "$disconnect", "$default"])
    assert aws.api.get_integrations(ApiId=api_id)["Items"] == []


def test_api_protocol_is_immutable(aws: Aws) -> None:
    d = planned()["gateway/api"]
    aws.api.create_api(Name=d.name, ProtocolType="HTTP", Tags=dict(d.tags))
    observed = aws.client("apigatewayv2.api").observe(d)
    assert observed.exists and observed.immutable == ("protocol",)
    assert decide(ENV, d, observed).kind == "conflict"


def test_api_drift_is_detected_and_corrected(aws: Aws) -> None:
    d = planned()["gateway/api"]
    api_id = aws.apply([d])["gateway/api"].outputs["id"]
    routes = {r["RouteKey"]: r["RouteId"] for r in aws.api.get_routes(ApiId=api_id)["Items"]}
    aws.api.delete_route(ApiId=api_id, RouteId=routes["$disconnect"])
    aws.api.create_route(ApiId=api_id, RouteKey="backdoor")
    aws.api.update_route(ApiId=api_id, RouteId=routes["trade"], Target="integrations/elsewhere")
    (integration,) = aws.api.get_integrations(ApiId=api_id)["Items"]
    aws.api.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], IntegrationUri="http://x",
                               RequestParameters={"integration.request.header.connectionId": "'nobody'"})
    aws.api.update_api(ApiId=api_id, RouteSelectionExpression="$request.body.other")
    drifted = aws.client("apigatewayv2.api").observe(d)
    assert set(drifted.diff) == {"route_selection_expression", "integration", "routes"}
    got = drifted.diff["routes"][0]
    assert "backdoor" in got and "$disconnect" not in got and got["trade"] == "integrations/elsewhere"
    assert aws.client("apigatewayv2.api").update(d, drifted).up_to_date
    target = f"integrations/{integration['IntegrationId']}"
    assert aws.routes(api_id) == dict.fromkeys(["$connect", "$disconnect", "$default", "trade", "quote"], target)
    (corrected,) = aws.api.get_integrations(ApiId=api_id)["Items"]
    assert corrected["IntegrationUri"] == URI and corrected["RequestParameters"] == gateway.REQUEST_PARAMETERS
    assert aws.api.get_api(ApiId=api_id)["RouteSelectionExpression"] == "$request.body.action"


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_api_delete(aws: Aws, policy: DeletionPolicy) -> None:
    d = planned()["gateway/api"]
    aws.apply([d])
    assert not aws.retire(d, policy).exists
    assert aws.api.get_apis()["Items"] == []


def test_api_retain_then_adopt(aws: Aws) -> None:
    d = planned()["gateway/api"]
    api_id = aws.apply([d])["gateway/api"].outputs["id"]
    assert aws.retire(d, "Retain").exists
    assert aws.api.get_api(ApiId=api_id)["Tags"][TAG_RELEASED] == "true"
    reborn = EnvironmentRef(ENV.namespace, ENV.name, "uid-9")
    r = planned(env=reborn)["gateway/api"]
    observed = aws.client("apigatewayv2.api").observe(r)
    assert decide(reborn, r, observed).kind == "adopt"
    adopted = aws.client("apigatewayv2.api").update(r, observed)
    assert adopted.owner == "uid-9" and adopted.up_to_date and adopted.outputs["id"] == api_id
    assert TAG_RELEASED not in aws.api.get_api(ApiId=api_id)["Tags"]


def test_api_of_another_environment_is_reported(aws: Aws) -> None:
    d = planned()["gateway/api"]
    aws.api.create_api(Name=d.name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action",
                       Tags=OTHER.tags("gateway"))
    observed = aws.client("apigatewayv2.api").observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other"
    assert decide(ENV, d, observed).kind == "conflict"


# --- apigatewayv2.stage ----------------------------------------------------------------------------------------


def test_stage_create_then_observe(aws: Aws) -> None:
    seen = everything(aws)
    stage = seen["gateway/stage"]
    assert stage.exists and stage.ready and stage.up_to_date and stage.owner_environment == "analytics/defi"
    api_id = seen["gateway/api"].outputs["id"]
    assert stage.outputs["url"] == f"wss://{api_id}.execute-api.us-east-1.amazonaws.com/live"
    got = aws.api.get_stage(ApiId=api_id, StageName="live")
    assert got["AutoDeploy"] is True
    assert got["DefaultRouteSettings"]["ThrottlingRateLimit"] == 1000.0
    assert got["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 2000
    assert got["Tags"] == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "gateway"}


def test_the_gateways_workload_may_manage_the_stages_connections_and_nothing_else(
        aws: Aws, emulator: AwsEmulator) -> None:
    seen = aws.apply([*gateway.plan(ENV, SPEC), *iam.plan(ENV, SPEC)])
    api_id = seen["gateway/api"].outputs["id"]
    assert seen["gateway/stage"].outputs["connections"] == f"{api_id}/live/POST/@connections/*"
    role = seen["iam/role"].outputs["name"]
    policy = boto3.client("iam", region_name="us-east-1", endpoint_url=emulator.url, aws_access_key_id="testing",
                          aws_secret_access_key="testing").get_role_policy(RoleName=role, PolicyName=POLICY_NAME)
    account = boto3.client("sts", region_name="us-east-1", endpoint_url=emulator.url, aws_access_key_id="testing",
                           aws_secret_access_key="testing").get_caller_identity()["Account"]
    assert policy["PolicyDocument"]["Statement"] == [{
        "Sid": "Gateway", "Effect": "Allow", "Action": ["execute-api:ManageConnections"],
        "Resource": [f"arn:aws:execute-api:us-east-1:{account}:{api_id}/live/POST/@connections/*"]}]


def test_stage_second_observe_finds_the_same_one(aws: Aws) -> None:
    everything(aws)
    d = aws.resolved(planned()["gateway/stage"])
    again = aws.client("apigatewayv2.stage").observe(d)
    assert again.exists and again.up_to_date and again.outputs == aws.outputs["gateway/stage"]
    assert len(aws.api.get_stages(ApiId=aws.outputs["gateway/api"]["id"])["Items"]) == 1


def test_stage_throttling_change_is_applied(aws: Aws) -> None:
    everything(aws)
    d = aws.resolved(planned(spec({"throttling": {"rateLimit": 50, "burstLimit": 100}}))["gateway/stage"])
    observed = aws.client("apigatewayv2.stage").observe(d)
    assert observed.diff == {"throttling_rate_limit": (1000.0, 50), "throttling_burst_limit": (2000, 100)}
    try:
        updated = aws.client("apigatewayv2.stage").update(d, observed)
    except TransientError:  # moto lacks UpdateStage (HTTP 500); AWS applies the new throttling
        return
    assert updated.up_to_date


def test_stage_drift_is_detected(aws: Aws) -> None:
    everything(aws)
    api_id = aws.outputs["gateway/api"]["id"]
    # moto has no UpdateStage; a second CreateStage replaces the stage, which makes the same drift by hand.
    aws.api.create_stage(ApiId=api_id, StageName="live", AutoDeploy=False)
    d = aws.resolved(planned()["gateway/stage"])
    drifted = aws.client("apigatewayv2.stage").observe(d)
    assert set(drifted.diff) == {"auto_deploy", "throttling_rate_limit", "throttling_burst_limit", "tags"}
    try:
        fixed = aws.client("apigatewayv2.stage").update(d, drifted)
    except TransientError:  # moto lacks UpdateStage (HTTP 500); AWS applies it, then TagResource restores the tags
        return
    assert fixed.up_to_date


def test_stage_deleted_by_hand_is_made_again(aws: Aws) -> None:
    everything(aws)
    aws.api.delete_stage(ApiId=aws.outputs["gateway/api"]["id"], StageName="live")
    assert aws.apply([planned()["gateway/stage"]])["gateway/stage"].up_to_date


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_stage_delete_finds_it_by_name(aws: Aws, policy: DeletionPolicy) -> None:
    everything(aws)
    assert not aws.retire(planned()["gateway/stage"], policy).exists
    assert aws.api.get_stages(ApiId=aws.outputs["gateway/api"]["id"])["Items"] == []


def test_stage_retain_keeps_it(aws: Aws) -> None:
    everything(aws)
    d = planned()["gateway/stage"]
    try:
        assert aws.retire(d, "Retain").exists
    except AwsError as e:  # moto lacks TagResource on stages (HTTP 404); AWS tags it released
        assert e.code == "404"
    assert len(aws.api.get_stages(ApiId=aws.outputs["gateway/api"]["id"])["Items"]) == 1


def test_stage_of_another_environment_is_reported(aws: Aws) -> None:
    aws.apply([planned()["gateway/api"]])
    api_id = aws.outputs["gateway/api"]["id"]
    aws.api.create_stage(ApiId=api_id, StageName="live", Tags=OTHER.tags("gateway"))
    d = aws.resolved(planned()["gateway/stage"])
    observed = aws.client("apigatewayv2.stage").observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other"
    assert decide(ENV, d, observed).kind == "conflict"


# --- apigatewayv2.domain_name ----------------------------------------------------------------------------------


def mappings(aws: Aws) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws.api.get_api_mappings(DomainName="ws.example.com")["Items"]
    return items


def test_domain_create_then_observe(aws: Aws) -> None:
    seen = everything(aws)
    domain = seen["gateway/domain"]
    assert domain.exists and domain.ready and domain.up_to_date and domain.owner_environment == "analytics/defi"
    assert domain.outputs["name"] == "ws.example.com"
    got = aws.api.get_domain_name(DomainName="ws.example.com")
    assert got["DomainNameConfigurations"][0] | {"CertificateArn": CERT, "EndpointType": "REGIONAL",
                                                  "SecurityPolicy": "TLS_1_2"} == got["DomainNameConfigurations"][0]
    assert got["Tags"][TAG_ENVIRONMENT] == "analytics/defi"
    (mapping,) = mappings(aws)
    assert (mapping["ApiId"], mapping["Stage"], mapping.get("ApiMappingKey", "")) == (
        seen["gateway/api"].outputs["id"], "live", "")


def test_domain_second_observe_finds_the_same_one(aws: Aws) -> None:
    everything(aws)
    d = aws.resolved(planned()["gateway/domain"])
    again = aws.client("apigatewayv2.domain_name").observe(d)
    assert again.exists and again.up_to_date and decide(ENV, d, again).kind == "none"
    assert len(aws.api.get_domain_names()["Items"]) == 1 and len(mappings(aws)) == 1


def test_domain_certificate_change_is_applied(aws: Aws) -> None:
    everything(aws)
    cert = CERT.replace("abc", "def")
    d = aws.resolved(planned(spec({"domain": {"name": "ws.example.com", "certificateArn": cert}}))["gateway/domain"])
    observed = aws.client("apigatewayv2.domain_name").observe(d)
    assert observed.diff == {"certificate_arn": (CERT, cert)}
    try:
        updated = aws.client("apigatewayv2.domain_name").update(d, observed)
    except TransientError:  # moto lacks UpdateDomainName (HTTP 500); AWS changes the certificate in place
        return
    assert updated.up_to_date


def test_domain_mapping_drift_is_detected_and_corrected(aws: Aws) -> None:
    everything(aws)
    aws.api.delete_api_mapping(DomainName="ws.example.com", ApiMappingId=mappings(aws)[0]["ApiMappingId"])
    d = aws.resolved(planned()["gateway/domain"])
    drifted = aws.client("apigatewayv2.domain_name").observe(d)
    assert drifted.diff == {"mapping": (None, (aws.outputs["gateway/api"]["id"], "live"))}
    assert aws.client("apigatewayv2.domain_name").update(d, drifted).up_to_date
    assert [(m["ApiId"], m["Stage"]) for m in mappings(aws)] == [(aws.outputs["gateway/api"]["id"], "live")]


def test_domain_endpoint_type_is_immutable(aws: Aws) -> None:
    aws.apply([planned()["gateway/api"], planned()["gateway/stage"]])
    aws.api.create_domain_name(DomainName="ws.example.com", Tags=ENV.tags("gateway"), DomainNameConfigurations=[
        {"CertificateArn": CERT, "EndpointType": "EDGE", "SecurityPolicy": "TLS_1_2"}])
    d = aws.resolved(planned()["gateway/domain"])
    observed = aws.client("apigatewayv2.domain_name").observe(d)
    assert observed.exists and observed.immutable == ("endpoint_type",)
    assert decide(ENV, d, observed).kind == "conflict"


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_domain_delete_takes_the_mapping(aws: Aws, policy: DeletionPolicy) -> None:
    everything(aws)
    assert mappings(aws)
    assert not aws.retire(planned()["gateway/domain"], policy).exists
    assert aws.api.get_domain_names()["Items"] == []


def test_domain_retain_keeps_it(aws: Aws) -> None:
    everything(aws)
    try:
        assert aws.retire(planned()["gateway/domain"], "Retain").exists
    except AwsError as e:  # moto lacks TagResource on domain names (HTTP 404); AWS tags it released
        assert e.code == "404"
    assert len(aws.api.get_domain_names()["Items"]) == 1 and len(mappings(aws)) == 1


def test_domain_of_another_environment_is_reported(aws: Aws) -> None:
    aws.apply([planned()["gateway/api"], planned()["gateway/stage"]])
    aws.api.create_domain_name(DomainName="ws.example.com", Tags=OTHER.tags("gateway"), DomainNameConfigurations=[
        {"CertificateArn": CERT, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}])
    d = aws.resolved(planned()["gateway/domain"])
    observed = aws.client("apigatewayv2.domain_name").observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other"
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to analytics/other" in action.message


# --- the whole gateway -------------------------------------------------------------------------------------------


def test_teardown_in_reverse_order_leaves_nothing(aws: Aws) -> None:
    everything(aws)
    for d in reversed(gateway.plan(ENV, SPEC)):
        assert not aws.retire(d, "Delete").exists
    assert aws.api.get_apis()["Items"] == [] and aws.api.get_domain_names()["Items"] == []

