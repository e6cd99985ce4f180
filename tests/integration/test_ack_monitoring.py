"""Monitoring in mode ack: an environment with a queue and an email target becomes Ready through the real ACK
controllers (the cloudwatch controller's CBOR calls answered by the emulator's translator); the alarm topic with its
email subscription, the queue's alarms and the dashboard are checked in the emulator; a changed threshold reaches
CloudWatch; deletion removes them."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from aenv.ack.cloudwatch_alarm import CloudWatchAlarms
from aenv.api import EnvironmentSpec, effective
from aenv.aws.cloudwatch_dashboard import body, owner
from aenv.aws.component import AwsTarget
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired

from .conftest import Operator
from .kube import Kube

pytestmark = pytest.mark.integration
DEADLINE = 180.0
NAME = "watched"
EMAIL = "oncall@example.com"
SPEC = {
    "tier": "dev",
    "aws": {"region": "us-east-1", "mode": "ack"},
    "queues": [{"name": "events", "deadLetter": {"enabled": False}}],
    "monitoring": {"notificationTargets": [{"email": EMAIL}]},
    "deletionPolicy": "Delete",
}


def planned(namespace: str, uid: str) -> dict[str, Desired]:
    parsed = effective(EnvironmentSpec.model_validate(SPEC))
    env = EnvironmentRef(namespace, NAME, uid)
    return {d.key: d for d in desired_resources(env, parsed, requested(parsed))}


def alarms(cw: Any) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix="aenv-")["MetricAlarms"]}


def test_monitoring_through_ack(kube: Kube, emulator: AwsEmulator, ack_operator: Operator, ack_namespace: str,
                                in_process: None) -> None:
    start = time.monotonic()
    env = kube.create_env(ack_namespace, NAME, SPEC)
    env = kube.wait_condition(ack_namespace, NAME, "Ready", timeout=DEADLINE)
    print(f"mode ack with monitoring: Ready in {time.monotonic() - start:.1f} s")
    assert kube.condition(env, "MonitoringReady")["status"] == "True", env["status"]  # type: ignore[index]
    uid = env["metadata"]["uid"]
    want = planned(ack_namespace, uid)
    sqs, sns, cw = (emulator.client(s) for s in ("sqs", "sns", "cloudwatch"))
    queue_url = sqs.get_queue_url(QueueName=want["queue/events"].name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # The alarm topic, tagged as aenv's, with the email subscription.
    topic = want["monitoring/topic"]
    [topic_arn] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + topic.name)]
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"]}
    assert (tags[TAG_ENVIRONMENT], tags[TAG_UID]) == (f"{ack_namespace}/{NAME}", uid)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", EMAIL)]

    # The queue's alarms: metric, threshold and actions as planned, notifying the topic, tagged as aenv's.
    outputs = {"monitoring/topic": {"arn": topic_arn}, "queue/events": {"arn": queue_arn}}
    queue_alarms = {d.name: d.resolve(outputs) for k, d in want.items() if k.startswith("monitoring/alarm/")}
    found = alarms(cw)
    assert set(found) == set(queue_alarms), found.keys()
    for name, d in queue_alarms.items():
        assert d is not None
        alarm, p = found[name], d.params
        assert (alarm["MetricName"], alarm["Namespace"], alarm["Statistic"], alarm["ComparisonOperator"]) == (
            p["metric"], p["namespace"], p["statistic"], p["comparison"])
        assert alarm["Threshold"] == p["threshold"] and alarm["EvaluationPeriods"] == p["evaluation_periods"]
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_arn.rsplit(":", 1)[-1]}]
        assert alarm["AlarmActions"] == [topic_arn] and alarm["OKActions"] == [topic_arn]
        alarm_tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]}
        assert alarm_tags[TAG_UID] == uid, alarm_tags

    # The dashboard: mode boto3's body, whose first widget names the owner.
    dashboard = want["monitoring/dashboard"].resolve(outputs)
    assert dashboard is not None
    held = json.loads(cw.get_dashboard(DashboardName=dashboard.name)["DashboardBody"])
    assert held == body(dashboard) and owner(held) == (f"{ack_namespace}/{NAME}", uid)

    # A changed threshold (as a newer aenv would plan it) reaches CloudWatch; the operator, started again, puts its
    # own back. It is stopped meanwhile, since it corrects the CR at every resync.
    depth = queue_alarms[want["monitoring/alarm/queue/events/depth"].name]
    assert depth is not None
    changed = replace(depth, params={**depth.params, "threshold": 250.0})
    client = CloudWatchAlarms(AwsTarget("us-east-1"))
    ack_operator.stop()
    try:
        client.update(changed, client.observe(changed))
        wait_for(lambda: alarms(cw)[depth.name]["Threshold"] == 250.0, DEADLINE, "the new threshold in CloudWatch")
    finally:
        ack_operator.start()
    wait_for(lambda: alarms(cw)[depth.name]["Threshold"] == depth.params["threshold"], DEADLINE,
             "the operator's threshold back in CloudWatch")

    kube.delete_env(ack_namespace, NAME)
    wait_for(lambda: kube.env_gone(ack_namespace, NAME), DEADLINE, f"{ack_namespace}/{NAME} to be deleted")
    assert not alarms(cw)
    assert not cw.list_dashboards(DashboardNamePrefix="aenv-")["DashboardEntries"]
    assert topic_arn not in {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    assert not [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == topic_arn]
