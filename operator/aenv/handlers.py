"""kopf glue: decorators that call reconcile and write what it returns. No decisions here."""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import kopf

from . import metrics
from .api import GROUP, PLURAL, VERSION
from .reconcile import Environment, Outcome, finalize, reconcile, stored_status

RESOURCE = (GROUP, VERSION, PLURAL)
RESYNC_SECONDS = float(os.environ.get("AENV_RESYNC_SECONDS", "30"))
ROLLOUT_SECONDS = float(os.environ.get("AENV_ROLLOUT_SECONDS", "2"))

# kopf may run a change handler and the resync timer of one environment at the same time.
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
# uid -> the status the last pass computed. kopf writes a handler's status patch only after the handler
# returns, so a handler that waited for the lock may hold a body older than the last pass: it starts from
# this instead, and two passes never decide from the same old state.
_latest: dict[str, dict[str, Any]] = {}
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment(body: kopf.Body) -> Environment:
    meta = body["metadata"]
    status = _latest.get(meta["uid"], body.get("status", {}))
    return Environment(meta["namespace"], meta["name"], meta["uid"], int(meta.get("generation", 0)),
                       body.get("spec", {}), status, meta.get("annotations", {}))


def _apply(outcome: Outcome, body: kopf.Body, patch: kopf.Patch) -> None:
    # Compared with what the API server holds, not with _latest: a write that was lost is written again.
    old = body.get("status", {})
    if outcome.status != stored_status(old):
        for key in set(old) - set(outcome.status):
            if key != "kopf":
                patch.status[key] = None
        for key, value in outcome.status.items():
            patch.status[key] = value
    for t in outcome.transitions:
        kopf.event(body, type="Warning" if t.warning else "Normal", reason=t.reason, message=t.message)


def _run(body: kopf.Body, patch: kopf.Patch, deleting: bool, aws_pass: bool = True) -> Outcome:
    kind = "finalize" if deleting else "reconcile" if aws_pass else "rollout"
    uid = body["metadata"]["uid"]
    with _locks[uid], metrics.RECONCILE_SECONDS.labels(kind).time():
        env = _environment(body)
        outcome = finalize(env, _now()) if deleting else reconcile(env, _now(), aws_pass)
        _latest[uid] = outcome.status
    metrics.RECONCILES.labels(kind, "changed" if outcome.changed else "unchanged").inc()
    _apply(outcome, body, patch)
    return outcome


@kopf.on.resume(*RESOURCE, id="reconcile-resume")
@kopf.on.create(*RESOURCE, id="reconcile-create")
@kopf.on.update(*RESOURCE, id="reconcile-update", field="spec")
def on_change(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _run(body, patch, deleting=False)
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
    _run(body, patch, deleting=False, aws_pass=False)


@kopf.timer(*RESOURCE, id="rollout", interval=ROLLOUT_SECONDS, when=_rolling)
def rollout(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Steps the rollouts only: AWS is left to the resync."""
    if body["metadata"].get("deletionTimestamp"):
        return
    _run(body, patch, deleting=False, aws_pass=False)


@kopf.timer(*RESOURCE, id="resync", interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Correct drift and pick up what changed in AWS; writes nothing when nothing changed."""
    if body["metadata"].get("deletionTimestamp"):
        return
    _run(body, patch, deleting=False)


@kopf.on.delete(*RESOURCE, id="finalize")
def on_delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _run(body, patch, deleting=True)
    if not outcome.done:
        raise kopf.TemporaryError("waiting for AWS to confirm deletion", delay=outcome.retry_after or 5)
    _locks.pop(body["metadata"]["uid"], None)
    _latest.pop(body["metadata"]["uid"], None)
