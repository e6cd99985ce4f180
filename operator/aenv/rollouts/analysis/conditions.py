"""Conditions as CEL expressions over `result`, evaluated with cel-python (see base.py for the language and the
functions added). Imported at the first evaluation, so an operator whose rollouts measure nothing never loads it."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from .base import ConditionError, Result


def _is_nan(x: Any) -> celtypes.BoolType:
    return celtypes.BoolType(isinstance(x, celtypes.DoubleType | float) and math.isnan(float(x)))


def _is_inf(x: Any) -> celtypes.BoolType:
    return celtypes.BoolType(isinstance(x, celtypes.DoubleType | float) and math.isinf(float(x)))


_FUNCTIONS: dict[str, Callable[..., Any]] = {"isNaN": _is_nan, "isInf": _is_inf}
_compile_lock = threading.Lock()
_environment = celpy.Environment()


@lru_cache(maxsize=512)
def _program(expression: str) -> celpy.Runner:
    """The compiled program for an expression (raises CELParseError). Compiled once per expression."""
    with _compile_lock:  # the lark parser is shared: one compilation at a time
        return _environment.program(_environment.compile(expression), functions=_FUNCTIONS)


class _Number(celtypes.DoubleType):
    """A measured number that may also be written `result[0]`, as Argo Rollouts users write for a
    Prometheus vector of one sample."""

    def __getitem__(self, index: Any) -> _Number:
        if int(index) == 0:
            return self
        raise IndexError(f"index {index} is out of range: result is one number")


def _to_cel(result: Result) -> Any:
    if isinstance(result, float):
        return _Number(result)
    return json_to_cel(result)  # type: ignore[arg-type]


_OPERATORS = {"relation_eq": "==", "relation_ne": "!=", "relation_lt": "<", "relation_le": "<=",
              "relation_gt": ">", "relation_ge": ">=", "addition_add": "+", "addition_sub": "-",
              "multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"}
_OVERLOAD = re.compile(r"no matching overload for Token\('RULE', '(\w+)'\) applied to '\((.*)\)'")


def _kind(value_or_class: Any) -> str:
    """The CEL name of a value's type (or of a class named in a celpy message)."""
    name = value_or_class if isinstance(value_or_class, str) else type(value_or_class).__name__
    name = name.rsplit(".", 1)[-1]
    for cel_name, names in (("double", ("DoubleType", "_Number", "float")), ("int", ("IntType", "int")),
                            ("uint", ("UintType",)), ("bool", ("BoolType", "bool")),
                            ("string", ("StringType", "str")), ("list", ("ListType", "list")),
                            ("map", ("MapType", "dict")), ("null", ("NoneType",))):
        if name in names:
            return cel_name
    return name


def _eval_message(error: CELEvalError) -> str:
    text = str(error.args[0]) if error.args else type(error).__name__
    overload = _OVERLOAD.search(text)
    if overload:
        op = _OPERATORS.get(overload.group(1), overload.group(1))
        kinds = [_kind(c) for c in re.findall(r"<class '([\w.]+)'>", overload.group(2))]
        text = f"{op} does not apply to {' and '.join(kinds)}"
        if "double" in kinds and "int" in kinds:
            text += ("; CEL compares a double only with a double: a measured number is a double, so compare it "
                     "with a double literal such as 1.0")
        return text
    # celpy names its Python classes: "_Number(0.5) with type: '<class '...DoubleType'>'" -> "0.5 (a double)"
    text = re.sub(r"(\w+)\(([^()]*)\) with type: '<class '([\w.]+)'>'", lambda m: f"{m[2]} (a {_kind(m[3])})", text)
    text = re.sub(r"<class '([\w.]+)'>", lambda m: _kind(m[1]), text)
    details = error.args[2] if len(error.args) > 2 and isinstance(error.args[2], tuple) else ()
    if details and " " not in text:  # a bare code such as "invalid_argument": the details say more
        text = f"{text}: {'; '.join(str(d) for d in details)}"
    # "undeclared reference to 'x' (in activation ...)" goes on to print the whole activation: cut it.
    text = text.split(" (in activation", 1)[0]
    return text


def holds(name: str, expression: str, result: Result) -> bool:
    """Evaluate one condition over `result`. Raises ConditionError naming the condition and the expression."""
    try:
        program = _program(expression)
    except CELParseError as e:
        where = f" at column {e.column}" if getattr(e, "column", None) else ""
        raise ConditionError(f"{name} {expression!r} is not a valid CEL expression{where}") from None
    try:
        value = program.evaluate({"result": _to_cel(result)})
    except CELEvalError as e:
        raise ConditionError(f"{name} {expression!r} cannot be evaluated: {_eval_message(e)}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as e:
        raise ConditionError(f"{name} {expression!r} cannot be evaluated: {e}") from None
    if isinstance(value, CELEvalError):
        raise ConditionError(f"{name} {expression!r} cannot be evaluated: {_eval_message(value)}")
    if not isinstance(value, celtypes.BoolType | bool):
        raise ConditionError(f"{name} {expression!r} must be true or false, but gives a {_kind(value)}")
    return bool(value)
