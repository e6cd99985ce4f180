"""The real ACK controllers, built from pinned sources, run against the local control plane and moto: an sqs Queue and
a kms Key written as ACK resources become synced and exist in the emulator, and deleting them deletes them there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from aenv.local.ack import AckControllers
from aenv.local.emulator import AwsEmulator

from .ack import KEY, QUEUE, create, delete_and_wait, wait_synced
from .kube import Kube, unserved_namespace

pytestmark = pytest.mark.integration
DEADLINE = 120.0


@pytest.fixture
def ack_namespace(kube: Kube, ack_controllers: AckControllers) -> Iterator[str]:
    yield from unserved_namespace(kube, "aenv-ack-")


def test_queue_and_key_become_synced_and_exist_in_aws(kube: Kube, emulator: AwsEmulator,
                                                       ack_controllers: AckControllers, ack_namespace: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    queue_name = f"aenv-ack-smoke-{suffix}"
    create(kube, QUEUE, ack_namespace, "events", {"queueName": queue_name, "visibilityTimeout": "45"})
    create(kube, KEY, ack_namespace, "data", {"description": f"aenv ack smoke {suffix}"})

    try:
        queue = wait_synced(kube, QUEUE, ack_namespace, "events", DEADLINE)
        key = wait_synced(kube, KEY, ack_namespace, "data", DEADLINE)

        sqs = emulator.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        assert queue["status"]["queueURL"].rstrip("/").endswith(f"/{queue_name}")
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "45"
        assert attributes["QueueArn"] == queue["status"]["ackResourceMetadata"]["arn"]

        described = emulator.client("kms").describe_key(KeyId=key["status"]["keyID"])["KeyMetadata"]
        assert described["Description"] == f"aenv ack smoke {suffix}"
        assert described["KeyState"] == "Enabled"
        assert described["Arn"] == key["status"]["ackResourceMetadata"]["arn"]
    finally:
        delete_and_wait(kube, QUEUE, ack_namespace, "events", DEADLINE)
        delete_and_wait(kube, KEY, ack_namespace, "data", DEADLINE)
    assert queue_name not in " ".join(emulator.client("sqs").list_queues().get("QueueUrls", []))
    assert emulator.client("kms").describe_key(KeyId=key["status"]["keyID"])["KeyMetadata"]["KeyState"] == (
        "PendingDeletion")
