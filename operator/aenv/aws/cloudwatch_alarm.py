"""CloudWatch metric alarms (kind cloudwatch.alarm), built from the thresholds in plan/monitoring.py.

A queue alarm watches one metric of the queue named by the queue's ARN. A cache alarm watches the highest value
of any node of the replication group (metric math MAX over the nodes <group>-001, -002...: ElastiCache publishes
per node, and an alarm cannot search). put_metric_alarm is an upsert, so drift is corrected by putting the
whole alarm again; every field can change in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .tagging import release_by_arn, retag_by_arn, tags_by_arn, tags_drifted, tags_or_ask

KIND = "cloudwatch.alarm"


def request(desired: Desired) -> dict[str, Any]:
    """The put_metric_alarm arguments for the desired alarm, without tags."""
    p = desired.params
    actions = sorted({p["topic_arn"], *p["extra_actions"]})
    req: dict[str, Any] = {
        "AlarmName": desired.name, "AlarmDescription": p["description"], "ActionsEnabled": True,
        "AlarmActions": actions, "OKActions": actions, "ComparisonOperator": p["comparison"],
        "Threshold": float(p["threshold"]), "EvaluationPeriods": p["evaluation_periods"],
        "DatapointsToAlarm": p["datapoints_to_alarm"], "TreatMissingData": p["treat_missing_data"],
    }
    if "queue_arn" in p:
        queue = p["queue_arn"].rsplit(":", 1)[-1]
        req |= {"Namespace": p["namespace"], "MetricName": p["metric"], "Statistic": p["statistic"],
                "Period": p["period"], "Dimensions": [{"Name": "QueueName", "Value": queue}]}
    else:
        nodes = [f"{p['replication_group_id']}-{i:03d}" for i in range(1, p["cache_nodes"] + 1)]
        metrics: list[dict[str, Any]] = [
            {"Id": f"node{i}", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": p["namespace"], "MetricName": p["metric"],
                           "Dimensions": [{"Name": "CacheClusterId", "Value": node}]},
                "Period": p["period"], "Stat": p["statistic"]}}
            for i, node in enumerate(nodes, 1)]
        ids = ",".join(m["Id"] for m in metrics)
        metrics.append({"Id": "highest", "Expression": f"MAX([{ids}])", "Label": f"{p['metric']} (highest node)",
                        "ReturnData": True})
        req["Metrics"] = metrics
    return req


def _seen(observed: Any, wanted: Any) -> Any:
    """The part of an observed value that aenv sets: AWS may add fields to what it was given."""
    if isinstance(wanted, Mapping) and isinstance(observed, Mapping):
        return {k: _seen(observed.get(k), v) for k, v in wanted.items()}
    if isinstance(wanted, list) and isinstance(observed, list) and len(wanted) == len(observed):
        return [_seen(o, w) for o, w in zip(observed, wanted, strict=True)]
    return observed


def _normal(key: str, value: Any) -> Any:
    if key in ("AlarmActions", "OKActions") and isinstance(value, list):
        return sorted(value)
    return value


class CloudWatchAlarms(Classified):
    """One paginated DescribeAlarms (prefix aenv-) and one tagging-API listing per interval for every alarm."""

    def __init__(self, target: AwsTarget) -> None:
        self.cw = session.client("cloudwatch", target.region, target.endpoint)
        self.alarms = Listing(self._list)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint),
                                "cloudwatch:alarm")

    def _list(self) -> dict[str, dict[str, Any]]:
        out = {}
        for page in self.cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix="aenv-",
                                                                      AlarmTypes=["MetricAlarm"]):
            for alarm in page.get("MetricAlarms", []):
                out[alarm["AlarmName"]] = alarm
        return out

    def _describe(self, name: str) -> dict[str, Any] | None:
        """One alarm, read now: before creating (never overwrite an alarm made since the listing) and after
        writing (put_metric_alarm returns nothing)."""
        alarms = self.cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
        alarm: dict[str, Any] | None = alarms[0] if alarms else None
        if alarm is None:
            self.alarms.forget(name)
        else:
            self.alarms.put(name, alarm)
        return alarm

    def observe(self, desired: Desired) -> Observation:
        alarm = self.alarms.get(desired.name)
        if alarm is None:
            return Observation.absent()
        arn = alarm["AlarmArn"]
        tags = self._tags(arn)
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            for key, want in request(desired).items():
                got = _seen(alarm.get(key), want)
                if _normal(key, got) != _normal(key, want):
                    diff[key] = (alarm.get(key), want)
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, outputs={"arn": arn, "name": desired.name},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state=alarm.get("StateValue", ""),
        )

    def _tags(self, arn: str) -> dict[str, str]:
        return tags_or_ask(self.tags, arn, lambda: {
            t["Key"]: t["Value"] for t in self.cw.list_tags_for_resource(ResourceARN=arn).get("Tags", [])})

    def create(self, desired: Desired) -> Observation:
        if self._describe(desired.name) is None:
            tags = [{"Key": k, "Value": v} for k, v in desired.tags.items()]
            self.cw.put_metric_alarm(**request(desired), Tags=tags)
            alarm = self._describe(desired.name)
            if alarm is not None:
                self.tags.put(alarm["AlarmArn"], dict(desired.tags))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        arn = observed.outputs["arn"]
        if set(observed.diff) - {"tags"}:
            self.cw.put_metric_alarm(**request(desired))  # tags given here would be ignored on an update
            self._describe(desired.name)
        if "tags" in observed.diff:
            retag_by_arn(self.cw, "ResourceARN", arn, self.tags, observed.diff["tags"][0], desired.tags)
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        arn = observed.outputs["arn"]
        if policy == "Retain":
            release_by_arn(self.cw, "ResourceARN", arn, self.tags)
        else:  # Snapshot: an alarm holds no data to keep
            self.cw.delete_alarms(AlarmNames=[desired.name])
            self.alarms.forget(desired.name)
            self.tags.forget(arn)
