"""Durations as the API writes them: hours, minutes and seconds (72h, 1h30m, 90s), Go's and CEL's syntax for the
units they share, so the API server checks them with CEL's duration()."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^([0-9]{1,5}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?$"
_PARTS = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """72h -> 3 days; ValueError for anything else (an empty string, days, a sign, fractions)."""
    match = _PARTS.match(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration such as 72h, 1h30m or 90s")
    hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest form parse_duration reads back: 90061s -> 25h1m1s; 0 -> 0s."""
    total = max(0, int(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
    return text or "0s"
