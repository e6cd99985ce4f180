"""Transitions either strategy takes from any step: abort, wait (bounded by the progress deadline), pause on an
inconclusive analysis run."""

from __future__ import annotations

from ...api.rollout_state import AnalysisRunState, RolloutState
from .analysis_runs import _stop_runs
from .context import _Ctx, _set


def _abort(s: RolloutState, reason: str, message: str, ctx: _Ctx) -> RolloutState:
    """All traffic back to stable; the new revision is scaled down by `_reconcile` (with a router: once the
    router reports weight 0). Failed runs stay in `runs` to show why."""
    s = _stop_runs(s, f"rollout aborted: {reason}")
    s = _set(s, aborted=True, abort_reason=reason, phase="Aborted", weight=0, waiting_since=None,
             paused_at=None, pause_reason=None, pending_promotion=None, message=f"{reason}: {message}")
    if s.strategy == "blueGreen":
        s = _set(s, active_revision=s.stable_revision, promoted_at=None)
    ctx.emit(reason, message, warning=True)
    return s


def _wait(s: RolloutState, message: str, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """Not done yet: Progressing, unless the wait outlasted the progress deadline, which aborts."""
    since = s.waiting_since or ctx.now
    if ctx.now - since >= ctx.deadline:
        seconds = int(ctx.deadline.total_seconds())
        return _abort(s, "ProgressDeadlineExceeded", f"no progress for {seconds}s: {message}", ctx), False
    return _set(s, phase="Progressing", waiting_since=since, pause_reason=None, message=message), False


def _pause_inconclusive(s: RolloutState, run: AnalysisRunState, ctx: _Ctx) -> RolloutState:
    if s.pause_reason != "InconclusiveAnalysis":
        ctx.emit("RolloutPaused", f"analysis run {run.name} is inconclusive ({run.message}): promote to continue "
                                  "or abort", warning=True)
    return _set(s, phase="Paused", pause_reason="InconclusiveAnalysis", paused_at=s.paused_at or ctx.now,
                waiting_since=None, message=f"paused: analysis run {run.name} inconclusive: {run.message}")
