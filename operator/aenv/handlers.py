"""kopf glue: decorators that call reconcile and write what it returns. No decisions here."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from . import metrics
from .api import GROUP, PLURAL, VERSION
from .kube import owned
from .kube.client import api
from .reconcile import Environment, Outcome, finalize, reconcile, stored_status

RESOURCE = (GROUP, VERSION, PLURAL)
RESYNC_SECONDS = float(os.environ.get("AENV_RESYNC_SECONDS", "30"))
ROLLOUT_SECONDS = float(os.environ.get("AENV_ROLLOUT_SECONDS", "2"))



@dataclass
class _Memory:
    """What the operator keeps of one environment between passes; dropped when the environment is gone."""

    # kopf may run a change handler, a timer and the healing daemon of one environment at the same time.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The status the last pass computed. kopf writes a handler's status patch only after the handler returns, so
    # a handler that waited for the lock may hold a body older than the last pass: it starts from this instead,
    # and two passes never decide from the same old state.
    latest: dict[str, Any] | None = None
    # Set (from a watch thread) when something the environment owns or routes through changed in the cluster.
    woken: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None


_memory: defaultdict[str, _Memory] = defaultdict(_Memory)
_watcher: owned.Watcher | None = None
log = logging.getLogger("aenv")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    # Events come from aenv's own transitions, not from kopf's log lines.
    settings.posting.level = logging.CRITICAL
    settings.execution.max_workers = int(os.environ.get("AENV_WORKERS", "16"))
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [1, 2, 5, 10, 20, 30]
    global _watcher
    _watcher = owned.Watcher(_wake)
    _watcher.start()


@kopf.on.cleanup()
def stop_watching(**_: Any) -> None:
    if _watcher is not None:
        _watcher.stop()


def _wake(uid: str) -> None:
    """From a watch thread: the environment's healing daemon runs a pass."""
    memory = _memory.get(uid)
    if memory is not None and memory.loop is not None and memory.woken is not None:
        memory.loop.call_soon_threadsafe(memory.woken.set)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment(body: kopf.Body) -> Environment:
    meta = body["metadata"]
    status = _memory[meta["uid"]].latest or body.get("status", {})
    return Environment(meta["namespace"], meta["name"], meta["uid"], int(meta.get("generation", 0)),
                       body.get("spec", {}), status, meta.get("annotations", {}))


def _status_patch(outcome: Outcome, stored: dict[str, Any]) -> dict[str, Any]:
    """What to write to status: nothing when the API server already holds it. Compared with what the API server
    holds, not with the last computed status: a write that was lost is written again."""
    if outcome.status == stored_status(stored):
        return {}
    return {**{key: None for key in set(stored) - set(outcome.status) if key != "kopf"}, **outcome.status}


def _run(body: kopf.Body, deleting: bool, aws_pass: bool = True) -> tuple[Outcome, dict[str, Any]]:
    """One pass; the status patch to write, and the Events of its transitions posted."""
    kind = "finalize" if deleting else "reconcile" if aws_pass else "rollout"
    memory = _memory[body["metadata"]["uid"]]
    with memory.lock, metrics.RECONCILE_SECONDS.labels(kind).time():
        env = _environment(body)
        outcome = finalize(env, _now()) if deleting else reconcile(env, _now(), aws_pass)
        memory.latest = outcome.status
    metrics.RECONCILES.labels(kind, "changed" if outcome.changed else "unchanged").inc()
    for t in outcome.transitions:
        kopf.event(body, type="Warning" if t.warning else "Normal", reason=t.reason, message=t.message)
    return outcome, _status_patch(outcome, body.get("status", {}))


def _handle(body: kopf.Body, patch: kopf.Patch, deleting: bool = False, aws_pass: bool = True) -> Outcome:
    outcome, status = _run(body, deleting, aws_pass)
    for key, value in status.items():
        patch.status[key] = value
    return outcome


@kopf.on.resume(*RESOURCE, id="reconcile-resume")
@kopf.on.create(*RESOURCE, id="reconcile-create")
@kopf.on.update(*RESOURCE, id="reconcile-update", field="spec")
def on_change(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _handle(body, patch)
    if outcome.retry_after is not None:
        raise kopf.TemporaryError("waiting for AWS", delay=outcome.retry_after)


def _rolling(status: kopf.Status, **_: Any) -> bool:
    """A workload is mid-rollout (or not yet deployed), or a Healthy one still has work due at a set time (an old
    blue-green revision to scale down after its delay, a superseded canary to release): a closer eye than the
    resync, so that work happens on time rather than up to AENV_RESYNC_SECONDS late."""
    return any((w.get("rollout") or {}).get("phase", "Healthy") != "Healthy" or not w.get("stable")
               or (w.get("rollout") or {}).get("scaleDownAt") or (w.get("rollout") or {}).get("retiring")
               for w in status.get("workloads", []))


@kopf.on.update(*RESOURCE, id="rollout-command", field="metadata.annotations")
def on_command(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """`aenv promote|abort|retry|undo` write an annotation: act on it now, not at the next timer."""
    _handle(body, patch, aws_pass=False)


@kopf.timer(*RESOURCE, id="rollout", interval=ROLLOUT_SECONDS, when=_rolling)
def rollout(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Steps the rollouts only: AWS is left to the resync."""
    if body["metadata"].get("deletionTimestamp"):
        return
    _handle(body, patch, aws_pass=False)


@kopf.timer(*RESOURCE, id="resync", interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Correct drift and pick up what changed in AWS; writes nothing when nothing changed."""
    if body["metadata"].get("deletionTimestamp"):
        return
    _handle(body, patch)


@kopf.daemon(*RESOURCE, id="heal")
async def heal(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """Woken by the watches on what the environment owns or routes through (kube/owned.py): a pass without AWS
    puts back what was deleted or edited, within seconds rather than at the next resync. It writes the status
    itself: a daemon's patch would reach the API server only when the daemon ends."""
    memory = _memory[body["metadata"]["uid"]]
    memory.loop, memory.woken = asyncio.get_running_loop(), asyncio.Event()
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        while True:
            woken = asyncio.ensure_future(memory.woken.wait())
            await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopped:
                woken.cancel()
                return
            memory.woken.clear()
            if not body["metadata"].get("deletionTimestamp"):
                await asyncio.to_thread(_heal_pass, body)
    finally:
        stopping.cancel()


def _heal_pass(body: kopf.Body) -> None:
    _, status = _run(body, deleting=False, aws_pass=False)
    if not status:
        return
    meta = body["metadata"]
    try:
        client.CustomObjectsApi(api()).patch_namespaced_custom_object_status(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status})
    except ApiException as e:  # the resync writes it; a deleted environment needs none
        log.warning("%s/%s: status not written after healing: HTTP %s", meta["namespace"], meta["name"], e.status)


@kopf.on.delete(*RESOURCE, id="finalize")
def on_delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _handle(body, patch, deleting=True)
    if not outcome.done:
        raise kopf.TemporaryError("waiting for AWS to confirm deletion", delay=outcome.retry_after or 5)
    _memory.pop(body["metadata"]["uid"], None)
