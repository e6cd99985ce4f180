"""CloudWatch metric alarms in mode ack (kind cloudwatch.alarm): a cloudwatch MetricAlarm CR per alarm.

The spec is mode boto3's put_metric_alarm request (aws/cloudwatch_alarm.py) with the CRD's field names. The
MetricAlarm CRD has no reference fields: the actions are the alarm topic's ARN (and the spec's topicArn targets) as
plain values. ACK's MetricAlarm never records the alarm's ARN in its status, only the account, region and partition
it synced it in: the ARN is made from those and the name, as AWS makes it. Outputs are mode boto3's: arn and name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..aws.cloudwatch_alarm import request
from ..naming import EnvironmentRef
from ..plan.types import Desired
from .resource import AckClient, AckKind, arn

KIND = "cloudwatch.alarm"
FIELDS = {"AlarmName": "name"}  # the others are the request's names, first letter lower-cased (oKActions)


def field_names(value: Any) -> Any:
    """A put_metric_alarm value with the CRD's field names, at every depth."""
    if isinstance(value, Mapping):
        return {FIELDS.get(k, k[:1].lower() + k[1:]): field_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [field_names(v) for v in value]
    return value


def alarm_arn(obj: Mapping[str, Any]) -> str | None:
    """The alarm's ARN: the status's, else arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>."""
    meta = (obj.get("status") or {}).get("ackResourceMetadata") or {}
    name = (obj.get("spec") or {}).get("name")
    if arn(obj) or not (name and meta.get("ownerAccountID") and meta.get("region")):
        return arn(obj)
    return f"arn:{meta.get('partition') or 'aws'}:cloudwatch:{meta['region']}:{meta['ownerAccountID']}:alarm:{name}"


class CloudWatchAlarms(AckClient):
    KIND = AckKind("cloudwatch", "MetricAlarm")

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        spec: dict[str, Any] = field_names(request(desired))
        spec["tags"] = [{"key": k, "value": v} for k, v in desired.tags.items()]
        return spec

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        return None if alarm_arn(obj) else "synced, but without the account it is in yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"arn": alarm_arn(obj), "name": (obj.get("spec") or {}).get("name")}
