"""Which of a pass's transitions become notifications, and the outbox they wait in. Pure.

The outbox is part of the status, written in the same patch as the transition that made each notification: a pass
whose status was never written leaves no notification either, and the pass after it (starting again from the
status the API server holds) makes it once. The sender (aenv.notify) delivers only what the API server holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..api.spec import EnvironmentSpec, NotificationTarget
from ..api.status import NotificationRecord, NotificationsStatus, Phase
from .conditions import Transition
from .expiry import EXPIRED, EXPIRES_SOON

OUTBOX_MAX = 50
CONDITION = "NotificationsDelivered"
# The name under which the email targets' one delivery (a publish to the alarm topic, which emails every subscriber)
# is recorded and reported: a target's own name cannot hold a dot.
EMAIL_TARGET = "email.alarm-topic"

# Event reasons (the rollout engine's, expiry's) -> notification type.
TYPES = {
    "RolloutStarted": "rollout.started",
    "RolloutPaused": "rollout.paused",
    "RolloutPromoted": "rollout.promoted",
    "RolloutPromotedFull": "rollout.promoted",
    "RolloutCompleted": "rollout.completed",
    # An abort's reason says why (rollouts/engine/transitions.py).
    "AbortedByUser": "rollout.aborted",
    "AnalysisFailed": "rollout.aborted",
    "ProgressDeadlineExceeded": "rollout.aborted",
    "MigrationFailed": "rollout.aborted",
    EXPIRES_SOON: "expiry.warning",
    EXPIRED: "expiry.expired",
}


def hook_targets(spec: EnvironmentSpec) -> list[NotificationTarget]:
    """The Slack and webhook targets aenv posts to itself."""
    m = spec.monitoring
    return [t for t in m.notification_targets if t.slack or t.webhook] if m is not None else []


def emails_published(spec: EnvironmentSpec) -> bool:
    """Whether aenv publishes every notification to the alarm topic for its email subscribers: in mode boto3 only
    (in mode ack the operator holds no AWS credentials, and the topic carries the alarms alone)."""
    m = spec.monitoring
    return spec.aws.mode == "boto3" and m is not None and any(t.email for t in m.notification_targets)


def delivery_targets(spec: EnvironmentSpec) -> list[str]:
    """The names of the deliveries aenv makes and reports in the NotificationsDelivered condition. topicArn
    targets are alarm actions only."""
    names = [t.name for t in hook_targets(spec) if t.name]
    return [*names, EMAIL_TARGET] if emails_published(spec) else names


def notification_id(uid: str, type_: str, reason: str, message: str, time: str) -> str:
    return hashlib.sha256(f"{uid}\n{type_}\n{reason}\n{message}\n{time}".encode()).hexdigest()[:20]


def record(previous: NotificationsStatus | None, uid: str, phase: Phase | None, ready_message: str,
           events: Sequence[Transition], now: str, alarms: Sequence[NotificationRecord] = ()) -> NotificationsStatus:
    """The outbox with this pass's notifications appended (the oldest dropped beyond OUTBOX_MAX); `alarms` are
    made already (notify/alarms.py), each with its own id, and appended unless the outbox holds it."""
    status = previous or NotificationsStatus()
    made: list[tuple[str, str, str]] = [(TYPES[e.reason], e.reason, e.message) for e in events if e.reason in TYPES]
    health = status.health
    if phase == "Failed" and health != "Failed":
        made.append(("environment.failed", "Failed", ready_message))
        health = "Failed"
    elif phase == "Ready" and health != "Ready":
        made.append(("environment.ready", "Recovered" if health == "Failed" else "Ready", ready_message))
        health = "Ready"
    known = {n.id for n in status.outbox}
    new_alarms = [a for a in alarms if a.id not in known]
    if not made and not new_alarms and health == status.health:
        return status
    added = list(new_alarms)
    known |= {a.id for a in new_alarms}
    for type_, reason, message in made:
        ident = notification_id(uid, type_, reason, message, now)
        if ident not in known:
            known.add(ident)
            added.append(NotificationRecord(id=ident, type=type_, reason=reason, message=message, time=now))
    return NotificationsStatus(health=health, outbox=[*status.outbox, *added][-OUTBOX_MAX:])
