"""The events the processor accepts, and the update it publishes. Pure.

A message body is a JSON object: {"id": optional, "channel": "btc-usd", "value": 42.5, "kind": "trade",
"severity": optional "warning" | "critical", "occurredAt": optional ISO 8601}. A body that SNS delivered (the
topic's subscription to the queue) is unwrapped first. The event id is the body's "id", else the SQS message id:
a producer that may send an event twice gives it an id.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aenv_workload.keys import valid_channel

SEVERITIES = ("warning", "critical")


class Poison(ValueError):
    """A message no retry can process: it is left to reach the dead-letter queue."""


@dataclass(frozen=True)
class Event:
    id: str
    channel: str
    value: float
    kind: str
    severity: str | None
    occurred_at: datetime | None
    payload: dict[str, Any]


def parse(message_id: str, body: str) -> Event:
    try:
        doc = json.loads(body)
    except ValueError:
        raise Poison("the body is not JSON") from None
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        return parse(str(doc.get("MessageId") or message_id), doc["Message"])  # delivered through SNS
    if not isinstance(doc, dict):
        raise Poison("the body is not a JSON object")
    channel = doc.get("channel")
    if not isinstance(channel, str) or not valid_channel(channel):
        raise Poison("channel: 1-128 letters, digits, '.', '_', ':' or '-'")
    value = doc.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Poison("value must be a finite number")
    severity = doc.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise Poison(f"severity must be one of {', '.join(SEVERITIES)}")
    occurred = doc.get("occurredAt")
    try:
        occurred_at = datetime.fromisoformat(occurred) if isinstance(occurred, str) else None
    except ValueError:
        raise Poison("occurredAt must be an ISO 8601 time") from None
    event_id = doc.get("id", message_id)
    if not isinstance(event_id, str | int) or not str(event_id) or len(str(event_id)) > 256:
        raise Poison("id must be a string of 1-256 characters")
    return Event(str(event_id), channel, float(value), str(doc.get("kind", "event")), severity, occurred_at, doc)


def update(event: Event, aggregate: dict[str, float], published_at: float) -> str:
    """What the gateway's subscribers of the channel receive."""
    return json.dumps({"event": {"id": event.id, "kind": event.kind, "value": event.value,
                                 "severity": event.severity},
                       "aggregate": aggregate, "publishedAt": published_at}, separators=(",", ":"))


def alert(event: Event) -> tuple[str, str]:
    """The SNS subject and message of an event with a severity."""
    subject = f"[{str(event.severity).upper()}] {event.kind} on {event.channel}"[:100]
    return subject, json.dumps({"id": event.id, "channel": event.channel, "kind": event.kind, "value": event.value,
                                "severity": event.severity, "payload": event.payload})
