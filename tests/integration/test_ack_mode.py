"""Mode ack end to end: an environment with queues (one with a dead-letter queue, one FIFO), a topic subscribed to
a queue and the environment's KMS key becomes Ready through the real ACK controllers, with an operator that has no
AWS credentials and no endpoint; everything is checked in the emulator (not in the status), then deleted or
retained per deletionPolicy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.local.ack import AckControllers
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import encryption
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired

from .conftest import Operator, fresh_namespace
from .kube import Kube

pytestmark = pytest.mark.integration
DEADLINE = 180.0  # the ACK controllers resolve references and sync in turn: a few of their reconcile loops
NAME = "flow"


@pytest.fixture(scope="module")
def ack_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                 emulator: AwsEmulator, ack_controllers: AckControllers) -> Iterator[Operator]:
    """An operator without any AWS variable (no credentials, no endpoint, no region): only ACK calls AWS."""
    op = Operator(tmp_path_factory.mktemp("ack-operator"), kubeconfig, emulator, prefix="aenv-ack-mode-")
    op.env = {k: v for k, v in op.env.items() if not k.startswith("AWS_")}
    op.start()
    try:
        yield op
    finally:
        op.stop()


@pytest.fixture
def ack_namespace(kube: Kube, emulator: AwsEmulator, ack_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, ack_operator)


def env_spec(policy: str) -> dict[str, Any]:
    return {
        "tier": "dev",
        "aws": {"region": "us-east-1", "mode": "ack"},
        "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}},
                   {"name": "trades", "fifo": True, "deadLetter": {"enabled": False}}],
        "topics": [{"name": "alerts", "subscribers": ["events"]}],
        "deletionPolicy": policy,
    }


def planned(namespace: str, uid: str, spec: dict[str, Any]) -> dict[str, Desired]:
    env = EnvironmentRef(namespace, NAME, uid)
    parsed = effective(EnvironmentSpec.model_validate(spec))
    return {d.key: d for d in desired_resources(env, parsed, requested(parsed))}


def queue_urls(emulator: AwsEmulator) -> dict[str, str]:
    urls = emulator.client("sqs").list_queues(QueueNamePrefix="aenv-").get("QueueUrls", [])
    return {u.rsplit("/", 1)[-1]: u for u in urls}


def topic_arns(emulator: AwsEmulator) -> dict[str, str]:
    topics = emulator.client("sns").list_topics().get("Topics", [])
    return {t["TopicArn"].rsplit(":", 1)[-1]: t["TopicArn"] for t in topics}


def alias_target(emulator: AwsEmulator, alias: str) -> str | None:
    aliases = emulator.client("kms").list_aliases().get("Aliases", [])
    return next((a.get("TargetKeyId") for a in aliases if a["AliasName"] == alias), None)


def owned_by(tags: dict[str, str], namespace: str, uid: str, component: str) -> bool:
    return (tags.get(TAG_ENVIRONMENT), tags.get(TAG_UID), tags.get(TAG_COMPONENT)) == (
        f"{namespace}/{NAME}", uid, component)


def ready(kube: Kube, namespace: str, policy: str) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    kube.create_env(namespace, NAME, env_spec(policy))
    env = kube.wait_condition(namespace, NAME, "Ready", timeout=DEADLINE)
    return env, time.monotonic() - start


def test_queues_topics_and_key_through_ack_then_deleted(kube: Kube, emulator: AwsEmulator, ack_operator: Operator,
                                                        ack_namespace: str) -> None:
    env, took = ready(kube, ack_namespace, "Delete")
    print(f"mode ack: Ready in {took:.1f} s")
    uid = env["metadata"]["uid"]
    want = planned(ack_namespace, uid, env_spec("Delete"))
    for component in ("EncryptionReady", "QueuesReady", "TopicsReady"):
        assert kube.condition(env, component)["status"] == "True", env["status"]  # type: ignore[index]
    assert "AWS_ACCESS_KEY_ID" not in ack_operator.env and "AWS_ENDPOINT_URL" not in ack_operator.env

    # The key, with rotation on and aenv's alias and tags.
    kms = emulator.client("kms")
    alias = encryption.alias(EnvironmentRef(ack_namespace, NAME, uid))
    key_id = alias_target(emulator, alias)
    assert key_id is not None, f"no alias {alias}"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    key_tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert owned_by(key_tags, ack_namespace, uid, "encryption"), key_tags

    # The queues: names, tags, the DLQ's redrive, FIFO, encryption with the environment's key.
    sqs = emulator.client("sqs")
    urls = queue_urls(emulator)
    names = {key: want[key].name for key in ("queue/events", "queue/events/dead-letter", "queue/trades")}
    assert set(names.values()) <= set(urls), (names, urls)
    attrs = {key: sqs.get_queue_attributes(QueueUrl=urls[n], AttributeNames=["All"])["Attributes"]
             for key, n in names.items()}
    redrive = json.loads(attrs["queue/events"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == attrs["queue/events/dead-letter"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert attrs["queue/trades"].get("FifoQueue") == "true" and names["queue/trades"].endswith(".fifo")
    assert "RedrivePolicy" not in attrs["queue/trades"]
    for key, n in names.items():
        assert attrs[key].get("KmsMasterKeyId") == key_id, (key, attrs[key])
        assert owned_by(sqs.list_queue_tags(QueueUrl=urls[n]).get("Tags", {}), ack_namespace, uid, "queues")

    # The topic, subscribed to the events queue, which lets exactly that topic send.
    sns = emulator.client("sns")
    topic_arn = topic_arns(emulator)[want["topic/alerts"].name]
    topic_tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"]}
    assert owned_by(topic_tags, ack_namespace, uid, "topics"), topic_tags
    assert sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId") == key_id
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("sqs", attrs["queue/events"]["QueueArn"])]
    policy = json.loads(attrs["queue/events"]["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] in (topic_arn, [topic_arn])

    # The status and the connection Secret carry what ACK's status says.
    queues = {q["name"]: q for q in env["status"]["queues"]}
    assert queues["events"]["arn"] == attrs["queue/events"]["QueueArn"]
    assert queues["events"]["deadLetterArn"] == attrs["queue/events/dead-letter"]["QueueArn"]

    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    left = set(queue_urls(emulator))
    assert not set(names.values()) & left, left
    assert want["topic/alerts"].name not in topic_arns(emulator)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert alias_target(emulator, alias) is None


def test_retain_leaves_everything_in_aws(kube: Kube, emulator: AwsEmulator, ack_operator: Operator,
                                         ack_namespace: str) -> None:
    env, _ = ready(kube, ack_namespace, "Retain")
    want = planned(ack_namespace, env["metadata"]["uid"], env_spec("Retain"))
    key_id = alias_target(emulator, want["kms/key"].name)
    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    assert {want[k].name for k in ("queue/events", "queue/events/dead-letter", "queue/trades")} <= set(
        queue_urls(emulator))
    assert want["topic/alerts"].name in topic_arns(emulator)
    assert key_id is not None and alias_target(emulator, want["kms/key"].name) == key_id
    assert emulator.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
