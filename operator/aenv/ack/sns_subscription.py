"""SQS subscriptions of aenv's topics in mode ack (kind sns.subscription): an sns Subscription CR.

It refers to its topic's CR through topicRef; the endpoint (the queue's ARN) is a plain value (the Subscription
CRD has no reference field for it). A subscription has no tags and no name of its own, as in mode boto3: the CR is
named from the pair (topic, queue), and belongs to the environment that owns the topic's CR, in its namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..aws.component import AwsTarget
from ..naming import EnvironmentRef
from ..plan.types import Desired
from .resource import AckClient, AckKind, Cluster, environment_of_object, object_name, reference
from .sns_topic import TOPIC

KIND = "sns.subscription"
SEPARATOR = " -> "  # plan.topics.subscription_name: "<topic> -> <queue>"


def topic_name(subscription: str) -> str:
    """The topic's AWS name in a subscription's name."""
    return subscription.split(SEPARATOR, 1)[0]


class SnsSubscriptions(AckClient):
    KIND = AckKind("sns", "Subscription")
    ADOPTED_BY = (("arn", "status.ackResourceMetadata.arn"),)
    TAG_FIELD = None

    def __init__(self, target: AwsTarget) -> None:
        super().__init__(target)
        self.topics = Cluster(TOPIC)  # the topic's CR names the environment

    def environment(self, desired: Desired) -> EnvironmentRef | None:
        topic = self.topics.find(object_name(topic_name(desired.name)))
        return environment_of_object(topic) if topic is not None else None

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        return {
            "protocol": "sqs",
            "endpoint": p["endpoint"],
            "topicRef": reference(object_name(topic_name(desired.name))),
            "rawMessageDelivery": "true" if p["raw_message_delivery"] else "false",
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = obj.get("status") or {}
        if status.get("pendingConfirmation") == "true":
            return "pending confirmation"
        return super().unusable(obj)
