"""SNS topics, their SQS subscriptions and the queue policies, against moto in server mode."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.api.spec import DeletionPolicy
from aenv.aws.component import AwsTarget, ResourceClient
from aenv.aws.sns_subscription import SnsSubscriptions
from aenv.aws.sns_topic import SnsTopics
from aenv.aws.sqs_queue import SqsQueues
from aenv.aws.sqs_queue_policy import SqsQueuePolicies
from aenv.local.emulator import CREDENTIALS, AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import queues, topics
from aenv.plan.actions import decide
from aenv.plan.types import Desired, Observation
from aenv.reconcile import act

ENV = EnvironmentRef("analytics", "defi", "uid-1")
OTHER = EnvironmentRef("analytics", "other", "uid-2")
CLIENTS: dict[str, Callable[[AwsTarget], ResourceClient]] = {
    "sqs.queue": SqsQueues, "sns.topic": SnsTopics, "sns.subscription": SnsSubscriptions,
    "sqs.queue_policy": SqsQueuePolicies,
}


def spec(**sections: Any) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, **sections}))


SPEC = spec(queues=[{"name": "events"}, {"name": "audit"}],
            topics=[{"name": "alerts", "subscribers": ["events"]}, {"name": "prices", "subscribers": ["events"]},
                    {"name": "fills"}])


class Aws:
    """The environment's AWS side: fresh clients each time (no listing cached across steps), boto3 for checks."""

    def __init__(self, emulator: AwsEmulator) -> None:
        emulator.reset()
        self.target = AwsTarget(region="us-east-1", endpoint=emulator.url)
        kw: dict[str, Any] = dict(region_name="us-east-1", endpoint_url=emulator.url,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        self.sns, self.sqs, self.kms = boto3.client("sns", **kw), boto3.client("sqs", **kw), boto3.client("kms", **kw)
        self.key_id = self.new_key()
        self.outputs: dict[str, Any] = {"kms/key": {"id": self.key_id}}

    def new_key(self) -> str:
        return str(self.kms.create_key()["KeyMetadata"]["KeyId"])

    def client(self, kind: str) -> ResourceClient:
        return CLIENTS[kind](self.target)

    def resolved(self, d: Desired) -> Desired:
        r = d.resolve(self.outputs)
        assert r is not None, f"{d.key} waits for {d.depends_on}"
        return r

    def apply(self, resources: list[Desired], env: EnvironmentRef = ENV) -> dict[str, Observation]:
        """What the reconcile loop does: observe, decide, create or update; outputs feed later Refs."""
        seen = {}
        for d in resources:
            client, r = self.client(d.kind), self.resolved(d)
            observed, conflict = act(env, r, client)
            assert conflict is None and decide(env, r, observed).kind == "none", (d.key, observed)
            self.outputs[d.key] = observed.outputs
            seen[d.key] = observed
        return seen

    def retire(self, d: Desired, policy: DeletionPolicy) -> Observation:
        """What the loop does on deletion: observe by name alone, delete, observe again."""
        lookup = Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)
        observed = self.client(d.kind).observe(lookup)
        assert observed.exists and observed.owner_environment == ENV.key
        self.client(d.kind).delete(lookup, observed, policy)
        return self.client(d.kind).observe(lookup)


