"""Every rollout state the operator writes to the environments of a namespace, from a watch (no write is missed
between polls), and the check that no rollout jumped a step or a weight."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from aenv.api import GROUP, PLURAL, VERSION

from .kube import Kube

State = tuple[int, int, str]  # (step, weight, phase) of one rollout


class RolloutRecorder:
    """(environment, workload, desired revision) -> the states written, in order, while a rollout from a stable
    revision to another is in progress."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.states: dict[tuple[str, str, str], list[State]] = {}
        self.gaps = 0  # times the watch had to list again (a state may have been missed there)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> RolloutRecorder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._errors, f"the rollout watch failed: {self._errors}"

    def _record(self, env: dict[str, Any]) -> None:
        for w in env.get("status", {}).get("workloads", []):
            r = w.get("rollout") or {}
            if not r.get("stableRevision") or r.get("desiredRevision") in (None, r["stableRevision"]):
                continue  # the first deployment (no traffic to shift from), or no rollout in progress
            states = self.states.setdefault((env["metadata"]["name"], w["name"], r["desiredRevision"]), [])
            state = (int(r.get("step", 0)), int(r.get("weight", 0)), str(r.get("phase")))
            if not states or states[-1] != state:
                states.append(state)

    def _watch(self) -> None:
        args = (GROUP, VERSION, self.namespace, PLURAL)
        version: str | None = None
        try:
            while not self._stop.is_set():
                try:
                    if version is None:
                        listed = self.kube.custom.list_namespaced_custom_object(*args)
                        version = listed["metadata"]["resourceVersion"]
                        for item in listed["items"]:
                            self._record(item)
                    for event in watch.Watch().stream(  # type: ignore[no-untyped-call]
                            self.kube.custom.list_namespaced_custom_object, *args, resource_version=version,
                            timeout_seconds=2):
                        if event["type"] == "ERROR":
                            raise ApiException(status=event["object"].get("code", 500))
                        version = event["object"]["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self._record(event["object"])
                        if self._stop.is_set():
                            return
                except (ApiException, HTTPError):  # too old (410) or the API server went away: list again
                    version = None
                    self.gaps += 1
        except BaseException as e:  # noqa: BLE001 - reported by __exit__
            self._errors.append(e)


def step_weights(steps: Sequence[dict[str, Any]]) -> list[int]:
    """The traffic weight each canary step holds: that of the last setWeight at or before it."""
    out, weight = [], 0
    for step in steps:
        weight = int(step.get("setWeight", weight))
        out.append(weight)
    return out


def jumps(states: dict[tuple[str, str, str], list[State]], steps: Sequence[dict[str, Any]]) -> list[str]:
    """Rollouts whose written states skipped a step, went back, or carried another weight than their step's."""
    weights = step_weights(steps)
    out = []
    for (env, workload, revision), seen in sorted(states.items()):
        previous: State | None = None
        for state in seen:
            step, weight, _phase = state
            where = f"{env}/{workload} rollout of {revision}: {previous} -> {state}"
            if previous is None and step != 0:
                out.append(f"{where}: began at step {step}")
            elif previous is not None and step not in (previous[0], previous[0] + 1):
                out.append(f"{where}: step moved by {step - previous[0]}")
            if step < len(weights) and weight != weights[step]:
                out.append(f"{where}: weight {weight} at step {step}, which sets {weights[step]}")
            previous = state
    return out
