"""The alarm topic, CloudWatch alarms and the dashboard against the real moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws import session
from aenv.aws.cloudwatch_alarm import CloudWatchAlarms
from aenv.aws.cloudwatch_dashboard import CloudWatchDashboards
from aenv.aws.component import AwsTarget
from aenv.aws.sns_alarm_topic import SnsAlarmTopics
from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import monitoring
from aenv.plan.actions import decide
from aenv.plan.types import Desired

REGION = "us-east-1"
ENV = EnvironmentRef("analytics", "defi", "uid-1")
OTHER = EnvironmentRef("analytics", "other", "uid-2")
ONCALL = "arn:aws:sns:us-east-1:123456789012:oncall"
CACHE_ID = "aenv-analytics-defi-cache"
API_ID = "a1b2c3d4e5"




@pytest.fixture
def sns(emulator: AwsEmulator) -> Any:
    return emulator.client("sns")


@pytest.fixture
def cw(emulator: AwsEmulator) -> Any:
    return emulator.client("cloudwatch")


@pytest.fixture
def queues(emulator: AwsEmulator, target: AwsTarget) -> dict[str, dict[str, str]]:
    """Real queues, as the queues component made them: outputs by key."""
    sqs = emulator.client("sqs")
    out = {}
    for key, name in (("queue/events", "aenv-analytics-defi-events"),
                      ("queue/events/dead-letter", "aenv-analytics-defi-events-dlq"),
                      ("queue/audit", "aenv-analytics-defi-audit")):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        out[key] = {"url": url, "arn": sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                    ["Attributes"]["QueueArn"]}
    return out


def spec(**monitoring_section: Any) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({
        "tier": "prod", "aws": {"region": REGION}, "cache": {}, "gateway": {},
        "queues": [{"name": "events"}, {"name": "audit", "deadLetter": {"enabled": False}}],
        "monitoring": {"notificationTargets": [{"email": "oncall@example.com"}], **monitoring_section}}))


def planned(outputs: Mapping[str, Mapping[str, Any]], env: EnvironmentRef = ENV, **section: Any) -> dict[str, Desired]:
    """The resources of the plan that the outputs known so far resolve (as the loop does)."""
    known = {**outputs, "cache/replication-group": {"id": CACHE_ID}, "gateway/api": {"id": API_ID}}
    resolved = (d.resolve(known) for d in monitoring.plan(env, spec(**section)))
    return {d.key: d for d in resolved if d is not None}


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with when a resource is no longer in the plan."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


@pytest.fixture
def topic(target: AwsTarget, queues: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The alarm topic made by aenv: the outputs alarms refer to."""
    d = planned(queues)["monitoring/topic"]
    made = SnsAlarmTopics(target).create(d)
    return {**queues, "monitoring/topic": {"arn": made.outputs["arn"]}}


