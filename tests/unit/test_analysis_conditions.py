"""successCondition / failureCondition evaluation: Argo Rollouts' rules, CEL expressions over `result`."""

from __future__ import annotations

import math

import pytest

from aenv.api.rollout import Metric
from aenv.rollouts.analysis import ConditionError, Result, condition_holds, evaluate, judge

S, F = "result < 0.01", "result > 0.05"


@pytest.mark.parametrize(("result", "success", "failure", "phase"), [
    # success only: true -> successful, false -> failed
    (0.001, S, None, "successful"),
    (0.02, S, None, "failed"),
    # failure only: true -> failed, false -> successful
    (0.1, None, F, "failed"),
    (0.02, None, F, "successful"),
    # both: failure wins, success succeeds, neither -> inconclusive
    (0.1, S, F, "failed"),
    (0.001, S, F, "successful"),
    (0.02, S, F, "inconclusive"),
    (0.1, "result > 0.0", "result > 0.05", "failed"),  # both true: failure wins
    # vectors (a Prometheus vector of several samples is a list)
    ([0.97, 0.5], "result[0] >= 0.95", None, "successful"),
    ([0.90, 0.99], "result[0] >= 0.95", None, "failed"),
    ([0.97, 0.96], "result.all(x, x >= 0.95)", None, "successful"),
    ([0.97, 0.94], "result.all(x, x >= 0.95)", "result.exists(x, x < 0.5)", "inconclusive"),
    ([], "size(result) == 0 || result[0] >= 0.95", None, "successful"),
    # a single number may also be indexed as result[0], as Argo users write for a one-sample vector
    (0.97, "result[0] >= 0.95", None, "successful"),
    (0.90, "result[0] >= 0.95", None, "failed"),
    # JSON from the web provider
    ({"status": "ok", "errors": 0}, "result.status == 'ok' && result.errors == 0", None, "successful"),
    ("degraded", "result == 'ok'", None, "failed"),
    (True, "result", None, "successful"),
    (3, "result == 3", None, "successful"),
    # NaN: comparisons are false; isNaN tests for it
    (math.nan, S, None, "failed"),
    (math.nan, "isNaN(result) || result < 0.01", None, "successful"),
    (math.inf, None, "isInf(result)", "failed"),
])
def test_phase(result: Result, success: str | None, failure: str | None, phase: str) -> None:
    assert evaluate(result, success, failure) == phase


def test_neither_condition_is_success() -> None:
    assert evaluate(1.0, None, None) == "successful"


@pytest.mark.parametrize(("success", "failure", "named", "says"), [
    ("result <", None, "successCondition", "is not a valid CEL expression"),
    (None, "result >> 1", "failureCondition", "is not a valid CEL expression"),
    ("errors < 1.0", None, "successCondition", "undeclared reference to 'errors'"),
    ("result + 1.0", None, "successCondition", "must be true or false, but gives a double"),
    (None, "result == 'x'", "failureCondition", "cannot be evaluated"),
    ("result == 1", None, "successCondition", "compare it with a double literal"),
    ("result[1] > 0.0", None, "successCondition", "out of range"),
    ("1 / 0 == 1", None, "successCondition", "divide by zero"),
])
def test_bad_condition_names_it(success: str | None, failure: str | None, named: str, says: str) -> None:
    with pytest.raises(ConditionError) as caught:
        evaluate(0.5, success, failure)
    message = str(caught.value)
    expression = success if success is not None else failure
    assert message.startswith(f"{named} {expression!r}"), message
    assert says in message, message
    assert "activation" not in message and len(message) < 400, message


def test_an_error_in_the_other_condition_is_still_an_error() -> None:
    # A failureCondition that is false does not excuse a successCondition that cannot be evaluated.
    with pytest.raises(ConditionError, match=r"^successCondition"):
        evaluate(0.5, "result.x > 1.0", "result > 0.9")


def test_condition_holds() -> None:
    assert condition_holds("successCondition", "result >= 0.95", 0.96)
    assert not condition_holds("successCondition", "result >= 0.95", 0.94)


def metric(success: str | None = None, failure: str | None = None) -> Metric:
    return Metric.model_validate({"name": "errors", "successCondition": success, "failureCondition": failure,
                                  "web": {"url": "http://127.0.0.1:1/", "jsonPath": "$.v"}})


def test_judge_gives_a_measurement() -> None:
    m = judge(metric(S), 0.001, "test")
    assert (m.phase, m.value) == ("successful", 0.001)
    assert "0.001" in m.message
    vector = judge(metric("result[0] < 0.01"), [0.001, 0.5], "test")
    assert (vector.phase, vector.value) == ("successful", None)


def test_judge_turns_a_bad_condition_into_an_error_measurement() -> None:
    m = judge(metric("result <"), 0.001, "test")
    assert m.phase == "error"
    assert m.value == 0.001
    assert m.message.startswith("successCondition 'result <' is not a valid CEL expression")


def test_no_python_eval() -> None:
    # CEL, not Python: Python builtins are not reachable from a condition.
    with pytest.raises(ConditionError):
        evaluate(0.5, "__import__('os').system('true') == 0", None)
