"""The blue-green strategy: preview, pre-promotion gate, promotion, post-promotion analysis, scale-down delay and
fast rollback."""

from __future__ import annotations

from datetime import timedelta

from ...api.rollout_state import RolloutState
from .analysis_runs import _drop_runs, _start_run
from .context import _Ctx, _set
from .transitions import _abort, _pause_inconclusive, _wait


def _start_blue_green(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    if s.active_revision not in (None, s.stable_revision, want):
        # The superseded revision was already promoted and serves all traffic: it becomes the stable one.
        s = _set(s, scale_down_revision=s.stable_revision, stable_revision=s.active_revision,
                 scale_down_at=ctx.now + timedelta(seconds=ctx.blue_green.scale_down_delay_seconds))
    return _set(s, preview_revision=want, preview_ready_at=None, promoted_at=None,
                active_revision=s.stable_revision, phase="Progressing",
                message=f"scaling preview revision {want} to {ctx.replicas} pods")


def _can_fast_rollback(s: RolloutState, want: str, ctx: _Ctx) -> bool:
    """Blue-green: `want` is the previous revision, still at full size inside its scale-down delay."""
    return (s.strategy == "blueGreen" and want == s.scale_down_revision and s.scale_down_at is not None
            and ctx.now < s.scale_down_at and ctx.obs.ready(want) >= ctx.replicas)


def _fast_rollback(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    old = s.active_revision
    s = _drop_runs(s, f"fast rollback to revision {want}")
    s = _set(s, stable_revision=want, desired_revision=want, active_revision=want, preview_revision=None,
             preview_ready_at=None, promoted_at=None, pending_promotion=None, aborted=False, abort_reason=None,
             weight=0, phase="Healthy", waiting_since=None, paused_at=None, pause_reason=None,
             scale_down_revision=old,
             scale_down_at=ctx.now + timedelta(seconds=ctx.blue_green.scale_down_delay_seconds),
             message=f"fast rollback: active Service switched back to revision {want}")
    ctx.emit("FastRollback", s.message)
    return s


def _progress_blue_green(s: RolloutState, ctx: _Ctx) -> RolloutState:
    if s.active_revision == s.desired_revision:
        return _post_promotion(s, ctx)
    return _pre_promotion(s, ctx)


def _pre_promotion(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Preview at full size, then the pre-promotion gate, then auto or manual promotion."""
    promote_now = ctx.take_promote()
    if ctx.take_promote_full():
        s = _drop_runs(s, "skipped by promote --full", ("prePromotion",))
        s = _set(s, pending_promotion="full")
    ready = ctx.obs.ready(s.desired_revision)
    if ready < ctx.replicas:
        s = _set(s, pending_promotion=s.pending_promotion or ("promote" if promote_now else None))
        return _wait(s, f"waiting for {ctx.replicas} ready preview pods ({ready} ready)", ctx)[0]
    if s.preview_ready_at is None:
        s = _set(s, preview_ready_at=ctx.now, waiting_since=None)
    s, blocked = _pre_promotion_gate(s, promote_now, ctx)
    if blocked:
        return s
    auto = ctx.blue_green.auto_promotion_seconds
    if promote_now or s.pending_promotion is not None:
        return _promote_blue_green(s, ctx)
    if auto is not None:
        at = (s.preview_ready_at or ctx.now) + timedelta(seconds=auto)
        if ctx.now >= at:
            return _promote_blue_green(s, ctx)
        return _set(s, phase="Progressing", message=f"preview {s.desired_revision} ready; auto-promotion at "
                                                    f"{at.isoformat()}")
    if s.pause_reason != "BlueGreenPause":
        ctx.emit("RolloutPaused", f"preview {s.desired_revision} ready: waiting for promote")
    return _set(s, phase="Paused", pause_reason="BlueGreenPause", paused_at=s.paused_at or ctx.now,
                message=f"preview {s.desired_revision} ready: waiting for promote")


def _pre_promotion_gate(s: RolloutState, promote_now: bool, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """(state, blocked). A running analysis blocks even a promote (remembered); an inconclusive one pauses
    until a promote accepts it; a failed one aborts."""
    analysis = ctx.blue_green.pre_promotion_analysis
    if analysis is None or s.pending_promotion == "full":
        return s, False
    run = s.run("prePromotion")
    if run is None:
        s = _start_run(s, "prePromotion", analysis, ctx)
        run = s.run("prePromotion")
        assert run is not None
    if run.phase in ("Failed", "Error"):
        return _abort(s, "AnalysisFailed", f"pre-promotion analysis run {run.name}: {run.message}", ctx), True
    if run.phase == "Inconclusive" and not promote_now:
        return _pause_inconclusive(s, run, ctx), True
    if run.phase == "Running":
        pending = s.pending_promotion or ("promote" if promote_now else None)
        return _set(s, phase="Progressing", pending_promotion=pending,
                    message=f"pre-promotion analysis run {run.name} in progress"), True
    return s, False


def _promote_blue_green(s: RolloutState, ctx: _Ctx) -> RolloutState:
    s = _drop_runs(s, "promoted", ("prePromotion",))
    s = _set(s, active_revision=s.desired_revision, promoted_at=ctx.now, weight=100, phase="Progressing",
             paused_at=None, pause_reason=None, waiting_since=None,
             message=f"promoted: active Service switched to revision {s.desired_revision}")
    ctx.emit("RolloutPromoted", s.message)
    analysis = ctx.blue_green.post_promotion_analysis
    if analysis is not None and s.pending_promotion != "full":
        return _start_run(s, "postPromotion", analysis, ctx)
    return _complete_blue_green(s, ctx)


def _post_promotion(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Active switched; post-promotion analysis decides: success completes, failure switches back."""
    run = s.run("postPromotion")
    if run is not None and run.phase in ("Failed", "Error"):
        return _abort(s, "AnalysisFailed", f"post-promotion analysis run {run.name}: {run.message}; active Service "
                                           f"switched back to revision {s.stable_revision}", ctx)
    skip = ctx.take_promote() | ctx.take_promote_full()
    if run is None or skip or run.phase in ("Successful", "Terminated"):
        return _complete_blue_green(s, ctx)
    if run.phase == "Inconclusive":
        return _pause_inconclusive(s, run, ctx)
    return _set(s, phase="Progressing", message=f"post-promotion analysis run {run.name} in progress")


def _complete_blue_green(s: RolloutState, ctx: _Ctx) -> RolloutState:
    old = s.stable_revision
    delay = ctx.blue_green.scale_down_delay_seconds
    s = _drop_runs(s, "rollout completed")
    s = _set(s, stable_revision=s.desired_revision, active_revision=s.desired_revision, preview_revision=None,
             preview_ready_at=None, weight=0, phase="Healthy", pending_promotion=None, paused_at=None,
             pause_reason=None, waiting_since=None, scale_down_revision=old,
             scale_down_at=ctx.now + timedelta(seconds=delay),
             message=f"revision {s.desired_revision} is stable; revision {old} scales down in {delay}s")
    ctx.emit("RolloutCompleted", s.message)
    return s


def _blue_green_replicas(s: RolloutState, want: dict[str, int], ctx: _Ctx) -> dict[str, int]:
    total = ctx.replicas
    if s.in_progress and not s.aborted and s.desired_revision is not None:
        want[s.desired_revision] = total
    if s.scale_down_revision is not None:
        want.setdefault(s.scale_down_revision, total)
    serving = ctx.obs.active_service
    if serving is not None and serving not in want:  # never scale down what the active Service still selects
        want[serving] = ctx.obs.scaled(serving)
    return want
