"""The level-triggered half: the shape the state wants (replicas, Services, weight) against the observed one."""

from __future__ import annotations

from ...api.rollout_state import RolloutState
from .arithmetic import routed_canary_replicas
from .blue_green import _blue_green_replicas
from .canary import _canary_base, _ratio_replicas_keeping_capacity
from .context import _Ctx, _set
from .migrating import _held
from .model import Action, ScaleReplicaSet, SetWeight, SwitchActive, SwitchPreview


def _tidy(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Release superseded canaries once the router carries no canary traffic; end the scale-down delay of the
    old blue-green revision once it passed and the active Service has left it."""
    if s.retiring and (not ctx.routed or not ctx.applied):
        s = _set(s, retiring=[])
    if (s.scale_down_at is not None and ctx.now >= s.scale_down_at
            and ctx.obs.active_service in (None, s.active_revision)):
        ctx.emit("ScaledDown", f"scale-down delay over: revision {s.scale_down_revision} scaled to 0")
        s = _set(s, scale_down_revision=None, scale_down_at=None)
    return s


def _desired_replicas(s: RolloutState, ctx: _Ctx) -> dict[str, int]:
    total = ctx.replicas
    if s.desired_revision is None:
        return {}
    if s.stable_revision is None:
        return {} if _held(s) else {s.desired_revision: total}
    want = {s.stable_revision: total}
    if s.strategy == "blueGreen":
        want = _blue_green_replicas(s, want, ctx)
        if _held(s):
            want[s.desired_revision] = 0
        return want
    applied = ctx.applied or 0
    floor = routed_canary_replicas(total, applied) if ctx.routed and applied > s.weight else 0
    for revision in s.retiring:
        want.setdefault(revision, floor)
    if not s.in_progress:
        return want
    if s.aborted or _held(s):
        want[s.desired_revision] = floor
    elif ctx.routed:
        want[s.desired_revision] = max(_canary_base(s, ctx), floor)
    else:
        want.update(_ratio_replicas_keeping_capacity(s, ctx))
    return want


def _reconcile(s: RolloutState, ctx: _Ctx) -> list[Action]:
    """Level-triggered actions: the difference between the wanted shape and the observed one, ordered
    scale-ups, Service switches, weight, scale-downs."""
    want = _desired_replicas(s, ctx)
    for revision, rs in ctx.obs.replica_sets.items():
        if rs.replicas > 0:
            want.setdefault(revision, 0)
    changes = [(r, n) for r, n in want.items() if ctx.obs.scaled(r) != n]
    ups = [ScaleReplicaSet(r, n) for r, n in changes if n > ctx.obs.scaled(r)]
    downs = [ScaleReplicaSet(r, n) for r, n in changes if n < ctx.obs.scaled(r)]
    return [*ups, *_switches(s, ctx), *_weight(s, ctx), *downs]


def service_revisions(s: RolloutState, strategy: str) -> dict[str, str | None]:
    """The revision each Service of the workload selects in state s, by suffix ("" is the plain Service;
    None selects every revision): what the operator restores when a Service is deleted or edited."""
    current = s.stable_revision or s.desired_revision
    if strategy != "blueGreen":
        return {"": None, "stable": current, "canary": s.desired_revision if s.in_progress else current}
    active = s.active_revision or current
    preview_ready = s.in_progress and not s.aborted and s.preview_ready_at is not None
    return {"": active, "preview": s.desired_revision if preview_ready else active}


def _switches(s: RolloutState, ctx: _Ctx) -> list[Action]:
    if s.strategy != "blueGreen" or s.desired_revision is None:
        return []
    want = service_revisions(s, s.strategy)
    active, preview = want[""], want["preview"]
    assert active is not None and preview is not None, "a blue-green state with a desired revision selects one"
    out: list[Action] = []
    if ctx.obs.preview_service != preview:
        out.append(SwitchPreview(preview))
    if ctx.obs.active_service != active:
        out.append(SwitchActive(active))
    return out


def _weight(s: RolloutState, ctx: _Ctx) -> list[Action]:
    if not ctx.routed or s.desired_revision is None or ctx.applied == s.weight:
        return []
    stable = s.stable_revision or s.desired_revision
    return [SetWeight(s.weight, stable, s.desired_revision if s.in_progress else stable)]
