"""SQS queues in mode ack (kind sqs.queue): an sqs Queue CR per queue and per dead-letter queue.

The queue refers to the environment's kms Key CR through kmsMasterKeyRef (ACK resolves it to the key's id); the
redrive policy names the dead-letter queue's ARN as a plain value (the Queue CRD has no reference field for it).
Outputs are mode boto3's: url and arn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..naming import EnvironmentRef
from ..plan import encryption
from ..plan.types import Desired
from .kms_key import key_name
from .resource import AckClient, AckKind, arn, reference

KIND = "sqs.queue"
QUEUE = AckKind("sqs", "Queue")


def redrive_policy(dead_letter_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": int(max_receive_count)},
                      separators=(",", ":"))


class SqsQueues(AckClient):
    KIND = QUEUE
    ADOPTED_BY = (("queueURL", "status.queueURL"),)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        spec: dict[str, Any] = {
            "queueName": desired.name,
            "visibilityTimeout": str(p["visibility_timeout_seconds"]),
            "messageRetentionPeriod": str(p["message_retention_seconds"]),
            "tags": dict(desired.tags),
        }
        if p.get("fifo"):
            spec["fifoQueue"] = "true"
        if p.get("kms_key_id"):
            spec["kmsMasterKeyRef"] = reference(key_name(encryption.alias(env)))
        if p.get("dead_letter_arn"):
            spec["redrivePolicy"] = redrive_policy(p["dead_letter_arn"], p["max_receive_count"])
        return spec

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        if not (obj.get("status") or {}).get("queueURL") or not arn(obj):
            return "synced, but without a queue URL yet"
        return None

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"url": (obj.get("status") or {}).get("queueURL"), "arn": arn(obj)}
