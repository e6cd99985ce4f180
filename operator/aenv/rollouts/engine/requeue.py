"""When to call `step` again if nothing else happens."""

from __future__ import annotations

from datetime import datetime, timedelta

from ...api.rollout_state import RolloutState
from .analysis_runs import _due_times
from .arithmetic import parse_duration
from .context import _Ctx


def _requeue_at(s: RolloutState, ctx: _Ctx) -> datetime | None:
    """The earliest time the decision changes without new observations: a pause or auto-promotion ending, a
    progress deadline, a scale-down delay, a measurement falling due."""
    times = [t for t in (_pause_end(s, ctx), _auto_promotion(s, ctx), s.scale_down_at) if t is not None]
    if s.waiting_since is not None:
        times.append(s.waiting_since + ctx.deadline)
    times += [r.at for r in _due_times(s, ctx.policy)]
    return max(min(times), ctx.now) if times else None


def _pause_end(s: RolloutState, ctx: _Ctx) -> datetime | None:
    if s.pause_reason != "CanaryPauseStep" or s.paused_at is None or s.step >= len(ctx.steps):
        return None
    pause = ctx.steps[s.step].pause
    return s.paused_at + parse_duration(pause.duration) if pause is not None and pause.duration else None


def _auto_promotion(s: RolloutState, ctx: _Ctx) -> datetime | None:
    if s.strategy != "blueGreen" or not s.in_progress or s.aborted or s.preview_ready_at is None:
        return None
    auto = ctx.blue_green.auto_promotion_seconds if ctx.policy.blue_green is not None else None
    return s.preview_ready_at + timedelta(seconds=auto) if auto is not None else None
