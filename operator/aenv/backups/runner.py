"""One environment's due backup work (schedule.due) against its AWS outputs: the outcome of each piece as the
status it leaves (status.backups), the conditions it sets and the Events worth posting. Runs in the operator's
process, outside the environment's reconcile lock: a dump may take long."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import metrics
from ..api.spec import EnvironmentSpec
from ..api.status import BackupRecord, BackupsStatus, DrillRecord, RestoreRecord, TableCheck
from ..naming import EnvironmentRef
from ..plan.backups import KEY, bucket_name
from ..plan.conditions import Transition
from . import pgtools
from .pgtools import BackupError, Database
from .schedule import BACKUP_ANNOTATION, DRILL_ANNOTATION, Due, RestoreRequest, format_time

BACKUP, DRILL, RESTORE = "LastBackupSucceeded", "RestoreDrillSucceeded", "RestoreSucceeded"
log = logging.getLogger("aenv.backups")


@dataclass(frozen=True)
class Check:
    """A condition the work sets: (type, ok, reason, message)."""

    type: str
    ok: bool
    reason: str
    message: str


@dataclass
class Done:
    status: BackupsStatus
    checks: list[Check] = field(default_factory=list)
    events: list[Transition] = field(default_factory=list)

    def record(self, type_: str, ok: bool, reason: str, message: str) -> None:
        self.checks.append(Check(type_, ok, reason, message))
        self.events.append(Transition(not ok, reason, message))


def _failure(error: Exception, db: Database | None) -> str:
    text = str(error) if isinstance(error, BackupError) else f"{type(error).__name__}: {error}"
    return db.masked(text) if db is not None else text


def run(env: EnvironmentRef, spec: EnvironmentSpec, annotations: Mapping[str, str], status: BackupsStatus,
        outputs: Mapping[str, Mapping[str, Any]], due: Due, s3: Any, now: Callable[[], datetime]) -> Done:
    bucket, kms = outputs.get(KEY, {}).get("name"), outputs.get("kms/key", {}).get("arn")
    db = Database.of(outputs)
    done = Done(status.model_copy(update={"bucket": bucket}))
    if bucket is None or kms is None or db is None:
        return done  # not built yet (or mode ack): nothing to back up to or from
    if due.restore is not None:
        _restore(env, db, s3, due.restore, done, now)
    if due.backup is not None:
        _backup(env, db, s3, str(bucket), str(kms), annotations, due.backup, done, now)
    if due.drill is not None:
        tables = spec.database.restore_drill.tables if spec.database and spec.database.restore_drill else []
        _drill(env, db, s3, str(bucket), tables, annotations, due.drill, done, now)
    return done


def _backup(env: EnvironmentRef, db: Database, s3: Any, bucket: str, kms: str, annotations: Mapping[str, str],
            why: str, done: Done, now: Callable[[], datetime]) -> None:
    start, key = time.monotonic(), pgtools.object_key(env.name, now())
    if why == "requested":
        done.status = done.status.model_copy(update={"backup_request": annotations.get(BACKUP_ANNOTATION)})
    try:
        size = pgtools.dump(db, s3, bucket, key, kms)
    except Exception as e:  # noqa: BLE001 - every failure is reported in the status and an Event
        message = f"backup to s3://{bucket}/{key} failed: {_failure(e, db)}"
        log.warning("%s: %s", env.key, message)
        metrics.BACKUPS.labels("failed").inc()
        done.record(BACKUP, False, "BackupFailed", message)
        return
    seconds = round(time.monotonic() - start, 3)
    done.status = done.status.model_copy(update={"last_backup": BackupRecord(
        key=key, time=format_time(now()), bytes=size, seconds=seconds)})
    metrics.BACKUPS.labels("succeeded").inc()
    metrics.BACKUP_TIMESTAMP.labels(env.namespace, env.name).set(time.time())
    log.info("%s: backup s3://%s/%s (%d bytes, %.1f s, %s)", env.key, bucket, key, size, seconds, why)
    done.record(BACKUP, True, "BackupSucceeded", f"s3://{bucket}/{key}: {size} bytes in {seconds:.1f} s ({why})")


def _drill(env: EnvironmentRef, db: Database, s3: Any, bucket: str, tables: list[str],
           annotations: Mapping[str, str], why: str, done: Done, now: Callable[[], datetime]) -> None:
    from . import drill  # it loads psycopg (10 MB resident): only in an operator that runs a drill

    start = time.monotonic()
    if why == "requested":
        done.status = done.status.model_copy(update={"drill_request": annotations.get(DRILL_ANNOTATION)})
    key = None
    try:
        key = pgtools.latest(s3, bucket, env.name)
        if key is None:
            raise BackupError(f"no backup in s3://{bucket}/{env.name}/ to restore")
        result = drill.run(db, s3, bucket, key, tables)
    except Exception as e:  # noqa: BLE001 - a failed drill is reported loudly: condition, Event, metric
        seconds = round(time.monotonic() - start, 3)
        message = f"restore drill of {key or 'the latest backup'} failed after {seconds:.1f} s: {_failure(e, db)}"
        log.error("%s: %s", env.key, message)
        record = DrillRecord(outcome="Failed", time=format_time(now()), seconds=seconds, key=key, message=message)
        done.record(DRILL, False, "RestoreDrillFailed", message)
    else:
        seconds = round(time.monotonic() - start, 3)
        counts = ", ".join(f"{t} {n} rows" for t, n in result.tables) or "no tables listed"
        message = f"{key} restored into a temporary database and checked in {seconds:.1f} s ({counts}); dropped"
        log.info("%s: restore drill: %s", env.key, message)
        record = DrillRecord(outcome="Succeeded", time=format_time(now()), seconds=seconds, key=key,
                             tables=[TableCheck(name=t, rows=n) for t, n in result.tables], message=message)
        done.record(DRILL, True, "RestoreDrillSucceeded", message)
    done.status = done.status.model_copy(update={"drill": record})
    metrics.DRILLS.labels(record.outcome.lower()).inc()
    metrics.DRILL_SECONDS.labels(env.namespace, env.name).set(record.seconds)
    metrics.DRILL_SUCCESS.labels(env.namespace, env.name).set(1 if record.outcome == "Succeeded" else 0)
    metrics.DRILL_TIMESTAMP.labels(env.namespace, env.name).set(time.time())


def _restore(env: EnvironmentRef, db: Database, s3: Any, request: RestoreRequest, done: Done,
             now: Callable[[], datetime]) -> None:
    """The backup of another environment (`request.source`) into this environment's database."""
    start = time.monotonic()
    namespace, _, name = request.source.partition("/")
    bucket, key = bucket_name(EnvironmentRef(namespace, name, "")), request.key
    try:
        key = key or pgtools.latest(s3, bucket, name)
        if key is None:
            raise BackupError(f"{request.source} has no backup in s3://{bucket}/")
        pgtools.restore(db, s3, bucket, key)
    except Exception as e:  # noqa: BLE001 - reported in the status and an Event
        outcome, message = "Failed", f"restore of {request.source} {key or ''} failed: {_failure(e, db)}"
        done.record(RESTORE, False, "RestoreFailed", message)
    else:
        outcome, message = "Succeeded", f"{request.source} {key} restored into {db.dbname}"
        done.record(RESTORE, True, "Restored", message)
    log.info("%s: %s", env.key, message)
    done.status = done.status.model_copy(update={"restore": RestoreRecord(
        request=request.request, source=request.source, key=key or "", outcome=outcome, time=format_time(now()),
        seconds=round(time.monotonic() - start, 3), message=message)})
