"""kopf glue: decorators that call reconcile and write what it returns. No decisions here."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from . import metrics
from .api import GROUP, PLURAL, VERSION
from .backups import operate as backups
from .drift import watch as drift
from .drift.settings import Settings as DriftSettings
from .kube import owned
from .kube.client import api
from .kube.diffbase import CompactDiffBaseStorage
from .memory import EnvironmentMemory, Memories
from .migrations import gate as migrations
from .naming import EnvironmentRef
from .notify.sender import Sender
from .reconcile import API_RETRY_SECONDS, Environment, Outcome, api_unavailable, finalize, reconcile, stored_status

RESOURCE = (GROUP, VERSION, PLURAL)
# The sweep: every environment observed whole in AWS, rarely when CloudTrail events wake the ones that drift.
DRIFT = DriftSettings.from_environ()
BACKUP_POLL_SECONDS = float(os.environ.get("AENV_BACKUP_POLL_SECONDS", "60"))

# The environments' passes without AWS (the daemons'), on threads of their own: asyncio's default pool has
# cores + 4 threads, which a burst of rollout steps across many environments queued behind each other.
_passes = ThreadPoolExecutor(max_workers=int(os.environ.get("AENV_WORKERS", "16")), thread_name_prefix="aenv-pass")
memories = Memories()  # every environment's memory (memory.py); reconcile and finalize get theirs as an argument
# The namespaces the operator serves when they are named exactly (`aenv run -n a -n b`): the watches on owned
# objects then stay inside them. None: cluster-wide (also for patterns such as `team-*`).
namespaces: list[str] | None = None
_watcher: owned.Watcher | None = None
_sender: Sender | None = None
log = logging.getLogger("aenv")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = CompactDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    # Events come from aenv's own transitions, not from kopf's log lines.
    settings.posting.level = logging.CRITICAL
    settings.execution.max_workers = int(os.environ.get("AENV_WORKERS", "16"))
    settings.watching.server_timeout = 300
    # At most 5 s between attempts, for about 5 minutes: after an API server or etcd restart the watches and
    # patches go on within 5 s of the API coming back, not after a backoff grown to half a minute.
    settings.networking.error_backoffs = [1, 2, 3, *[5] * 60]
    # Named namespaces: serve exactly those, without listing namespaces or CRDs (cluster-scoped rights).
    settings.scanning.disabled = namespaces is not None
    metrics.REMEMBERED.set_function(lambda: len(memories))
    global _watcher, _sender
    _watcher = owned.Watcher(memories, namespaces)
    _watcher.start()
    _sender = Sender(memories, lambda: client.CoreV1Api(api()), lambda: client.CustomObjectsApi(api()),
                     delete_alarm_messages=drift.watches.delete)
    drift.watches.start(DRIFT, lambda: drift.recorded(memories.all()), _drifted, _drift_verdict_changed,
                        alarm=_sender.alarms.take)


def watching() -> bool:
    """The watches on what aenv owns are established (part of /readyz)."""
    return _watcher is not None and _watcher.ready()


@kopf.on.cleanup()
def stop_watching(**_: Any) -> None:
    if _watcher is not None:
        _watcher.stop()
    drift.watches.stop()
    if _sender is not None:
        _sender.stop()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment(body: kopf.Body) -> Environment:
    meta = body["metadata"]
    status = memories(meta["uid"]).latest or body.get("status", {})
    return Environment(meta["namespace"], meta["name"], meta["uid"], int(meta.get("generation", 0)),
                       body.get("spec", {}), status, meta.get("annotations", {}), meta.get("creationTimestamp"))


def _status_patch(outcome: Outcome, *held: Mapping[str, Any] | None) -> dict[str, Any]:
    """What to write to status: nothing when it is what the API server holds, by the body the pass started from
    and by the last status this process wrote (the body may be older than that write, or newer: an edit by
    hand). A write that was lost is written again."""
    known = [h for h in held if h is not None]
    if all(outcome.status == stored_status(h) for h in known):
        return {}
    gone = {key for h in known for key in h} - set(outcome.status) - {"kopf"}
    return {**{key: None for key in gone}, **outcome.status}


def _drifted(owners: Mapping[str, set[str]]) -> None:
    """CloudTrail events named these environments' resources (by uid): each observes them in AWS now."""
    for uid, keys in owners.items():
        if (memory := memories.find(uid)) is not None:
            memory.touch(keys)


def _drift_verdict_changed() -> None:
    """Whether events arrive changed: every environment's DriftDetection condition follows (a pass without AWS)."""
    for memory in memories.all():
        memory.wake()


