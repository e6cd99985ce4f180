"""Analysis providers: one module per metric source, each behind AnalysisProvider.measure(metric, now)."""

from __future__ import annotations

from collections.abc import Callable

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

# The metric field that selects each provider (api/rollout.py Metric): a new provider is a module and a line here.
# Each is made with the AWS region of the environment (only CloudWatch reads it).
PROVIDERS: dict[str, Callable[[str | None], AnalysisProvider]] = {
    "prometheus": lambda _region: PrometheusProvider(),
    "cloudwatch": CloudWatchProvider,
    "web": lambda _region: WebProvider(),
}


def provider_for(metric: Metric, *, region: str | None = None) -> AnalysisProvider:
    """The provider for the metric's source. `region`: the AWS region CloudWatch metrics are read in (the
    environment's spec.aws.region); without it AWS_REGION, AWS_DEFAULT_REGION, then us-east-1."""
    for field, make in PROVIDERS.items():
        if getattr(metric, field) is not None:
            return make(region)
    raise ValueError(f"metric {metric.name} names no provider")


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "PROVIDERS",
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
