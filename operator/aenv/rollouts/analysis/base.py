"""The analysis provider interface, and how a measured `result` is judged by a metric's conditions.

A provider turns one metric into one MetricMeasurement:

    measure(metric, now) -> MetricMeasurement(phase, value, message)

phase is "successful" | "failed" | "inconclusive" | "error", with Argo Rollouts' meaning:

    failureCondition set and true                   -> failed
    successCondition set: true                      -> successful
                          false, no failureCondition -> failed
    only failureCondition set, and false            -> successful
    both set and neither true                       -> inconclusive
    a query, network or parse problem, or a
    condition that cannot be evaluated              -> error (the engine counts consecutive errors)

Conditions are CEL expressions (the language of Kubernetes CRD validation rules) over one variable, `result`,
evaluated with cel-python; never with Python's eval. `result` is what the provider measured: a double for a
single number (`result < 0.01`), a list for several (`result[0] >= 0.95`, `result.all(x, x < 0.01)`,
`size(result)`), and for the web provider whatever JSON sits at the path. Two functions are added for
Argo users: `isNaN(x)` and `isInf(x)`. CEL does not compare a double with an int using `==` (`result == 0`
is an error when result is a double): write `result == 0.0`.

Nothing a provider does may block longer than its timeout: the web provider's timeoutSeconds, or
DEFAULT_TIMEOUT_SECONDS for Prometheus and CloudWatch (the API has no timeout field for them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeAlias

from ...api.rollout import Metric

Phase = Literal["successful", "failed", "inconclusive", "error"]

# What a provider measured: numbers for Prometheus and CloudWatch, any JSON for the web provider.
Result: TypeAlias = "float | int | bool | str | Sequence[Result] | Mapping[str, Result] | None"

DEFAULT_TIMEOUT_SECONDS = 10.0
MEASUREMENT_MESSAGE_LIMIT = 1024


@dataclass(frozen=True)
class MetricMeasurement:
    """One measurement of a metric. `value` is the measured number when the result is one number (None for a
    vector, a JSON object or an error); `message` says what was measured or what went wrong."""

    phase: Phase
    value: float | None = None
    message: str = ""


class AnalysisProvider(Protocol):
    def measure(self, metric: Metric, now: datetime) -> MetricMeasurement:
        """Query the metric once, within the provider's timeout, and judge the result by its conditions."""
        ...


class MeasurementError(Exception):
    """The query could not be answered: the network, the server, or a reply that cannot be parsed."""


class ConditionError(Exception):
    """A successCondition or failureCondition that does not parse, or cannot be evaluated to true or false."""


def condition_holds(name: str, expression: str, result: Result) -> bool:
    """Evaluate one condition over `result`. Raises ConditionError naming the condition and the expression."""
    from .conditions import holds  # cel-python (6 MB resident) is loaded with the first condition evaluated

    return holds(name, expression, result)


def evaluate(result: Result, success_condition: str | None, failure_condition: str | None) -> Phase:
    """The phase of a measured result, by Argo Rollouts' rules (see the module docstring).
    Raises ConditionError when a condition does not parse or does not give true or false."""
    failed = (condition_holds("failureCondition", failure_condition, result)
              if failure_condition is not None else None)
    succeeded = (condition_holds("successCondition", success_condition, result)
                 if success_condition is not None else None)
    if failed:
        return "failed"
    if succeeded is None:  # only a failureCondition, and it is false (or neither set, as Argo: success)
        return "successful"
    if succeeded:
        return "successful"
    return "failed" if failed is None else "inconclusive"


def describe(result: Result) -> str:
    text = repr(result) if not isinstance(result, float) else f"{result:g}"
    return text if len(text) <= 200 else text[:197] + "..."


def judge(metric: Metric, result: Result, source: str) -> MetricMeasurement:
    """The MetricMeasurement for a result the provider got from `source` (e.g. "prometheus"), by the metric's
    conditions. A condition that cannot be evaluated gives an error measurement naming it."""
    value = float(result) if isinstance(result, int | float) and not isinstance(result, bool) else None
    try:
        phase = evaluate(result, metric.success_condition, metric.failure_condition)
    except ConditionError as e:
        return error(str(e), value)
    return MetricMeasurement(phase, value, f"{source} result {describe(result)}: {phase}"[:MEASUREMENT_MESSAGE_LIMIT])


def error(message: str, value: float | None = None) -> MetricMeasurement:
    return MetricMeasurement("error", value, message[:MEASUREMENT_MESSAGE_LIMIT])
