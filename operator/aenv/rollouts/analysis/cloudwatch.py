"""CloudWatch: GetMetricData for the metric's namespace, name, dimensions and statistic, over the last period.

`result` is the most recent datapoint in [now - periodSeconds, now], a double. No datapoint in that window
is "inconclusive" (not an error: a metric that is only published when something happens, such as an error
count, has no datapoint in a quiet period). Metrics reach CloudWatch a minute or more after the fact, so a
period of a few minutes finds data far more reliably than 60s.

The client is built for analysis: one attempt, connect and read timeouts of half the provider's timeout
each, so a measurement never outlasts the timeout; a throttled or failed call is an "error" measurement,
and the engine's consecutiveErrorLimit, not a retry loop, decides what that means. AWS_ENDPOINT_URL applies.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...api.rollout import Metric
from ...aws import session
from ...aws.errors import classify
from .base import DEFAULT_TIMEOUT_SECONDS, MetricMeasurement, error, judge


@lru_cache(maxsize=16)
def _client(region: str, timeout_seconds: float) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 1},
                    connect_timeout=timeout_seconds / 2, read_timeout=timeout_seconds / 2)
    return session.make("cloudwatch", region, None, config)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class CloudWatchProvider:
    def __init__(self, region: str | None = None, *, client: Any = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        """`client`: a boto3 CloudWatch client to use instead of aenv's own (tests point one at moto)."""
        self.region = region or default_region()
        self.timeout_seconds = timeout_seconds
        self._given = client

    @property
    def client(self) -> Any:
        return self._given if self._given is not None else _client(self.region, self.timeout_seconds)

    def measure(self, metric: Metric, now: datetime) -> MetricMeasurement:
        cw = metric.cloudwatch
        if cw is None:
            raise ValueError(f"metric {metric.name} has no cloudwatch query")
        start = now - timedelta(seconds=cw.period_seconds)
        what = f"{cw.namespace} {cw.metric_name} {cw.statistic}/{cw.period_seconds}s"
        query = {
            "Id": "m0",
            "MetricStat": {
                "Metric": {"Namespace": cw.namespace, "MetricName": cw.metric_name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(cw.dimensions.items())]},
                "Period": cw.period_seconds,
                "Stat": cw.statistic,
            },
            "ReturnData": True,
        }
        try:
            reply = self.client.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=now,
                                                ScanBy="TimestampDescending")
        except (ClientError, BotoCoreError) as e:
            return error(f"cloudwatch: GetMetricData for {what} failed: {classify(e)}")
        results = reply.get("MetricDataResults") or []
        found = next((r for r in results if r.get("Id") == "m0"), None)
        if found is None:
            return error(f"cloudwatch: GetMetricData returned no result for {what}")
        if found.get("StatusCode") == "InternalError":
            why = "; ".join(m.get("Value", "") for m in found.get("Messages", [])) or "InternalError"
            return error(f"cloudwatch: {what}: {why}")
        points = list(zip(found.get("Timestamps", []), found.get("Values", []), strict=False))
        if not points:
            return MetricMeasurement("inconclusive", None,
                               f"cloudwatch: no datapoints for {what} between {start.isoformat()} and "
                               f"{now.isoformat()}")
        _at, value = max(points, key=lambda p: p[0])
        return judge(metric, float(value), "cloudwatch")
