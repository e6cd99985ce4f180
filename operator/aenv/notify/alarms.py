"""CloudWatch alarm state changes for the Slack and webhook targets. CloudWatch sends each change to EventBridge,
where aenv's rule delivers it to the operator's event queue (drift/watch.py) together with the CloudTrail events;
the channel hands it to the environment owning the alarm. A change becomes a notification in the memory (the next
pass puts it in the outbox, under an id made from the event's id) and its message is deleted once the API server
holds that outbox: a crash in between leaves it to be read again, with the same id, so it is notified once."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable

from ..api.status import NotificationRecord
from ..aws.component import AwsTarget
from ..drift.events import AlarmChange
from ..memory import Memories

Delete = Callable[[AwsTarget, list[str]], None]  # delete these messages from the channel of that account and region


def notification_of(change: AlarmChange) -> NotificationRecord:
    """alarm.<state>, its id the same for every delivery of the one change."""
    return NotificationRecord(
        id=hashlib.sha256(f"alarm\n{change.id}".encode()).hexdigest()[:20], type=f"alarm.{change.state.lower()}",
        reason=change.alarm[:1024], message=change.reason[:4096], time=_rfc3339(change.time))


def _rfc3339(text: str) -> str:
    """CloudWatch writes 2026-12-01T12:00:00.000+0000."""
    return text[:19] + "Z" if len(text) >= 19 else text


class Alarms:
    """The environments that notify alarm state changes (mode boto3, alarms on, a Slack or webhook target), and
    the messages each holds until its outbox is written."""

    def __init__(self, memories: Memories, delete: Delete) -> None:
        self._memories, self._delete = memories, delete
        self._targets: dict[str, AwsTarget] = {}  # uid -> the account and region of its channel
        self._lock = threading.Lock()

    def watch(self, uid: str, target: AwsTarget | None) -> None:
        with self._lock:
            if target is None:
                self._targets.pop(uid, None)
            else:
                self._targets[uid] = target

    def take(self, uid: str, change: AlarmChange, receipt: str) -> bool:
        """From the channel's thread: keep the change for the environment's next pass; False when it does not
        notify alarms (the message is then deleted)."""
        with self._lock:
            watched = uid in self._targets
        memory = self._memories.find(uid)
        if not watched or memory is None:
            return False
        memory.alarm_events[change.id] = (notification_of(change), receipt)
        memory.wake()
        return True

    def settle(self, uid: str, outbox: Iterable[str]) -> None:
        """Delete the messages whose notifications the API server holds."""
        with self._lock:
            target = self._targets.get(uid)
        memory = self._memories.find(uid)
        if memory is None or target is None:
            return
        held = set(outbox)
        done = [event_id for event_id, (record, _) in list(memory.alarm_events.items()) if record.id in held]
        if done:
            self._delete(target, [memory.alarm_events[event_id][1] for event_id in done])
            for event_id in done:
                memory.alarm_events.pop(event_id, None)
