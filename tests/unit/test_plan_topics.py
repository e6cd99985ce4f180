"""spec -> SNS topics, their SQS subscriptions and the queue policies that let them deliver."""

from typing import Any

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import queues, topics
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def spec(**sections: Any) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"}, **sections}))


def by_key(resources: list[Desired]) -> dict[str, Desired]:
    return {d.key: d for d in resources}


SPEC = spec(
    queues=[{"name": "events"}, {"name": "audit"}, {"name": "trades", "fifo": True}],
    topics=[{"name": "alerts", "subscribers": ["events", "audit"]}, {"name": "prices", "subscribers": ["events"]},
            {"name": "fills", "fifo": True, "subscribers": ["trades"]}, {"name": "quiet"}],
)


def test_topics_then_policies_then_subscriptions() -> None:
    keys = [d.key for d in topics.plan(ENV, SPEC)]
    assert keys == [
        "topic/alerts", "topic/prices", "topic/fills", "topic/quiet",
        "queue/events/policy", "queue/audit/policy", "queue/trades/policy",
        "topic/alerts/subscription/events", "topic/alerts/subscription/audit",
        "topic/prices/subscription/events", "topic/fills/subscription/trades",
    ]


def test_topic_is_encrypted_tagged_and_named_with_fifo_suffix() -> None:
    r = by_key(topics.plan(ENV, SPEC))
    alerts, fills = r["topic/alerts"], r["topic/fills"]
    assert alerts.kind == "sns.topic" and alerts.component == "topics"
    assert alerts.name == "aenv-analytics-defi-alerts"
    assert alerts.params == {"fifo": False, "kms_key_id": Ref("kms/key", "id")}
    assert alerts.depends_on == ("kms/key",)
    assert alerts.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "topics"}
    assert fills.name == "aenv-analytics-defi-fills.fifo" and fills.params["fifo"] is True


def test_long_topic_names_fit_sns_limit() -> None:
    env = EnvironmentRef("n" * 63, "e" * 253, "uid")
    name = topics.plan(env, spec(topics=[{"name": "alerts", "fifo": True}]))[0].name
    assert len(name) <= 256 and name.endswith(".fifo")


def test_subscription_delivers_raw_messages_from_topic_to_queue() -> None:
    r = by_key(topics.plan(ENV, SPEC))
    sub = r["topic/alerts/subscription/audit"]
    assert sub.kind == "sns.subscription" and sub.component == "topics"
    assert sub.params == {"topic_arn": Ref("topic/alerts", "arn"), "endpoint": Ref("queue/audit", "arn"),
                          "raw_message_delivery": True}
    assert sub.name == "aenv-analytics-defi-alerts -> aenv-analytics-defi-audit"
    fifo = r["topic/fills/subscription/trades"]
    assert fifo.name == "aenv-analytics-defi-fills.fifo -> aenv-analytics-defi-trades.fifo"


def test_queue_policy_names_exactly_the_topics_that_subscribe_it() -> None:
    r = by_key(topics.plan(ENV, SPEC))
    events, audit = r["queue/events/policy"], r["queue/audit/policy"]
    assert events.kind == "sqs.queue_policy" and events.component == "topics"
    assert events.params == {
        "queue_url": Ref("queue/events", "url"), "queue_arn": Ref("queue/events", "arn"),
        "source_arn/alerts": Ref("topic/alerts", "arn"), "source_arn/prices": Ref("topic/prices", "arn"),
    }
    assert set(audit.depends_on) == {"queue/audit", "topic/alerts"}
    queue_names = {d.key: d.name for d in queues.plan(ENV, SPEC)}
    assert events.name == queue_names["queue/events"]  # the policy is found by its queue's name
    assert r["queue/trades/policy"].name == queue_names["queue/trades"] == "aenv-analytics-defi-trades.fifo"


def test_queue_without_subscription_gets_no_policy() -> None:
    resources = topics.plan(ENV, spec(queues=[{"name": "events"}], topics=[{"name": "alerts"}]))
    assert [d.key for d in resources] == ["topic/alerts"]


def test_no_topics_plan_nothing() -> None:
    assert topics.plan(ENV, spec(queues=[{"name": "events"}])) == []
