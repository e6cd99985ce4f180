"""What backup work is due (schedule.due), the backup's object key, and the drill's condition carried by passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aenv.api.spec import RestoreDrill
from aenv.api.status import BackupRecord, BackupsStatus, Condition, DrillRecord, RestoreRecord
from aenv.backups.pgtools import object_key
from aenv.backups.schedule import BACKUP_ANNOTATION, DRILL_ANNOTATION, RESTORE_ANNOTATION, due
from aenv.plan.conditions import ComponentResult, conditions, with_condition

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(hours=2)
MONTHLY = RestoreDrill()


def backed_up(at: datetime, **more: object) -> BackupsStatus:
    return BackupsStatus(last_backup=BackupRecord(key="src/x.dump", time=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                  bytes=1, seconds=0.1), **more)  # type: ignore[arg-type]


def test_a_backup_is_due_daily_and_when_asked_for_once() -> None:
    assert not due({}, BackupsStatus(), None, CREATED, NOW), "the first a day after the environment was made"
    assert due({}, BackupsStatus(), None, NOW - timedelta(days=1), NOW).backup == "daily"
    assert due({}, backed_up(NOW - timedelta(hours=25)), None, CREATED, NOW).backup == "daily"
    assert due({BACKUP_ANNOTATION: "r1"}, BackupsStatus(), None, CREATED, NOW).backup == "requested"
    assert not due({BACKUP_ANNOTATION: "r1"}, BackupsStatus(backup_request="r1"), None, CREATED, NOW)


def test_the_drill_runs_once_per_month_after_a_backup() -> None:
    assert due({}, BackupsStatus(), MONTHLY, CREATED, NOW).drill is None, "nothing to restore yet"
    status = backed_up(NOW - timedelta(hours=1))
    assert due({}, status, MONTHLY, CREATED, NOW).drill == "monthly"
    drilled = status.model_copy(update={"drill": DrillRecord(outcome="Failed", time="2026-03-01T00:00:00Z",
                                                             seconds=1)})
    assert due({}, drilled, MONTHLY, CREATED, NOW).drill is None, "a failed drill waits for next month too"
    assert due({}, drilled, MONTHLY, CREATED, datetime(2026, 4, 1, tzinfo=UTC)).drill == "monthly"
    assert due({}, drilled, RestoreDrill(schedule="weekly"), CREATED, NOW).drill == "weekly"
    assert due({DRILL_ANNOTATION: "d1"}, BackupsStatus(), None, CREATED, NOW).drill == "requested"


def test_a_restore_request_is_answered_once() -> None:
    asked = {RESTORE_ANNOTATION: json.dumps({"request": "q1", "from": "ns/src", "key": None})}
    request = due(asked, BackupsStatus(), None, CREATED, NOW).restore
    assert request is not None and (request.source, request.key) == ("ns/src", None)
    answered = BackupsStatus(restore=RestoreRecord(request="q1", source="ns/src", key="src/x.dump",
                                                   outcome="Succeeded", time="2026-03-15T12:00:00Z", seconds=1))
    assert due(asked, answered, None, CREATED, NOW).restore is None
    assert due({RESTORE_ANNOTATION: "not json"}, BackupsStatus(), None, CREATED, NOW).restore is None


def test_object_keys_sort_by_time() -> None:
    assert object_key("src", NOW) == "src/20260315T120000Z.dump"
    assert object_key("src", NOW) < object_key("src", NOW + timedelta(seconds=1))


def test_a_pass_carries_the_drill_condition_over() -> None:
    before = with_condition([], "RestoreDrillSucceeded", False, "RestoreDrillFailed", "corrupt", "t0", 1)
    after = conditions([ComponentResult("database", "ready", "Provisioned", "")], before, 1, "t1")
    [kept] = [c for c in after if c.type == "RestoreDrillSucceeded"]
    assert kept == before[0] and isinstance(kept, Condition)
    again = with_condition(after, "RestoreDrillSucceeded", False, "RestoreDrillFailed", "still", "t2", 1)
    assert [c.last_transition_time for c in again if c.type == "RestoreDrillSucceeded"] == ["t0"]
