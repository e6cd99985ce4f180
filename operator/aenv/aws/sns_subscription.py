"""SQS subscriptions of aenv's SNS topics (kind sns.subscription).

A subscription has no name and no tags. aenv finds its own by the pair (topic, queue) that its name spells,
and takes its owner from the topic's tags. Subscriptions someone made by hand to an aenv topic (another queue,
an e-mail address) are never in the plan, so aenv leaves them alone.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.topics import subscription_name
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .sns_topic import already_exists, topic_tags
from .tagging import tags_by_arn

KIND = "sns.subscription"


def _queue_in_same_account(topic_arn: str, endpoint: str) -> bool:
    """aenv subscribes only its own queues, which live in the topic's partition, region and account."""
    topic, queue = topic_arn.split(":"), endpoint.split(":")
    return len(queue) == 6 and queue[2] == "sqs" and topic[1] == queue[1] and topic[3:5] == queue[3:5]


def _flag(value: bool) -> str:
    return "true" if value else "false"


class SnsSubscriptions(Classified):
    """One paginated ListSubscriptions per interval for every environment, keyed by the (topic, queue) pair;
    one GetSubscriptionAttributes per subscription and interval (RawMessageDelivery is not in the listing)."""

    def __init__(self, target: AwsTarget) -> None:
        self.sns = session.client("sns", target.region, target.endpoint)
        self.subscriptions = Listing(self._list)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sns")

    def _list(self) -> dict[str, dict[str, str]]:
        out = {}
        for page in self.sns.get_paginator("list_subscriptions").paginate():
            for s in page.get("Subscriptions", []):
                topic, endpoint = s["TopicArn"], s.get("Endpoint", "")
                name = topic.rsplit(":", 1)[-1]
                if s.get("Protocol") == "sqs" and name.startswith("aenv-") and _queue_in_same_account(topic, endpoint):
                    out[subscription_name(name, endpoint.rsplit(":", 1)[-1])] = s
        return out

    def observe(self, desired: Desired) -> Observation:
        # Never "PendingConfirmation": only cross-account subscriptions wait for one, and aenv's queues are local.
        listed = self.subscriptions.read(desired.name, gone={"NotFound"}, read=lambda found: (
            self.sns.get_subscription_attributes(SubscriptionArn=found["SubscriptionArn"])["Attributes"]))
        if listed is None:
            return Observation.absent()
        found, attrs = listed
        arn = found["SubscriptionArn"]
        tags = topic_tags(self.sns, self.tags, found["TopicArn"])
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:
            got, want = attrs.get("RawMessageDelivery", "false"), _flag(desired.params["raw_message_delivery"])
            if got != want:
                diff["raw_message_delivery"] = (got, want)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff,
            outputs={"arn": arn},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="confirmed",
        )

    def create(self, desired: Desired) -> Observation:
        p = desired.params
        try:
            arn = self.sns.subscribe(
                TopicArn=p["topic_arn"], Protocol="sqs", Endpoint=p["endpoint"], ReturnSubscriptionArn=True,
                Attributes={"RawMessageDelivery": _flag(p["raw_message_delivery"])},
            )["SubscriptionArn"]
        except ClientError as e:
            if not already_exists(e):  # then update() sets the attributes
                raise
            self.subscriptions.expire()
        else:
            self.subscriptions.put(desired.name, {"SubscriptionArn": arn, "TopicArn": p["topic_arn"],
                                                  "Endpoint": p["endpoint"], "Protocol": "sqs"})
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        if "raw_message_delivery" in observed.diff:
            self.sns.set_subscription_attributes(SubscriptionArn=observed.outputs["arn"],
                       AttributeName="RawMessageDelivery", AttributeValue=observed.diff["raw_message_delivery"][1])
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            return  # a subscription cannot be tagged: it stays, and so does its topic, tagged released
        self.sns.unsubscribe(SubscriptionArn=observed.outputs["arn"])
        self.subscriptions.forget(desired.name)
