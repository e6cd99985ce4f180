"""Monitoring in mode ack: the specs of the alarm topic's, the alarms' and the dashboard's CRs, readiness from their
status, and the emulator's CBOR translator (botocore's Smithy RPC v2 CBOR serializer and parser stand in for the Go
SDK of ACK's cloudwatch controller)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import botocore.session
import cbor2
import pytest
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

from aenv.ack import cloudwatch_alarm, cloudwatch_dashboard, sns_alarm_topic
from aenv.ack.resource import AckError, environment_of_object
from aenv.api import EnvironmentSpec, effective
from aenv.aws.cloudwatch_dashboard import body, owner
from aenv.aws.component import AwsTarget
from aenv.local import cbor_rpc
from aenv.naming import TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired

from .test_ack_clients import synced

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TARGET = AwsTarget("eu-west-1")
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:aenv-analytics-defi-Alarms"
ONCALL = "arn:aws:sns:eu-west-1:123456789012:oncall"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:aenv-analytics-defi-events"
SPEC = effective(EnvironmentSpec.model_validate({
    "tier": "dev", "aws": {"region": "eu-west-1", "mode": "ack"}, "cache": {"replicas": 1},
    "queues": [{"name": "events", "deadLetter": {"enabled": False}}],
    "monitoring": {"notificationTargets": [{"email": "oncall@example.com"}, {"email": "b@example.com"},
                                           {"topicArn": ONCALL}]},
}))
PLANNED = {d.key: d for d in desired_resources(ENV, SPEC, requested(SPEC)) if d.component == "monitoring"}
OUTPUTS = {"monitoring/topic": {"arn": TOPIC_ARN}, "queue/events": {"arn": QUEUE_ARN},
           "cache/replication-group": {"id": "aenv-analytics-defi-cache"}}


def resolved(key: str) -> Desired:
    d = PLANNED[key].resolve(OUTPUTS)
    assert d is not None
    return d


ARN = {"ackResourceMetadata": {"arn": "arn:x"}}


# The alarms


def test_a_queue_alarm_is_boto3s_request_with_the_crds_field_names() -> None:
    d = resolved("monitoring/alarm/queue/events/depth")
    spec = cloudwatch_alarm.CloudWatchAlarms(TARGET).manifest(d)["spec"]
    tags = spec.pop("tags")
    assert spec == {
        "name": d.name, "alarmDescription": d.params["description"], "actionsEnabled": True,
        "alarmActions": sorted([TOPIC_ARN, ONCALL]), "oKActions": sorted([TOPIC_ARN, ONCALL]),
        "comparisonOperator": "GreaterThanThreshold", "threshold": 1000.0, "evaluationPeriods": 10,
        "datapointsToAlarm": 10, "treatMissingData": "notBreaching", "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum", "period": 60,
        "dimensions": [{"name": "QueueName", "value": "aenv-analytics-defi-events"}],
    }
    assert {t["key"]: t["value"] for t in tags} == d.tags and d.tags["aenv.dev/priority"] == "P2"


def test_a_cache_alarm_watches_the_highest_node_with_metric_math() -> None:
    spec = cloudwatch_alarm.CloudWatchAlarms(TARGET).manifest(resolved("monitoring/alarm/cache-cpu"))["spec"]
    assert "metricName" not in spec and "dimensions" not in spec
    *nodes, highest = spec["metrics"]
    assert [n["metricStat"]["metric"]["dimensions"] for n in nodes] == [
        [{"name": "CacheClusterId", "value": f"aenv-analytics-defi-cache-00{i}"}] for i in (1, 2)]
    assert nodes[0] == {"id": "node1", "returnData": False, "metricStat": {
        "metric": {"namespace": "AWS/ElastiCache", "metricName": "EngineCPUUtilization",
                   "dimensions": [{"name": "CacheClusterId", "value": "aenv-analytics-defi-cache-001"}]},
        "period": 60, "stat": "Average"}}
    assert highest == {"id": "highest", "expression": "MAX([node1,node2])",
                       "label": "EngineCPUUtilization (highest node)", "returnData": True}


def test_an_alarm_is_ready_once_synced_in_an_account_and_outputs_boto3s_keys() -> None:
    alarms = cloudwatch_alarm.CloudWatchAlarms(TARGET)
    name = "aenv-analytics-defi-P2-queue-events-depth"
    obj = synced({"ackResourceMetadata": {"region": "eu-west-1"}})
    obj["spec"] = {"name": name}
    assert alarms.unusable(obj) == "synced, but without the account it is in yet"
    obj["status"]["ackResourceMetadata"] |= {"ownerAccountID": "123456789012", "partition": "aws"}
    assert alarms.unusable(obj) is None
    assert alarms.outputs(obj) == {"arn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}", "name": name}
    obj["status"]["ackResourceMetadata"]["arn"] = "arn:x"  # should ACK come to record it
    assert alarms.outputs(obj) == {"arn": "arn:x", "name": name}


# The dashboard


def test_the_dashboard_body_is_boto3s_and_names_its_owner() -> None:
    d = resolved("monitoring/dashboard")
    dashboards = cloudwatch_dashboard.CloudWatchDashboards(TARGET)
    obj = dashboards.manifest(d)
    assert set(obj["spec"]) == {"dashboardName", "dashboardBody"} and obj["spec"]["dashboardName"] == d.name
    held = json.loads(obj["spec"]["dashboardBody"])
    assert held == body(d) and owner(held) == (ENV.key, ENV.uid)
    assert environment_of_object(obj) == ENV
    obj["status"] = synced(ARN)["status"]
    assert dashboards.unusable(obj) is None
    assert dashboards.outputs(obj) == {"name": d.name, "arn": "arn:x"}


def test_retain_writes_the_released_marker_and_keeps_the_graphs() -> None:
    current = cloudwatch_dashboard.CloudWatchDashboards(TARGET).manifest(resolved("monitoring/dashboard"))
    before = json.loads(current["spec"]["dashboardBody"])
    after = json.loads(cloudwatch_dashboard.released(current["spec"]["dashboardBody"], ENV))
    assert after["widgets"][1:] == before["widgets"][1:]
    assert after["widgets"][0]["properties"]["markdown"].startswith(f"# {ENV.key}\nReleased by aenv")
    assert owner(after) == (ENV.key, ENV.uid)
    assert json.loads(cloudwatch_dashboard.released("not json", ENV))["widgets"][0] == after["widgets"][0]


# The alarm topic


def test_the_alarm_topic_is_a_topic_and_each_email_a_subscription_referring_to_it() -> None:
    d = resolved("monitoring/topic")
    topic = sns_alarm_topic.SnsAlarmTopics(TARGET).manifest(d)
    spec = topic["spec"]
    assert spec == {"name": d.name, "tags": [{"key": k, "value": v} for k, v in d.tags.items()]}
    assert (d.tags[TAG_ENVIRONMENT], d.tags[TAG_UID]) == (ENV.key, ENV.uid)
    assert d.params["emails"] == ("b@example.com", "oncall@example.com")  # topicArn targets are alarm actions
    refers_to = {"from": {"name": topic["metadata"]["name"]}}
    assert sns_alarm_topic.subscription_spec(d.name, "oncall@example.com") == {
        "protocol": "email", "endpoint": "oncall@example.com", "topicRef": refers_to}
    names = {sns_alarm_topic.subscription_name(d.name, e) for e in d.params["emails"]}
    assert len(names) == 2 and all(n.startswith("aenv-analytics-defi-alarms-") for n in names)
    assert sns_alarm_topic.subscription_name(d.name, "b@example.com") in names  # stable


def test_an_email_subscription_awaiting_its_recipient_is_in_place() -> None:
    state = sns_alarm_topic.subscription_state
    assert state(synced({"pendingConfirmation": "true"})) is None
    assert state(synced(ARN)) is None
    assert state(synced({})) == "synced, but without an ARN yet"
    assert state({"metadata": {}, "status": {}}) == "waiting for the ACK sns-controller to sync it"
    with pytest.raises(AckError, match="ACK cannot subscribe a@b: InvalidParameter"):
        state({"spec": {"endpoint": "a@b"}, "status": {"conditions": [
            {"type": "ACK.Terminal", "status": "True", "message": "InvalidParameter"}]}})


# The emulator's CBOR translator

CLOUDWATCH = botocore.session.get_session().get_service_model("cloudwatch")
AUTH = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, " \
       "Signature=0"


def cbor_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request the Go SDK sends: botocore's serializer of the same protocol."""
    request: dict[str, Any] = RpcV2CBORSerializer().serialize_to_request(params, CLOUDWATCH.operation_model(operation))
    return request


