"""What backup work is due for an environment, from its annotations, its status and the time. Pure."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..api.spec import RestoreDrill
from ..api.status import BackupsStatus

PREFIX = "backups.aenv.dev/"
BACKUP_ANNOTATION = f"{PREFIX}backup"  # value: a request id (`aenv backup`)
DRILL_ANNOTATION = f"{PREFIX}drill"  # value: a request id (`aenv backup --drill`)
RESTORE_ANNOTATION = f"{PREFIX}restore"  # value: {"request", "from": "<namespace>/<name>", "key"} (`aenv restore`)
INTERVAL = timedelta(seconds=float(os.environ.get("AENV_BACKUP_INTERVAL_SECONDS", str(24 * 3600))))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RestoreRequest:
    request: str
    source: str  # <namespace>/<name>
    key: str | None  # None: the source's latest backup


@dataclass(frozen=True)
class Due:
    backup: str | None = None  # why: "requested" or "daily"
    drill: str | None = None  # why: "requested" or the schedule
    restore: RestoreRequest | None = None

    def __bool__(self) -> bool:
        return bool(self.backup or self.drill or self.restore)


def restore_request(annotations: Mapping[str, str]) -> RestoreRequest | None:
    raw = annotations.get(RESTORE_ANNOTATION)
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return RestoreRequest(str(value["request"]), str(value["from"]), value.get("key") or None)
    except (ValueError, KeyError, TypeError):
        return None


def drill_period(schedule: str, at: datetime) -> tuple[int, int]:
    """The calendar month or the ISO week `at` falls in: one drill per period."""
    if schedule == "weekly":
        iso = at.isocalendar()
        return iso.year, iso.week
    return at.year, at.month


def due(annotations: Mapping[str, str], status: BackupsStatus, drill: RestoreDrill | None, created: datetime,
        now: datetime) -> Due:
    """A backup is due a day after the last one (the first a day after the environment was created) or when
    asked for; a drill (spec.database.restoreDrill) once per period of its schedule once a backup exists, or when
    asked for; a restore when asked for. A request is answered once: the status records the last request handled."""
    backup = None
    if (asked := annotations.get(BACKUP_ANNOTATION)) and asked != status.backup_request:
        backup = "requested"
    elif now - (parse_time(status.last_backup.time) if status.last_backup else created) >= INTERVAL:
        backup = "daily"
    drill_why = None
    if (asked := annotations.get(DRILL_ANNOTATION)) and asked != status.drill_request:
        drill_why = "requested"
    elif drill is not None and status.last_backup is not None and (status.drill is None or drill_period(
            drill.schedule, parse_time(status.drill.time)) != drill_period(drill.schedule, now)):
        drill_why = drill.schedule
    restore = restore_request(annotations)
    if restore is not None and status.restore is not None and status.restore.request == restore.request:
        restore = None
    return Due(backup, drill_why, restore)
