"""SNS topics (kind sns.topic), encrypted at rest with the environment's KMS key."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .tagging import tags_by_arn, tags_drifted, tags_or_ask

KIND = "sns.topic"
FIFO = ".fifo"


def topic_tags(sns: Any, tags: Listing[dict[str, str]], arn: str) -> dict[str, str]:
    """A topic's tags from the batch listing, or from the topic itself when the listing lacks it."""
    return tags_or_ask(tags, arn, lambda: {
        t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])})


class SnsTopics(Classified):
    """One paginated ListTopics and one tagging-API call per interval for every environment; one
    GetTopicAttributes per topic and interval, the only read of KmsMasterKeyId (drift of the key)."""

    def __init__(self, target: AwsTarget) -> None:
        self.sns = session.client("sns", target.region, target.endpoint)
        self.arns = Listing(self._list_arns)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sns")

    def _list_arns(self) -> dict[str, str]:
        out = {}
        for page in self.sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                name = topic["TopicArn"].rsplit(":", 1)[-1]
                if name.startswith("aenv-"):
                    out[name] = topic["TopicArn"]
        return out

    def observe(self, desired: Desired) -> Observation:
        name = desired.name
        immutable: tuple[str, ...] = ()
        try:
            arn = self.arns.get(name)
            if arn is None and desired.params:
                # The same logical topic with fifo flipped has the other name: a FIFO topic cannot become a standard
                # one (nor back), so report that instead of creating a second topic next to the first.
                twin = name.removesuffix(FIFO) if name.endswith(FIFO) else name + FIFO
                arn = self.arns.get(twin)
                name, immutable = twin, ("fifo",)
            if arn is None:
                return Observation.absent()
            attrs = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NotFound":  # deleted since the listing
                self.arns.forget(name)
                return Observation.absent()
            raise
        tags = topic_tags(self.sns, self.tags, arn)
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params and not immutable:
            want = desired.params["kms_key_id"]
            if attrs.get("KmsMasterKeyId", "") != want:
                diff["kms_key_id"] = (attrs.get("KmsMasterKeyId") or None, want)
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable, outputs={"arn": arn},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    def create(self, desired: Desired) -> Observation:
        attrs = {"KmsMasterKeyId": desired.params["kms_key_id"]}
        if desired.params.get("fifo"):
            attrs["FifoTopic"] = "true"
        try:
            arn = self.sns.create_topic(Name=desired.name, Attributes=attrs,
                                        Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()])["TopicArn"]
        except ClientError as e:
            # CreateTopic returns the existing topic when nothing differs; with other attributes or tags AWS says
            # InvalidParameter "... already exists ...": someone made it since the listing, so observe what is there.
            error = e.response.get("Error", {})
            if error.get("Code") != "InvalidParameter" or "already exists" not in error.get("Message", ""):
                raise
            self.arns.expire()
        else:
            self.arns.put(desired.name, arn)
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        arn = observed.outputs["arn"]
        if "kms_key_id" in observed.diff:
            self.sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId",
                       AttributeValue=desired.params["kms_key_id"])
        if "tags" in observed.diff:
            self.sns.untag_resource(ResourceArn=arn, TagKeys=[TAG_RELEASED])
            self.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in desired.tags.items()])
            self.tags.put(arn, retagged(observed.diff["tags"][0], desired.tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        arn = observed.outputs["arn"]
        if policy == "Retain":
            self.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            self.tags.forget(arn)
        else:  # Snapshot: a topic keeps no data at rest, nothing to snapshot. Its subscriptions go with it.
            self.sns.delete_topic(TopicArn=arn)
            self.arns.forget(desired.name)
