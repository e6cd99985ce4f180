"""aenv's EventBridge rule for CloudTrail's management events and the SQS queue it delivers to: one per operator
installation (its name), account and region, made and read here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ..drift.events import rule_pattern
from ..naming import TAG_COMPONENT
from . import session
from .component import AwsTarget
from .errors import error_code

COMPONENT = "drift-events"
TAG_PROBE = "aenv.dev/probe"
RECEIVE_WAIT_SECONDS = 20  # SQS's longest poll: three requests a minute when nothing happens
RECEIVE_MAX = 10
MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "ResourceNotFoundException"}
RETENTION_SECONDS = 3600  # an event older than the next sweep is worth nothing


@dataclass(frozen=True)
class Message:
    body: str
    receipt: str


class EventChannel:
    def __init__(self, target: AwsTarget, name: str) -> None:
        self.name = name
        self.sqs = session.client("sqs", target.region, target.endpoint)
        self.events = session.client("events", target.region, target.endpoint)
        self.sts = session.client("sts", target.region, target.endpoint)
        self.url: str | None = None

    def ensure(self) -> str:
        """Make (or bring in line) the queue, its policy, the rule and its target; the queue's URL."""
        tags = {TAG_COMPONENT: COMPONENT}
        url: str = self.sqs.create_queue(QueueName=self.name, tags=tags, Attributes={
            "MessageRetentionPeriod": str(RETENTION_SECONDS)})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn: str = self.events.put_rule(
            Name=self.name, EventPattern=json.dumps(rule_pattern()), State="ENABLED",
            Description="aenv: CloudTrail management events of the services aenv manages, for drift",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["RuleArn"]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(_policy(arn, rule_arn))})
        self.events.put_targets(Rule=self.name, Targets=[{"Id": "aenv-queue", "Arn": arn}])
        self.url = url
        return url

    def caller(self) -> str | None:
        """Who aenv calls AWS as (userIdentity.arn of its own events), or None when STS does not say."""
        try:
            arn: str = self.sts.get_caller_identity()["Arn"]
        except ClientError:
            return None
        return arn

    def receive(self) -> list[Message]:
        """Up to RECEIVE_MAX messages, waiting up to RECEIVE_WAIT_SECONDS for the first."""
        url = self.url or self.ensure()
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=RECEIVE_MAX,
                                       WaitTimeSeconds=RECEIVE_WAIT_SECONDS)
        return [Message(m["Body"], m["ReceiptHandle"]) for m in got.get("Messages", [])]

    def delete(self, receipts: list[str]) -> None:
        for first in range(0, len(receipts) if self.url else 0, RECEIVE_MAX):  # ten entries a batch at most
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts[first:first + RECEIVE_MAX])])

    def probe(self) -> None:
        """A harmless change of aenv's own, which CloudTrail records and the rule matches (TagQueue)."""
        url = self.url or self.ensure()
        self.sqs.tag_queue(QueueUrl=url, Tags={TAG_PROBE: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})


def gone(error: Exception) -> bool:
    """The queue or rule is no longer there (deleted by hand): make them again."""
    return isinstance(error, ClientError) and error_code(error) in MISSING


def _policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeSends", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}
