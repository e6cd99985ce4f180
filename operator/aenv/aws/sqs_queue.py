"""SQS queues (kind sqs.queue): a queue, or a dead-letter queue that another queue's redrive policy names."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget
from .errors import classify

KIND = "sqs.queue"
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def _attributes(desired: Desired) -> dict[str, str]:
    p = desired.params
    attrs = {
        "VisibilityTimeout": str(p["visibility_timeout_seconds"]),
        "MessageRetentionPeriod": str(p["message_retention_seconds"]),
    }
    if p.get("dead_letter_arn"):
        attrs["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": p["dead_letter_arn"], "maxReceiveCount": int(p["max_receive_count"])},
            separators=(",", ":"))
    return attrs


def _same(key: str, observed: str | None, desired: str) -> bool:
    if observed is None:
        return False
    if key == "RedrivePolicy":
        got, want = json.loads(observed), json.loads(desired)
        return bool(got.get("deadLetterTargetArn") == want["deadLetterTargetArn"]
                    and int(got.get("maxReceiveCount", 0)) == want["maxReceiveCount"])
    return observed == desired


class SqsQueues:
    def __init__(self, target: AwsTarget) -> None:
        self.sqs = session.client("sqs", target.region, target.endpoint)

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.sqs, method)(**kwargs)
        except Exception as e:
            raise classify(e) from e

    def observe(self, desired: Desired) -> Observation:
        try:
            url = self.sqs.get_queue_url(QueueName=desired.name)["QueueUrl"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in _MISSING:
                return Observation.absent()
            raise classify(e) from e
        attrs = self._call("get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
        tags = self._call("list_queue_tags", QueueUrl=url).get("Tags", {})
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            diff = {k: (attrs.get(k), v) for k, v in _attributes(desired).items() if not _same(k, attrs.get(k), v)}
            if "RedrivePolicy" in attrs and not desired.params.get("dead_letter_arn"):
                diff["RedrivePolicy"] = (attrs["RedrivePolicy"], None)
            if any(tags.get(k) != v for k, v in desired.tags.items()) or TAG_RELEASED in tags:
                diff["tags"] = (tags, dict(desired.tags))
            if (attrs.get("FifoQueue") == "true") != bool(desired.params.get("fifo")):
                immutable = ("fifo",)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"url": url, "arn": attrs["QueueArn"]},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    def create(self, desired: Desired) -> Observation:
        attrs = _attributes(desired)
        if desired.params.get("fifo"):
            attrs["FifoQueue"] = "true"
        self._call("create_queue", QueueName=desired.name, Attributes=attrs, tags=dict(desired.tags))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        url = observed.outputs["url"]
        want = _attributes(desired)
        changed = {k: want.get(k, "") for k in observed.diff if k != "tags"}
        if changed:
            self._call("set_queue_attributes", QueueUrl=url, Attributes=changed)
        if "tags" in observed.diff:
            self._call("untag_queue", QueueUrl=url, TagKeys=[TAG_RELEASED])
            self._call("tag_queue", QueueUrl=url, Tags=dict(desired.tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        url = observed.outputs["url"]
        if policy == "Retain":
            self._call("tag_queue", QueueUrl=url, Tags={TAG_RELEASED: "true"})
        else:  # Snapshot: a queue holds messages in flight, not data at rest; nothing to snapshot
            self._call("delete_queue", QueueUrl=url)
