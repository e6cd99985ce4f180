"""CloudWatch alarm state changes for the Slack and webhook targets: the alarm topic delivers each one to the
environment's alarm-events queue (plan/monitoring.py), which this thread reads. A message becomes a notification
in the memory (the next pass puts it in the outbox, under an id made from the SQS message id) and is deleted from
the queue once the API server holds that outbox: a crash in between leaves it to be read again, and its id is the
same, so it is notified once."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..api.status import NotificationRecord
from ..aws import session
from ..aws.component import AwsTarget
from ..memory import Memories
from ..plan.monitoring import ALARM_EVENTS

POLL_SECONDS = float(os.environ.get("AENV_ALARM_POLL_SECONDS", "20"))
log = logging.getLogger("aenv.notify")


def notification_of(message_id: str, body: str) -> NotificationRecord | None:
    """CloudWatch's alarm document (raw delivery) -> alarm.<state>; None for anything else."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "AlarmName" not in doc or "NewStateValue" not in doc:
        return None
    state = str(doc["NewStateValue"])
    return NotificationRecord(
        id=hashlib.sha256(f"alarm\n{message_id}".encode()).hexdigest()[:20], type=f"alarm.{state.lower()}",
        reason=str(doc["AlarmName"])[:1024], message=str(doc.get("NewStateReason", ""))[:4096],
        time=_rfc3339(str(doc.get("StateChangeTime", ""))))


def _rfc3339(text: str) -> str:
    """CloudWatch writes 2026-12-01T12:00:00.000+0000."""
    return text[:19] + "Z" if len(text) >= 19 else text


class AlarmPoller:
    def __init__(self, memories: Memories) -> None:
        self._memories = memories
        self._sources: dict[str, AwsTarget] = {}  # uid -> where its queue is
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="aenv-alarms", daemon=True).start()

    def watch(self, uid: str, target: AwsTarget | None) -> None:
        with self._lock:
            if target is None:
                self._sources.pop(uid, None)
            else:
                self._sources[uid] = target

    def stop(self) -> None:
        self._stopped.set()

    def settle(self, uid: str, outbox: Iterable[str]) -> None:
        """Delete the messages whose notifications the API server holds."""
        memory, target = self._memories.find(uid), self._sources.get(uid)
        if memory is None or target is None:
            return
        held = set(outbox)
        url = (memory.outputs or {}).get(ALARM_EVENTS, {}).get("url")
        for message_id, (record, receipt) in list(memory.alarm_events.items()):
            if record.id in held and url:
                session.client("sqs", target.region, target.endpoint).delete_message(QueueUrl=url,
                                                                                     ReceiptHandle=receipt)
                memory.alarm_events.pop(message_id, None)

    def _run(self) -> None:
        while not self._stopped.wait(POLL_SECONDS):
            with self._lock:
                sources = dict(self._sources)
            for uid, target in sources.items():
                try:
                    self._poll(uid, target)
                except Exception as e:  # noqa: BLE001 - the next round tries again
                    log.warning("alarm events of %s: %s", uid, e)

    def _poll(self, uid: str, target: AwsTarget) -> None:
        memory = self._memories.find(uid)
        url = (memory.outputs or {}).get(ALARM_EVENTS, {}).get("url") if memory is not None else None
        if memory is None or not url:
            return
        sqs = session.client("sqs", target.region, target.endpoint)
        messages: list[Mapping[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", [])
        found = False
        for m in messages:
            record = notification_of(m["MessageId"], m.get("Body", ""))
            if record is None:  # not an alarm: nothing to tell anyone
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                continue
            memory.alarm_events[m["MessageId"]] = (record, m["ReceiptHandle"])
            found = True
        if found:
            memory.wake()
