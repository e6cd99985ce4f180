"""SQS queues (kind sqs.queue): a queue, or a dead-letter queue that another queue's redrive policy names."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .tagging import tags_by_arn, tags_drifted, tags_or_ask

KIND = "sqs.queue"
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_TAKEN = {"QueueAlreadyExists", "QueueNameExists"}


def _attributes(desired: Desired) -> dict[str, str]:
    p = desired.params
    attrs = {
        "VisibilityTimeout": str(p["visibility_timeout_seconds"]),
        "MessageRetentionPeriod": str(p["message_retention_seconds"]),
    }
    if p.get("kms_key_id"):
        attrs["KmsMasterKeyId"] = str(p["kms_key_id"])
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


class SqsQueues(Classified):
    """SQS has no batch read of attributes: existence and tags come from two batch listings per interval,
    attributes from one GetQueueAttributes per queue and interval."""

    def __init__(self, target: AwsTarget) -> None:
        self.sqs = session.client("sqs", target.region, target.endpoint)
        self.urls = Listing(self._list_urls)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sqs")

    def _list_urls(self) -> dict[str, str]:
        out = {}
        for page in self.sqs.get_paginator("list_queues").paginate(QueueNamePrefix="aenv-"):
            for url in page.get("QueueUrls", []):
                out[url.rsplit("/", 1)[-1]] = url
        return out

    def observe(self, desired: Desired) -> Observation:
        listed = self.urls.read(desired.name, gone=_MISSING, read=lambda url: self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"])["Attributes"])
        if listed is None:
            return Observation.absent()
        url, attrs = listed
        tags = self._tags(url, attrs["QueueArn"])
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            diff = {k: (attrs.get(k), v) for k, v in _attributes(desired).items() if not _same(k, attrs.get(k), v)}
            if "RedrivePolicy" in attrs and not desired.params.get("dead_letter_arn"):
                diff["RedrivePolicy"] = (attrs["RedrivePolicy"], None)
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
            if (attrs.get("FifoQueue") == "true") != bool(desired.params.get("fifo")):
                immutable = ("fifo",)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"url": url, "arn": attrs["QueueArn"]},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    def _tags(self, url: str, arn: str) -> dict[str, str]:
        return tags_or_ask(self.tags, arn, lambda: dict(self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})))

    def create(self, desired: Desired) -> Observation:
        attrs = _attributes(desired)
        if desired.params.get("fifo"):
            attrs["FifoQueue"] = "true"
        try:
            url = self.sqs.create_queue(QueueName=desired.name, Attributes=attrs, tags=dict(desired.tags))["QueueUrl"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in _TAKEN:
                raise
            self.urls.expire()  # made by someone else since the listing: observe what is there
        else:
            self.urls.put(desired.name, url)
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        url = observed.outputs["url"]
        want = _attributes(desired)
        changed = {k: want.get(k, "") for k in observed.diff if k != "tags"}
        if changed:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
        if "tags" in observed.diff:
            self.sqs.untag_queue(QueueUrl=url, TagKeys=[TAG_RELEASED])
            self.sqs.tag_queue(QueueUrl=url, Tags=dict(desired.tags))
            self.tags.put(observed.outputs["arn"], retagged(observed.diff["tags"][0], desired.tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        url = observed.outputs["url"]
        if policy == "Retain":
            self.sqs.tag_queue(QueueUrl=url, Tags={TAG_RELEASED: "true"})
            self.tags.forget(observed.outputs["arn"])
        else:  # Snapshot: a queue holds messages in flight, not data at rest; nothing to snapshot
            self.sqs.delete_queue(QueueUrl=url)
            self.urls.expire()  # AWS may list a deleted queue for up to 60 s: confirm by listing again
