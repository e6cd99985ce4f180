"""Names the event processor writes and the gateway reads: one place, so the two cannot drift apart."""

from __future__ import annotations

import re

CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
EVENTS_TABLE = "analytics_events"  # PostgreSQL: one row per event, keyed by its id


def valid_channel(name: str) -> bool:
    return bool(CHANNEL.match(name))


def updates_channel(channel: str) -> str:
    """The Redis pub/sub channel that carries a channel's updates to every gateway replica."""
    return f"analytics:updates:{channel}"


def aggregate_key(channel: str) -> str:
    """The Redis hash holding a channel's running aggregate: count, sum, min, max, last, updated_at."""
    return f"analytics:aggregate:{channel}"


def seen_key(event_id: str) -> str:
    """The Redis marker saying an event's aggregate update was applied (so a redelivery does not count twice)."""
    return f"analytics:seen:{event_id}"
