"""Prometheus: an instant query, GET {address}/api/v1/query?query=...&time=now.

What the conditions see as `result`:
    a scalar, or a vector of one sample     a double (`result < 0.01`; `result[0]` works too, as in Argo)
    a vector of several samples             a list of doubles, in Prometheus's order
    an empty vector                         an empty list, as Argo Rollouts does: a condition that handles
                                            it (`size(result) == 0 || result[0] < 0.01`) decides; one that
                                            cannot be evaluated over it gives an "error" measurement saying
                                            the query returned no data, so the engine counts it against
                                            consecutiveErrorLimit (a query that matches nothing is far more
                                            often a wrong query or a missing scrape than a healthy zero)
    a range vector (matrix) or a string     an error: ask for an instant vector
NaN and ±Inf samples reach the conditions as they are (`isNaN(result)` tests for NaN).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ...api.rollout import Metric
from .base import (
    DEFAULT_TIMEOUT_SECONDS,
    MeasurementError,
    MetricMeasurement,
    Result,
    error,
    judge,
)
from .http import get_json


class PrometheusProvider:
    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds

    def measure(self, metric: Metric, now: datetime) -> MetricMeasurement:
        if metric.prometheus is None:
            raise ValueError(f"metric {metric.name} has no prometheus query")
        try:
            result = self.query(metric.prometheus.address, metric.prometheus.query, now)
        except MeasurementError as e:
            return error(f"prometheus: {e}")
        measured = judge(metric, result, "prometheus")
        if measured.phase == "error" and isinstance(result, list) and not result:
            return error(f"prometheus: the query returned no data (an empty vector), and {measured.message}; "
                         "to accept no data, test size(result) == 0 in the condition")
        return measured

    def query(self, address: str, query: str, now: datetime) -> Result:
        """The instant query's value at `now`: a float, or a list of floats for a vector of 0 or >1 samples."""
        # Prometheus stops evaluating at its own `timeout`; ours bounds the whole HTTP exchange.
        params = urlencode({"query": query, "time": f"{now.timestamp():.3f}",
                            "timeout": f"{max(1, int(self.timeout_seconds))}s"})
        status, reply = get_json(f"{address.rstrip('/')}/api/v1/query?{params}", self.timeout_seconds)
        if not isinstance(reply, dict):
            raise MeasurementError(f"HTTP {status}: the reply is not a Prometheus API response")
        if reply.get("status") != "success":
            kind, why = reply.get("errorType", f"HTTP {status}"), reply.get("error", "no error message")
            raise MeasurementError(f"query failed ({kind}): {why}")
        return _value(reply.get("data"))


def _sample(pair: Any) -> float:
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
        raise MeasurementError(f"a sample is not [time, \"value\"]: {pair!r:.100}")
    try:
        return float(pair[1])  # "NaN", "+Inf" and "-Inf" parse too
    except ValueError:
        raise MeasurementError(f"a sample value is not a number: {pair[1]!r:.100}") from None


def _value(data: Any) -> Result:
    if not isinstance(data, dict):
        raise MeasurementError("the reply has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample(result)
    if kind == "vector" and isinstance(result, list):
        values = [_sample(s.get("value") if isinstance(s, dict) else None) for s in result]
        return values[0] if len(values) == 1 else values
    if kind == "matrix":
        raise MeasurementError("the query returned a range vector: write a query that returns one instant value")
    raise MeasurementError(f"the query returned a {kind}, not a number")
