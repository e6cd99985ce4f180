"""The alarm topic in mode ack (kind sns.alarm_topic): an sns Topic CR as for spec.topics (sns_topic.py), and an sns
Subscription CR per email of spec.monitoring.notificationTargets, referring to the topic's CR through topicRef.

A Subscription CR is named from the pair (topic, email), as queue subscriptions are from (topic, queue). One whose
email left the spec is deleted. An email subscription waits for its recipient (ACK reports pendingConfirmation):
that does not hold the topic back, as in mode boto3. Outputs are mode boto3's: arn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget
from ..naming import EnvironmentRef
from ..plan.types import Desired, Observation
from .resource import (
    DELETION_POLICY,
    MANAGED_SELECTOR,
    AckError,
    Cluster,
    environment_of_object,
    manifest,
    object_name,
    readiness,
    reference,
)
from .sns_subscription import SEPARATOR, SnsSubscriptions
from .sns_topic import SnsTopics

KIND = "sns.alarm_topic"
SUBSCRIPTION = SnsSubscriptions.KIND


def subscription_name(topic: str, email: str) -> str:
    return object_name(f"{topic}{SEPARATOR}{email}")


def subscription_spec(topic: str, email: str) -> dict[str, Any]:
    return {"protocol": "email", "endpoint": email, "topicRef": reference(object_name(topic))}


def subscription_state(obj: Mapping[str, Any]) -> str | None:
    """Why an email subscription's CR is not in place yet, or None: synced, with an ARN or awaiting confirmation."""
    status = obj.get("status") or {}
    usable = status.get("pendingConfirmation") == "true" or (status.get("ackResourceMetadata") or {}).get("arn")
    seen = readiness(obj, SUBSCRIPTION.controller, None if usable else "synced, but without an ARN yet")
    if seen.terminal is not None:
        raise AckError("ACK.Terminal", f"ACK cannot subscribe {(obj.get('spec') or {}).get('endpoint')}: "
                                       f"{seen.terminal}", "check the email address in notificationTargets")
    return None if seen.ready else seen.state


class SnsAlarmTopics(SnsTopics):
    def __init__(self, target: AwsTarget) -> None:
        super().__init__(target)
        self.subscriptions = Cluster(SUBSCRIPTION)

    def _subscriptions(self, namespace: str, topic: str) -> dict[str, dict[str, Any]]:
        """The Subscription CRs aenv wrote for this topic, by email."""
        resource = self.subscriptions.served()
        if resource is None:
            return {}
        out = {}
        for item in resource.get(namespace=namespace, label_selector=MANAGED_SELECTOR).items:
            obj = item.to_dict()
            spec = obj.get("spec") or {}
            refers_to = ((spec.get("topicRef") or {}).get("from") or {}).get("name")
            if spec.get("protocol") == "email" and refers_to == object_name(topic):
                out[str(spec.get("endpoint"))] = obj
        return out

    def observation(self, desired: Desired, obj: Mapping[str, Any]) -> Observation:
        observed = super().observation(desired, obj)
        env = environment_of_object(obj)
        if not desired.params or env is None or observed.state == "not written by aenv":
            return observed
        have = self._subscriptions(env.namespace, desired.name)
        want = set(desired.params["emails"])
        diff = dict(observed.diff)
        if set(have) != want:
            diff["subscriptions"] = (sorted(have), sorted(want))
        waiting = [f"{email}: {state}" for email, sub in sorted(have.items())
                   if email in want and (state := subscription_state(sub)) is not None]
        ready = observed.ready and not waiting
        return Observation(
            exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=observed.outputs if ready else {},
            owner=observed.owner, owner_environment=observed.owner_environment,
            state=observed.state if not waiting or not observed.ready else "subscribing " + "; ".join(waiting),
        )

    def create(self, desired: Desired) -> Observation:
        topic = self.cluster.apply(self.manifest(desired))
        env = self.environment(desired)
        if env is not None:
            self._subscribe(desired, env)
        return self.observation(desired, topic)

    def _subscribe(self, desired: Desired, env: EnvironmentRef) -> None:
        want = set(desired.params["emails"])
        for email in sorted(want):
            self.subscriptions.apply(manifest(SUBSCRIPTION, subscription_name(desired.name, email), env, self.region,
                                              subscription_spec(desired.name, email)))
        for email, obj in self._subscriptions(env.namespace, desired.name).items():
            if email not in want:
                self.subscriptions.delete(env.namespace, obj["metadata"]["name"])

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        obj = self.find(desired)
        env = environment_of_object(obj) if obj is not None else None
        if env is not None:
            wanted = self.deletion_policy(policy)
            for sub in self._subscriptions(env.namespace, desired.name).values():
                name = sub["metadata"]["name"]
                self.subscriptions.annotate(env.namespace, name, {DELETION_POLICY: wanted})
                self.subscriptions.delete(env.namespace, name)
        super().delete(desired, observed, policy)
