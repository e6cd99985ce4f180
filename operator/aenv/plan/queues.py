"""SQS queues, each with its dead-letter queue."""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

SQS_NAME_MAX = 80
SQS_INVALID = r"[^a-zA-Z0-9_-]"
KMS_KEY = Ref("kms/key", "id")  # encryption at rest with the environment's key


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """Each queue, preceded by its dead-letter queue (the redrive policy needs the DLQ's ARN)."""
    resources = []
    tags = env.tags("queues")
    for q in spec.queues:
        suffix = ".fifo" if q.fifo else ""
        params: dict[str, object] = {
            "fifo": q.fifo,
            "visibility_timeout_seconds": q.visibility_timeout_seconds,
            "message_retention_seconds": q.message_retention_seconds,
            "kms_key_id": KMS_KEY,
        }
        if q.dead_letter.enabled:
            dlq = Desired(
                kind="sqs.queue", key=f"queue/{q.name}/dead-letter", component="queues",
                name=aws_name(env, f"{q.name}-dlq", max_length=SQS_NAME_MAX, suffix=suffix, invalid=SQS_INVALID),
                params={"fifo": q.fifo, "visibility_timeout_seconds": q.visibility_timeout_seconds,
                        "message_retention_seconds": q.dead_letter.message_retention_seconds, "kms_key_id": KMS_KEY},
                tags=tags,
            )
            resources.append(dlq)
            params["dead_letter_arn"] = Ref(dlq.key, "arn")
            params["max_receive_count"] = q.dead_letter.max_receive_count
        resources.append(Desired(
            kind="sqs.queue", key=f"queue/{q.name}", component="queues",
            name=aws_name(env, q.name, max_length=SQS_NAME_MAX, suffix=suffix, invalid=SQS_INVALID),
            params=params, tags=tags,
        ))
    return resources