def parsed(operation: str, status: int, headers: list[tuple[str, str]], answer: bytes) -> dict[str, Any]:
    result: dict[str, Any] = RpcV2CBORParser().parse(
        {"status_code": status, "headers": dict(headers), "body": answer},
        CLOUDWATCH.operation_model(operation).output_shape)
    return result


def test_only_cbor_requests_of_cloudwatch_are_translated() -> None:
    request = cbor_request("DescribeAlarms", {})
    assert request["url_path"] == "/service/GraniteServiceVersion20100801/operation/DescribeAlarms"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    found = cbor_rpc.operation_of("POST", request["url_path"], headers)
    assert found is not None and found.name == "DescribeAlarms"
    assert cbor_rpc.operation_of("POST", "/", headers) is None  # the query and JSON protocols: moto's own
    assert cbor_rpc.operation_of("POST", request["url_path"], {}) is None
    assert cbor_rpc.operation_of("POST", "/service/GraniteServiceVersion20100801/operation/Nothing", headers) is None
    assert cbor_rpc.operation_of("POST", "/service/Other/operation/DescribeAlarms", headers) is None


def test_a_cbor_input_becomes_boto3s_json_request() -> None:
    params = {"AlarmName": "a", "Threshold": 90.0, "EvaluationPeriods": 2, "ActionsEnabled": True,
              "ComparisonOperator": "GreaterThanThreshold", "Dimensions": [{"Name": "QueueName", "Value": "q"}]}
    operation = CLOUDWATCH.operation_model("PutMetricAlarm")
    headers, body_ = cbor_rpc.json_request(operation, cbor_request("PutMetricAlarm", params)["body"])
    assert headers["X-Amz-Target"] == "GraniteServiceVersion20100801.PutMetricAlarm"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(body_) == params
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _, metric_data = cbor_rpc.json_request(CLOUDWATCH.operation_model("GetMetricData"), cbor_request(
        "GetMetricData", {"MetricDataQueries": [], "StartTime": start, "EndTime": start})["body"])
    assert json.loads(metric_data)["StartTime"] == start.timestamp()
    with pytest.raises(ValueError, match="not a CBOR map"):
        cbor_rpc.json_request(operation, cbor2.dumps([1]))


