"""The rollout engine: the next step of an Argo-Rollouts-style rollout of one workload. Pure.

    step(state, policy, observations, now) -> Decision(state, actions, requeue_at)

No I/O, no clock, no randomness: the same inputs always give the same decision. The operator observes the
workload (ReplicaSets, the traffic router, analysis measurements, user commands), calls `step`, applies the
actions in order, and writes `decision.state` to status only once they all succeeded; after a crash or a
failed action in between, the next call starts again from the same state.

Actions come in two kinds. `ScaleReplicaSet`, `SetWeight`, `SwitchActive` and `SwitchPreview` are
level-triggered: the engine compares the shape it wants with the observed one and asks only for the
difference, so they repeat until observed and correct drift. `DeleteReplicaSet` and `Emit` are
edge-triggered: each is returned once, at the transition. Analysis is no action: a run is started or stopped
in `state.runs`, and `due_measurements(state, policy, now)` tells the operator which metric to measure when.

The state machine (phases are RolloutState.phase):

    no stable revision ----- first deployment: desired scaled to full, stable once all pods are ready
                             (Progressing; Degraded past the progress deadline, nothing to abort to)
    Healthy ---------------- spec revision == stable; a new revision starts a rollout (canary step 0, or a
                             blue-green preview); re-applying a blue-green revision still inside its
                             scale-down delay and still fully ready switches back at once (fast rollback)
    Progressing / Paused --- canary: steps run in order (several in one call when nothing blocks):
                               setWeight N      router: ready canary pods for N and superseded canaries
                                                drained first, then SetWeight(N), then wait until the router
                                                reports N applied; replica ratio: canary and stable scaled
                                                to approximate N (up before down), wait until all are ready
                               setCanaryScale   canary replicas fixed (until the next setCanaryScale or the
                                                end), wait until ready
                               pause            until paused_at + duration, or until promoted
                               analysis         a run: Successful advances, Failed/Error aborts,
                                                Inconclusive pauses (promote accepts it)
                             background analysis starts at its startingStep; Failed/Error aborts at any
                             step, Inconclusive pauses (promote starts a fresh run)
                             a promote skips the current step (a pause, an analysis, a wait for pods or
                             weight); promoteFull skips the remaining steps and all analysis
                             the end: the canary scaled to full; with a router, weight 100 once its pods are
                             ready, and stable once the router reports 100 applied; without one, stable once
                             the canary is fully ready (the old ReplicaSet keeps its last size meanwhile).
                             Only then is the old ReplicaSet scaled down
                             blue-green: preview scaled to full; once ready, the preview Service switches,
                             pre-promotion analysis runs; then auto-promotion after autoPromotionSeconds, or
                             Paused until promoted (promoteFull also skips both analyses); promotion
                             switches the active Service, post-promotion analysis runs (failure switches back
                             and aborts); on success the new revision is stable and the old one is kept for
                             scaleDownDelaySeconds
    Aborted ---------------- all traffic on stable, the new revision scaled down (with a router, only once
                             the router reports weight 0); stays so while the spec holds the bad revision;
                             retry restarts at step 0, a new revision starts a new rollout, re-applying the
                             stable revision returns to Healthy at once
    migration gate --------- with migrations (Observations.migrations), a new rollout or first deployment holds
                             at step 0 without pods and asks RunMigrations(up) until an outcome: success
                             starts the first step, failure aborts (MigrationFailed); an abort after they
                             changed the database asks RunMigrations(down) back to the version before
                             (migrating.py)
    progress deadline ------ waiting for pods or the router longer than progressDeadlineSeconds aborts
                             with reason ProgressDeadlineExceeded

Commands (promote, promoteFull, abort, retry, undo) carry an id; the engine remembers the last few ids (never
forgetting one still observed), so a command observed again, after a restart too, is not applied twice. An
undo pins a revision from the bounded history (by default the previous one) in place of the spec's until the
spec changes; it is followed like any desired revision (rolled out, or at once if it is the stable one).

The package, one module per part of the machine (each depends only on those above it):

    arithmetic     durations, and the replicas a weight needs (routed, or as a replica ratio)
    model          observations in, actions and the decision out
    context        one call's inputs and what it accumulates; how state changes (_set)
    analysis_runs  measurements -> verdicts; runs started and stopped; which metric is due when
    transitions    abort, wait under the progress deadline, pause on an inconclusive run
    canary         the canary steps and the replicas each asks for
    blue_green     preview, promotion gates, scale-down delay, fast rollback
    migrating      the migration gate before the first step, and the revert after an abort
    revisions      following the desired revision: first deployment, new rollout, revert, history
    commands       promote, promoteFull, abort, retry, undo
    shape          the level-triggered actions: scale, switch, weight
    requeue        when to call `step` again
"""

from __future__ import annotations

from datetime import datetime

from ...api.rollout import Rollout
from ...api.rollout_state import RolloutState
from .analysis_runs import _ingest, due_measurements
from .arithmetic import parse_duration, ratio_replicas, routed_canary_replicas
from .blue_green import _progress_blue_green
from .canary import _progress_canary
from .commands import _apply_commands, _resolve_desired
from .context import _Ctx
from .migrating import _held, _migration_actions, _migration_gate, _revert_migrations
from .model import (
    Action,
    Command,
    CommandKind,
    Decision,
    DeleteReplicaSet,
    Emit,
    MeasurementRequest,
    MigrationOutcome,
    Observations,
    ReplicaSetObservation,
    RunMeasurement,
    RunMigrations,
    ScaleReplicaSet,
    SetWeight,
    SwitchActive,
    SwitchPreview,
    Verdict,
)
from .requeue import _requeue_at
from .revisions import _follow_revision, _follow_strategy
from .shape import _reconcile, _tidy, service_revisions

__all__ = [
    "Action",
    "Command",
    "CommandKind",
    "Decision",
    "DeleteReplicaSet",
    "Emit",
    "MeasurementRequest",
    "MigrationOutcome",
    "Observations",
    "ReplicaSetObservation",
    "RunMeasurement",
    "RunMigrations",
    "ScaleReplicaSet",
    "SetWeight",
    "SwitchActive",
    "SwitchPreview",
    "Verdict",
    "due_measurements",
    "parse_duration",
    "ratio_replicas",
    "routed_canary_replicas",
    "service_revisions",
    "step",
]


def step(state: RolloutState, policy: Rollout, obs: Observations, now: datetime) -> Decision:
    """Decide the next step of the rollout of one workload. See the package docstring for the state machine."""
    ctx = _Ctx(policy, obs, now)
    s = _follow_strategy(state, ctx)
    s = _apply_commands(s, ctx)
    s = _ingest(s, ctx)
    s, want = _resolve_desired(s, ctx)
    s = _migration_gate(s, ctx)
    s = _follow_revision(s, want, ctx)
    if s.in_progress and not s.aborted and not _held(s):
        s = _progress_canary(s, ctx) if s.strategy == "canary" else _progress_blue_green(s, ctx)
    s = _revert_migrations(s, ctx)
    s = _tidy(s, ctx)
    if ctx.promotes or ctx.promote_full:
        ctx.emit("PromoteIgnored", "nothing to promote: " + (s.message or f"rollout is {s.phase}"))
    return Decision(s, [*ctx.actions, *_migration_actions(s), *_reconcile(s, ctx)], _requeue_at(s, ctx))
