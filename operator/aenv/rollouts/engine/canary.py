"""The canary strategy: steps in order, background analysis, the end; the replicas each step asks for."""

from __future__ import annotations

from ...api.rollout import Analysis, Pause, Step
from ...api.rollout_state import RolloutState
from .analysis_runs import _drop_runs, _start_run, _stop_runs
from .arithmetic import parse_duration, ratio_replicas, routed_canary_replicas
from .context import _Ctx, _set
from .transitions import _abort, _pause_inconclusive, _wait


def _progress_canary(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Background analysis first (it can abort or pause at any step), then steps until one blocks."""
    steps = ctx.steps
    s = _set(s, step=min(s.step, len(steps)))
    if ctx.promote_full and s.step < len(steps):
        ctx.promote_full = False
        ctx.emit("RolloutPromotedFull", f"promoted to the end: skipping steps {s.step + 1}..{len(steps)} and "
                                        "analysis")
        s = _drop_runs(s, "skipped by promote --full", ("step",))
        s = _stop_runs(s, "skipped by promote --full")
        s = _enter(_set(s, pending_promotion="full"), len(steps), ctx)
    s, blocked = _background_gate(s, ctx)
    if blocked:
        return s
    for _ in range(len(steps) + 1):
        if s.step >= len(steps):
            return _finish_canary(s, ctx)
        s, done = _canary_step(s, steps[s.step], ctx)
        if not done:
            return s
        s = _drop_runs(s, "step completed", ("step",))
        s = _enter(s, s.step + 1, ctx)
    return s


def _background_gate(s: RolloutState, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """(state, blocked): a failed background run aborts; an inconclusive one pauses until a promote, which
    starts a fresh run. A full promotion leaves analysis behind."""
    background = s.run("background")
    if background is None or s.pending_promotion == "full":
        return s, False
    if background.phase in ("Failed", "Error"):
        return _abort(s, "AnalysisFailed", f"background analysis run {background.name}: {background.message}",
                      ctx), True
    if background.phase != "Inconclusive":
        return s, False
    if not ctx.take_promote():
        return _pause_inconclusive(s, background, ctx), True
    s = _set(s, runs=[r for r in s.runs if r.kind != "background"], pause_reason=None, phase="Progressing")
    return _start_background(s, ctx), False


def _enter(s: RolloutState, index: int, ctx: _Ctx) -> RolloutState:
    """Start step `index` (len(steps): the end), at `now`."""
    steps = ctx.steps
    s = _set(s, step=index, step_started_at=ctx.now, waiting_since=None, paused_at=None, pause_reason=None,
             phase="Progressing", message=_describe(index, steps))
    s = _start_background(s, ctx)
    if index >= len(steps):
        return s
    current = steps[index]
    if current.set_weight is not None and not ctx.routed:
        s = _set(s, weight=current.set_weight)
    if current.pause is not None:
        s = _set(s, phase="Paused", pause_reason="CanaryPauseStep", paused_at=ctx.now)
        ctx.emit("RolloutPaused", s.message)
    if current.analysis is not None:
        s = _start_run(s, "step", current.analysis, ctx, index)
    return s


def _start_background(s: RolloutState, ctx: _Ctx) -> RolloutState:
    background = ctx.canary.analysis
    if (background is None or s.step < background.starting_step or s.run("background") is not None
            or s.pending_promotion == "full"):
        return s
    return _start_run(s, "background", background, ctx)


def _describe(index: int, steps: list[Step]) -> str:
    if index >= len(steps):
        return f"all {len(steps)} steps done: promoting to 100%"
    current, where = steps[index], f"step {index + 1}/{len(steps)}"
    if current.set_weight is not None:
        return f"{where}: setWeight {current.set_weight}"
    if current.pause is not None:
        return f"{where}: pause {current.pause.duration or 'until promoted'}"
    if current.analysis is not None:
        return f"{where}: analysis"
    return f"{where}: setCanaryScale"


def _canary_step(s: RolloutState, current: Step, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """Run the current step; True when it is done."""
    if current.pause is not None:
        return _pause_step(s, current.pause, ctx)
    if current.analysis is not None:
        return _analysis_step(s, current.analysis, ctx)
    if ctx.take_promote():
        return s, True
    if current.set_weight is not None:
        return _weight_step(s, current.set_weight, ctx)
    return _scale_step(s, ctx)


def _pause_step(s: RolloutState, pause: Pause, ctx: _Ctx) -> tuple[RolloutState, bool]:
    if ctx.take_promote():
        ctx.emit("RolloutPromoted", f"promoted past the pause of step {s.step + 1}/{len(ctx.steps)}")
        return s, True
    paused_at = s.paused_at or ctx.now
    if pause.duration is not None and ctx.now >= paused_at + parse_duration(pause.duration):
        return s, True
    until = f"until {(paused_at + parse_duration(pause.duration)).isoformat()}" if pause.duration else \
        "until promoted"
    return _set(s, phase="Paused", pause_reason="CanaryPauseStep", paused_at=paused_at,
                message=f"step {s.step + 1}/{len(ctx.steps)}: paused {until}"), False


def _analysis_step(s: RolloutState, analysis: Analysis, ctx: _Ctx) -> tuple[RolloutState, bool]:
    run = s.run("step", s.step)
    if run is None:  # the policy gained this analysis mid-step
        return _start_run(s, "step", analysis, ctx, s.step), False
    if run.phase in ("Failed", "Error"):
        return _abort(s, "AnalysisFailed", f"analysis run {run.name}: {run.message}", ctx), False
    if ctx.take_promote() or run.phase in ("Successful", "Terminated"):
        return s, True
    if run.phase == "Inconclusive":
        return _pause_inconclusive(s, run, ctx), False
    return _set(s, phase="Progressing", waiting_since=None,
                message=f"{_describe(s.step, ctx.steps)}: run {run.name} in progress ({run.message or 'started'})"), \
        False


def _weight_step(s: RolloutState, weight: int, ctx: _Ctx) -> tuple[RolloutState, bool]:
    if ctx.routed:
        return _route_weight(s, weight, ctx)
    return _ratio_step(s, ctx)


def _ratio_step(s: RolloutState, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """No router: the step is done only once both ReplicaSets are scaled to their share and all their pods are
    ready, as Argo Rollouts. The stable shrinks only after the canary's pods are ready (and the canary only after
    the stable's, when the weight goes down), so that scale-down is issued in a pass that still waits for it:
    the step's weight is really in effect before the next step starts.

    The shape awaited is the one `_reconcile` drives to: the targets, except where keeping capacity holds a side
    above its target for good (a setCanaryScale leaving canary + stable short of `replicas`)."""
    assert s.stable_revision is not None and s.desired_revision is not None
    canary, stable = _ratio_targets(s, ctx)
    want = _ratio_replicas_keeping_capacity(s, ctx)
    sides = {"canary": s.desired_revision, "stable": s.stable_revision}
    ready = {side: ctx.obs.ready(r) for side, r in sides.items()}
    scaling = [f"{side} {ctx.obs.scaled(r)} -> {want[r]}" for side, r in sides.items() if ctx.obs.scaled(r) != want[r]]
    if scaling or any(ready[side] != want[r] for side, r in sides.items()):
        message = (f"{_describe(s.step, ctx.steps)}: waiting for {canary} canary and {stable} stable pods "
                   f"({ready['canary']} and {ready['stable']} ready)")
        return _wait(s, message + (f"; scaling {', '.join(scaling)}" if scaling else ""), ctx)
    return s, True


def _route_weight(s: RolloutState, weight: int, ctx: _Ctx) -> tuple[RolloutState, bool]:
    """Router: enough ready canary pods first, then the weight, then the router's confirmation."""
    where = _describe(s.step, ctx.steps) if s.step < len(ctx.steps) else "promoting to 100%"
    need, ready = _canary_base(s, ctx), ctx.obs.ready(s.desired_revision)
    if ready < need:
        return _wait(s, f"{where}: waiting for {need} ready canary pods ({ready} ready)", ctx)
    if s.retiring:
        return _wait(s, f"{where}: waiting for the router to take traffic off {', '.join(s.retiring)}", ctx)
    s = _set(s, weight=weight) if s.weight != weight else s
    if ctx.applied != weight:
        return _wait(s, f"{where}: waiting for the router to apply weight {weight} (reports {ctx.applied})", ctx)
    return s, True


def _scale_step(s: RolloutState, ctx: _Ctx) -> tuple[RolloutState, bool]:
    if not ctx.routed:
        return _ratio_step(s, ctx)
    need, ready = _canary_override(s, ctx) or 0, ctx.obs.ready(s.desired_revision)
    if ready < need:
        return _wait(s, f"{_describe(s.step, ctx.steps)}: waiting for {need} ready canary pods ({ready} ready)", ctx)
    return s, True


def _finish_canary(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """The end: the canary at full size; with a router, 100% applied; then it becomes stable."""
    if ctx.routed:
        s, done = _route_weight(s, 100, ctx)
        return _complete_canary(s, ctx) if done else s
    ready = ctx.obs.ready(s.desired_revision)
    if ready < ctx.replicas:
        return _wait(s, f"promoting: waiting for {ctx.replicas} ready canary pods ({ready} ready)", ctx)[0]
    return _complete_canary(s, ctx)


def _complete_canary(s: RolloutState, ctx: _Ctx) -> RolloutState:
    old = s.stable_revision
    s = _drop_runs(s, "rollout completed")
    s = _set(s, stable_revision=s.desired_revision, weight=0, step=len(ctx.steps), phase="Healthy",
             waiting_since=None, paused_at=None, pause_reason=None, pending_promotion=None,
             message=f"revision {s.desired_revision} is stable; revision {old} scaled down")
    ctx.emit("RolloutCompleted", s.message)
    return s


def _step_weight(s: RolloutState, ctx: _Ctx) -> int:
    """The weight the current step aims at: the last setWeight up to it, 100 at the end."""
    steps = ctx.steps
    if s.step >= len(steps):
        return 100
    return next((st.set_weight for st in reversed(steps[: s.step + 1]) if st.set_weight is not None), 0)


def _canary_override(s: RolloutState, ctx: _Ctx) -> int | None:
    """Canary replicas fixed by the last setCanaryScale up to the current step (none at the end)."""
    steps = ctx.steps
    if s.step >= len(steps):
        return None
    scale = next((st.set_canary_scale for st in reversed(steps[: s.step + 1]) if st.set_canary_scale is not None), None)
    if scale is None:
        return None
    if scale.replicas is not None:
        return min(scale.replicas, ctx.replicas)
    return routed_canary_replicas(ctx.replicas, scale.weight or 0)


def _canary_base(s: RolloutState, ctx: _Ctx) -> int:
    """Routed canary pods the current step needs (before the in-flight floor)."""
    override = _canary_override(s, ctx)
    return override if override is not None else routed_canary_replicas(ctx.replicas, _step_weight(s, ctx))


def _ratio_targets(s: RolloutState, ctx: _Ctx) -> tuple[int, int]:
    """(canary, stable) without a router. At the end the canary goes to full size while the stable keeps its
    last size until the canary is ready (no capacity dip); a setCanaryScale overrides the canary only."""
    canary, stable = ratio_replicas(ctx.replicas, s.weight)
    if s.step >= len(ctx.steps):
        return ctx.replicas, stable
    override = _canary_override(s, ctx)
    return (override if override is not None else canary), stable


def _ratio_replicas_keeping_capacity(s: RolloutState, ctx: _Ctx) -> dict[str, int]:
    """Without a router, one side only shrinks as far as the other side's ready pods allow, so the workload
    never has fewer than `replicas` ready pods during a step (scale up first, then down: maxUnavailable 0)."""
    assert s.stable_revision is not None and s.desired_revision is not None
    canary, stable = _ratio_targets(s, ctx)
    total, obs = ctx.replicas, ctx.obs
    keep_stable = min(obs.scaled(s.stable_revision), total - obs.ready(s.desired_revision))
    keep_canary = min(obs.scaled(s.desired_revision), total - obs.ready(s.stable_revision))
    return {s.stable_revision: max(stable, keep_stable), s.desired_revision: max(canary, keep_canary)}