def _run(body: kopf.Body, deleting: bool, aws_pass: bool = True,
         only: frozenset[str] | None = None) -> tuple[Outcome, bool]:
    """One pass, its status written and the Events of its transitions posted; whether the API server holds the
    status now. `only`: an AWS pass that observes only these resources (the ones events named).

    The status is written under the environment's lock, by whichever pass computed it (a change handler, the
    sweep, the daemon): a pass's write can never land after that of a later pass and take a rollout back a step,
    as a patch kopf applies after the handler returns could."""
    kind = "finalize" if deleting else "drift" if only else "reconcile" if aws_pass else "rollout"
    memory = memories(body["metadata"]["uid"])
    with memory.lock:
        with metrics.RECONCILE_SECONDS.labels(kind).time():
            env = _environment(body)
            outcome = finalize(env, _now(), memory) if deleting else reconcile(env, _now(), memory, aws_pass, only)
            memory.latest = outcome.status
            memory.schedule(outcome.requeue_at)
            if aws_pass and not only and not deleting:
                memory.swept_at = time.monotonic()
        written = _store(body, outcome, memory)
    drift.watches.serve(body["metadata"]["uid"], body.get("spec", {}))
    metrics.RECONCILES.labels(kind, "changed" if outcome.changed else "unchanged").inc()
    for t in outcome.transitions:
        kopf.event(body, type="Warning" if t.warning else "Normal", reason=t.reason, message=t.message)
    return outcome, written


def _store(body: kopf.Body, outcome: Outcome, memory: EnvironmentMemory) -> bool:
    status = _status_patch(outcome, body.get("status", {}), memory.stored)
    if status:
        meta = body["metadata"]
        try:
            _write_status(body, status)
        except (ApiException, urllib3.exceptions.HTTPError) as e:  # a deleted environment needs none
            log.warning("%s/%s: status not written: %s", meta["namespace"], meta["name"],
                        f"HTTP {e.status}" if isinstance(e, ApiException) else type(e).__name__)
            if api_unavailable(e):  # written by a pass once the API server answers again
                memory.schedule(datetime.now(UTC) + timedelta(seconds=API_RETRY_SECONDS))
                return False
            return True  # refused: written again it would be refused again; the next pass writes its own
    memory.stored = outcome.status
    return True


def _handle(body: kopf.Body, deleting: bool = False, aws_pass: bool = True) -> Outcome:
    outcome, written = _run(body, deleting, aws_pass)
    if outcome.expired:
        _expire(body, outcome, written)
        return outcome
    if not written:
        raise kopf.TemporaryError("the status was not written", delay=API_RETRY_SECONDS)
    _notify(body, outcome, persisted=True)
    return outcome


def _notify(body: kopf.Body, outcome: Outcome, persisted: bool) -> None:
    """Hand the pass's outbox to the sender (never blocks): `persisted` when the API server holds that status."""
    if _sender is not None:
        meta = body["metadata"]
        _sender.submit(EnvironmentRef(meta["namespace"], meta["name"], meta["uid"]), body.get("spec", {}),
                       outcome.status, persisted)


def _expire(body: kopf.Body, outcome: Outcome, written: bool) -> None:
    """The environment expired: its status (the Expired notification in the outbox) written first, then the
    environment deleted; its finalizer applies the deletionPolicy. Expired all the same when the write failed:
    only the Expired notification is lost with it."""
    meta = body["metadata"]
    if written:
        _notify(body, outcome, persisted=True)
    if meta.get("deletionTimestamp"):
        return
    log.info("%s/%s: expired, deleting it", meta["namespace"], meta["name"])
    try:
        client.CustomObjectsApi(api()).delete_namespaced_custom_object(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"],
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=meta["uid"])))
    except ApiException as e:
        if e.status not in (404, 409):
            raise


