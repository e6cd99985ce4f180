"""The rollout engine: the next step of an Argo-Rollouts-style rollout of one workload. Pure.

    step(state, policy, observations, now) -> Decision(state, actions, requeue_at)

No I/O, no clock, no randomness: the same inputs always give the same decision. The operator observes the
workload (ReplicaSets, the traffic router, analysis measurements, user commands), calls `step`, applies the
actions in order, and writes `decision.state` to status only once they succeeded; a crash in between
replays the same decision.

Actions come in two kinds. `ScaleReplicaSet`, `SetWeight`, `SwitchActive` and `SwitchPreview` are
level-triggered: the engine compares the shape it wants with the observed one and asks only for the
difference, so they repeat until observed and correct drift. `StartAnalysis`, `StopAnalysis`,
`DeleteReplicaSet` and `Emit` are edge-triggered: each is returned once, at the transition.

The state machine (phases are RolloutState.phase):

    no stable revision ----- first deployment: desired scaled to full, stable once all pods are ready
                             (Progressing; Degraded past the progress deadline, nothing to abort to)
    Healthy ---------------- spec revision == stable; a new revision starts a rollout (canary step 0, or a
                             blue-green preview); re-applying a blue-green revision still inside its
                             scale-down delay switches back at once (fast rollback)
    Progressing / Paused --- canary: steps run in order (several in one call when nothing blocks):
                               setWeight N      router: scale the canary for N, then SetWeight(N), then wait
                                                until the router reports N applied; replica ratio: canary
                                                and stable scaled to approximate N, wait until ready
                               setCanaryScale   canary replicas fixed (until the end), wait until ready
                               pause            until paused_at + duration, or until promoted
                               analysis         a run: Successful advances, Failed/Error aborts,
                                                Inconclusive pauses (promote accepts it)
                             background analysis starts at its startingStep; Failed/Error aborts at any
                             step, Inconclusive pauses (promote starts a fresh run)
                             the end: weight 100 on full canary pods; once the router reports 100 applied
                             (no router: once the canary is fully ready) the canary becomes stable, and only
                             then is the old ReplicaSet scaled down
                             blue-green: preview scaled to full; once ready, the preview Service switches,
                             pre-promotion analysis runs; then auto-promotion after autoPromotionSeconds, or
                             Paused until promoted; promotion switches the active Service, post-promotion
                             analysis runs (failure switches back and aborts); on success the new revision
                             is stable and the old one is kept for scaleDownDelaySeconds
    Aborted ---------------- all traffic on stable, the new revision scaled down (with a router, only once
                             the router reports weight 0); stays so while the spec holds the bad revision;
                             retry restarts at step 0, a new revision starts a new rollout, re-applying the
                             stable revision returns to Healthy at once
    progress deadline ------ waiting for pods or the router longer than progressDeadlineSeconds aborts
                             with reason ProgressDeadlineExceeded

Commands (promote, promoteFull, abort, retry, undo) carry an id; the engine remembers the last few ids, so
a command observed again after a restart is not applied twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ..api.rollout import Analysis, BlueGreen, Canary, Metric, Pause, Rollout, Step
from ..api.rollout_state import (
    COMMAND_MEMORY,
    HISTORY_LIMIT,
    ROLLOUT_MESSAGE_LIMIT,
    AnalysisRunState,
    MetricState,
    RevisionEntry,
    RolloutState,
    RunKind,
    RunPhase,
    UndoPin,
)

# ---------------------------------------------------------------------------------------------------------------
# Durations and replica arithmetic
# ---------------------------------------------------------------------------------------------------------------

_DURATION = re.compile(r"([0-9]+)(s|m|h)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    """'30s', '5m', '2h' -> timedelta. The API pattern only admits these forms."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (expected a number and s, m or h, e.g. 30s, 5m, 2h)")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def routed_canary_replicas(total: int, weight: int) -> int:
    """Canary pods for `weight` percent behind a traffic router: ceil(total * weight / 100), as Argo Rollouts.

    The stable ReplicaSet stays at full size until the end, so the canary only needs enough pods to carry
    its share: 10 replicas at 41% -> 5 canary pods (and 10 stable).
    """
    return max(0, -(-total * weight // 100))


def ratio_replicas(total: int, weight: int) -> tuple[int, int]:
    """(canary, stable) pods approximating `weight` percent without a router, where a Service spreads traffic
    evenly over all pods of both revisions.

    The canary gets round-half-up(total * weight / 100) pods and the stable the rest, so the total stays at
    `total`: 10 replicas at 41% -> 4 canary + 6 stable; at 25% -> 3 + 7; at 5% -> 1 + 9. While the weight is
    strictly between 0 and 100 each side keeps at least one pod (1 replica at 50% -> 1 + 1, one pod of surge),
    so a 1% canary still gets a pod and a 99% canary still leaves the stable serving.
    """
    if total <= 0:
        return 0, 0
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    canary = min(max((2 * total * weight + 100) // 200, 1), total)
    return canary, max(total - canary, 1)


# ---------------------------------------------------------------------------------------------------------------
# Observations: what the operator feeds in
# ---------------------------------------------------------------------------------------------------------------

Verdict = Literal["successful", "failed", "inconclusive", "error"]
CommandKind = Literal["promote", "promoteFull", "abort", "retry", "undo"]


@dataclass(frozen=True)
class ReplicaSetObservation:
    """One ReplicaSet of the workload: the replicas its spec asks for and how many pods are ready."""

    replicas: int
    ready: int


@dataclass(frozen=True)
class RunMeasurement:
    """One result of an analysis provider for `metric` of `run` (a run name from StartAnalysis)."""

    run: str
    metric: str
    verdict: Verdict
    at: datetime
    value: float | None = None


@dataclass(frozen=True)
class Command:
    """A user command from the resource (`aenv promote|abort|retry|undo`). `id` makes it idempotent;
    `revision` is the history number an undo goes back to (None: the previous revision)."""

    kind: CommandKind
    id: str
    revision: int | None = None


@dataclass(frozen=True)
class Observations:
    """What the operator observed for one workload, just before calling `step`.

    desired_revision       hash of the pod template in the spec
    replicas               the workload's replica count from the spec
    replica_sets           every ReplicaSet of the workload by revision (absent: does not exist)
    traffic_applied_weight the canary weight the router reports in effect, None when it reports nothing
                           (no weighted routing object yet); ignored without a router
    active_service / preview_service
                           the revision the blue-green active / preview Service selects now
    measurements           analysis results since the last call (older or repeated ones are ignored)
    commands               user commands present on the resource, oldest first
    """

    desired_revision: str
    replicas: int
    replica_sets: Mapping[str, ReplicaSetObservation] = field(default_factory=dict)
    traffic_applied_weight: int | None = None
    active_service: str | None = None
    preview_service: str | None = None
    measurements: Sequence[RunMeasurement] = ()
    commands: Sequence[Command] = ()

    def ready(self, revision: str | None) -> int:
        rs = self.replica_sets.get(revision) if revision is not None else None
        return rs.ready if rs is not None else 0

    def scaled(self, revision: str) -> int:
        rs = self.replica_sets.get(revision)
        return rs.replicas if rs is not None else 0


# ---------------------------------------------------------------------------------------------------------------
# Actions: what the operator does
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleReplicaSet:
    """Set the ReplicaSet of `revision` to `replicas`, creating it if missing (from the spec's pod template,
    or from history for a pinned undo revision)."""

    revision: str
    replicas: int


@dataclass(frozen=True)
class SetWeight:
    """Router: `weight`% to the canary Service (selecting `canary`), the rest to the stable Service
    (selecting `stable`). The router reports it applied only once the whole split is in effect."""

    weight: int
    stable: str
    canary: str


@dataclass(frozen=True)
class StartAnalysis:
    """Begin measuring `metrics` for run `run`; which metric is due when: `due_measurements`."""

    run: str
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class StopAnalysis:
    """Run `run` finished or was cancelled: stop measuring it."""

    run: str


@dataclass(frozen=True)
class SwitchActive:
    """Point the blue-green active Service at `revision`."""

    revision: str


@dataclass(frozen=True)
class SwitchPreview:
    """Point the blue-green preview Service at `revision`."""

    revision: str


@dataclass(frozen=True)
class DeleteReplicaSet:
    """`revision` fell out of the bounded history: delete its (already scaled-down) ReplicaSet."""

    revision: str


@dataclass(frozen=True)
class Emit:
    """A Kubernetes Event on the resource."""

    reason: str
    message: str
    warning: bool = False


Action = ScaleReplicaSet | SetWeight | StartAnalysis | StopAnalysis | SwitchActive | SwitchPreview \
    | DeleteReplicaSet | Emit


@dataclass(frozen=True)
class Decision:
    """The new state, the actions to apply in order, and when to call `step` again if nothing else happens."""

    state: RolloutState
    actions: list[Action]
    requeue_at: datetime | None = None


@dataclass(frozen=True)
class MeasurementRequest:
    """A metric of a running analysis run that is due for a measurement now."""

    run: str
    metric: Metric


# ---------------------------------------------------------------------------------------------------------------
# The step
# ---------------------------------------------------------------------------------------------------------------


def step(state: RolloutState, policy: Rollout, obs: Observations, now: datetime) -> Decision:
    """Decide the next step of the rollout of one workload. See the module docstring for the state machine."""
    ctx = _Ctx(policy, obs, now)
    s = _follow_strategy(state, ctx)
    s = _apply_commands(s, ctx)
    s = _ingest(s, ctx)
    s, want = _resolve_desired(s, ctx)
    s = _follow_revision(s, want, ctx)
    if s.in_progress and not s.aborted:
        s = _progress_canary(s, ctx) if s.strategy == "canary" else _progress_blue_green(s, ctx)
    s = _tidy(s, ctx)
    if ctx.promotes or ctx.promote_full:
        ctx.emit("PromoteIgnored", "nothing to promote: " + (s.message or f"rollout is {s.phase}"))
    return Decision(s, [*ctx.actions, *_reconcile(s, ctx)], _requeue_at(s, ctx))


@dataclass
class _Ctx:
    """The inputs of one call, plus what it accumulates: one-shot actions and unconsumed promote commands."""

    policy: Rollout
    obs: Observations
    now: datetime
    actions: list[Action] = field(default_factory=list)
    promotes: int = 0  # each promote command skips one step (or pause)
    promote_full: bool = False

    def emit(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(Emit(reason, _clip(message), warning))

    def take_promote(self) -> bool:
        if self.promotes <= 0:
            return False
        self.promotes -= 1
        return True

    def take_promote_full(self) -> bool:
        taken, self.promote_full = self.promote_full, False
        return taken

    @property
    def replicas(self) -> int:
        return max(self.obs.replicas, 0)

    @property
    def canary(self) -> Canary:
        assert self.policy.canary is not None, "validated by Rollout"
        return self.policy.canary

    @property
    def blue_green(self) -> BlueGreen:
        assert self.policy.blue_green is not None, "validated by Rollout"
        return self.policy.blue_green

    @property
    def routed(self) -> bool:
        """Canary with a traffic router (ALB or Gateway API); otherwise weight is a replica ratio."""
        if self.policy.strategy != "canary" or self.policy.canary is None:
            return False
        routing = self.policy.canary.traffic_routing
        return routing is not None and (routing.alb is not None or routing.gateway_api is not None)

    @property
    def applied(self) -> int | None:
        return self.obs.traffic_applied_weight

    @property
    def deadline(self) -> timedelta:
        settings = self.policy.canary if self.policy.strategy == "canary" else self.policy.blue_green
        return timedelta(seconds=settings.progress_deadline_seconds if settings is not None else 600)

    @property
    def steps(self) -> list[Step]:
        return self.canary.steps if self.policy.strategy == "canary" and self.policy.canary is not None else []


def _clip(message: str) -> str:
    return message if len(message) <= ROLLOUT_MESSAGE_LIMIT else message[: ROLLOUT_MESSAGE_LIMIT - 3] + "..."


def _set(s: RolloutState, **changes: Any) -> RolloutState:
    unknown = changes.keys() - RolloutState.model_fields.keys()
    if unknown:
        raise TypeError(f"RolloutState has no field {sorted(unknown)}")
    if "message" in changes:
        changes["message"] = _clip(changes["message"])
    return s.model_copy(update=changes)


# ---------------------------------------------------------------------------------------------------------------
# Commands and undo
# ---------------------------------------------------------------------------------------------------------------


def _apply_commands(s: RolloutState, ctx: _Ctx) -> RolloutState:
    for command in ctx.obs.commands:
        if command.id in s.handled_commands:
            continue
        s = _set(s, handled_commands=[*s.handled_commands, command.id])
        s = _COMMANDS[command.kind](s, command, ctx)
    return _set(s, handled_commands=_remember(s.handled_commands, [c.id for c in ctx.obs.commands]))


def _remember(handled: list[str], seen: list[str]) -> list[str]:
    """Bound the handled ids to COMMAND_MEMORY, but never forget an id still on the resource: a command that
    is still observed would otherwise be applied again."""
    ids = list(dict.fromkeys(handled))
    surplus = len(ids) - max(COMMAND_MEMORY, len(set(seen)))
    out = []
    for command_id in ids:
        if surplus > 0 and command_id not in seen:
            surplus -= 1
            continue
        out.append(command_id)
    return out


def _cmd_promote(s: RolloutState, command: Command, ctx: _Ctx) -> RolloutState:
    ctx.promotes += 1
    return s


def _cmd_promote_full(s: RolloutState, command: Command, ctx: _Ctx) -> RolloutState:
    ctx.promote_full = True
    return s


def _cmd_abort(s: RolloutState, command: Command, ctx: _Ctx) -> RolloutState:
    if not s.in_progress or s.aborted:
        ctx.emit("AbortIgnored", f"nothing to abort: rollout is {s.phase}")
        return s
    return _abort(s, "AbortedByUser", f"aborted by the user; stable revision {s.stable_revision} serves all "
                                      "traffic", ctx)


def _cmd_retry(s: RolloutState, command: Command, ctx: _Ctx) -> RolloutState:
    if not s.aborted or s.desired_revision is None:
        ctx.emit("RetryIgnored", f"nothing to retry: rollout is {s.phase}, not aborted")
        return s
    ctx.emit("RolloutRetried", f"retrying the rollout of revision {s.desired_revision} from the start")
    return _start(s, s.desired_revision, ctx)


def _cmd_undo(s: RolloutState, command: Command, ctx: _Ctx) -> RolloutState:
    entry = _undo_target(s, command.revision)
    if entry is None:
        wanted = "a previous revision" if command.revision is None else f"revision {command.revision}"
        ctx.emit("UndoFailed", f"cannot undo: {wanted} is not in the history", warning=True)
        return s
    pin = None if entry.revision == ctx.obs.desired_revision else UndoPin(
        revision=entry.revision, spec_revision=ctx.obs.desired_revision)
    ctx.emit("RolloutUndo", f"undo to revision {entry.number} ({entry.revision})")
    return _set(s, pin=pin)


def _undo_target(s: RolloutState, number: int | None) -> RevisionEntry | None:
    if number is not None:
        return s.history_entry(number)
    current = s.desired_revision
    return next((e for e in reversed(s.history) if e.revision != current), None)


_COMMANDS: dict[CommandKind, Callable[[RolloutState, Command, _Ctx], RolloutState]] = {
    "promote": _cmd_promote,
    "promoteFull": _cmd_promote_full,
    "abort": _cmd_abort,
    "retry": _cmd_retry,
    "undo": _cmd_undo,
}


def _resolve_desired(s: RolloutState, ctx: _Ctx) -> tuple[RolloutState, str]:
    """The revision to run: the spec's, unless an undo pinned another while the spec is unchanged."""
    if s.pin is None:
        return s, ctx.obs.desired_revision
    if s.pin.spec_revision == ctx.obs.desired_revision:
        return s, s.pin.revision
    return _set(s, pin=None), ctx.obs.desired_revision


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


# ---------------------------------------------------------------------------------------------------------------
# Analysis: measurements -> verdicts
# ---------------------------------------------------------------------------------------------------------------


def _analysis_of(run: AnalysisRunState, policy: Rollout) -> Analysis | None:
    if run.kind == "step":
        steps = policy.canary.steps if policy.canary is not None else []
        return steps[run.step].analysis if run.step is not None and run.step < len(steps) else None
    if run.kind == "background":
        return policy.canary.analysis if policy.canary is not None else None
    if policy.blue_green is None:
        return None
    if run.kind == "prePromotion":
        return policy.blue_green.pre_promotion_analysis
    return policy.blue_green.post_promotion_analysis


def _ingest(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Fold new measurements into the running analysis runs; a run that reaches a verdict is stopped."""
    if not ctx.obs.measurements:
        return s
    runs = []
    for run in s.runs:
        analysis = _analysis_of(run, ctx.policy)
        mine = [m for m in ctx.obs.measurements if m.run == run.name]
        if run.running and analysis is not None and mine:
            run = _measure_run(run, analysis, sorted(mine, key=lambda m: m.at), ctx)
        runs.append(run)
    return _set(s, runs=runs)


def _measure_run(run: AnalysisRunState, analysis: Analysis, new: list[RunMeasurement],
                 ctx: _Ctx) -> AnalysisRunState:
    by_name = {m.name: m for m in analysis.metrics}
    metrics = []
    for state in run.metrics:
        metric = by_name.get(state.name)
        if metric is not None and state.phase == "Running":
            state = _measure_metric(state, metric, [m for m in new if m.metric == state.name])
        metrics.append(state)
    phase, message = _run_verdict(metrics, by_name)
    run = run.model_copy(update={"metrics": metrics, "phase": phase, "message": _clip(message)})
    if not run.running:
        ctx.actions.append(StopAnalysis(run.name))
        ctx.emit(f"AnalysisRun{phase}", f"analysis run {run.name}: {message}", warning=phase != "Successful")
    return run


def _measure_metric(state: MetricState, metric: Metric, new: list[RunMeasurement]) -> MetricState:
    """Count measurements newer than the last one counted, until the metric reaches a verdict."""
    for m in new:
        if state.phase != "Running":
            break
        if state.last_measured_at is not None and m.at <= state.last_measured_at:
            continue
        counts = state.model_dump()
        counts["count"] += 1
        counts[m.verdict] += 1
        counts["consecutive_errors"] = counts["consecutive_errors"] + 1 if m.verdict == "error" else 0
        counts["last_measured_at"] = m.at
        state = MetricState(**counts)
        state = state.model_copy(update={"phase": _metric_phase(state, metric)[0]})
    return state


def _metric_phase(m: MetricState, metric: Metric) -> tuple[RunPhase, str]:
    """Argo's assessment: limits first (failed > failureLimit, inconclusive > inconclusiveLimit, consecutive
    errors > consecutiveErrorLimit), then Successful once `count` measurements are taken."""
    if m.failed > metric.failure_limit:
        return "Failed", f"{m.name}: {m.failed} failed measurement(s), failureLimit {metric.failure_limit}"
    if m.inconclusive > metric.inconclusive_limit:
        return "Inconclusive", (f"{m.name}: {m.inconclusive} inconclusive measurement(s), "
                                f"inconclusiveLimit {metric.inconclusive_limit}")
    if m.consecutive_errors > metric.consecutive_error_limit:
        return "Error", (f"{m.name}: {m.consecutive_errors} consecutive errors, "
                         f"consecutiveErrorLimit {metric.consecutive_error_limit}")
    if m.count >= metric.count:
        return "Successful", f"{m.name}: {m.successful}/{m.count} successful"
    return "Running", f"{m.name}: {m.count}/{metric.count} measured"


def _run_verdict(metrics: list[MetricState], by_name: Mapping[str, Metric]) -> tuple[RunPhase, str]:
    """Failed or Error as soon as one metric is; otherwise Running until all are done; then Inconclusive if
    one is, else Successful."""
    assessed = [_metric_phase(m, by_name[m.name]) for m in metrics if m.name in by_name]
    order: tuple[RunPhase, ...] = ("Error", "Failed", "Running", "Inconclusive")
    for wanted in order:
        hits = [message for phase, message in assessed if phase == wanted]
        if hits:
            return wanted, "; ".join(hits)
    return "Successful", "; ".join(message for _, message in assessed) or "no metrics"


def _start_run(s: RolloutState, kind: RunKind, analysis: Analysis, ctx: _Ctx,
               step_index: int | None = None) -> RolloutState:
    seq = s.run_seq + 1
    label = {"step": f"step{step_index}", "background": "background", "prePromotion": "pre",
             "postPromotion": "post"}[kind]
    name = f"{(s.desired_revision or 'none')[:24]}-{seq}-{label}"
    run = AnalysisRunState(name=name, kind=kind, step=step_index, started_at=ctx.now,
                           metrics=[MetricState(name=m.name) for m in analysis.metrics])
    ctx.actions.append(StartAnalysis(name, tuple(analysis.metrics)))
    return _set(s, run_seq=seq, runs=[*s.runs, run])


def _stop_runs(s: RolloutState, ctx: _Ctx, why: str, kinds: tuple[RunKind, ...] | None = None) -> RolloutState:
    """Terminate running runs (of `kinds`, default all): StopAnalysis for each; they stay in `runs`."""
    runs = []
    for run in s.runs:
        if run.running and (kinds is None or run.kind in kinds):
            ctx.actions.append(StopAnalysis(run.name))
            run = run.model_copy(update={"phase": "Terminated", "message": _clip(why)})
        runs.append(run)
    return _set(s, runs=runs)


def _drop_runs(s: RolloutState, ctx: _Ctx, why: str, kinds: tuple[RunKind, ...] | None = None) -> RolloutState:
    s = _stop_runs(s, ctx, why, kinds)
    return _set(s, runs=[r for r in s.runs if kinds is not None and r.kind not in kinds])


# ---------------------------------------------------------------------------------------------------------------
# Revisions: first deployment, new rollout, revert, fast rollback, abort
# ---------------------------------------------------------------------------------------------------------------


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
        s = _record(s, want, ctx)
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
    s = _drop_runs(s, ctx, f"superseded by the rollout of revision {want}")
    s = _set(s, desired_revision=want, aborted=False, abort_reason=None, pending_promotion=None, weight=0,
             waiting_since=None, paused_at=None, pause_reason=None, step_started_at=ctx.now)
    if s.strategy == "blueGreen":
        return _start_blue_green(s, want, ctx)
    return _enter(_set(s, retiring=_retire(s, old, ctx)), 0, ctx)


def _retire(s: RolloutState, old: str | None, ctx: _Ctx) -> list[str]:
    """Retiring canaries after `old` stops being the canary: with a router it keeps its pods while the router
    may still send it traffic (a superseded canary with weight 20 must not drop to 0 pods before the router
    moved those 20% away)."""
    retiring = [*s.retiring, old] if ctx.routed and old is not None and old not in s.retiring else s.retiring
    return [r for r in retiring if r not in (s.desired_revision, s.stable_revision)]


def _start_blue_green(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    if s.active_revision not in (None, s.stable_revision, want):
        # The superseded revision was already promoted and serves all traffic: it becomes the stable one.
        s = _set(s, scale_down_revision=s.stable_revision, stable_revision=s.active_revision,
                 scale_down_at=ctx.now + timedelta(seconds=ctx.blue_green.scale_down_delay_seconds))
    return _set(s, preview_revision=want, preview_ready_at=None, promoted_at=None,
                active_revision=s.stable_revision, phase="Progressing",
                message=f"scaling preview revision {want} to {ctx.replicas} pods")


def _revert(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """The stable revision is desired again: back to Healthy at once, no rollout. A routed canary keeps its
    pods (as `retiring`) until the router reports weight 0."""
    old = s.desired_revision
    s = _drop_runs(s, ctx, f"rollout of {old} cancelled: revision {s.stable_revision} re-applied")
    s = _set(s, desired_revision=s.stable_revision)
    s = _set(s, retiring=_retire(s, old, ctx), aborted=False, abort_reason=None, phase="Healthy", weight=0,
             step=len(ctx.steps), waiting_since=None, paused_at=None, pause_reason=None,
             pending_promotion=None, active_revision=s.stable_revision, preview_revision=None,
             preview_ready_at=None, promoted_at=None,
             message=f"stable revision {s.stable_revision} re-applied; revision {old} scaled down")
    ctx.emit("RolloutReverted", s.message)
    return _record(s, s.stable_revision or "", ctx)


def _can_fast_rollback(s: RolloutState, want: str, ctx: _Ctx) -> bool:
    """Blue-green: `want` is the previous revision, still at full size inside its scale-down delay."""
    return (s.strategy == "blueGreen" and want == s.scale_down_revision and s.scale_down_at is not None
            and ctx.now < s.scale_down_at and ctx.obs.ready(want) >= ctx.replicas)


def _fast_rollback(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    old = s.active_revision
    s = _drop_runs(s, ctx, f"fast rollback to revision {want}")
    s = _set(s, stable_revision=want, desired_revision=want, active_revision=want, preview_revision=None,
             preview_ready_at=None, promoted_at=None, pending_promotion=None, aborted=False, abort_reason=None,
             weight=0, phase="Healthy", waiting_since=None, paused_at=None, pause_reason=None,
             scale_down_revision=old,
             scale_down_at=ctx.now + timedelta(seconds=ctx.blue_green.scale_down_delay_seconds),
             message=f"fast rollback: active Service switched back to revision {want}")
    ctx.emit("FastRollback", s.message)
    return s


def _abort(s: RolloutState, reason: str, message: str, ctx: _Ctx) -> RolloutState:
    """All traffic back to stable; the new revision is scaled down by `_reconcile` (with a router: once the
    router reports weight 0). Failed runs stay in `runs` to show why."""
    s = _stop_runs(s, ctx, f"rollout aborted: {reason}")
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


# ---------------------------------------------------------------------------------------------------------------
# Canary
# ---------------------------------------------------------------------------------------------------------------


def _progress_canary(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Background analysis first (it can abort or pause at any step), then steps until one blocks."""
    steps = ctx.steps
    s = _set(s, step=min(s.step, len(steps)))
    if ctx.promote_full and s.step < len(steps):
        ctx.promote_full = False
        ctx.emit("RolloutPromotedFull", f"promoted to the end: skipping steps {s.step + 1}..{len(steps)} and "
                                        "analysis")
        s = _drop_runs(s, ctx, "skipped by promote --full", ("step",))
        s = _stop_runs(s, ctx, "skipped by promote --full")
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
        s = _drop_runs(s, ctx, "step completed", ("step",))
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
    s = _drop_runs(s, ctx, "rollout completed")
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


# ---------------------------------------------------------------------------------------------------------------
# Blue-green
# ---------------------------------------------------------------------------------------------------------------


def _progress_blue_green(s: RolloutState, ctx: _Ctx) -> RolloutState:
    if s.active_revision == s.desired_revision:
        return _post_promotion(s, ctx)
    return _pre_promotion(s, ctx)


def _pre_promotion(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """Preview at full size, then the pre-promotion gate, then auto or manual promotion."""
    promote_now = ctx.take_promote()
    if ctx.take_promote_full():
        s = _drop_runs(s, ctx, "skipped by promote --full", ("prePromotion",))
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
    s = _drop_runs(s, ctx, "promoted", ("prePromotion",))
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
    s = _drop_runs(s, ctx, "rollout completed")
    s = _set(s, stable_revision=s.desired_revision, active_revision=s.desired_revision, preview_revision=None,
             preview_ready_at=None, weight=0, phase="Healthy", pending_promotion=None, paused_at=None,
             pause_reason=None, waiting_since=None, scale_down_revision=old,
             scale_down_at=ctx.now + timedelta(seconds=delay),
             message=f"revision {s.desired_revision} is stable; revision {old} scales down in {delay}s")
    ctx.emit("RolloutCompleted", s.message)
    return s


# ---------------------------------------------------------------------------------------------------------------
# Housekeeping, the desired shape, and when to come back
# ---------------------------------------------------------------------------------------------------------------


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
        return {s.desired_revision: total}
    want = {s.stable_revision: total}
    if s.strategy == "blueGreen":
        return _blue_green_replicas(s, want, ctx)
    applied = ctx.applied or 0
    floor = routed_canary_replicas(total, applied) if ctx.routed and applied > s.weight else 0
    for revision in s.retiring:
        want.setdefault(revision, floor)
    if not s.in_progress:
        return want
    if s.aborted:
        want[s.desired_revision] = floor
    elif ctx.routed:
        want[s.desired_revision] = max(_canary_base(s, ctx), floor)
    else:
        want.update(_ratio_replicas_keeping_capacity(s, ctx))
    return want


def _ratio_replicas_keeping_capacity(s: RolloutState, ctx: _Ctx) -> dict[str, int]:
    """Without a router, one side only shrinks as far as the other side's ready pods allow, so the workload
    never has fewer than `replicas` ready pods during a step (scale up first, then down: maxUnavailable 0)."""
    assert s.stable_revision is not None and s.desired_revision is not None
    canary, stable = _ratio_targets(s, ctx)
    total, obs = ctx.replicas, ctx.obs
    keep_stable = min(obs.scaled(s.stable_revision), total - obs.ready(s.desired_revision))
    keep_canary = min(obs.scaled(s.desired_revision), total - obs.ready(s.stable_revision))
    return {s.stable_revision: max(stable, keep_stable), s.desired_revision: max(canary, keep_canary)}


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


@dataclass(frozen=True)
class _Due:
    run: str
    metric: Metric
    at: datetime


def _due_times(s: RolloutState, policy: Rollout) -> list[_Due]:
    out = []
    for run in s.runs:
        analysis = _analysis_of(run, policy) if run.running else None
        by_name = {m.name: m for m in analysis.metrics} if analysis is not None else {}
        for m in run.metrics:
            metric = by_name.get(m.name)
            if metric is None or m.phase != "Running":
                continue
            last = m.last_measured_at
            out.append(_Due(run.name, metric, run.started_at if last is None else last + parse_duration(
                metric.interval)))
    return out


def due_measurements(state: RolloutState, policy: Rollout, now: datetime) -> list[MeasurementRequest]:
    """The metrics of running analysis runs to measure now: first right away, then every `interval`."""
    return [MeasurementRequest(d.run, d.metric) for d in _due_times(state, policy) if d.at <= now]
