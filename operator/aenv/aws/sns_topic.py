"""SNS topics (kind sns.topic), encrypted at rest with the environment's KMS key."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import release_by_arn, retag_by_arn, tags_by_arn, tags_drifted, tags_or_ask

KIND = "sns.topic"
FIFO = ".fifo"


def list_topics(sns: Any) -> dict[str, str]:
    """aenv's topics (named aenv-...): name -> ARN."""
    out = {}
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            name = topic["TopicArn"].rsplit(":", 1)[-1]
            if name.startswith("aenv-"):
                out[name] = topic["TopicArn"]
    return out


def already_exists(error: ClientError) -> bool:
    """CreateTopic and Subscribe return what exists when nothing differs; with other attributes or tags AWS says
    InvalidParameter "... already exists ...": someone made it since the listing, so observe what is there."""
    return error_code(error) == "InvalidParameter" and "already exists" in error.response.get("Error", {}).get(
        "Message", "")


def delete_topic(sns: Any, topics: Listing[str], tags: Listing[dict[str, str]], name: str, arn: str,
                 policy: DeletionPolicy) -> None:
    """Retain: the topic stays, tagged released. Otherwise it goes with its subscriptions (Snapshot too: a topic
    holds no data at rest)."""
    if policy == "Retain":
        release_by_arn(sns, "ResourceArn", arn, tags)
    else:
        sns.delete_topic(TopicArn=arn)
        topics.forget(name)
        tags.forget(arn)


def topic_tags(sns: Any, tags: Listing[dict[str, str]], arn: str) -> dict[str, str]:
    """A topic's tags from the batch listing, or from the topic itself when the listing lacks it."""
    return tags_or_ask(tags, arn, lambda: {
        t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn).get("Tags", [])})


class SnsTopics(Classified):
    """One paginated ListTopics and one tagging-API call per interval for every environment; one
    GetTopicAttributes per topic and interval, the only read of KmsMasterKeyId (drift of the key)."""

    def __init__(self, target: AwsTarget) -> None:
        self.sns = session.client("sns", target.region, target.endpoint)
        self.arns = Listing(lambda: list_topics(self.sns))
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sns")

    def observe(self, desired: Desired) -> Observation:
        name = desired.name
        immutable: tuple[str, ...] = ()
        if self.arns.get(name) is None and desired.params:
            # The same logical topic with fifo flipped has the other name: a FIFO topic cannot become a standard
            # one (nor back), so report that instead of creating a second topic next to the first.
            name = name.removesuffix(FIFO) if name.endswith(FIFO) else name + FIFO
            immutable = ("fifo",)
        listed = self.arns.read(name, lambda arn: self.sns.get_topic_attributes(TopicArn=arn)["Attributes"],
                                gone={"NotFound"})
        if listed is None:
            return Observation.absent()
        arn, attrs = listed
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
            if not already_exists(e):
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
            retag_by_arn(self.sns, "ResourceArn", arn, self.tags, observed.diff["tags"][0], desired.tags)
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        delete_topic(self.sns, self.arns, self.tags, desired.name, observed.outputs["arn"], policy)