@kopf.on.resume(*RESOURCE, id="reconcile-resume")
@kopf.on.create(*RESOURCE, id="reconcile-create")
@kopf.on.update(*RESOURCE, id="reconcile-update", field="spec")
def on_change(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _handle(body)
    if outcome.retry_after is not None:
        raise kopf.TemporaryError("waiting for AWS", delay=outcome.retry_after)


@kopf.on.update(*RESOURCE, id="rollout-command", field="metadata.annotations")
def on_command(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """`aenv promote|abort|retry|undo` write an annotation: act on it now, not at the next timer."""
    _handle(body, aws_pass=False)


@kopf.timer(*RESOURCE, id="resync", interval=DRIFT.tick_seconds, initial_delay=DRIFT.tick_seconds)
def resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """The sweep: correct drift that no event announced and pick up what changed in AWS, when the environment's
    sweep is due (or a sweep that left AWS work retries); writes nothing when nothing changed."""
    memory = memories(body["metadata"]["uid"])
    interval = drift.watches.sweep_seconds(body.get("spec", {}))
    if body["metadata"].get("deletionTimestamp") or not sweep_due(memory, interval, time.monotonic()):
        return
    outcome = _handle(body)
    memory.retry_at = None if outcome.retry_after is None else time.monotonic() + outcome.retry_after


def sweep_due(memory: EnvironmentMemory, interval: float, now: float) -> bool:
    """Half a tick early rather than a tick late: the timer ticks every DRIFT.tick_seconds."""
    return (memory.swept_at is None or now - memory.swept_at >= interval - DRIFT.tick_seconds / 2
            or (memory.retry_at is not None and now >= memory.retry_at))


@kopf.daemon(*RESOURCE, id="cluster")
async def cluster(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """The environment's passes without AWS, when something calls for one: the watches on what it owns or routes
    through saw a deletion or an edit (kube/owned.py), or a rollout has work due (the next step of a pause, a
    measurement, a deadline, a router still to confirm its weights). It writes the status itself: a daemon's
    patch would reach the API server only when the daemon ends."""
    memory = memories(body["metadata"]["uid"])
    memory.loop, memory.woken, memory.rescheduled = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        while True:
            woken = asyncio.ensure_future(memory.woken.wait())
            rescheduled = asyncio.ensure_future(memory.rescheduled.wait())
            await asyncio.wait({woken, rescheduled, stopping}, timeout=memory.seconds_to_requeue(),
                               return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            rescheduled.cancel()
            if stopped:
                return
            memory.rescheduled.clear()
            due = memory.seconds_to_requeue()
            if not memory.woken.is_set() and (due is None or due > 0):
                continue  # only the time of the next pass changed
            why = "woken" if memory.woken.is_set() else "due"
            memory.woken.clear()
            if not body["metadata"].get("deletionTimestamp"):
                context = contextvars.copy_context()  # kopf's settings, which kopf.event() reads, as to_thread does
                await asyncio.get_running_loop().run_in_executor(_passes, context.run, _cluster_pass, body, why)
    finally:
        stopping.cancel()


def _cluster_pass(body: kopf.Body, why: str) -> None:
    meta = body["metadata"]
    log.info("%s/%s: cluster pass (%s)", meta["namespace"], meta["name"], why)
    touched = memories(meta["uid"]).take_touched()
    outcome, written = _run(body, deleting=False, aws_pass=bool(touched), only=touched or None)
    if outcome.expired:
        _expire(body, outcome, written)
    elif written:
        _notify(body, outcome, persisted=True)


@kopf.daemon(*RESOURCE, id="backups", when=lambda spec, **_: bool(spec.get("database")))
async def backups_daemon(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """The database's backups (aenv.backups): the daily backup, `aenv backup|restore` requests (annotations,
    seen within AENV_BACKUP_POLL_SECONDS) and the restore drill. pg_dump and pg_restore run in this process."""
    while not stopped:
        try:
            await asyncio.to_thread(backups.tick, body, memories(body["metadata"]["uid"]),
                                    lambda status: _write_status(body, status),
                                    lambda t: kopf.event(body, type="Warning" if t.warning else "Normal",
                                                         reason=t.reason, message=t.message))
        except Exception:  # the next round tries again; the failure is in the log
            log.exception("%s/%s: backups", body["metadata"]["namespace"], body["metadata"]["name"])
        await stopped.wait(BACKUP_POLL_SECONDS)


def _write_status(body: kopf.Body, status: dict[str, Any]) -> None:
    meta = body["metadata"]
    client.CustomObjectsApi(api()).patch_namespaced_custom_object_status(
        GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status})


@kopf.on.delete(*RESOURCE, id="finalize")
def on_delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = _handle(body, deleting=True)
    if not outcome.done:
        raise kopf.TemporaryError("waiting for AWS to confirm deletion", delay=outcome.retry_after or 5)
    _forget(body)


@kopf.on.event(*RESOURCE, id="forget", when=lambda type, **_: type == "DELETED")
def on_gone(body: kopf.Body, **_: Any) -> None:
    """Also an environment gone without the finalizer (removed by hand) leaves nothing behind in the operator."""
    _forget(body)


def _forget(body: kopf.Body) -> None:
    meta = body["metadata"]
    memories.forget(meta["uid"])
    migrations.forget(meta["uid"])
    drift.watches.release(meta["uid"])
    if _sender is not None:
        _sender.forget(meta["uid"])
    metrics.forget(meta["namespace"], meta["name"])