def emails(sns: Any, arn: str) -> list[str]:
    return sorted(s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"])


def topic_tags(sns: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}


def alarm(cw: Any, name: str) -> dict[str, Any]:
    [found] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(found)


def alarm_tags(cw: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def body(cw: Any, name: str) -> dict[str, Any]:
    return dict(json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"]))


# The alarm topic


def test_topic_create_then_observe(target: AwsTarget, sns: Any, queues: dict[str, dict[str, str]]) -> None:
    d = planned(queues)["monitoring/topic"]
    made = SnsAlarmTopics(target).create(d)
    assert made.exists and made.ready and made.up_to_date, made.diff
    assert made.outputs["arn"].endswith(":aenv-analytics-defi-Alarms") and decide(ENV, d, made).kind == "none"
    assert emails(sns, made.outputs["arn"]) == ["oncall@example.com"]
    assert topic_tags(sns, made.outputs["arn"]) == {
        TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "monitoring"}

    fresh = SnsAlarmTopics(target)  # a second observe finds the same topic; create again makes no second one
    assert fresh.observe(d).outputs == made.outputs and fresh.create(d).outputs == made.outputs
    assert len(sns.list_topics()["Topics"]) == 1 and len(sns.list_subscriptions()["Subscriptions"]) == 1


def test_topic_update_and_drift(target: AwsTarget, sns: Any, queues: dict[str, dict[str, str]]) -> None:
    client = SnsAlarmTopics(target)
    arn = client.create(planned(queues)["monitoring/topic"]).outputs["arn"]
    changed = planned(queues, notificationTargets=[{"email": "team@example.com"}, {"topicArn": ONCALL}])
    d = changed["monitoring/topic"]
    observed = client.observe(d)
    assert observed.diff == {"subscriptions": (["oncall@example.com"], ["team@example.com"])}
    assert observed.immutable == ()  # nothing about the topic is fixed at creation that the plan could change
    assert client.update(d, observed).up_to_date and emails(sns, arn) == ["team@example.com"]

    # By hand: the subscription removed, a tag removed. Both come back.
    [sub] = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    sns.untag_resource(ResourceArn=arn, TagKeys=[TAG_COMPONENT])
    fresh = SnsAlarmTopics(target)
    drifted = fresh.observe(d)
    assert set(drifted.diff) == {"subscriptions", "tags"}
    assert fresh.update(d, drifted).up_to_date
    assert emails(sns, arn) == ["team@example.com"] and topic_tags(sns, arn)[TAG_COMPONENT] == "monitoring"


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_topic_delete(target: AwsTarget, sns: Any, queues: dict[str, dict[str, str]], policy: Any) -> None:
    client = SnsAlarmTopics(target)
    d = planned(queues)["monitoring/topic"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), policy)  # Snapshot: a topic has no data at rest
    assert not client.observe(lookup(d)).exists
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []


def test_topic_retain(target: AwsTarget, sns: Any, queues: dict[str, dict[str, str]]) -> None:
    client = SnsAlarmTopics(target)
    d = planned(queues)["monitoring/topic"]
    arn = client.create(d).outputs["arn"]
    client.delete(lookup(d), client.observe(lookup(d)), "Retain")
    assert topic_tags(sns, arn)[TAG_RELEASED] == "true" and emails(sns, arn) == ["oncall@example.com"]


def test_topic_of_another_environment(target: AwsTarget, sns: Any, queues: dict[str, dict[str, str]]) -> None:
    d = planned(queues)["monitoring/topic"]
    arn = sns.create_topic(Name=d.name, Tags=[{"Key": k, "Value": v}
                                              for k, v in OTHER.tags("monitoring").items()])["TopicArn"]
    client = SnsAlarmTopics(target)
    observed = client.observe(d)
    assert observed.owner_environment == "analytics/other" and decide(ENV, d, observed).kind == "conflict"
    assert decide(ENV, d, client.create(d)).kind == "conflict"
    assert emails(sns, arn) == []  # nothing subscribed to a topic that is not this environment's


# Alarms


def alarms_of(plan: dict[str, Desired]) -> list[Desired]:
    return [d for k, d in plan.items() if k.startswith("monitoring/alarm/")]


def test_alarms_create_then_observe(target: AwsTarget, cw: Any, topic: dict[str, dict[str, str]]) -> None:
    client = CloudWatchAlarms(target)
    plan = planned(topic)
    for d in alarms_of(plan):
        made = client.create(d)
        assert made.exists and made.ready and made.up_to_date, (d.key, made.diff)
        assert decide(ENV, d, made).kind == "none"
    names = sorted(a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="aenv-")["MetricAlarms"])
    assert names == sorted(d.name for d in alarms_of(plan)) and len(names) == 8

    cpu = alarm(cw, "aenv-analytics-defi-P1-cache-cpu")
    assert (cpu["Threshold"], cpu["ComparisonOperator"], cpu["EvaluationPeriods"], cpu["DatapointsToAlarm"]) == (
        90.0, "GreaterThanThreshold", 10, 10)
    assert cpu["AlarmActions"] == cpu["OKActions"] == [topic["monitoring/topic"]["arn"]]
    nodes = [m["MetricStat"]["Metric"]["Dimensions"] for m in cpu["Metrics"] if "MetricStat" in m]
    assert nodes == [[{"Name": "CacheClusterId", "Value": f"{CACHE_ID}-00{i}"}] for i in (1, 2, 3)]
    assert cpu["Metrics"][-1]["Expression"] == "MAX([node1,node2,node3])"
    assert alarm_tags(cw, cpu["AlarmArn"]) == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1",
                                               TAG_COMPONENT: "monitoring", monitoring.TAG_PRIORITY: "P1"}
    hit = alarm(cw, "aenv-analytics-defi-P3-cache-hit-rate")
    assert (hit["Threshold"], hit["ComparisonOperator"], hit["EvaluationPeriods"]) == (80.0, "LessThanThreshold", 15)

    dlq = alarm(cw, "aenv-analytics-defi-P1-queue-events-dead-letters")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": "aenv-analytics-defi-events-dlq"}]
    assert (dlq["MetricName"], dlq["Threshold"], dlq["Namespace"]) == ("ApproximateNumberOfMessagesVisible", 10.0,
                                                                        "AWS/SQS")
    depth = alarm(cw, "aenv-analytics-defi-P2-queue-audit-depth")
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": "aenv-analytics-defi-audit"}]
    assert (depth["Threshold"], depth["EvaluationPeriods"]) == (1000.0, 10)
    oldest = alarm(cw, "aenv-analytics-defi-P3-queue-events-oldest-message")
    assert (oldest["MetricName"], oldest["Threshold"]) == ("ApproximateAgeOfOldestMessage", 600.0)

    fresh = CloudWatchAlarms(target)  # a second observe finds the same alarms; create again makes none
    for d in alarms_of(plan):
        assert fresh.observe(d).up_to_date and fresh.create(d).up_to_date
    assert len(cw.describe_alarms(AlarmNamePrefix="aenv-")["MetricAlarms"]) == 8


