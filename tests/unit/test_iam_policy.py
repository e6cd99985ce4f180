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


def test_writes_are_scoped() -> None:
    for statement in iam_policy.STATEMENTS:
        if statement.resources == ("*",):
            reads = all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in statement.actions)
            assert statement.condition or statement.sid == "Read", statement.sid
            assert statement.sid != "Read" or reads, [a for a in statement.actions if "Random" not in a]
        else:
            assert all("aenv-" in r or statement.condition or r.endswith(("/*", "::/apis", "::/domainnames", ":*"))
                       for r in statement.resources), statement.sid


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
