"""The backups' glue for one environment: what is due, the work done (runner), its outcome written to the status
(under the environment's lock, into the memory's latest status too, so a pass never writes an older one back)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..api import EnvironmentSpec, EnvironmentStatus, effective
from ..api.status import BackupsStatus
from ..aws import session
from ..memory import EnvironmentMemory
from ..naming import EnvironmentRef
from ..plan.conditions import Transition, with_condition
from . import runner
from .schedule import due, format_time, parse_time

Write = Callable[[dict[str, Any]], None]  # a status patch to the API server
Post = Callable[[Transition], None]  # an Event on the environment


def _now() -> datetime:
    return datetime.now(UTC)


def tick(body: Mapping[str, Any], memory: EnvironmentMemory, write: Write, post: Post) -> bool:
    """Do what is due; whether anything was."""
    meta = body["metadata"]
    if meta.get("deletionTimestamp") or memory.outputs is None:
        return False
    try:
        spec = effective(EnvironmentSpec.model_validate(body.get("spec", {})))
    except ValidationError:
        return False
    if spec.database is None or spec.aws.mode != "boto3":
        return False
    current = EnvironmentStatus.model_validate(
        {k: v for k, v in (memory.latest or body.get("status", {})).items() if k in _FIELDS})
    status = current.backups or BackupsStatus()
    annotations = meta.get("annotations") or {}
    created = parse_time(meta.get("creationTimestamp") or format_time(_now()))
    work = due(annotations, status, spec.database.restore_drill, created, _now())
    if not work:  # nothing written either: an idle environment's status does not change
        return False
    env = EnvironmentRef(meta["namespace"], meta["name"], meta["uid"])
    s3 = session.client("s3", spec.aws.region, spec.aws.endpoint)
    done = runner.run(env, spec, annotations, status, memory.outputs, work, s3, _now)
    with memory.lock:
        latest = EnvironmentStatus.model_validate(
            {k: v for k, v in (memory.latest or body.get("status", {})).items() if k in _FIELDS})
        conditions = latest.conditions
        for c in done.checks:
            conditions = with_condition(conditions, c.type, c.ok, c.reason, c.message, format_time(_now()),
                                        latest.observed_generation)
        latest = latest.model_copy(update={"backups": done.status, "conditions": conditions})
        wire = latest.wire()
        memory.latest = wire
        write({"backups": wire.get("backups"), "conditions": wire.get("conditions", [])})
    for event in done.events:
        post(event)
    return True


_FIELDS = {f.alias or n for n, f in EnvironmentStatus.model_fields.items()}
