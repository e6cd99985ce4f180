"""spec + tier -> the AWS resources an environment needs. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

# Spec sections that become components, in the order their conditions are listed.
COMPONENTS = ("cache", "database", "queues", "topics", "gateway", "secrets", "monitoring", "workloads")

SQS_NAME_MAX = 80
SQS_INVALID = r"[^a-zA-Z0-9_-]"


def requested(spec: EnvironmentSpec) -> list[str]:
    """The components the spec asks for: sections that are set, lists that are not empty."""
    return [c for c in COMPONENTS if getattr(spec, c)]


def plan_queues(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """Each queue, preceded by its dead-letter queue (the redrive policy needs the DLQ's ARN)."""
    resources = []
    tags = env.tags("queues")
    for q in spec.queues:
        suffix = ".fifo" if q.fifo else ""
        params: dict[str, object] = {
            "fifo": q.fifo,
            "visibility_timeout_seconds": q.visibility_timeout_seconds,
            "message_retention_seconds": q.message_retention_seconds,
        }
        if q.dead_letter.enabled:
            dlq = Desired(
                kind="sqs.queue", key=f"queue/{q.name}/dead-letter", component="queues",
                name=aws_name(env, f"{q.name}-dlq", max_length=SQS_NAME_MAX, suffix=suffix, invalid=SQS_INVALID),
                params={"fifo": q.fifo, "visibility_timeout_seconds": q.visibility_timeout_seconds,
                        "message_retention_seconds": q.dead_letter.message_retention_seconds},
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


Planner = Callable[[EnvironmentRef, EnvironmentSpec], list[Desired]]

# A component is implemented once it has a planner here and a client for each kind it plans.
PLANNERS: dict[str, Planner] = {
    "queues": plan_queues,
}


def desired_resources(env: EnvironmentRef, spec: EnvironmentSpec, components: list[str]) -> list[Desired]:
    """The resources of the given components, each after the resources it refers to."""
    return [d for c in components if c in PLANNERS for d in PLANNERS[c](env, spec)]
