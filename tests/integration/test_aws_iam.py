"""The workloads' IAM role (IRSA trust, least-privilege inline policy) against the real moto server."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.aws.errors import AwsError
from aenv.aws.iam_role import PATH, POLICY_NAME, IamRoles
from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import iam
from aenv.plan.actions import decide
from aenv.plan.types import Desired

REGION = "us-east-1"
ENV = EnvironmentRef("analytics", "defi", "uid-1")
OTHER = EnvironmentRef("analytics", "other", "uid-2")
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ACCOUNT = "123456789012"  # moto's account
OUTPUTS = {
    "queue/events": {"arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:aenv-analytics-defi-events"},
    "queue/events/dead-letter": {"arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:aenv-analytics-defi-events-dlq"},
    "topic/alerts": {"arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:aenv-analytics-defi-alerts"},
    "secret/cache-auth": {"arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:aenv-analytics-defi-cache-auth-x"},
    "kms/key": {"arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0b0e5f6c-1111-2222-3333-444455556666"},
}



@pytest.fixture
def aws_iam(emulator: AwsEmulator) -> Any:
    return boto3.client("iam", region_name=REGION, endpoint_url=emulator.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def planned(env: EnvironmentRef = ENV, uses: tuple[str, ...] = ("events", "alerts", "cache")) -> Desired:
    spec = effective(EnvironmentSpec.model_validate({
        "tier": "prod", "aws": {"region": REGION}, "cache": {}, "queues": [{"name": "events"}, {"name": "audit"}],
        "topics": [{"name": "alerts"}], "workloads": [{"name": "api", "image": "example/api:1", "uses": list(uses)}]}))
    [role] = iam.plan(env, spec)
    resolved = role.resolve(OUTPUTS)
    assert resolved is not None
    return resolved


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with when a resource is no longer in the plan."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def inline(aws_iam: Any, name: str) -> dict[str, Any]:
    return dict(aws_iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"])


def role_tags(aws_iam: Any, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws_iam.list_role_tags(RoleName=name)["Tags"]}


def test_create_then_observe(target: AwsTarget, aws_iam: Any) -> None:
    d = planned()
    made = IamRoles(target, oidc_issuer=f"https://{ISSUER}/").create(d)
    assert made.exists and made.ready and made.up_to_date, made.diff
    assert made.outputs == {"arn": f"arn:aws:iam::{ACCOUNT}:role/aenv/aenv-analytics-defi-workloads",
                            "name": "aenv-analytics-defi-workloads"}
    assert decide(ENV, d, made).kind == "none"

    role = aws_iam.get_role(RoleName=d.name)["Role"]
    assert role["Path"] == PATH
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {"StringEquals": {
        f"{ISSUER}:sub": "system:serviceaccount:analytics:aenv-defi-workloads", f"{ISSUER}:aud": "sts.amazonaws.com"}}
    assert role_tags(aws_iam, d.name) == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "iam"}

    statements = {s["Sid"]: s for s in inline(aws_iam, d.name)["Statement"]}
    assert statements["Queue"]["Resource"] == sorted([OUTPUTS["queue/events"]["arn"],
                                                      OUTPUTS["queue/events/dead-letter"]["arn"]])
    assert "sqs:ReceiveMessage" in statements["Queue"]["Action"] and "sqs:*" not in statements["Queue"]["Action"]
    assert statements["Topic"] == {"Sid": "Topic", "Effect": "Allow", "Action": ["sns:Publish"],
                                   "Resource": [OUTPUTS["topic/alerts"]["arn"]]}
    assert statements["Secret"]["Resource"] == [OUTPUTS["secret/cache-auth"]["arn"]]
    assert statements["Kms"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert all("*" not in r for s in statements.values() for r in s["Resource"])  # only this environment's ARNs


def test_second_observe_finds_the_same_role(target: AwsTarget, aws_iam: Any) -> None:
    d = planned()
    made = IamRoles(target, oidc_issuer=ISSUER).create(d)
    fresh = IamRoles(target, oidc_issuer=ISSUER)
    again = fresh.observe(d)
    assert again.up_to_date and again.outputs == made.outputs
    assert fresh.create(d).outputs == made.outputs  # a crash between create and status write: no duplicate
    assert len(aws_iam.list_roles(PathPrefix=PATH)["Roles"]) == 1


def test_update_of_the_policy_when_uses_change(target: AwsTarget, aws_iam: Any) -> None:
    client = IamRoles(target, oidc_issuer=ISSUER)
    client.create(planned())
    fewer = planned(uses=("alerts",))
    observed = client.observe(fewer)
    assert set(observed.diff) == {"policy"} and decide(ENV, fewer, observed).kind == "update"
    assert client.update(fewer, observed).up_to_date
    assert [s["Sid"] for s in inline(aws_iam, fewer.name)["Statement"]] == ["Topic", "Kms"]

    nothing = planned(uses=())
    observed = client.observe(nothing)
    assert client.update(nothing, observed).up_to_date
    assert aws_iam.list_role_policies(RoleName=nothing.name)["PolicyNames"] == []  # nothing granted: no policy


def test_immutable_path_is_reported(target: AwsTarget, aws_iam: Any) -> None:
    d = planned()
    aws_iam.create_role(RoleName=d.name, Path="/", AssumeRolePolicyDocument="{}",
                        Tags=[{"Key": k, "Value": v} for k, v in d.tags.items()])
    observed = IamRoles(target, oidc_issuer=ISSUER).create(d)  # not listed under /aenv/: create finds it
    assert observed.exists and observed.immutable == ("path",)
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "path cannot change in place" in action.message


def test_drift_by_hand_is_detected_and_corrected(target: AwsTarget, aws_iam: Any) -> None:
    d = planned()
    IamRoles(target, oidc_issuer=ISSUER).create(d)
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    aws_iam.update_assume_role_policy(RoleName=d.name, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [anyone]}))
    aws_iam.put_role_policy(RoleName=d.name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    aws_iam.untag_role(RoleName=d.name, TagKeys=[TAG_COMPONENT])
    client = IamRoles(target, oidc_issuer=ISSUER)
    drifted = client.observe(d)
    assert set(drifted.diff) == {"trust_policy", "policy", "tags"}
    assert client.update(d, drifted).up_to_date
    assert IamRoles(target, oidc_issuer=ISSUER).observe(d).up_to_date  # as AWS holds it, not as the client recalls
    assert "sqs:*" not in json.dumps(inline(aws_iam, d.name))
    assert role_tags(aws_iam, d.name)[TAG_COMPONENT] == "iam"


def test_missing_oidc_issuer_is_a_clear_error(target: AwsTarget, aws_iam: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AENV_OIDC_ISSUER", raising=False)
    client = IamRoles(target)
    with pytest.raises(AwsError) as error:
        client.create(planned())
    assert error.value.code == "OidcIssuerMissing" and "AENV_OIDC_ISSUER" in str(error.value)
    assert aws_iam.list_roles(PathPrefix=PATH)["Roles"] == []
    monkeypatch.setenv("AENV_OIDC_ISSUER", ISSUER)  # the operator's setting, read when the client is made
    assert IamRoles(target).create(planned()).up_to_date


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_delete_removes_the_policy_then_the_role(target: AwsTarget, aws_iam: Any, policy: Any) -> None:
    client = IamRoles(target)  # deleting needs no OIDC issuer
    d = planned()
    IamRoles(target, oidc_issuer=ISSUER).create(d)
    client.delete(lookup(d), client.observe(lookup(d)), policy)  # Snapshot: a role has no data to keep
    assert not client.observe(lookup(d)).exists
    assert aws_iam.list_roles(PathPrefix=PATH)["Roles"] == []


def test_retain_tags_released(target: AwsTarget, aws_iam: Any) -> None:
    client = IamRoles(target, oidc_issuer=ISSUER)
    d = planned()
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), "Retain")
    assert role_tags(aws_iam, d.name)[TAG_RELEASED] == "true" and inline(aws_iam, d.name)
    back = client.observe(d)
    assert set(back.diff) == {"tags"} and client.update(d, back).up_to_date
    assert TAG_RELEASED not in role_tags(aws_iam, d.name)


def test_a_role_of_another_environment_is_reported_not_read(target: AwsTarget, aws_iam: Any) -> None:
    d = planned()
    aws_iam.create_role(RoleName=d.name, Path=PATH, AssumeRolePolicyDocument="{}",
                        Tags=[{"Key": k, "Value": v} for k, v in OTHER.tags("iam").items()])
    client = IamRoles(target, oidc_issuer=ISSUER)
    observed = client.observe(d)
    assert observed.owner_environment == "analytics/other" and observed.diff == {}
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to analytics/other" in action.message
    assert decide(ENV, d, client.create(d)).kind == "conflict"
    assert aws_iam.list_role_policies(RoleName=d.name)["PolicyNames"] == []
