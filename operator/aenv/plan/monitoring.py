"""CloudWatch alarms with the platform's thresholds, the SNS topic they notify, and one dashboard.

Only resources the spec has are watched: cache alarms when spec.cache is set, queue alarms per queue.
Log retention (spec.monitoring.logRetentionDays) needs a log group, which no component creates yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..api.spec import Cache, EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .notifications import emails_published
from .types import Desired, Ref

TAG_PRIORITY = "aenv.dev/priority"
ALARM_NAME_MAX = 255
DASHBOARD_NAME_MAX = 255
TOPIC_NAME_MAX = 256
NAME_INVALID = r"[^a-zA-Z0-9_-]"
PERIOD_SECONDS = 60
TOPIC_KEY = "monitoring/topic"


@dataclass(frozen=True)
class Threshold:
    priority: str  # P1 pages someone, P2 needs attention today, P3 is a trend to look at
    slug: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    minutes: int  # how long the condition must hold (one-minute periods, all breaching)
    summary: str


CACHE = (
    Threshold("P1", "cache-cpu", "AWS/ElastiCache", "EngineCPUUtilization", "Average", "GreaterThanThreshold",
              90, 10, "the cache engine's CPU is above 90% on a node for 10 minutes"),
    Threshold("P2", "cache-memory", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Average",
              "GreaterThanThreshold", 90, 10, "the cache's memory is above 90% on a node for 10 minutes"),
    # The highest node's hit rate: replicas without reads must not pull an aggregate down.
    Threshold("P3", "cache-hit-rate", "AWS/ElastiCache", "CacheHitRate", "Average", "LessThanThreshold",
              80, 15, "the cache hit rate is below 80% on every node for 15 minutes"),
)
DEAD_LETTERS = Threshold("P1", "dead-letters", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
                         "GreaterThanThreshold", 10, 1, "more than 10 messages wait in the dead-letter queue")
QUEUE = (
    Threshold("P2", "depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "GreaterThanThreshold",
              1000, 10, "more than 1000 messages wait in the queue for 10 minutes"),
    Threshold("P3", "oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum",
              "GreaterThanThreshold", 600, 1, "the oldest message has waited more than 600 seconds"),
)


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    m = spec.monitoring
    if m is None:
        return []
    resources = []
    extra_actions = tuple(sorted({t.topic_arn for t in m.notification_targets if t.topic_arn}))
    alarms = _alarms(env, spec, extra_actions) if m.alarms else []
    emails = tuple(sorted({t.email for t in m.notification_targets if t.email}))
    # The notification sender publishes to the topic too (mode boto3): its email subscribers need it without alarms.
    if alarms or emails_published(spec):
        resources.append(Desired(
            kind="sns.alarm_topic", key=TOPIC_KEY, component="monitoring", name=topic_name(env),
            params={"emails": emails}, tags=env.tags("monitoring"),
        ))
        resources += alarms
    if m.dashboard and (spec.cache or spec.queues or spec.gateway):
        resources.append(_dashboard(env, spec))
    return resources


def topic_name(env: EnvironmentRef) -> str:
    # Upper case: topics of spec.topics have lower-case names, so this one never collides with them.
    return aws_name(env, "Alarms", max_length=TOPIC_NAME_MAX, invalid=NAME_INVALID)


def _alarm(env: EnvironmentRef, t: Threshold, slug: str, target: Mapping[str, object],
           extra_actions: tuple[str, ...]) -> Desired:
    return Desired(
        kind="cloudwatch.alarm", key=f"monitoring/alarm/{slug}", component="monitoring",
        name=aws_name(env, f"{t.priority}-{slug.replace('/', '-')}", max_length=ALARM_NAME_MAX, invalid=NAME_INVALID),
        params={
            "namespace": t.namespace, "metric": t.metric, "statistic": t.statistic, "comparison": t.comparison,
            "threshold": t.threshold, "period": PERIOD_SECONDS, "evaluation_periods": t.minutes,
            "datapoints_to_alarm": t.minutes, "treat_missing_data": "notBreaching",
            "description": f"{t.priority} {env.key}: {t.summary}",
            "topic_arn": Ref(TOPIC_KEY, "arn"), "extra_actions": extra_actions, **target,
        },
        tags={**env.tags("monitoring"), TAG_PRIORITY: t.priority},
    )


def _alarms(env: EnvironmentRef, spec: EnvironmentSpec, extra_actions: tuple[str, ...]) -> list[Desired]:
    alarms = []
    if spec.cache:
        cache = {"replication_group_id": Ref("cache/replication-group", "id"), "cache_nodes": _cache_nodes(spec.cache)}
        alarms += [_alarm(env, t, t.slug, cache, extra_actions) for t in CACHE]
    for q in spec.queues:
        if q.dead_letter.enabled:
            dlq = {"queue_arn": Ref(f"queue/{q.name}/dead-letter", "arn")}
            alarms.append(_alarm(env, DEAD_LETTERS, f"queue/{q.name}/{DEAD_LETTERS.slug}", dlq, extra_actions))
        main = {"queue_arn": Ref(f"queue/{q.name}", "arn")}
        alarms += [_alarm(env, t, f"queue/{q.name}/{t.slug}", main, extra_actions) for t in QUEUE]
    return alarms


def _cache_nodes(cache: Cache) -> int:
    """Nodes of the replication group (one shard): the primary and its replicas, ids <group>-001, -002..."""
    return 1 + (cache.replicas or 0)


def _dashboard(env: EnvironmentRef, spec: EnvironmentSpec) -> Desired:
    params: dict[str, object] = {"region": spec.aws.region}
    if spec.cache:
        params["replication_group_id"] = Ref("cache/replication-group", "id")
        params["cache_nodes"] = _cache_nodes(spec.cache)
    for q in spec.queues:
        params[f"queue/{q.name}"] = Ref(f"queue/{q.name}", "arn")
        if q.dead_letter.enabled:
            params[f"queue/{q.name}/dead-letter"] = Ref(f"queue/{q.name}/dead-letter", "arn")
    if spec.gateway:
        params["gateway_api_id"] = Ref("gateway/api", "id")
    return Desired(
        kind="cloudwatch.dashboard", key="monitoring/dashboard", component="monitoring",
        name=aws_name(env, "dashboard", max_length=DASHBOARD_NAME_MAX, invalid=NAME_INVALID),
        params=params, tags=env.tags("monitoring"),
    )
