"""`aenv iam-policy`: every action is a real operation of its service, nothing is granted with a wildcard action,
writes are scoped to aenv's names or tags, and the command prints the policy for an account."""

from __future__ import annotations

import json

import botocore.session
import pytest

from aenv import iam_policy
from aenv.cli import main

SERVICES = {"tag": "resourcegroupstaggingapi", "elasticloadbalancing": "elbv2"}  # IAM prefix -> botocore service
GATEWAY = {"GET", "POST", "PUT", "PATCH", "DELETE", "TagResource", "UntagResource"}


def test_every_action_is_an_operation_of_its_service() -> None:
    session = botocore.session.get_session()
    for action in sorted(iam_policy.actions()):
        prefix, _, name = action.partition(":")
        assert "*" not in action, action
        if prefix == "apigateway":
            assert name in GATEWAY, action
            continue
        model = session.get_service_model(SERVICES.get(prefix, prefix))
        if prefix == "s3" and name in {*iam_policy.S3_ACTIONS.values(), "DeleteObjectVersion"}:
            continue  # S3's IAM actions that no operation is named after
        assert name in model.operation_names, f"{action} is not an operation of {model.service_name}"


def _on_aenv_tags(statement: iam_policy.Statement) -> bool:
    """The statement holds only for resources that carry, or requests that give, aenv's environment tag."""
    null = statement.condition.get("Null", {})
    return any(null.get(k) == v for tags in (iam_policy.TAGGED, iam_policy.TAGGING) for k, v in tags["Null"].items())


def test_resource_star_only_where_aws_scopes_nothing() -> None:
    unconditioned = {a for s in iam_policy.STATEMENTS if s.resources == ("*",) and not _on_aenv_tags(s)
                     for a in s.actions}
    service_linked = {"iam:CreateServiceLinkedRole"} & unconditioned
    assert not service_linked, "iam:CreateServiceLinkedRole is scoped to the services' role paths"
    assert unconditioned == set(iam_policy.UNSCOPED), unconditioned ^ set(iam_policy.UNSCOPED)
    assert all(why.strip() for why in iam_policy.UNSCOPED.values())
    for action in iam_policy.UNSCOPED:
        verb = action.split(":")[1]
        assert verb.startswith(("Describe", "List", "Get")), f"{action} writes on Resource *"


def test_every_resource_is_aenv_named_tagged_or_listed_with_why() -> None:
    listed = set()
    for statement in iam_policy.STATEMENTS:
        for arn in statement.resources:
            if arn == "*" or "aenv-" in arn or _on_aenv_tags(statement):
                continue
            part = iam_policy.resource_part(arn)
            assert part in iam_policy.NOT_NAMED, f"{statement.sid}: {arn} is neither aenv-* nor tag-conditioned"
            listed.add(part)
    assert listed == set(iam_policy.NOT_NAMED), "NOT_NAMED lists resources no statement grants"


def test_the_rendered_policy_has_no_wildcard_action_and_no_star_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy"]) == 0
    policy = json.loads(capsys.readouterr().out)
    for statement in policy["Statement"]:
        assert all("*" not in a for a in statement["Action"]), statement["Sid"]
        if statement["Resource"] == "*" and "Condition" not in statement:
            assert set(statement["Action"]) <= set(iam_policy.UNSCOPED), statement["Sid"]


@pytest.mark.parametrize(("service", "operation", "action"), [
    ("sqs", "CreateQueue", "sqs:CreateQueue"),
    ("secrets-manager", "PutSecretValue", "secretsmanager:PutSecretValue"),
    ("resource-groups-tagging-api", "GetResources", "tag:GetResources"),
    ("apigatewayv2", "CreateApi", "apigateway:POST"),
    ("apigatewayv2", "UpdateStage", "apigateway:PATCH"),
    ("apigatewayv2", "GetApis", "apigateway:GET"),
    ("s3", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    ("s3", "UploadPart", "s3:PutObject"),
    ("s3", "GetBucketVersioning", "s3:GetBucketVersioning"),
])
def test_action_of_a_request(service: str, operation: str, action: str) -> None:
    assert iam_policy.action_of(service, operation) == action
    assert action in iam_policy.actions()


def test_the_command_prints_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy", "--account", "123456789012"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy["Version"] == "2012-10-17"
    queues = next(s for s in policy["Statement"] if s["Sid"] == "Queues")
    assert queues["Resource"] == ["arn:aws:sqs:*:123456789012:aenv-*"]
