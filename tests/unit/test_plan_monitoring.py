"""spec -> alarms with the platform's thresholds, their SNS topic, and the dashboard."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, EnvironmentRef
from aenv.plan import monitoring
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:oncall"


def plan(tier: str = "prod", **sections: object) -> dict[str, Desired]:
    spec = effective(EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, **sections}))
    return {d.key: d for d in monitoring.plan(ENV, spec)}


def test_nothing_without_a_monitoring_section() -> None:
    assert plan(cache={}, queues=[{"name": "events"}]) == {}


def test_cache_alarms_thresholds_and_priorities() -> None:
    r = plan(cache={}, monitoring={"dashboard": False})
    assert list(r) == ["monitoring/topic", "monitoring/alarm/cache-cpu", "monitoring/alarm/cache-memory",
                       "monitoring/alarm/cache-hit-rate"]
    cpu, memory, hit = (r[f"monitoring/alarm/cache-{m}"] for m in ("cpu", "memory", "hit-rate"))
    assert cpu.name == "aenv-analytics-defi-P1-cache-cpu" and cpu.tags[monitoring.TAG_PRIORITY] == "P1"
    assert (cpu.params["metric"], cpu.params["comparison"], cpu.params["threshold"]) == (
        "EngineCPUUtilization", "GreaterThanThreshold", 90)
    assert cpu.params["period"] * cpu.params["evaluation_periods"] == 600  # 10 minutes
    assert cpu.params["datapoints_to_alarm"] == cpu.params["evaluation_periods"]
    assert (memory.params["metric"], memory.params["threshold"], memory.tags[monitoring.TAG_PRIORITY]) == (
        "DatabaseMemoryUsagePercentage", 90, "P2")
    assert (hit.params["metric"], hit.params["comparison"], hit.params["threshold"]) == (
        "CacheHitRate", "LessThanThreshold", 80)
    assert hit.params["period"] * hit.params["evaluation_periods"] == 900 and hit.name.endswith("-P3-cache-hit-rate")
    assert cpu.params["replication_group_id"] == Ref("cache/replication-group", "id")
    assert cpu.params["cache_nodes"] == 3  # prod: a primary and two replicas
    assert cpu.params["topic_arn"] == Ref("monitoring/topic", "arn")
    assert cpu.depends_on == ("monitoring/topic", "cache/replication-group")
    assert plan("dev", cache={}, monitoring={})["monitoring/alarm/cache-cpu"].params["cache_nodes"] == 1


def test_queue_alarms_per_queue_and_dead_letter_queue() -> None:
    r = plan(queues=[{"name": "events"}, {"name": "audit", "deadLetter": {"enabled": False}}],
             monitoring={"dashboard": False})
    assert [k for k in r if k.startswith("monitoring/alarm/")] == [
        "monitoring/alarm/queue/events/dead-letters", "monitoring/alarm/queue/events/depth",
        "monitoring/alarm/queue/events/oldest-message", "monitoring/alarm/queue/audit/depth",
        "monitoring/alarm/queue/audit/oldest-message"]
    dlq = r["monitoring/alarm/queue/events/dead-letters"]
    assert dlq.name == "aenv-analytics-defi-P1-queue-events-dead-letters"
    assert dlq.params["queue_arn"] == Ref("queue/events/dead-letter", "arn")
    assert (dlq.params["metric"], dlq.params["threshold"]) == ("ApproximateNumberOfMessagesVisible", 10)
    depth = r["monitoring/alarm/queue/events/depth"]
    assert depth.params["queue_arn"] == Ref("queue/events", "arn") and depth.params["threshold"] == 1000
    assert depth.params["period"] * depth.params["evaluation_periods"] == 600 and depth.name.split("-")[3] == "P2"
    oldest = r["monitoring/alarm/queue/events/oldest-message"]
    assert (oldest.params["metric"], oldest.params["threshold"]) == ("ApproximateAgeOfOldestMessage", 600)
    assert oldest.tags[monitoring.TAG_PRIORITY] == "P3"


def test_notification_targets() -> None:
    r = plan(queues=[{"name": "events"}], monitoring={"dashboard": False, "notificationTargets": [
        {"email": "oncall@example.com"}, {"topicArn": TOPIC_ARN}, {"email": "a@example.com"}]})
    topic = r["monitoring/topic"]
    assert topic.kind == "sns.alarm_topic" and topic.name == "aenv-analytics-defi-Alarms"
    assert topic.params["emails"] == ("a@example.com", "oncall@example.com")
    assert all(d.params["extra_actions"] == (TOPIC_ARN,) for k, d in r.items() if k.startswith("monitoring/alarm/"))


def test_no_alarms_no_topic() -> None:
    assert plan(queues=[{"name": "events"}], monitoring={"alarms": False, "dashboard": False}) == {}
    assert plan(monitoring={}) == {}  # nothing to watch: no topic, no empty dashboard


def test_an_email_target_has_the_topic_without_alarms_in_mode_boto3_only() -> None:
    targets = {"alarms": False, "dashboard": False, "notificationTargets": [{"email": "oncall@example.com"},
                                                                             {"topicArn": TOPIC_ARN}]}
    r = plan(queues=[{"name": "events"}], monitoring=targets)
    assert list(r) == ["monitoring/topic"]  # the notifications are published to it
    assert r["monitoring/topic"].params["emails"] == ("oncall@example.com",)
    assert plan(monitoring={"alarms": False, "notificationTargets": [{"topicArn": TOPIC_ARN}]}) == {}
    ack = {"region": "us-east-1", "mode": "ack", "vpcId": "vpc-0a1b2c3d",
           "subnetIds": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]}
    assert plan(aws=ack, queues=[{"name": "events"}], monitoring=targets) == {}  # alarms only in mode ack


def test_dashboard_refers_to_cache_queues_and_gateway() -> None:
    r = plan(cache={}, queues=[{"name": "events"}], gateway={}, monitoring={"alarms": False})
    assert list(r) == ["monitoring/dashboard"]
    d = r["monitoring/dashboard"]
    assert d.kind == "cloudwatch.dashboard" and d.name == "aenv-analytics-defi-dashboard"
    assert d.tags[TAG_COMPONENT] == "monitoring"
    assert d.params["region"] == "us-east-1" and d.params["cache_nodes"] == 3
    assert set(d.depends_on) == {"cache/replication-group", "queue/events", "queue/events/dead-letter",
                                 "gateway/api"}
    assert d.params["gateway_api_id"] == Ref("gateway/api", "id")
    assert "gateway_api_id" not in plan(queues=[{"name": "q"}], monitoring={})["monitoring/dashboard"].params
