"""Hypothesis strategies for AnalyticsEnvironment specs, built from the CRD's OpenAPI v3 schema.

Valid specs follow every keyword of the schema, its CEL rules (`x-kubernetes-validations`, evaluated with celpy) and
the cross-field rules of the pydantic models, and lean to the odd: extreme lengths, empty lists, every enum value,
unicode wherever no pattern forbids it. Invalid specs are a valid one with one thing broken, and carry the path of
the field they break: the API server's refusal must name it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from hypothesis import assume
from hypothesis import strategies as st

from aenv.api import crd
from aenv.api.spec import ENVIRONMENT_NAME_MAX

Schema = Mapping[str, Any]
Path = tuple[str | int, ...]
Strategy = st.SearchStrategy[Any]

# Strings without a pattern: any character JSON and UTF-8 carry (no lone surrogates), often far from ASCII.
TEXT = st.characters(exclude_categories=("Cs",))
ODD_CHARACTERS = "aé中🙂 \t\\\"'$"
SHORT_TEXT = 48  # strings without a pattern are drawn this long at most, or else exactly as long as the schema allows
UNKNOWN_FIELD = "unknownField"
REQUEST_BYTES = 2 * 1024 * 1024  # under the API server's 3 MiB limit on a request body, with room for the rest
_EXACTLY_ONE = re.compile(r"^\(has\(self\.\w+\) \? 1 : 0\)( \+ \(has\(self\.\w+\) \? 1 : 0\))* == 1$")
_ONE_OF_TWO = re.compile(r"^has\(self\.(\w+)\) != has\(self\.(\w+)\)$")
_HAS = re.compile(r"has\(self\.(\w+)\)")
_CEL = celpy.Environment()
# By the id of a schema node (kept alive with it): built once per node, not at each draw.
_RULES: dict[int, tuple[Schema, list[Rule]]] = {}
_VALID: dict[tuple[int, str | None], tuple[Schema, Strategy]] = {}


@functools.cache
def spec_schema() -> Schema:
    """The CRD's schema of `spec`, as the API server gets it."""
    root: Schema = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: Schema = root["properties"]["spec"]
    return spec


def path_text(path: Path) -> str:
    """spec.queues[0].name, as the API server writes a field's path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(frozen=True)
class Rule:
    """One CEL rule of a node (transition rules, which need oldSelf, are left out: they apply on update only)."""

    rule: str
    message: str
    field_path: str | None
    program: celpy.Runner

    def verdict(self, value: Any) -> bool | None:
        """The rule's value for `value`; None where celpy cannot tell (it fails on some rules the API server
        evaluates, such as has() on a comprehension's variable)."""
        try:
            return bool(self.program.evaluate({"self": json_to_cel(value)}) == celpy.celtypes.BoolType(True))
        except celpy.CELEvalError:
            return None

    def holds(self, value: Any) -> bool:
        return self.verdict(value) is True

    def group(self) -> list[str] | None:
        """The fields of which exactly one must be set, when the rule says that and no more."""
        if _EXACTLY_ONE.match(self.rule):
            return _HAS.findall(self.rule)
        if m := _ONE_OF_TWO.match(self.rule):
            return [m.group(1), m.group(2)]
        return None


def rules_of(node: Schema) -> list[Rule]:
    if id(node) not in _RULES:
        _RULES[id(node)] = (node, _compiled(node))
    return _RULES[id(node)][1]


def _compiled(node: Schema) -> list[Rule]:
    return [Rule(r["rule"], r["message"], r.get("fieldPath"), _CEL.program(_CEL.compile(r["rule"])))
            for r in node.get("x-kubernetes-validations", []) if "oldSelf" not in r["rule"]]


