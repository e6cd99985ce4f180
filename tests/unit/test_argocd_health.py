"""The ArgoCD health check shipped with the chart, run by a real Lua 5.4 interpreter (Debian's lua5.4) against the
status shapes the operator writes: Ready, provisioning, failed, a paused canary, an aborted rollout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parents[2] / "charts" / "aenv" / "files" / "argocd-health.lua"
LUA = shutil.which("lua5.4") or shutil.which("lua")


def lua_value(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string literal is a valid Lua string literal for this text
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the check as ArgoCD does: a global `obj`, the script's returned table."""
    assert LUA is not None, "lua5.4 is missing: run `make setup`"
    program = (f"obj = {lua_value(obj)}\nlocal hs = (function()\n{SCRIPT.read_text()}\nend)()\n"
               'io.write(hs.status, "\\n", hs.message or "")\n')
    out = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, check=True).stdout
    status, _, message = out.partition("\n")
    return status, message


def condition(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 2}


def env(status: dict[str, Any] | None, generation: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
                           "metadata": {"name": "defi", "namespace": "analytics", "generation": generation}}
    if status is not None:
        obj["status"] = {"observedGeneration": 2, **status}
    return obj


READY = {"phase": "Ready", "conditions": [
    condition("Ready", "True", "AllComponentsReady", "ready: queues, workloads"),
    condition("Reconciling", "False", "Idle"), condition("Stalled", "False", "NoErrors"),
    condition("WorkloadsReady", "True", "Ready", "web: healthy")],
    "workloads": [{"name": "web", "stable": "5d8f7", "phase": "Healthy"}]}
PROVISIONING = {"phase": "Provisioning", "conditions": [
    condition("Ready", "False", "Provisioning", "in progress: cache, database"),
    condition("Reconciling", "True", "Progressing", "working on: cache, database"),
    condition("Stalled", "False", "NoErrors")]}
FAILED = {"phase": "Failed", "conditions": [
    condition("Ready", "False", "ComponentFailed", "failed: queues"),
    condition("Reconciling", "False", "Idle"),
    condition("Stalled", "True", "QueueNameTaken", "queues: the queue aenv-a-b-events belongs to someone else")]}
PAUSED = {"phase": "Provisioning", "conditions": [
    condition("Ready", "False", "Provisioning", "in progress: workloads"),
    condition("Reconciling", "True", "Progressing", "working on: workloads"),
    condition("Stalled", "False", "NoErrors"),
    condition("WorkloadsReady", "False", "RolloutInProgress", "web: paused at step 1")],
    "workloads": [{"name": "web", "stable": "5d8f7", "canary": "6c9a2", "step": 1, "weight": 25, "phase": "Paused",
                   "rollout": {"phase": "Paused", "pauseReason": "CanaryPauseStep", "step": 1, "weight": 25}}]}
ABORTED = {"phase": "Failed", "conditions": [
    condition("Ready", "False", "ComponentFailed", "failed: workloads"),
    condition("Stalled", "True", "RolloutAborted", "workloads: web: analysis error-rate failed"),
    condition("WorkloadsReady", "False", "RolloutAborted", "web: analysis error-rate failed")],
    "workloads": [{"name": "web", "stable": "5d8f7", "phase": "Aborted", "rollout": {"phase": "Aborted"}}]}
ROLLING = {"phase": "Provisioning", "conditions": [
    condition("Ready", "False", "Provisioning", "in progress: workloads"),
    condition("Reconciling", "True", "Progressing", "working on: workloads"),
    condition("Stalled", "False", "NoErrors"),
    condition("WorkloadsReady", "False", "RolloutInProgress", "web: step 2 of 4")],
    "workloads": [{"name": "web", "stable": "5d8f7", "canary": "6c9a2", "step": 2, "weight": 50,
                   "phase": "Progressing", "rollout": {"phase": "Progressing"}}]}


@pytest.mark.parametrize(("obj", "want", "words"), [
    (env(READY), "Healthy", "ready: queues"),
    (env(PROVISIONING), "Progressing", "in progress: cache"),
    (env(ROLLING), "Progressing", "in progress: workloads"),
    (env(FAILED), "Degraded", "belongs to someone else"),
    (env(PAUSED), "Suspended", "web paused at step 1 (weight 25): CanaryPauseStep"),
    (env(ABORTED), "Degraded", "web aborted: web: analysis error-rate failed"),
    (env(None), "Progressing", "Waiting for the operator"),
    (env(READY, generation=3), "Progressing", "generation 3"),
    (env({**READY, "phase": "Deleting", "conditions": [condition("Ready", "False", "Deleting", "being deleted")]}),
     "Progressing", "being deleted"),
], ids=["ready", "provisioning", "rolling-out", "failed", "paused-canary", "aborted", "no-status", "stale",
        "deleting"])
def test_health(obj: dict[str, Any], want: str, words: str) -> None:
    status, message = health(obj)
    assert status == want, message
    assert words in message
