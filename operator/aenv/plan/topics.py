"""SNS topics, the SQS subscriptions of their subscriber queues, and the queue policies that let them deliver."""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from . import queues
from .types import Desired, Ref

SNS_NAME_MAX = 256
SNS_INVALID = r"[^a-zA-Z0-9_-]"


def subscription_name(topic: str, queue: str) -> str:
    """A subscription has no name of its own: it is the pair (topic, queue), which is how it is found again."""
    return f"{topic} -> {queue}"


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """Topics, then one policy per subscriber queue, then the subscriptions (after the policy that lets them deliver).

    Topics are encrypted with the environment's KMS key. Policies and subscriptions carry no tags (SQS policies and
    SNS subscriptions cannot be tagged): their owner is the owner of the queue, and of the topic.
    """
    queue_names = {d.key: d.name for d in queues.plan(env, spec)}
    topics, subscriptions = [], []
    sources: dict[str, dict[str, Ref]] = {}  # queue -> the topics that deliver to it
    for t in spec.topics:
        topic = Desired(
            kind="sns.topic", key=f"topic/{t.name}", component="topics",
            name=aws_name(env, t.name, max_length=SNS_NAME_MAX, suffix=".fifo" if t.fifo else "", invalid=SNS_INVALID),
            params={"fifo": t.fifo, "kms_key_id": Ref("kms/key", "id")},
            tags=env.tags("topics"),
        )
        topics.append(topic)
        for q in t.subscribers:
            sources.setdefault(q, {})[f"source_arn/{t.name}"] = Ref(topic.key, "arn")
            subscriptions.append(Desired(
                kind="sns.subscription", key=f"{topic.key}/subscription/{q}", component="topics",
                name=subscription_name(topic.name, queue_names[f"queue/{q}"]),
                params={"topic_arn": Ref(topic.key, "arn"), "endpoint": Ref(f"queue/{q}", "arn"),
                        "raw_message_delivery": True},
            ))
    policies = [
        Desired(kind="sqs.queue_policy", key=f"queue/{q}/policy", component="topics", name=queue_names[f"queue/{q}"],
                params={"queue_url": Ref(f"queue/{q}", "url"), "queue_arn": Ref(f"queue/{q}", "arn"), **refs})
        for q, refs in sources.items()
    ]
    return topics + policies + subscriptions
