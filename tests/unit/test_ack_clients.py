"""Mode ack's pure parts: CR names, manifests built from the plan's desired resources, readiness and terminal
classification from a CR's status, the CR-side drift check; no cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aenv import ack
from aenv.ack import kms_key, sns_subscription, sns_topic, sqs_queue, sqs_queue_policy
from aenv.ack.resource import (
    AckError,
    environment_of,
    environment_of_object,
    manifest,
    object_name,
    readiness,
    spec_diff,
)
from aenv.api import EnvironmentSpec, effective
from aenv.aws import CLIENTS as BOTO3
from aenv.aws.component import AwsTarget
from aenv.naming import EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired
from aenv.reconcile import MODES, implemented

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TARGET = AwsTarget("eu-west-1")
SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"},
    "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}},
               {"name": "trades", "fifo": True, "deadLetter": {"enabled": False}}],
    "topics": [{"name": "alerts", "subscribers": ["events"]}],
}))
PLANNED = {d.key: d for d in desired_resources(ENV, SPEC, requested(SPEC))}
OUTPUTS = {
    "kms/key": {"id": "key-1", "arn": "arn:aws:kms:eu-west-1:123456789012:key/key-1"},
    "queue/events/dead-letter": {"url": "https://q/dlq", "arn": "arn:aws:sqs:eu-west-1:123456789012:dlq"},
    "queue/events": {"url": "https://q/events", "arn": "arn:aws:sqs:eu-west-1:123456789012:events"},
    "topic/alerts": {"arn": "arn:aws:sns:eu-west-1:123456789012:alerts"},
}


def resolved(key: str) -> Desired:
    d = PLANNED[key].resolve(OUTPUTS)
    assert d is not None
    return d


def synced(status: dict[str, Any], *extra: dict[str, str]) -> dict[str, Any]:
    conditions = [{"type": "ACK.ResourceSynced", "status": "True"}, *extra]
    return {"metadata": {"name": "x"}, "status": {"conditions": conditions, **status}}


# Names


def test_a_valid_name_stays_and_others_get_a_stable_hash() -> None:
    assert object_name("aenv-analytics-defi-events") == "aenv-analytics-defi-events"
    assert object_name("aenv-analytics-defi-trades.fifo") == "aenv-analytics-defi-trades.fifo"
    under = object_name("aenv-analytics-defi-raw_events")
    assert under.startswith("aenv-analytics-defi-raw-events-")
    assert under == object_name("aenv-analytics-defi-raw_events")
    assert object_name("aenv-analytics-defi-raw-events") != under  # never meets the name it was cleaned into
    long = object_name("a" * 300)
    assert len(long) == 253 and long != object_name("a" * 301)
    sub = object_name("aenv-analytics-defi-alerts -> aenv-analytics-defi-events")
    assert " " not in sub and ">" not in sub and len(sub) <= 253


def test_the_environment_comes_from_the_tags_and_back_from_the_annotations() -> None:
    assert environment_of(ENV.tags("queues")) == ENV
    assert environment_of({}) is None
    obj = manifest(sqs_queue.QUEUE, "q", ENV, "eu-west-1", {})
    assert environment_of_object(obj) == ENV


# Manifests


def test_every_cr_is_labelled_owned_by_the_environment_and_placed_in_its_region() -> None:
    obj = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/events"))
    meta = obj["metadata"]
    assert (obj["apiVersion"], obj["kind"]) == ("sqs.services.k8s.aws/v1alpha1", "Queue")
    assert meta["namespace"] == "analytics" and meta["name"] == PLANNED["queue/events"].name
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "aenv"}
    assert meta["annotations"] == {"aenv.dev/environment": "analytics/defi", "aenv.dev/uid": "uid-1",
                                   "services.k8s.aws/region": "eu-west-1"}
    assert meta["ownerReferences"] == [{"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
                                        "name": "defi", "uid": "uid-1", "controller": True}]


def test_queue_spec_has_boto3s_name_attributes_tags_the_key_ref_and_the_redrive() -> None:
    spec = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/events"))["spec"]
    assert spec["queueName"] == PLANNED["queue/events"].name
    assert spec["tags"] == ENV.tags("queues")
    assert spec["kmsMasterKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    assert "kmsMasterKeyID" not in spec
    assert json.loads(spec["redrivePolicy"]) == {"deadLetterTargetArn": OUTPUTS["queue/events/dead-letter"]["arn"],
                                                 "maxReceiveCount": 3}
    assert (spec["visibilityTimeout"], spec["messageRetentionPeriod"]) == ("30", "345600")
    fifo = sqs_queue.SqsQueues(TARGET).manifest(resolved("queue/trades"))["spec"]
    assert fifo["fifoQueue"] == "true" and fifo["queueName"].endswith(".fifo")


def test_key_and_alias_crs_are_named_after_the_alias() -> None:
    keys = kms_key.KmsKeys(TARGET)
    desired = resolved("kms/key")
    key = keys.manifest(desired)
    assert key["metadata"]["name"] == "aenv-analytics-defi" and desired.name == "alias/aenv-analytics-defi"
    assert key["spec"]["enableKeyRotation"] is True and key["spec"]["keySpec"] == "SYMMETRIC_DEFAULT"
    assert {t["tagKey"]: t["tagValue"] for t in key["spec"]["tags"]} == ENV.tags("encryption")
    alias = keys.aliases.manifest(desired)
    assert (alias["kind"], alias["metadata"]["name"]) == ("Alias", "aenv-analytics-defi")
    assert alias["spec"] == {"name": "alias/aenv-analytics-defi",
                             "targetKeyRef": {"from": {"name": "aenv-analytics-defi"}}}


def test_topic_and_subscription_use_ack_references() -> None:
    topic = sns_topic.SnsTopics(TARGET).manifest(resolved("topic/alerts"))["spec"]
    assert topic["name"] == PLANNED["topic/alerts"].name
    assert topic["kmsMasterKeyRef"] == {"from": {"name": "aenv-analytics-defi"}}
    assert {t["key"]: t["value"] for t in topic["tags"]} == ENV.tags("topics")
    subscription = resolved("topic/alerts/subscription/events")
    spec = sns_subscription.SnsSubscriptions(TARGET).spec(subscription, ENV)
    assert spec == {"protocol": "sqs", "endpoint": OUTPUTS["queue/events"]["arn"],
                    "topicRef": {"from": {"name": PLANNED["topic/alerts"].name}}, "rawMessageDelivery": "true"}


def test_the_queue_policy_writes_only_the_policy_of_the_queues_cr() -> None:
    desired = resolved("queue/events/policy")
    patch = sqs_queue_policy.policy_patch("analytics", object_name(desired.name),
                                          sqs_queue_policy.policy_document(desired))
    assert patch["kind"] == "Queue" and set(patch["spec"]) == {"policy"}
    statement = json.loads(patch["spec"]["policy"])["Statement"][0]
    assert statement["Resource"] == OUTPUTS["queue/events"]["arn"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [OUTPUTS["topic/alerts"]["arn"]]


# Readiness


def test_synced_alone_is_not_ready_the_kinds_own_status_must_be_usable() -> None:
    unusable = readiness(synced({}), "sqs-controller", "synced, but without a queue URL yet")
    assert not unusable.ready and unusable.state == "synced, but without a queue URL yet"
    assert readiness(synced({}), "sqs-controller", None).ready


def test_terminal_recoverable_unsynced_and_deleting() -> None:
    terminal = readiness(synced({}, {"type": "ACK.Terminal", "status": "True", "message": "InvalidAttributeValue"}),
                         "sqs-controller", None)
    assert not terminal.ready and terminal.terminal == "InvalidAttributeValue"
    recoverable = readiness(synced({}, {"type": "ACK.Recoverable", "status": "True", "message": "throttled"}),
                            "sqs-controller", None)
    assert not recoverable.ready and recoverable.terminal is None and "throttled" in recoverable.state
    fresh = readiness({"metadata": {}, "status": {}}, "sqs-controller", None)
    assert not fresh.ready and "sqs-controller" in fresh.state
    refs = readiness({"status": {"conditions": [{"type": "ACK.ReferencesResolved", "status": "False",
                                                 "message": "Key not synced"}]}}, "sqs-controller", None)
    assert not refs.ready and "Key not synced" in refs.state
    deleting = readiness({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {}}, "x", None)
    assert deleting.state == "deleting"


def test_kind_verdicts_on_their_status() -> None:
    queues, keys = sqs_queue.SqsQueues(TARGET), kms_key.KmsKeys(TARGET)
    arn = {"ackResourceMetadata": {"arn": "arn:x"}}
    assert queues.unusable(synced(arn)) is not None
    assert queues.unusable(synced({**arn, "queueURL": "https://q"})) is None
    assert queues.outputs(synced({**arn, "queueURL": "https://q"})) == {"url": "https://q", "arn": "arn:x"}
    assert keys.unusable(synced({**arn, "keyID": "k", "keyState": "Creating"})) == "synced, key state Creating"
    assert keys.unusable(synced({**arn, "keyID": "k", "keyState": "Enabled"})) is None
    assert keys.outputs(synced({**arn, "keyID": "k"})) == {"id": "k", "arn": "arn:x"}
    subscriptions = sns_subscription.SnsSubscriptions(TARGET)
    assert subscriptions.unusable(synced({**arn, "pendingConfirmation": "true"})) == "pending confirmation"


def test_a_terminal_cr_that_holds_the_desired_spec_is_an_aws_error_with_acks_message() -> None:
    queues = sqs_queue.SqsQueues(TARGET)
    desired = resolved("queue/events")
    obj = queues.manifest(desired)
    obj["status"] = {"conditions": [{"type": "ACK.Terminal", "status": "True", "message": "bad attribute"}]}
    with pytest.raises(AckError) as raised:
        queues.observation(desired, obj)
    assert raised.value.code == "ACK.Terminal" and "bad attribute" in str(raised.value)
    assert "change the spec" in str(raised.value)
    obj["spec"]["visibilityTimeout"] = "99"  # a spec change not applied yet: update, not an error
    assert not queues.observation(desired, obj).up_to_date


def test_observation_reports_owner_outputs_and_cr_drift() -> None:
    queues = sqs_queue.SqsQueues(TARGET)
    desired = resolved("queue/events")
    obj = queues.manifest(desired)
    obj["spec"]["tags"] = {**obj["spec"]["tags"], "services.k8s.aws/namespace": "analytics"}  # ACK's own tags
    obj["spec"]["delaySeconds"] = "0"  # late-initialized by ACK
    obj["status"] = synced({"queueURL": "https://q", "ackResourceMetadata": {"arn": "arn:q"}})["status"]
    seen = queues.observation(desired, obj)
    assert seen.ready and seen.up_to_date and seen.outputs == {"url": "https://q", "arn": "arn:q"}
    assert (seen.owner, seen.owner_environment) == ("uid-1", "analytics/defi")
    obj["spec"]["visibilityTimeout"] = "5"
    assert queues.observation(desired, obj).diff == {"visibilityTimeout": ("5", "30")}
    foreign = {"metadata": {"name": "x"}, "spec": {}}
    assert queues.observation(desired, foreign).owner_environment is None


def test_json_documents_compare_as_aws_reads_them() -> None:
    want = {"redrivePolicy": '{"deadLetterTargetArn":"arn:d","maxReceiveCount":3}'}
    assert spec_diff({"redrivePolicy": '{"maxReceiveCount": "3", "deadLetterTargetArn": "arn:d"}'}, want) == {}
    assert spec_diff({"redrivePolicy": '{"maxReceiveCount": 4, "deadLetterTargetArn": "arn:d"}'}, want)


# The registry


def test_the_ack_registry_builds_encryption_queues_and_topics_and_nothing_else() -> None:
    assert MODES["ack"] is ack.CLIENTS
    assert set(ack.CLIENTS.factories) == {"kms.key", "sqs.queue", "sqs.queue_policy", "sns.topic", "sns.subscription"}
    assert set(ack.CLIENTS.factories) <= set(BOTO3.factories)
    full = effective(EnvironmentSpec.model_validate({
        "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"}, "queues": [{"name": "events"}],
        "topics": [{"name": "alerts", "subscribers": ["events"]}], "cache": {},
    }))
    desired = desired_resources(ENV, full, requested(full))
    built = {c for c in requested(full) if implemented(c, desired, ack.CLIENTS)}
    assert {"encryption", "queues", "topics"} <= built
    assert not {"network", "secrets", "cache"} & built
