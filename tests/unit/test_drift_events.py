"""CloudTrail event -> resource -> environment, the events-arrive verdict and the drift settings: pure parts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aenv.aws.component import AwsTarget
from aenv.drift.events import DETAIL_TYPE, SOURCES, Index, Recorded, parse, rule_pattern, tokens
from aenv.drift.health import Health
from aenv.drift.settings import Settings
from aenv.drift.watch import Watches
from aenv.iam_policy import action_of, actions

QUEUE = "aenv-team-a-orders-queue-events"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/123456789012/{QUEUE}"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:aenv-team-a-orders-db-AbCdEf"
ENVIRONMENTS = [
    Recorded("uid-orders", [("queue/events", QUEUE), ("topic/alerts", "aenv-team-a-orders-topic-alerts"),
                            ("network/security-group", "aenv-team-a-orders-sg"),
                            ("gateway/stage", "live"), ("secret/database", "aenv-team-a-orders-db")],
             {"queue/events": {"url": QUEUE_URL, "arn": f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"},
              "network/security-group": {"id": "sg-0123456789abcdef0", "arn": "arn:aws:ec2:::sg"},
              "gateway/stage": {"api_id": "a1b2c3d4e5", "name": "live", "url": "wss://a1b2c3d4e5.example/live"},
              "secret/database": {"arn": SECRET_ARN, "password": "not-a-token-at-all"}}),
    Recorded("uid-other", [("queue/events", "aenv-team-b-other-queue-events"), ("gateway/stage", "live")], {}),
]


def event(source: str, name: str, request: dict[str, Any], response: Any = None,
          identity: str | None = None) -> str:
    detail: dict[str, Any] = {"eventSource": f"{source}.amazonaws.com", "eventName": name,
                              "requestParameters": request, "responseElements": response}
    if identity:
        detail["userIdentity"] = {"type": "AssumedRole", "arn": identity}
    return json.dumps({"source": f"aws.{source}", "detail-type": DETAIL_TYPE, "detail": detail})


@pytest.mark.parametrize(("body", "expected"), [
    (event("sqs", "SetQueueAttributes", {"queueUrl": QUEUE_URL, "attributes": {"VisibilityTimeout": "0"}}),
     {"uid-orders": {"queue/events"}}),
    (event("sns", "SetTopicAttributes", {"topicArn": "arn:aws:sns:us-east-1:1:aenv-team-a-orders-topic-alerts"}),
     {"uid-orders": {"topic/alerts"}}),
    (event("ec2", "AuthorizeSecurityGroupIngress", {"groupId": "sg-0123456789abcdef0", "ipPermissions": {}}),
     {"uid-orders": {"network/security-group"}}),
    (event("secretsmanager", "PutSecretValue", {"secretId": SECRET_ARN}), {"uid-orders": {"secret/database"}}),
    (event("secretsmanager", "UpdateSecret", {"secretId": "aenv-team-a-orders-db"}),
     {"uid-orders": {"secret/database"}}),
    (event("apigateway", "UpdateStage", {"apiId": "a1b2c3d4e5", "stageName": "live"}),
     {"uid-orders": {"gateway/stage"}}),
    (event("sqs", "CreateQueue", {"queueName": "someone-elses"},
           {"queueUrl": "https://sqs.us-east-1.amazonaws.com/1/aenv-team-b-other-queue-events"}),
     {"uid-other": {"queue/events"}}),
    (event("sqs", "SetQueueAttributes", {"queueUrl": "https://sqs.us-east-1.amazonaws.com/1/not-aenvs"}), {}),
])
def test_an_event_names_the_environment_and_resource(body: str, expected: dict[str, set[str]]) -> None:
    parsed = parse(body)
    assert parsed is not None
    assert Index(ENVIRONMENTS).owners(parsed) == expected


def test_a_generic_name_or_a_secret_value_names_no_environment() -> None:
    """A stage called "live" exists in every environment; a password is no identifier aenv indexes."""
    index = Index(ENVIRONMENTS)
    assert index.owners(parse(event("apigateway", "UpdateStage", {"stageName": "live"}))) == {}  # type: ignore[arg-type]
    assert index.owners(parse(event("x", "Y", {"v": "not-a-token-at-all"}))) == {}  # type: ignore[arg-type]


def test_parse_reads_the_caller_and_refuses_what_is_no_cloudtrail_event() -> None:
    parsed = parse(event("sqs", "TagQueue", {"queueUrl": QUEUE_URL}, identity="arn:aws:sts::1:assumed-role/aenv/x"))
    assert parsed is not None and parsed.principal == "arn:aws:sts::1:assumed-role/aenv/x"
    assert parsed.name == "TagQueue" and parsed.source == "aws.sqs"
    assert parse("not json") is None
    assert parse(json.dumps({"detail-type": "Scheduled Event", "detail": {}})) is None


def test_tokens_of_urls_and_arns() -> None:
    assert tokens(QUEUE_URL) == {QUEUE_URL, QUEUE}
    assert tokens("arn:aws:iam::1:role/aenv/aenv-a-b-role-w") == {"arn:aws:iam::1:role/aenv/aenv-a-b-role-w",
                                                                  "aenv-a-b-role-w"}
    assert tokens("arn:aws:sns:us-east-1:1:aenv-t") == {"arn:aws:sns:us-east-1:1:aenv-t", "aenv-t"}


def test_the_rule_matches_cloudtrail_events_of_every_managed_service_and_alarm_changes() -> None:
    pattern = rule_pattern()
    assert pattern["detail-type"] == [DETAIL_TYPE, "CloudWatch Alarm State Change"]
    assert "aws.cloudwatch" in pattern["source"]
    assert {"aws.sqs", "aws.rds", "aws.elasticache", "aws.iam", "aws.s3", "aws.apigateway"} <= set(pattern["source"])
    assert pattern["source"] == list(SOURCES)


def test_verdict_follows_probes_and_events() -> None:
    settings = Settings(sweep_seconds=3600, fallback_seconds=300, window_seconds=900)
    health = Health(settings, "us-east-1")
    assert health.verdict(0).status == "Unknown" and health.verdict(0).sweep_seconds == 300
    assert health.probe_due(0)
    health.probed_at = 0
    assert health.verdict(899).status == "Unknown" and not health.probe_due(899)
    assert health.verdict(900).reason == "NoCloudTrailEvents" and health.verdict(900).sweep_seconds == 300
    health.event_at = 950
    assert health.verdict(951).status == "True" and health.verdict(951).sweep_seconds == 3600
    assert not health.probe_due(1000) and health.probe_due(950 + 900)
    health.probed_at = 1850  # a quiet window: the next probe's event is awaited with the verdict kept
    assert health.verdict(2000).status == "True"
    assert health.verdict(1850 + 900).reason == "NoCloudTrailEvents"
    health.problem = "AccessDeniedException: not authorized to perform events:PutRule"
    verdict = health.verdict(0)
    assert verdict.reason == "EventChannelUnavailable" and "events:PutRule" in verdict.message
    assert Health(Settings(events=False), "eu-west-1").verdict(0).reason == "EventsDisabled"


def test_settings_from_the_environment() -> None:
    assert Settings.from_environ({}) == Settings()
    assert Settings.from_environ({}).sweep_seconds == 3600 and Settings.from_environ({}).fallback_seconds == 300
    short = Settings.from_environ({"AENV_RESYNC_SECONDS": "2"})  # the former name of the sweep interval
    assert (short.sweep_seconds, short.fallback_seconds, short.tick_seconds) == (2, 2, 2)
    custom = Settings.from_environ({"AENV_SWEEP_SECONDS": "7200", "AENV_SWEEP_FALLBACK_SECONDS": "600",
                                    "AENV_DRIFT_EVENTS": "false", "AENV_DRIFT_CHANNEL": "aenv-cluster-b"})
    assert (custom.sweep_seconds, custom.fallback_seconds, custom.events, custom.channel, custom.tick_seconds) == (
        7200, 600, False, "aenv-cluster-b", 30)
    with pytest.raises(ValueError, match="AENV_SWEEP_SECONDS"):
        Settings.from_environ({"AENV_SWEEP_SECONDS": "an hour"})
    with pytest.raises(ValueError, match="AENV_DRIFT_CHANNEL"):
        Settings.from_environ({"AENV_DRIFT_CHANNEL": "drift"})
    with pytest.raises(ValueError, match="AENV_DRIFT_EVENTS"):
        Settings.from_environ({"AENV_DRIFT_EVENTS": "yes"})


def test_the_iam_policy_grants_the_channel() -> None:
    granted = actions()
    for service, operation in [("eventbridge", "PutRule"), ("eventbridge", "PutTargets"), ("sqs", "ReceiveMessage"),
                               ("sqs", "DeleteMessageBatch"), ("sqs", "TagQueue"), ("sts", "GetCallerIdentity")]:
        assert action_of(service, operation) in granted


def test_a_channel_runs_while_an_environment_it_serves_exists() -> None:
    watches = Watches()
    watches.start(Settings(), list, lambda _: None, lambda: None)
    east = {"aws": {"region": "us-east-1", "endpoint": "http://127.0.0.1:9"}}
    west = {"aws": {"region": "us-west-2", "endpoint": "http://127.0.0.1:9"}}
    try:
        watches.serve("a", east)
        watches.serve("b", east)
        watches.serve("c", {"aws": {"region": "us-east-1", "mode": "ack"}})  # ACK corrects drift in mode ack
        assert watches.serving() == {AwsTarget("us-east-1", "http://127.0.0.1:9")}
        watches.release("a")
        assert watches.serving() == {AwsTarget("us-east-1", "http://127.0.0.1:9")}, "b still uses it"
        watches.serve("b", west)  # b moved: nothing uses us-east-1 any more
        assert watches.serving() == {AwsTarget("us-west-2", "http://127.0.0.1:9")}
        watches.release("b")
        watches.release("c")
        assert watches.serving() == set()
    finally:
        watches.stop()
