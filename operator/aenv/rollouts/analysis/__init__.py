"""Analysis providers: one module per metric source, each behind AnalysisProvider.measure(metric, now)."""

from __future__ import annotations

from ...api.rollout import Metric
from .base import (
    DEFAULT_TIMEOUT_SECONDS,
    AnalysisProvider,
    ConditionError,
    MeasurementError,
    MetricMeasurement,
    Phase,
    Result,
    condition_holds,
    evaluate,
    judge,
)
from .cloudwatch import CloudWatchProvider
from .prometheus import PrometheusProvider
from .web import WebProvider


def provider_for(metric: Metric, *, region: str | None = None) -> AnalysisProvider:
    """The provider for the metric's source. `region`: the AWS region CloudWatch metrics are read in (the
    environment's spec.aws.region); without it AWS_REGION, AWS_DEFAULT_REGION, then us-east-1."""
    if metric.prometheus is not None:
        return PrometheusProvider()
    if metric.cloudwatch is not None:
        return CloudWatchProvider(region)
    if metric.web is not None:
        return WebProvider()
    raise ValueError(f"metric {metric.name} names no provider")


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "AnalysisProvider",
    "CloudWatchProvider",
    "ConditionError",
    "MeasurementError",
    "MetricMeasurement",
    "Phase",
    "PrometheusProvider",
    "Result",
    "WebProvider",
    "condition_holds",
    "evaluate",
    "judge",
    "provider_for",
]
