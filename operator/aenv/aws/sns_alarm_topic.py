"""The SNS topic the environment's alarms notify (kind sns.alarm_topic), with an email subscription per
spec.monitoring.notificationTargets email. topicArn targets are not subscribed: the alarms notify them directly.

Email subscriptions wait for the recipient to confirm (AWS lists them as PendingConfirmation; moto confirms at
once). A pending subscription cannot be removed: when its address leaves the spec it lapses unconfirmed.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .sns_topic import delete_topic, list_topics, topic_tags
from .tagging import retag_by_arn, tags_by_arn, tags_drifted

KIND = "sns.alarm_topic"
PENDING = "PendingConfirmation"


class SnsAlarmTopics(Classified):
    """Three batch listings per interval for all environments: ListTopics, ListSubscriptions and the tags of every
    aenv topic; no per-topic call at idle."""

    def __init__(self, target: AwsTarget) -> None:
        self.sns = session.client("sns", target.region, target.endpoint)
        self.topics = Listing(lambda: list_topics(self.sns))
        self.subscriptions = Listing(self._list_subscriptions)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint), "sns")

    def _list_subscriptions(self) -> dict[str, list[tuple[str, str]]]:
        """Topic ARN -> (email, subscription ARN or PendingConfirmation) of its email subscriptions."""
        out: dict[str, list[tuple[str, str]]] = {}
        for page in self.sns.get_paginator("list_subscriptions").paginate():
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") == "email" and ":aenv-" in sub.get("TopicArn", ""):
                    out.setdefault(sub["TopicArn"], []).append((sub["Endpoint"], sub["SubscriptionArn"]))
        return out

    def observe(self, desired: Desired) -> Observation:
        arn = self.topics.get(desired.name)
        if arn is None:
            return Observation.absent()
        tags = topic_tags(self.sns, self.tags, arn)
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            subs = self.subscriptions.get(arn) or []
            have, want = {email for email, _ in subs}, set(desired.params["emails"])
            removable = {email for email, sub in subs if email not in want and sub != PENDING}
            if want - have or removable:
                diff["subscriptions"] = (sorted(have), sorted(want))
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, outputs={"arn": arn}, state="available",
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
        )

    def create(self, desired: Desired) -> Observation:
        try:
            # Idempotent: an existing topic of that name with the same tags is returned, not duplicated.
            arn = self.sns.create_topic(Name=desired.name, Tags=[{"Key": k, "Value": v}
                                                                for k, v in desired.tags.items()])["TopicArn"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "InvalidParameter":
                raise
            self.topics.expire()  # the name is taken by a topic with other tags: observe what is there
            observed = self.observe(desired)
            if not observed.exists:
                raise
            return observed
        self.topics.put(desired.name, arn)
        observed = self.observe(desired)
        if observed.owner == desired.tags.get(TAG_UID) and not observed.up_to_date:
            return self.update(desired, observed)  # subscribe now, on a topic known to be this environment's
        return observed

    def update(self, desired: Desired, observed: Observation) -> Observation:
        arn = observed.outputs["arn"]
        if "subscriptions" in observed.diff:
            subs = self.subscriptions.get(arn) or []
            want = set(desired.params["emails"])
            for email in sorted(want - {email for email, _ in subs}):
                self.sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=email)
            for email, sub in subs:
                if email not in want and sub != PENDING:
                    self.sns.unsubscribe(SubscriptionArn=sub)
            self.subscriptions.expire()
        if "tags" in observed.diff:
            retag_by_arn(self.sns, "ResourceArn", arn, self.tags, observed.diff["tags"][0], desired.tags)
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        delete_topic(self.sns, self.topics, self.tags, desired.name, observed.outputs["arn"], policy)
