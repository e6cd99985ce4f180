"""Whether CloudTrail events reach aenv's queue, for one account and region, and the sweep interval that follows.
Pure: the caller passes the clock.

aenv proves the path itself: it makes a harmless change of its own (it tags its queue), and expects any CloudTrail
event on the queue within the window. Events that arrive on their own make the probe unnecessary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .settings import Settings

CONDITION = "DriftDetection"
Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    message: str
    sweep_seconds: float  # how often every environment is observed whole under this verdict


@dataclass
class Health:
    settings: Settings
    where: str  # "us-east-1", for messages
    problem: str | None = None  # why the rule or queue could not be made or read
    probed_at: float | None = None
    event_at: float | None = None

    def probe_due(self, now: float) -> bool:
        last = max(float("-inf") if t is None else t for t in (self.probed_at, self.event_at))
        return self.problem is None and now - last >= self.settings.window_seconds

    def verdict(self, now: float) -> Verdict:
        s = self.settings
        fallback = f"every environment is observed whole every {s.fallback_seconds:g} s instead"
        if not s.events:
            return Verdict("False", "EventsDisabled", f"drift events are off (AENV_DRIFT_EVENTS=false): {fallback}",
                           s.fallback_seconds)
        if self.problem is not None:
            return Verdict("False", "EventChannelUnavailable",
                           f"the EventBridge rule and queue {s.channel} in {self.where}: {self.problem}; {fallback}",
                           s.fallback_seconds)
        recent = self.probed_at is None or now - self.probed_at < s.window_seconds
        if self.event_at is not None and (recent or (self.probed_at is not None and self.event_at >= self.probed_at)):
            return Verdict("True", "CloudTrailEvents",
                           f"CloudTrail events reach the EventBridge rule {s.channel} in {self.where}: a change "
                           f"corrects within seconds; every environment is observed whole every {s.sweep_seconds:g} s",
                           s.sweep_seconds)
        if recent:
            return Verdict("Unknown", "WaitingForEvents",
                           f"waiting for a CloudTrail event on the EventBridge rule {s.channel} in {self.where}; "
                           f"until then {fallback}", s.fallback_seconds)
        return Verdict("False", "NoCloudTrailEvents",
                       f"no CloudTrail event reached the EventBridge rule {s.channel} in {self.where} within "
                       f"{s.window_seconds:g} s of a change aenv made (is a CloudTrail trail logging management "
                       f"events in this account and region?): {fallback}", s.fallback_seconds)