def test_alarm_update_of_notification_targets(target: AwsTarget, cw: Any, topic: dict[str, dict[str, str]]) -> None:
    client = CloudWatchAlarms(target)
    d = planned(topic)["monitoring/alarm/queue/events/depth"]
    client.create(d)
    changed = planned(topic, notificationTargets=[{"topicArn": ONCALL}])["monitoring/alarm/queue/events/depth"]
    observed = client.observe(changed)
    assert set(observed.diff) == {"AlarmActions", "OKActions"} and observed.immutable == ()
    assert client.update(changed, observed).up_to_date
    assert sorted(alarm(cw, d.name)["AlarmActions"]) == sorted([ONCALL, topic["monitoring/topic"]["arn"]])


def test_alarm_threshold_changed_by_hand_is_put_back(target: AwsTarget, cw: Any,
                                                     topic: dict[str, dict[str, str]]) -> None:
    client = CloudWatchAlarms(target)
    d = planned(topic)["monitoring/alarm/cache-cpu"]
    client.create(d)
    by_hand = {k: v for k, v in alarm(cw, d.name).items() if k in (
        "AlarmName", "ComparisonOperator", "EvaluationPeriods", "Metrics", "AlarmActions")}
    cw.put_metric_alarm(**{**by_hand, "Threshold": 99.0})
    client.alarms.expire()
    drifted = client.observe(d)
    assert drifted.diff["Threshold"] == (99.0, 90.0) and decide(ENV, d, drifted).kind == "update"
    assert client.update(d, drifted).up_to_date
    restored = alarm(cw, d.name)
    assert restored["Threshold"] == 90.0 and restored["DatapointsToAlarm"] == 10
    assert restored["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_alarm_delete(target: AwsTarget, cw: Any, topic: dict[str, dict[str, str]], policy: Any) -> None:
    client = CloudWatchAlarms(target)
    d = planned(topic)["monitoring/alarm/cache-memory"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), policy)  # Snapshot: an alarm has no data to keep
    assert not client.observe(lookup(d)).exists
    assert cw.describe_alarms(AlarmNames=[d.name])["MetricAlarms"] == []


def test_alarm_retain(target: AwsTarget, cw: Any, topic: dict[str, dict[str, str]]) -> None:
    client = CloudWatchAlarms(target)
    d = planned(topic)["monitoring/alarm/cache-memory"]
    arn = client.create(d).outputs["arn"]
    client.delete(lookup(d), client.observe(lookup(d)), "Retain")
    assert alarm_tags(cw, arn)[TAG_RELEASED] == "true" and alarm(cw, d.name)["Threshold"] == 90.0
    back = client.observe(d)
    assert set(back.diff) == {"tags"} and client.update(d, back).up_to_date
    assert TAG_RELEASED not in alarm_tags(cw, arn)


def test_alarm_of_another_environment(target: AwsTarget, cw: Any, topic: dict[str, dict[str, str]]) -> None:
    d = planned(topic)["monitoring/alarm/cache-cpu"]
    cw.put_metric_alarm(AlarmName=d.name, ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1,
                        Threshold=50.0, Namespace="AWS/EC2", MetricName="CPUUtilization", Statistic="Average",
                        Period=60, Tags=[{"Key": k, "Value": v} for k, v in OTHER.tags("monitoring").items()])
    client = CloudWatchAlarms(target)
    observed = client.observe(d)
    assert observed.owner_environment == "analytics/other" and decide(ENV, d, observed).kind == "conflict"
    assert decide(ENV, d, client.create(d)).kind == "conflict"
    assert alarm(cw, d.name)["Threshold"] == 50.0  # create did not overwrite it


# The dashboard


class Gets:
    """Counts the GetDashboard requests aenv's clients send (botocore's own event hook, nothing replaced)."""

    EVENT = "before-call.cloudwatch.GetDashboard"

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


@pytest.fixture
def gets(target: AwsTarget) -> Iterator[Gets]:
    counter = Gets()
    events = session.client("cloudwatch", target.region, target.endpoint).meta.events
    events.register(Gets.EVENT, counter, unique_id="test-gets")
    try:
        yield counter
    finally:
        events.unregister(Gets.EVENT, unique_id="test-gets")