@pytest.fixture
def aws(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> Aws:
    for name, value in CREDENTIALS.items():  # aenv's clients take credentials from the environment
        monkeypatch.setenv(name, value)
    return Aws(emulator)


def planned(s: EnvironmentSpec = SPEC, env: EnvironmentRef = ENV) -> dict[str, Desired]:
    return {d.key: d for d in queues.plan(env, s) + topics.plan(env, s)}


def everything(aws: Aws, s: EnvironmentSpec = SPEC) -> dict[str, Observation]:
    return aws.apply(queues.plan(ENV, s) + topics.plan(ENV, s))


def topic_count(aws: Aws) -> int:
    return len(aws.sns.list_topics()["Topics"])


# --- sns.topic -------------------------------------------------------------------------------------------------


def test_topic_create_then_observe(aws: Aws) -> None:
    p = planned(spec(topics=[{"name": "alerts"}, {"name": "fills", "fifo": True}]))
    created = aws.client("sns.topic").create(aws.resolved(p["topic/alerts"]))
    assert created.exists and created.ready and created.up_to_date
    arn = created.outputs["arn"]
    assert arn.endswith(":aenv-analytics-defi-alerts")
    assert (created.owner, created.owner_environment) == ("uid-1", "analytics/defi")
    attrs = aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["KmsMasterKeyId"] == aws.key_id
    assert "FifoTopic" not in attrs
    tags = {t["Key"]: t["Value"] for t in aws.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "topics"}

    fifo = aws.client("sns.topic").create(aws.resolved(p["topic/fills"]))
    assert fifo.outputs["arn"].endswith(":aenv-analytics-defi-fills.fifo") and fifo.up_to_date
    assert aws.sns.get_topic_attributes(TopicArn=fifo.outputs["arn"])["Attributes"]["FifoTopic"] == "true"


def test_topic_second_observe_finds_the_same_one(aws: Aws) -> None:
    d = aws.resolved(planned()["topic/alerts"])
    created = aws.client("sns.topic").create(d)
    again = aws.client("sns.topic").observe(d)
    assert again.exists and again.up_to_date and again.outputs == created.outputs
    assert decide(ENV, d, again).kind == "none"
    assert topic_count(aws) == 1


def test_topic_key_change_is_applied(aws: Aws) -> None:
    d = aws.resolved(planned()["topic/alerts"])
    arn = aws.client("sns.topic").create(d).outputs["arn"]
    rotated = replace(d, params={**d.params, "kms_key_id": aws.new_key()})
    observed = aws.client("sns.topic").observe(rotated)
    assert not observed.up_to_date and set(observed.diff) == {"kms_key_id"}
    updated = aws.client("sns.topic").update(rotated, observed)
    assert updated.up_to_date
    assert aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == rotated.params["kms_key_id"]


def test_topic_fifo_change_is_immutable(aws: Aws) -> None:
    aws.apply([planned(spec(topics=[{"name": "alerts"}]))["topic/alerts"]])
    as_fifo = aws.resolved(planned(spec(topics=[{"name": "alerts", "fifo": True}]))["topic/alerts"])
    observed = aws.client("sns.topic").observe(as_fifo)
    assert observed.exists and observed.immutable == ("fifo",)
    assert decide(ENV, as_fifo, observed).kind == "conflict"
    assert topic_count(aws) == 1


def test_topic_drift_is_detected_and_corrected(aws: Aws) -> None:
    d = aws.resolved(planned()["topic/alerts"])
    arn = aws.client("sns.topic").create(d).outputs["arn"]
    aws.sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue="")
    aws.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": TAG_COMPONENT, "Value": "hand-made"}])
    drifted = aws.client("sns.topic").observe(d)
    assert drifted.diff["kms_key_id"] == (None, aws.key_id)
    assert "tags" in drifted.diff
    fixed = aws.client("sns.topic").update(d, drifted)
    assert fixed.up_to_date
    assert aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == aws.key_id
    tags = {t["Key"]: t["Value"] for t in aws.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags[TAG_COMPONENT] == "topics"


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_topic_delete(aws: Aws, policy: DeletionPolicy) -> None:
    d = planned()["topic/alerts"]
    aws.apply([d])
    assert not aws.retire(d, policy).exists
    assert topic_count(aws) == 0


def test_topic_retain_then_adopt(aws: Aws) -> None:
    d = planned()["topic/alerts"]
    arn = aws.apply([d])["topic/alerts"].outputs["arn"]
    kept = aws.retire(d, "Retain")
    assert kept.exists and topic_count(aws) == 1
    tags = {t["Key"]: t["Value"] for t in aws.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags[TAG_RELEASED] == "true"
    # The same namespace/name, created again: it adopts what was retained.
    reborn = EnvironmentRef(ENV.namespace, ENV.name, "uid-9")
    r = aws.resolved(planned(env=reborn)["topic/alerts"])
    observed = aws.client("sns.topic").observe(r)
    assert decide(reborn, r, observed).kind == "adopt"
    adopted = aws.client("sns.topic").update(r, observed)
    assert adopted.owner == "uid-9" and adopted.up_to_date and adopted.outputs["arn"] == arn


def test_topic_of_another_environment_is_reported(aws: Aws) -> None:
    d = aws.resolved(planned()["topic/alerts"])
    aws.sns.create_topic(Name=d.name, Tags=[{"Key": k, "Value": v} for k, v in OTHER.tags("topics").items()])
    observed = aws.client("sns.topic").observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other"
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to analytics/other" in action.message


# --- sns.subscription -------------------------------------------------------------------------------------------


def test_subscription_create_then_observe(aws: Aws) -> None:
    seen = everything(aws)
    sub = seen["topic/alerts/subscription/events"]
    assert sub.exists and sub.ready and sub.up_to_date and sub.owner_environment == "analytics/defi"
    attrs = aws.sns.get_subscription_attributes(SubscriptionArn=sub.outputs["arn"])["Attributes"]
    assert attrs["Protocol"] == "sqs" and attrs["RawMessageDelivery"] == "true"
    assert attrs["TopicArn"] == seen["topic/alerts"].outputs["arn"]
    assert attrs["Endpoint"] == seen["queue/events"].outputs["arn"]


def test_subscription_second_observe_finds_the_same_one(aws: Aws) -> None:
    seen = everything(aws)
    d = aws.resolved(planned()["topic/alerts/subscription/events"])
    again = aws.client("sns.subscription").observe(d)
    assert again.outputs["arn"] == seen["topic/alerts/subscription/events"].outputs["arn"] and again.up_to_date
    aws.client("sns.subscription").create(d)  # Subscribe is idempotent: still one
    topic = seen["topic/alerts"].outputs["arn"]
    assert len(aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1


def test_subscription_drift_and_change_are_applied(aws: Aws) -> None:
    arn = everything(aws)["topic/alerts/subscription/events"].outputs["arn"]
    aws.sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                                        AttributeValue="false")
    d = aws.resolved(planned()["topic/alerts/subscription/events"])
    drifted = aws.client("sns.subscription").observe(d)
    assert drifted.diff == {"raw_message_delivery": ("false", "true")}
    assert aws.client("sns.subscription").update(d, drifted).up_to_date
    assert aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "true"
    # A changed desired value goes the same way.
    wrapped = replace(d, params={**d.params, "raw_message_delivery": False})
    observed = aws.client("sns.subscription").observe(wrapped)
    assert aws.client("sns.subscription").update(wrapped, observed).up_to_date
    assert aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["RawMessageDelivery"] == "false"


def test_subscription_deleted_by_hand_is_made_again(aws: Aws) -> None:
    arn = everything(aws)["topic/alerts/subscription/events"].outputs["arn"]
    aws.sns.unsubscribe(SubscriptionArn=arn)
    seen = aws.apply([planned()["topic/alerts/subscription/events"]])
    assert seen["topic/alerts/subscription/events"].exists


def test_subscription_made_by_hand_is_left_alone(aws: Aws) -> None:
    seen = everything(aws)
    topic = seen["topic/alerts"].outputs["arn"]
    hand = aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=seen["queue/audit"].outputs["arn"],
                             ReturnSubscriptionArn=True)["SubscriptionArn"]
    everything(aws)  # a second pass changes nothing of it
    assert aws.sns.get_subscription_attributes(SubscriptionArn=hand)["Attributes"]["RawMessageDelivery"] == "false"
    assert aws.retire(planned()["topic/alerts/subscription/events"], "Delete").exists is False
    left = aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in left] == [hand]


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_subscription_delete(aws: Aws, policy: DeletionPolicy) -> None:
    topic = everything(aws)["topic/alerts"].outputs["arn"]
    assert not aws.retire(planned()["topic/alerts/subscription/events"], policy).exists
    assert aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_subscription_retain_keeps_it(aws: Aws) -> None:
    topic = everything(aws)["topic/alerts"].outputs["arn"]
    assert aws.retire(planned()["topic/alerts/subscription/events"], "Retain").exists
    assert len(aws.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1


def test_subscription_to_a_topic_of_another_environment_is_reported(aws: Aws) -> None:
    theirs = planned(env=OTHER)
    aws.apply([theirs[k] for k in ("queue/events/dead-letter", "queue/events", "topic/alerts",
                                   "topic/alerts/subscription/events")], env=OTHER)
    d = aws.resolved(theirs["topic/alerts/subscription/events"])
    observed = aws.client("sns.subscription").observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other"
    assert decide(ENV, d, observed).kind == "conflict"


# --- sqs.queue_policy -------------------------------------------------------------------------------------------


def policy_of(aws: Aws, url: str) -> Any:
    text = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    return json.loads(text) if text else None


def test_policy_create_then_observe(aws: Aws) -> None:
    seen = everything(aws)
    policy = seen["queue/events/policy"]
    assert policy.exists and policy.ready and policy.up_to_date and policy.owner_environment == "analytics/defi"
    doc = policy_of(aws, seen["queue/events"].outputs["url"])
    (statement,) = doc["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == seen["queue/events"].outputs["arn"]
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        [seen["topic/alerts"].outputs["arn"], seen["topic/prices"].outputs["arn"]])
    assert policy_of(aws, seen["queue/audit"].outputs["url"]) is None  # no topic subscribes it


def test_policy_second_observe_finds_the_same_one(aws: Aws) -> None:
    everything(aws)
    again = aws.client("sqs.queue_policy").observe(aws.resolved(planned()["queue/events/policy"]))
    assert again.exists and again.up_to_date and decide(ENV, aws.resolved(planned()["queue/events/policy"]),
                                                          again).kind == "none"


def test_policy_follows_the_subscribing_topics(aws: Aws) -> None:
    everything(aws)
    more = spec(queues=[{"name": "events"}, {"name": "audit"}],
                topics=[{"name": "alerts", "subscribers": ["events"]}, {"name": "prices", "subscribers": ["events"]},
                        {"name": "fills", "subscribers": ["events"]}])
    aws.apply([planned(more)["topic/fills"]])
    d = aws.resolved(planned(more)["queue/events/policy"])
    observed = aws.client("sqs.queue_policy").observe(d)
    assert set(observed.diff) == {"Policy"}
    assert aws.client("sqs.queue_policy").update(d, observed).up_to_date
    sources = policy_of(aws, aws.outputs["queue/events"]["url"])["Statement"][0]["Condition"]["ArnEquals"]
    assert len(sources["aws:SourceArn"]) == 3 and aws.outputs["topic/fills"]["arn"] in sources["aws:SourceArn"]


def test_policy_drift_is_detected_and_corrected(aws: Aws) -> None:
    seen = everything(aws)
    url, queue = seen["queue/events"].outputs["url"], seen["queue/events"].outputs["arn"]
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*",
                                                    "Resource": queue}]}
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(wide)})
    d = aws.resolved(planned()["queue/events/policy"])
    drifted = aws.client("sqs.queue_policy").observe(d)
    assert drifted.diff["Policy"][0] == wide
    assert aws.client("sqs.queue_policy").update(d, drifted).up_to_date
    assert policy_of(aws, url)["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    # Removed by hand: absent, and made again.
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert not aws.client("sqs.queue_policy").observe(d).exists
    assert aws.apply([planned()["queue/events/policy"]])["queue/events/policy"].up_to_date


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_policy_delete_removes_the_attribute_not_the_queue(aws: Aws, policy: DeletionPolicy) -> None:
    url = everything(aws)["queue/events"].outputs["url"]
    assert not aws.retire(planned()["queue/events/policy"], policy).exists
    assert policy_of(aws, url) is None
    assert aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]


def test_policy_retain_keeps_it(aws: Aws) -> None:
    url = everything(aws)["queue/events"].outputs["url"]
    assert aws.retire(planned()["queue/events/policy"], "Retain").exists
    assert policy_of(aws, url) is not None


def test_policy_on_a_queue_of_another_environment_is_reported(aws: Aws) -> None:
    theirs = planned(env=OTHER)
    aws.apply([theirs["queue/events/dead-letter"], theirs["queue/events"], theirs["topic/alerts"],
               theirs["topic/prices"], theirs["queue/events/policy"]], env=OTHER)
    observed = aws.client("sqs.queue_policy").observe(aws.resolved(planned()["queue/events/policy"]))
    assert observed.exists and observed.owner_environment == "analytics/other"


def test_a_message_published_to_the_topic_arrives_in_the_queue(aws: Aws) -> None:
    seen = everything(aws)
    aws.sns.publish(TopicArn=seen["topic/prices"].outputs["arn"], Message='{"pair":"ETH-USD","price":3000}')
    got = aws.sqs.receive_message(QueueUrl=seen["queue/events"].outputs["url"], WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in got] == ['{"pair":"ETH-USD","price":3000}']  # raw delivery: no SNS envelope