def test_motos_json_answer_becomes_cbor_typed_by_the_output_shape() -> None:
    operation = CLOUDWATCH.operation_model("DescribeAlarms")
    answer = {"MetricAlarms": [{"AlarmName": "a", "Threshold": 90, "EvaluationPeriods": 2.0, "ActionsEnabled": True,
                                "StateUpdatedTimestamp": 1767225600.5, "Unknown": "dropped"}]}
    status, headers, content = cbor_rpc.cbor_response(operation, 200, {"Content-Type": "application/x-amz-json-1.0"},
                                                      json.dumps(answer).encode())
    assert status == 200 and ("smithy-protocol", "rpc-v2-cbor") in headers
    raw = cbor2.loads(content)["MetricAlarms"][0]
    assert isinstance(raw["Threshold"], float) and isinstance(raw["EvaluationPeriods"], int) and "Unknown" not in raw
    alarm = parsed("DescribeAlarms", status, headers, content)["MetricAlarms"][0]
    assert alarm["StateUpdatedTimestamp"] == datetime.fromtimestamp(1767225600.5, UTC)
    assert (alarm["Threshold"], alarm["ActionsEnabled"]) == (90.0, True)
    empty = cbor_rpc.cbor_response(CLOUDWATCH.operation_model("DeleteAlarms"), 200, {}, b"{}")
    assert cbor2.loads(empty[2]) == {}


def test_motos_error_keeps_its_code_and_status() -> None:
    operation = CLOUDWATCH.operation_model("GetDashboard")
    status, headers, content = cbor_rpc.cbor_response(
        operation, 404, {"x-amzn-query-error": "ResourceNotFound;Sender"},
        json.dumps({"__type": "com.amazonaws.cloudwatch#ResourceNotFound", "message": "no such dashboard"}).encode())
    assert status == 404 and ("x-amzn-query-error", "ResourceNotFound;Sender") in headers
    assert cbor2.loads(content) == {"__type": "com.amazonaws.cloudwatch#ResourceNotFound",
                                    "message": "no such dashboard"}
    error = parsed("GetDashboard", status, headers, content)["Error"]
    assert (error["Code"], error["Message"]) == ("ResourceNotFound", "no such dashboard")


def test_a_round_trip_through_motos_cloudwatch() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    client = Client(cbor_rpc.CborToJson(DomainDispatcherApplication(create_backend_app)))

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        request = cbor_request(operation, params)
        response = client.post(request["url_path"], data=request["body"],
                               headers={**request["headers"], "Authorization": AUTH})
        return parsed(operation, response.status_code, list(response.headers.items()), response.data)

    name = "aenv-unit-cbor-round-trip"
    call("PutMetricAlarm", {"AlarmName": name, "Threshold": 7.5, "EvaluationPeriods": 3, "Period": 60,
                            "ComparisonOperator": "GreaterThanThreshold", "Namespace": "AWS/SQS",
                            "MetricName": "ApproximateAgeOfOldestMessage", "Statistic": "Maximum",
                            "AlarmActions": [TOPIC_ARN], "Tags": [{"Key": "k", "Value": "v"}]})
    [alarm] = call("DescribeAlarms", {"AlarmNames": [name]})["MetricAlarms"]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["AlarmActions"]) == (7.5, 3, [TOPIC_ARN])
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], datetime)
    assert call("ListTagsForResource", {"ResourceARN": alarm["AlarmArn"]})["Tags"] == [{"Key": "k", "Value": "v"}]
    call("DeleteAlarms", {"AlarmNames": [name]})
    assert call("DescribeAlarms", {"AlarmNames": [name]})["MetricAlarms"] == []
    assert call("GetDashboard", {"DashboardName": name})["Error"]["Code"] == "ResourceNotFound"