def test_dashboard_create_then_observe(target: AwsTarget, cw: Any, queues: dict[str, dict[str, str]],
                                       gets: Gets) -> None:
    d = planned(queues, alarms=False)["monitoring/dashboard"]
    made = CloudWatchDashboards(target).create(d)
    assert made.exists and made.ready and made.up_to_date, made.diff
    assert made.owner == "uid-1" and made.owner_environment == "analytics/defi" and decide(ENV, d, made).kind == "none"
    assert made.outputs["name"] == "aenv-analytics-defi-dashboard"

    widgets = body(cw, d.name)["widgets"]
    assert "Managed by aenv (environment analytics/defi, uid uid-1)" in widgets[0]["properties"]["markdown"]
    metrics = [m for w in widgets[1:] for m in w["properties"]["metrics"]]
    assert ["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", f"{CACHE_ID}-003"] in metrics
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "aenv-analytics-defi-events-dlq"] in metrics
    assert ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "aenv-analytics-defi-audit"] in metrics
    assert ["AWS/ApiGateway", "ConnectCount", "ApiId", API_ID] in metrics

    fresh = CloudWatchDashboards(target)  # a second observe finds the same dashboard
    gets.count = 0
    assert fresh.observe(d).up_to_date and fresh.create(d).up_to_date
    assert len(cw.list_dashboards()["DashboardEntries"]) == 1
    fresh.dashboards.expire()
    fresh.observe(d)
    assert gets.count == 2  # one read of the body, and create's check; unchanged since: not read again


def test_dashboard_update_and_drift(target: AwsTarget, cw: Any, queues: dict[str, dict[str, str]]) -> None:
    client = CloudWatchDashboards(target)
    client.create(planned(queues, alarms=False)["monitoring/dashboard"])
    fewer = {k: v for k, v in queues.items() if k != "queue/audit"}
    spec_without_audit = monitoring.plan(ENV, spec(alarms=False).model_copy(update={"queues": spec().queues[:1]}))
    [d] = [x.resolve({**fewer, "cache/replication-group": {"id": CACHE_ID}, "gateway/api": {"id": API_ID}})
           for x in spec_without_audit if x.key == "monitoring/dashboard"]  # the email target has a topic too
    assert d is not None
    observed = client.observe(d)
    assert set(observed.diff) == {"body"} and observed.immutable == ()
    assert client.update(d, observed).up_to_date
    assert "aenv-analytics-defi-audit" not in json.dumps(body(cw, d.name))

    edited = body(cw, d.name)
    edited["widgets"] = edited["widgets"][:2]
    cw.put_dashboard(DashboardName=d.name, DashboardBody=json.dumps(edited))
    client.dashboards.expire()
    drifted = client.observe(d)
    assert set(drifted.diff) == {"body"} and decide(ENV, d, drifted).kind == "update"
    assert client.update(d, drifted).up_to_date and len(body(cw, d.name)["widgets"]) > 2


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_dashboard_delete(target: AwsTarget, cw: Any, queues: dict[str, dict[str, str]], policy: Any) -> None:
    client = CloudWatchDashboards(target)
    d = planned(queues, alarms=False)["monitoring/dashboard"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), policy)  # Snapshot: a dashboard has no data to keep
    assert not client.observe(lookup(d)).exists and cw.list_dashboards()["DashboardEntries"] == []


def test_dashboard_retain_marks_it_released(target: AwsTarget, cw: Any, queues: dict[str, dict[str, str]]) -> None:
    client = CloudWatchDashboards(target)
    d = planned(queues, alarms=False)["monitoring/dashboard"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), "Retain")
    kept = body(cw, d.name)
    assert "Released by aenv (environment analytics/defi, uid uid-1)" in kept["widgets"][0]["properties"]["markdown"]
    assert len(kept["widgets"]) > 1  # the graphs stay
    again = planned(queues, env=EnvironmentRef("analytics", "defi", "uid-9"), alarms=False)["monitoring/dashboard"]
    retained = CloudWatchDashboards(target).observe(again)
    assert decide(EnvironmentRef("analytics", "defi", "uid-9"), again, retained).kind == "adopt"


def test_dashboard_not_made_by_aenv_or_of_another_environment(target: AwsTarget, cw: Any,
                                                             queues: dict[str, dict[str, str]]) -> None:
    d = planned(queues, alarms=False)["monitoring/dashboard"]
    cw.put_dashboard(DashboardName=d.name, DashboardBody=json.dumps({"widgets": []}))
    observed = CloudWatchDashboards(target).observe(d)
    assert observed.owner_environment is None and decide(ENV, d, observed).kind == "conflict"

    cw.put_dashboard(DashboardName=d.name, DashboardBody=json.dumps({"widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {
            "markdown": "Managed by aenv (environment analytics/other, uid uid-2)."}}]}))
    client = CloudWatchDashboards(target)
    observed = client.observe(d)
    assert observed.owner_environment == "analytics/other" and decide(ENV, d, observed).kind == "conflict"
    assert decide(ENV, d, client.create(d)).kind == "conflict"
    assert len(body(cw, d.name)["widgets"]) == 1  # not overwritten