def odd_text(length: int) -> str:
    return (ODD_CHARACTERS * (length // len(ODD_CHARACTERS) + 1))[:length]


def valid(node: Schema, skip: Rule | None = None) -> Strategy:
    """Values `node` admits, every CEL rule of its own holding (but `skip`) and of every node below it."""
    key = (id(node), skip.rule if skip else None)
    if key not in _VALID:
        _VALID[key] = (node, _valid(node, skip))
    return _VALID[key][1]


def _valid(node: Schema, skip: Rule | None) -> Strategy:
    rules = [r for r in rules_of(node) if r != skip]
    groups = [g for r in rules if (g := r.group())]
    strategy = _valid_shape(node, groups)
    rest = [r for r in rules if not r.group()]
    return strategy.filter(lambda v: all(r.holds(v) for r in rest)) if rest else strategy


def _valid_shape(node: Schema, groups: list[list[str]]) -> Strategy:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node["type"]
    if kind == "object":
        return _object(node, groups)
    if kind == "array":
        items = valid(node["items"])
        size = {"min_size": node.get("minItems", 0), "max_size": node.get("maxItems")}
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            return st.lists(items, unique_by=lambda item: tuple(item.get(k) for k in keys), **size)
        return st.lists(items, unique=node.get("x-kubernetes-list-type") == "set", **size)
    if kind == "string":
        return _string(node)
    if kind == "integer":
        low, high = node.get("minimum", -(2**31)), node.get("maximum", 2**31 - 1)
        return st.one_of(st.sampled_from([low, high]), st.integers(low, high))
    if kind == "number":
        low, high = node.get("minimum", -1e9), node.get("maximum", 1e9)
        return st.one_of(st.sampled_from([low, high]), st.floats(low, high, allow_nan=False))
    if kind == "boolean":
        return st.booleans()
    raise ValueError(f"no strategy for a schema of type {kind}")


def _string(node: Schema) -> Strategy:
    low, high = node.get("minLength", 0), node.get("maxLength", 256)
    if node.get("format") == "date-time":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31),
                            timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z"))
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.one_of(st.text(TEXT, min_size=low, max_size=min(high, SHORT_TEXT)), st.just(odd_text(high)))


@st.composite
def _object(draw: st.DrawFn, node: Schema, groups: list[list[str]]) -> dict[str, Any]:
    props: Mapping[str, Schema] = node.get("properties", {})
    required = set(node.get("required", []))
    grouped = {f for g in groups for f in g}
    out: dict[str, Any] = {}
    for group in groups:
        chosen = draw(st.sampled_from(group))
        out[chosen] = draw(valid(props[chosen]))
    for key, sub in props.items():
        if key not in grouped and (key in required or draw(st.booleans())):
            out[key] = draw(valid(sub))
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        out.update(draw(st.dictionaries(st.text(TEXT, max_size=SHORT_TEXT), valid(extra),
                                        max_size=node.get("maxProperties", 8))))
    return out


# The cross-field rules (the spec's own CEL rules and the pydantic models' validators): names that refer to other
# parts of the spec are drawn from what the spec has.
@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    schema = spec_schema()
    spec: dict[str, Any] = draw(_object(schema, []))
    queues = spec.get("queues", [])
    workloads = [w["name"] for w in spec.get("workloads", [])]
    names = [q["name"] for q in queues] + [t["name"] for t in spec.get("topics", [])]
    names += [s for s in ("cache", "database", "gateway", "secrets") if s in spec]
    for w in spec.get("workloads", []):
        if "uses" in w:
            w["uses"] = [draw(st.sampled_from(names)) for _ in w["uses"]] if names else []
    for t in spec.get("topics", []):
        fitting = [q["name"] for q in queues if q.get("fifo", False) == t.get("fifo", False)]
        if "subscribers" in t:
            t["subscribers"] = draw(st.permutations(fitting))[: len(t["subscribers"])]
    migrations = spec.get("database", {}).get("migrations", {})
    if "job" in migrations:
        if workloads:
            migrations["job"]["workload"] = draw(st.sampled_from(workloads))
        else:
            spec["database"]["migrations"] = {"configMap": {"name": "migrations"}}
    if "workload" in spec.get("gateway", {}):
        if workloads:
            spec["gateway"]["workload"] = draw(st.sampled_from(workloads))
        else:
            del spec["gateway"]["workload"]
    if "ttl" in spec and "expiresAt" in spec:
        del spec[draw(st.sampled_from(["ttl", "expiresAt"]))]
    if spec["tier"] == "prod" and ("ttl" in spec or "expiresAt" in spec):
        spec["allowProdExpiry"] = True
    targets = spec.get("monitoring", {}).get("notificationTargets", [])
    seen: set[str] = set()
    for target in targets:
        if target.get("name") in seen:
            target["name"] = f"{target['name'][:30]}-{len(seen)}"
        seen.add(target.get("name", ""))
    assert all(r.holds(spec) for r in rules_of(schema)), spec
    return spec


@st.composite
def environment_names(draw: st.DrawFn, min_length: int = 1, max_length: int = ENVIRONMENT_NAME_MAX) -> str:
    """DNS subdomains, often at the extremes: one character, or as long as the CRD allows."""
    extremes = [n for n in (1, 2, 63, 64, max_length) if min_length <= n <= max_length]
    length = draw(st.one_of(st.sampled_from(extremes), st.integers(min_length, max_length)))
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    middle = draw(st.text(alnum + "-.", min_size=max(length - 2, 0), max_size=max(length - 2, 0)))
    middle = re.sub(r"\.[-.]+|[-.]+\.", "-", middle)  # labels start and end with a letter or a digit
    ends = draw(st.text(alnum, min_size=2, max_size=2))
    name = (ends[0] + middle + ends[1])[:length] if length > 1 else ends[0]
    return name.ljust(length, "z")


@dataclass(frozen=True)
class Invalid:
    """A spec (and name) with one thing broken; `path` is the field the API server's refusal must name."""

    name: str
    spec: dict[str, Any]
    path: str
    broken: str  # what was broken, e.g. "maximum" or "rule: set exactly one of configMap or job"


def sites(value: Any, node: Schema, path: Path = ("spec",)) -> list[tuple[Path, Schema, Any]]:
    """Every value in `value` with its schema and its path."""
    out = [(path, node, value)]
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in node.get("properties", {}):
                out += sites(sub, node["properties"][key], (*path, key))
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            out += sites(item, node["items"], (*path, i))
    return out


def _set(spec: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of spec with the value at path (below spec) replaced; a value of None removes the key."""
    if len(path) == 1:
        return value  # type: ignore[no-any-return]
    out = _copy(spec)
    parent: Any = out
    for part in path[1:-1]:
        parent = parent[part]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class Breaker:
    """One way to break a value, from its schema: `applies` says where it can, `apply` returns the broken spec, the
    path the refusal must name and what was broken."""

    def __init__(self, what: str, applies: Callable[[Schema, Any], bool],
                 apply: Callable[[st.DrawFn, dict[str, Any], Path, Schema, Any], tuple[dict[str, Any], str]]) -> None:
        self.what, self.applies, self.apply = what, applies, apply

    def __repr__(self) -> str:
        return self.what


_OTHER_TYPE = {"string": 12345, "integer": "x", "number": "x", "boolean": "yes", "object": ["x"], "array": "x"}
# ASCII and a few letters off patterns: Go's and Python's \s differ beyond ASCII.
_OFF_PATTERN = st.characters(codec="ascii", exclude_categories=("Cc",)) | st.sampled_from("é中")


def _off_pattern(draw: st.DrawFn, spec: dict[str, Any], path: Path, node: Schema, value: Any) -> tuple[Any, str]:
    pattern = re.compile(node["pattern"])
    bad = draw(st.text(_OFF_PATTERN, max_size=min(node.get("maxLength", 64), 24)).filter(
        lambda s: not pattern.fullmatch(s)))
    return _set(spec, path, bad), path_text(path)


def _out_of_range(draw: st.DrawFn, spec: dict[str, Any], path: Path, node: Schema, value: Any) -> tuple[Any, str]:
    which = draw(st.sampled_from([k for k in ("minimum", "maximum") if k in node]))
    step = 1 if node["type"] == "integer" else 0.5
    return _set(spec, path, node[which] - step if which == "minimum" else node[which] + step), path_text(path)


def _too_many(draw: st.DrawFn, spec: dict[str, Any], path: Path, node: Schema, value: Any) -> tuple[Any, str]:
    item = min(value, key=lambda v: len(json.dumps(v))) if value else draw(valid(node["items"]))
    return _set(spec, path, [_copy(item) for _ in range(node["maxItems"] + 1)]), path_text(path)


def _missing(draw: st.DrawFn, spec: dict[str, Any], path: Path, node: Schema, value: Any) -> tuple[Any, str]:
    key = draw(st.sampled_from(node["required"]))
    return _set(spec, path, {k: v for k, v in value.items() if k != key}), path_text((*path, key))


def _breaks_rule(draw: st.DrawFn, spec: dict[str, Any], path: Path, node: Schema, value: Any) -> tuple[Any, str]:
    """A value the node's schema admits but one of its CEL rules refuses."""
    rule = draw(st.sampled_from(rules_of(node)))
    bad = draw(valid(node, skip=rule).filter(lambda v: rule.verdict(v) is False))
    return _set(spec, path, bad), path_text(path) + (rule.field_path or "")


def _is(kind: str) -> Callable[[Schema, Any], bool]:
    return lambda node, _: node.get("type") == kind


GENERIC: Sequence[Breaker] = (
    Breaker("type", lambda node, _: True, lambda d, s, p, n, v: (_set(s, p, _OTHER_TYPE[n["type"]]), path_text(p))),
    Breaker("enum", lambda node, _: "enum" in node, lambda d, s, p, n, v: (_set(s, p, d(st.text(
        TEXT, min_size=1, max_size=12).filter(lambda x: x not in n["enum"]))), path_text(p))),
    Breaker("pattern", lambda node, _: "pattern" in node, _off_pattern),
    Breaker("range", lambda node, _: node.get("type") in ("integer", "number") and ("minimum" in node or
                                                                                      "maximum" in node),
            _out_of_range),
    Breaker("maxLength", lambda node, _: node.get("type") == "string" and "maxLength" in node,
            lambda d, s, p, n, v: (_set(s, p, "a" * (n["maxLength"] + 1)), path_text(p))),
    Breaker("minLength", lambda node, _: node.get("type") == "string" and node.get("minLength", 0) > 0,
            lambda d, s, p, n, v: (_set(s, p, ""), path_text(p))),
    Breaker("minItems", lambda node, _: node.get("type") == "array" and node.get("minItems", 0) > 0,
            lambda d, s, p, n, v: (_set(s, p, []), path_text(p))),
    Breaker("maxItems", lambda node, _: node.get("type") == "array" and "maxItems" in node, _too_many),
    Breaker("unknown field", lambda node, _: node.get("type") == "object" and "properties" in node,
            lambda d, s, p, n, v: (_set(s, p, {**v, UNKNOWN_FIELD: "x"}), f"{path_text(p)}.{UNKNOWN_FIELD}")),
    Breaker("required", lambda node, _: node.get("type") == "object" and bool(node.get("required")), _missing),
    Breaker("duplicate", lambda node, value: node.get("x-kubernetes-list-type") in ("map", "set") and bool(value)
            and len(value) < node.get("maxItems", 1000),
            lambda d, s, p, n, v: (_set(s, p, [*v, _copy(v[0])]), path_text((*p, len(v))))),
    Breaker("rule", lambda node, _: bool(rules_of(node)), _breaks_rule),
)


def _with(spec: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {**_copy(spec), **sections}


def _queue(name: str, fifo: bool = False) -> dict[str, Any]:
    return {"name": name, "fifo": fifo}


# The pydantic models' cross-field validators, one broken each: (what, spec -> (spec, path)).
_CROSS_FIELD: Sequence[tuple[str, Callable[[dict[str, Any]], tuple[dict[str, Any], str]]]] = (
    ("a workload uses what the spec lacks", lambda s: (_with(s, workloads=[
        {"name": "w", "image": "i", "uses": ["nowhere"]}]), "spec.workloads")),
    ("a topic's subscriber is no queue", lambda s: (_with(s, queues=[_queue("q")], topics=[
        {"name": "t", "subscribers": ["nowhere"]}]), "spec.topics")),
    ("a FIFO topic's subscriber is a standard queue", lambda s: (_with(s, queues=[_queue("q")], topics=[
        {"name": "t", "fifo": True, "subscribers": ["q"]}]), "spec.topics")),
    ("the migration job's workload is no workload", lambda s: (_with(s, workloads=[], database={
        "migrations": {"job": {"workload": "nowhere", "command": ["migrate"]}}}),
        "spec.database.migrations.job.workload")),
    ("the gateway's workload is no workload", lambda s: (_with(s, workloads=[], gateway={"workload": "nowhere"}),
                                                         "spec.gateway.workload")),
    ("both ttl and expiresAt", lambda s: (_with(s, ttl="1h", expiresAt="2999-01-01T00:00:00Z"), "spec.expiresAt")),
    ("a prod environment expires without allowProdExpiry", lambda s: (
        {**{k: v for k, v in _copy(s).items() if k not in ("expiresAt", "allowProdExpiry")},
         "tier": "prod", "ttl": "1h"}, "spec.allowProdExpiry")),
    ("a queue named like a dead-letter queue", lambda s: (_with(s, queues=[_queue("events-dlq")]),
                                                          "spec.queues[0].name")),
    ("a ttl longer than 90 days", lambda s: (_with(s, ttl="2161h"), "spec.ttl")),
    ("a ttl of zero", lambda s: (_with(s, ttl="0s"), "spec.ttl")),
    ("two notification targets of one name", lambda s: (_with(s, monitoring={"notificationTargets": [
        {"name": "ops", "email": "a@example.com"}, {"name": "ops", "email": "b@example.com"}]}),
        "spec.monitoring.notificationTargets")),
)


@st.composite
def invalid_specs(draw: st.DrawFn) -> Invalid:
    """A valid spec and name with one thing broken: a keyword of the schema at a drawn field, a CEL rule of a drawn
    object (the spec's own rules are the cross-field ones), a cross-field rule, or the name's length."""
    name = draw(environment_names())
    kind = draw(st.sampled_from([*GENERIC, "cross-field", "name"]))
    if kind == "name":
        long = draw(environment_names(ENVIRONMENT_NAME_MAX + 1, 253))
        return Invalid(long, draw(valid_specs()), "metadata.name", "name length")
    if kind == "cross-field":
        what, breaker = draw(st.sampled_from(_CROSS_FIELD))
        broken, path = breaker(draw(valid_specs()))
        return Invalid(name, broken, path, what)
    assert isinstance(kind, Breaker)

    def found(spec: dict[str, Any]) -> list[tuple[Path, Schema, Any]]:
        return [(p, n, v) for p, n, v in sites(spec, spec_schema())
                if kind.applies(n, v) and not (kind.what == "rule" and len(p) == 1)]

    spec = draw(valid_specs().filter(lambda s: bool(found(s))))
    path, node, value = draw(st.sampled_from(found(spec)))
    broken, where = kind.apply(draw, spec, path, node, value)
    # The API server reads no request body over 3 MiB: it answers 413 without looking at a field.
    assume(len(json.dumps(broken).encode()) < REQUEST_BYTES)
    return Invalid(name, broken, where, kind.what)
