"""Bad and odd input, the scenario the test (small counts) and benchmarks/reliability_cases/odd_input.py (the full
counts) share: specs generated from the CRD schema (spec_strategies.py) sent to the API server, and a sample of the
valid ones created for real with the operator running.

- Invalid specs: each is refused (server-side dry run) with the path of the field it breaks in the message.
- Valid odd specs: each is accepted (dry run), the models read it and aenv's plan builds from it.
- A sample of them, created: each gets a status (a phase, a Ready condition at its generation) that is not aenv's
  own failure (ReconcileError), or is gone once its own expiry (ttl, expiresAt) is past; the operator stays up
  without an unhandled traceback, and a plain environment created after them still gets Ready.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import ApiException

from aenv.api import GROUP, PLURAL, VERSION, EnvironmentSpec, effective
from aenv.api.duration import parse_duration
from aenv.local.processes import read_pid, wait_for
from aenv.naming import EnvironmentRef
from aenv.plan.environment import desired_resources, requested

from .spec_strategies import Invalid, environment_names, valid_specs

T = TypeVar("T")
STATUS_DEADLINE = 90.0
PLAIN = {"tier": "dev", "aws": {"region": "us-east-1"}, "queues": [{"name": "events"}], "deletionPolicy": "Delete"}
# What the created sample cannot keep from its generated spec, here: the emulator is the only AWS it reaches (no
# endpoint of its own, one region moto serves whole), and no ACK controllers run (mode boto3).
LOCAL_AWS = {"region": "us-east-1", "mode": "boto3"}


class Operator(Protocol):
    pidfile: Path

    def running(self) -> bool: ...

    def log_text(self) -> str: ...


@dataclass
class Tally:
    """How many specs were tried and what went wrong with each that failed, one line each."""

    tried: int = 0
    failures: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def held(self) -> int:
        return self.tried - len(self.failures)


def examples(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples, the same ones at every run (derandomized), drawn before anything is sent anywhere."""
    out: list[T] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: T) -> None:
        out.append(example)

    collect()
    return out


def valid_environments(count: int) -> list[tuple[str, dict[str, Any]]]:
    return examples(st.tuples(environment_names(), valid_specs()), count)


def body(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _create(custom: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, Any],
            dry_run: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body(namespace, name, spec), field_validation="Strict",
        dry_run="All" if dry_run else None)
    return result


def _short(spec: Any) -> str:
    text = json.dumps(spec, ensure_ascii=False)
    return text if len(text) <= 600 else text[:597] + "..."


def invalid_refused(custom: client.CustomObjectsApi, namespace: str, cases: Sequence[Invalid]) -> Tally:
    """Each case refused (422, or 400 for a body the API server cannot read) naming the field it breaks."""
    tally = Tally()
    for case in cases:
        tally.tried += 1
        tally.kinds[case.broken.split(":")[0]] += 1
        try:
            _create(custom, namespace, case.name, case.spec)
        except ApiException as e:
            message = json.loads(e.body).get("message", "") if e.body else ""
            if e.status not in (400, 422) or case.path not in message:
                tally.failures.append(f"{case.broken}: HTTP {e.status} without {case.path}: {message[:400]} "
                                      f"(spec {_short(case.spec)})")
            continue
        tally.failures.append(f"{case.broken}: accepted, {case.path} broken (name {case.name!r}, spec "
                              f"{_short(case.spec)})")
    return tally


def plan_problem(namespace: str, name: str, spec: dict[str, Any]) -> str | None:
    """What keeps aenv from building this spec, found without I/O: the models refuse what the API server took,
    or the plan fails or names one resource twice."""
    try:
        model = effective(EnvironmentSpec.model_validate(spec))
    except ValueError as e:
        return f"the API server accepts what the models refuse: {e}"
    try:
        desired = desired_resources(EnvironmentRef(namespace, name, "uid"), model, requested(model))
    except Exception as e:  # noqa: BLE001 - whatever the plan raises is the finding
        return f"the plan fails: {type(e).__name__}: {e}"
    if twice := [k for k, n in Counter(d.key for d in desired).items() if n > 1]:
        return f"the plan names {', '.join(sorted(twice))} twice"
    return None


def valid_accepted(custom: client.CustomObjectsApi, namespace: str,
                   environments: Sequence[tuple[str, dict[str, Any]]]) -> Tally:
    tally = Tally()
    for name, spec in environments:
        tally.tried += 1
        try:
            _create(custom, namespace, name, spec)
        except ApiException as e:
            message = json.loads(e.body).get("message", "") if e.body else e.reason
            tally.failures.append(f"refused: HTTP {e.status}: {message[:400]} (spec {_short(spec)})")
            continue
        if (problem := plan_problem(namespace, name, spec)) is not None:
            tally.failures.append(f"{problem[:400]} (spec {_short(spec)})")
    return tally


