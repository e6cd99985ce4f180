"""Following the desired revision: first deployment, a new rollout, a changed strategy, revert to stable; the
bounded revision history."""

from __future__ import annotations

from ...api.rollout_state import HISTORY_LIMIT, RevisionEntry, RolloutState
from .analysis_runs import _drop_runs
from .blue_green import _can_fast_rollback, _fast_rollback
from .context import _Ctx, _set
from .migrating import _await_migrations, _begin, _held
from .model import DeleteReplicaSet


def _follow_revision(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    if s.stable_revision is None:
        return _first_deployment(s, want, ctx)
    if want == s.desired_revision:
        return s
    if want == s.stable_revision:
        return _revert(s, ctx)
    s = _record(s, want, ctx)
    if _can_fast_rollback(s, want, ctx):
        return _fast_rollback(s, want, ctx)
    ctx.emit("RolloutStarted", f"rolling out revision {want} ({ctx.policy.strategy}); "
                               f"stable revision {s.stable_revision}")
    return _start(s, want, ctx)


def _follow_strategy(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Adopt the policy's strategy; a rollout in progress under the other strategy restarts under this one."""
    if s.strategy == ctx.policy.strategy:
        return s
    restart = s.strategy is not None and s.in_progress
    blue_green = ctx.policy.strategy == "blueGreen"
    s = _set(s, strategy=ctx.policy.strategy, retiring=[], preview_revision=None, preview_ready_at=None,
             promoted_at=None, scale_down_revision=None, scale_down_at=None,
             active_revision=(s.stable_revision or s.desired_revision) if blue_green else None)
    if restart and s.desired_revision is not None:
        ctx.emit("RolloutRestarted", f"strategy changed to {ctx.policy.strategy}: restarting the rollout")
        return _start(s, s.desired_revision, ctx)
    return s


def _first_deployment(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    """No stable revision yet: nothing to protect, so no steps. Full size at once; stable once all ready."""
    if s.desired_revision != want:
        s = _set(s, desired_revision=want, phase="Progressing", step=0, weight=0, step_started_at=ctx.now,
                 waiting_since=ctx.now, aborted=False, abort_reason=None,
                 active_revision=want if s.strategy == "blueGreen" else None,
                 message=f"first deployment of revision {want}")
        s = _await_migrations(_record(s, want, ctx), want, ctx)
    if _held(s):
        return s
    ready = ctx.obs.ready(want)
    if ready >= ctx.replicas:
        ctx.emit("RolloutCompleted", f"revision {want} is stable ({ready} pods ready)")
        return _set(s, stable_revision=want, phase="Healthy", step=len(ctx.steps), waiting_since=None,
                    message=f"revision {want} is stable")
    since = s.waiting_since or ctx.now
    message = f"first deployment of revision {want}: {ready}/{ctx.replicas} pods ready"
    if ctx.now - since >= ctx.deadline:
        if s.phase != "Degraded":
            ctx.emit("ProgressDeadlineExceeded", message, warning=True)
        return _set(s, phase="Degraded", waiting_since=since, message=f"ProgressDeadlineExceeded: {message}")
    return _set(s, phase="Progressing", waiting_since=since, message=message)


def _start(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    """Begin the rollout of `want` from the beginning (new revision, retry, strategy change)."""
    old = s.canary_revision
    s = _drop_runs(s, f"superseded by the rollout of revision {want}")
    s = _set(s, desired_revision=want, aborted=False, abort_reason=None, pending_promotion=None, weight=0,
             waiting_since=None, paused_at=None, pause_reason=None, step_started_at=ctx.now)
    s = _set(s, retiring=_retire(s, old, ctx))
    if ctx.obs.migrations is not None:
        return _await_migrations(s, want, ctx)
    return _begin(_set(s, migration=None), ctx)


def _retire(s: RolloutState, old: str | None, ctx: _Ctx) -> list[str]:
    """Retiring canaries after `old` stops being the canary: with a router it keeps its pods while the router
    may still send it traffic (a superseded canary with weight 20 must not drop to 0 pods before the router
    moved those 20% away)."""
    retiring = [*s.retiring, old] if ctx.routed and old is not None and old not in s.retiring else s.retiring
    return [r for r in retiring if r not in (s.desired_revision, s.stable_revision)]


def _revert(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """The stable revision is desired again: back to Healthy at once, no rollout. A routed canary keeps its
    pods (as `retiring`) until the router reports weight 0."""
    old = s.desired_revision
    s = _drop_runs(s, f"rollout of {old} cancelled: revision {s.stable_revision} re-applied")
    s = _set(s, desired_revision=s.stable_revision)
    s = _set(s, retiring=_retire(s, old, ctx), aborted=False, abort_reason=None, phase="Healthy", weight=0,
             step=len(ctx.steps), waiting_since=None, paused_at=None, pause_reason=None,
             pending_promotion=None, active_revision=s.stable_revision, preview_revision=None,
             preview_ready_at=None, promoted_at=None,
             message=f"stable revision {s.stable_revision} re-applied; revision {old} scaled down")
    ctx.emit("RolloutReverted", s.message)
    return _record(s, s.stable_revision or "", ctx)


def _record(s: RolloutState, revision: str, ctx: _Ctx) -> RolloutState:
    """Put `revision` on top of the history with the next number; prune beyond HISTORY_LIMIT."""
    number = max((e.number for e in s.history), default=0) + 1
    entries = [e for e in s.history if e.revision != revision] + [RevisionEntry(number=number, revision=revision)]
    keep = {s.stable_revision, s.desired_revision, s.active_revision, s.scale_down_revision, revision,
            *s.retiring}
    while len(entries) > HISTORY_LIMIT:
        victim = next((e for e in entries if e.revision not in keep), None)
        if victim is None:
            break
        entries.remove(victim)
        ctx.actions.append(DeleteReplicaSet(victim.revision))
    return _set(s, history=entries)
