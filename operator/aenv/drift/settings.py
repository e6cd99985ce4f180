"""The drift settings, from the operator's environment (the Helm chart sets them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SWEEP_SECONDS = 3600.0
DEFAULT_FALLBACK_SECONDS = 300.0
DEFAULT_EVENTS_WINDOW_SECONDS = 900.0
DEFAULT_CHANNEL = "aenv-drift"
TICK_MAX_SECONDS = 30.0  # how late a retry or a changed verdict may be noticed by the sweep's timer


@dataclass(frozen=True)
class Settings:
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS  # the full observation when events arrive
    fallback_seconds: float = DEFAULT_FALLBACK_SECONDS  # the full observation when they do not (or not yet)
    events: bool = True  # whether to make and consume the EventBridge rule and queue
    window_seconds: float = DEFAULT_EVENTS_WINDOW_SECONDS  # no event this long after a change: events do not arrive
    channel: str = DEFAULT_CHANNEL  # the rule's and queue's name: one per operator installation, account and region

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        # AENV_RESYNC_SECONDS is the setting's former name: the whole observation ran that often.
        sweep = _seconds(env, "AENV_SWEEP_SECONDS", _seconds(env, "AENV_RESYNC_SECONDS", DEFAULT_SWEEP_SECONDS))
        channel = env.get("AENV_DRIFT_CHANNEL", DEFAULT_CHANNEL)
        if not channel.startswith("aenv-") or len(channel) > 64 or not channel.replace("-", "").isalnum():
            raise ValueError(f"AENV_DRIFT_CHANNEL: {channel!r} must start with aenv- and hold at most 64 letters, "
                             "digits and hyphens")
        events = env.get("AENV_DRIFT_EVENTS", "true").lower()
        if events not in ("true", "false"):
            raise ValueError(f"AENV_DRIFT_EVENTS: {events!r} must be true or false")
        return cls(sweep_seconds=sweep,
                   fallback_seconds=_seconds(env, "AENV_SWEEP_FALLBACK_SECONDS", min(DEFAULT_FALLBACK_SECONDS, sweep)),
                   events=events == "true",
                   window_seconds=_seconds(env, "AENV_DRIFT_EVENTS_WINDOW_SECONDS", DEFAULT_EVENTS_WINDOW_SECONDS),
                   channel=channel)

    @property
    def tick_seconds(self) -> float:
        """How often the sweep's timer looks whether an environment's sweep (or a retry) is due: no AWS call."""
        return min(self.sweep_seconds, self.fallback_seconds, TICK_MAX_SECONDS)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"{name}: {text!r} must be more than 0 seconds")
    return value