def local(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as this stack can build it: see LOCAL_AWS."""
    aws = {k: v for k, v in spec["aws"].items() if k != "endpoint"}
    return {**spec, "aws": {**aws, **LOCAL_AWS}}


def expired(spec: dict[str, Any], created: datetime, now: datetime) -> bool:
    """Whether the environment's own expiry (spec.ttl, spec.expiresAt) is past: the operator deletes it then."""
    if "expiresAt" in spec:
        return datetime.fromisoformat(spec["expiresAt"].replace("Z", "+00:00")) <= now
    return "ttl" in spec and created + parse_duration(spec["ttl"]) <= now


def _reported(env: dict[str, Any]) -> bool:
    status = env.get("status") or {}
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    return bool(status.get("phase")) and bool(ready) and \
        status.get("observedGeneration", 0) >= env["metadata"]["generation"]


def created_have_status(custom: client.CustomObjectsApi, namespace: str, operator: Operator,
                        environments: Sequence[tuple[str, dict[str, Any]]],
                        timeout: float = STATUS_DEADLINE) -> Tally:
    """Each environment created for real gets a status that is not aenv's own failure; the operator stays up with no
    unhandled traceback in its log, and then makes a plain environment Ready."""
    tally = Tally()
    log_from = len(operator.log_text())
    names, started = [], datetime.now(UTC)
    for name, spec in environments:
        tally.tried += 1
        try:
            _create(custom, namespace, name, local(spec), dry_run=False)
            names.append(name)
        except ApiException as e:
            tally.failures.append(f"{name}: refused at creation: HTTP {e.status} (spec {_short(local(spec))})")
    current: dict[str, dict[str, Any]] = {}

    gone: set[str] = set()

    def all_reported() -> bool:
        for name in names:
            if name not in gone and (name not in current or not _reported(current[name])):
                try:
                    current[name] = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
                except ApiException as e:
                    if e.status != 404:
                        raise
                    gone.add(name)
        return all(n in gone or _reported(current[n]) for n in names) or not operator.running()

    with contextlib.suppress(TimeoutError):  # what is still missing is told below, environment by environment
        wait_for(all_reported, timeout, f"a status on {len(names)} environments", interval=1)
    for name, spec in environments:
        if name in gone:
            if not expired(spec, started, datetime.now(UTC)):
                tally.failures.append(f"{name}: deleted, not by its expiry (spec {_short(local(spec))})")
            continue
        if name not in current:
            continue
        env = current[name]
        status = env.get("status") or {}
        ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
        if not _reported(env):
            tally.failures.append(f"{name}: no status within {timeout:.0f} s: {_short(status)}, annotations "
                                  f"{_short(env['metadata'].get('annotations'))} (spec {_short(local(spec))})")
        elif ready is not None and ready["reason"] == "ReconcileError":
            tally.failures.append(f"{name}: {ready['message'][:400]} (spec {_short(local(spec))})")
    if any("no status within" in f for f in tally.failures):
        tally.failures.append(f"the operator's threads: {_stacks(operator)}")
    plain = "plain-after-odd"
    if operator.running():
        _create(custom, namespace, plain, PLAIN, dry_run=False)
        ready = _ready_within(custom, namespace, plain, timeout)
        if not ready:
            tally.failures.append(f"{plain}: a plain environment created after the odd ones is not Ready")
    else:
        tally.failures.append("the operator is not running")
    log = operator.log_text()[log_from:]
    if "Traceback (most recent call last)" in log or "the pass failed" in log:
        start = max(log.find("Traceback (most recent call last)"), log.find("the pass failed"))
        tally.failures.append(f"the operator's log has a failure: {log[max(0, start - 200):start + 1500]}")
    return tally


def _stacks(operator: Operator) -> str:
    """Every thread's stack, which the operator writes to its log on SIGUSR1."""
    pid, before = read_pid(operator.pidfile), len(operator.log_text())
    if pid is None:
        return "(not running)"
    os.kill(pid, signal.SIGUSR1)
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: "most recent call first" in operator.log_text()[before:], 10, "the operator's stacks")
    return operator.log_text()[before:][:20000]


def _ready_within(custom: client.CustomObjectsApi, namespace: str, name: str, timeout: float) -> bool:
    def ready() -> bool:
        env = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return any(c["type"] == "Ready" and c["status"] == "True" for c in env.get("status", {}).get("conditions", []))

    try:
        wait_for(ready, timeout, f"{namespace}/{name} Ready", interval=0.5)
    except TimeoutError:
        return False
    return True

