"""The Policy of an SQS queue that lets aenv's SNS topics deliver to it (kind sqs.queue_policy).

The policy belongs to the queue: its owner is the queue's owner, it exists while the queue has a Policy
attribute, and deleting it removes that attribute (the queue stays). Desired params: queue_url, queue_arn,
and one "source_arn/<topic>" per topic that subscribes the queue.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .tagging import tags_by_arn

KIND = "sqs.queue_policy"
SOURCE = "source_arn/"
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def document(queue_arn: str, topic_arns: list[str]) -> dict[str, Any]:
    """SendMessage for SNS, on behalf of exactly these topics."""
    return {
        "Version": "2012-10-17",
        "Id": "aenv-topics",
        "Statement": [{
            "Sid": "aenv-topics",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(topic_arns)}},
        }],
    }


def _canonical(value: Any) -> Any:
    """A policy as IAM reads it: a one-element list is the element, and list order does not matter."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


class SqsQueuePolicies(Classified):
    """One GetQueueAttributes per policy and interval; the queue's tags from one tagging-API call per interval.
    The queue URL comes from the desired params (a Ref to the queue), and from GetQueueUrl only when deleting."""

    def __init__(self, target: AwsTarget) -> None:
        self.sqs = session.client("sqs", target.region, target.endpoint)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sqs")

    def observe(self, desired: Desired) -> Observation:
        try:
            url = desired.params.get("queue_url") or self.sqs.get_queue_url(QueueName=desired.name)["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in _MISSING:
                return Observation.absent()
            raise
        if not attrs.get("Policy"):
            return Observation.absent()
        tags = self._tags(url, attrs["QueueArn"])
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:
            got, want = json.loads(attrs["Policy"]), document(attrs["QueueArn"], self._sources(desired))
            if _canonical(got) != _canonical(want):
                diff["Policy"] = (got, want)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff,
            outputs={"queue_url": url},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="attached",
        )

    @staticmethod
    def _sources(desired: Desired) -> list[str]:
        return [v for k, v in desired.params.items() if k.startswith(SOURCE)]

    def _tags(self, url: str, arn: str) -> dict[str, str]:
        try:
            tags = self.tags.get(arn)
        except Exception:  # noqa: BLE001 - the tagging API is optional (some endpoints lack it): ask the queue
            tags = None
        if tags is None:
            tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
            self.tags.put(arn, tags)
        return tags

    def _put(self, desired: Desired) -> Observation:
        policy = document(desired.params["queue_arn"], self._sources(desired))
        self.sqs.set_queue_attributes(QueueUrl=desired.params["queue_url"],
                   Attributes={"Policy": json.dumps(policy, separators=(",", ":"))})
        return self.observe(desired)

    def create(self, desired: Desired) -> Observation:
        return self._put(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        return self._put(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            return  # a policy cannot be tagged: it stays with its queue, which the queue's client tags released
        self.sqs.set_queue_attributes(QueueUrl=observed.outputs["queue_url"], Attributes={"Policy": ""})
