"""The rollout engine, driven one step at a time with explicit times, observations and commands.

`Cluster` below is the world the operator acts on, reduced to what the engine observes: it applies the
engine's actions (pods become ready at once unless a revision is held, the router applies a weight at once
unless it lags), so a test reads as a timeline. Nothing is mocked and nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from aenv.api import crd
from aenv.api.rollout import Rollout
from aenv.api.rollout_state import RolloutState
from aenv.rollouts import engine
from aenv.rollouts.engine import (
    Action,
    Command,
    Decision,
    DeleteReplicaSet,
    Emit,
    Observations,
    ReplicaSetObservation,
    RunMeasurement,
    ScaleReplicaSet,
    SetWeight,
    SwitchActive,
    SwitchPreview,
    Verdict,
    due_measurements,
    parse_duration,
    ratio_replicas,
    routed_canary_replicas,
    step,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
A = TypeVar("A")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---------------------------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------------------------


def metric(name: str = "error-rate", count: int = 3, **limits: int) -> dict[str, Any]:
    return {"name": name, "interval": "1m", "count": count, "successCondition": "result < 0.01",
            "prometheus": {"address": "http://prometheus:9090", "query": "sum(rate(errors[1m]))"}, **limits}


def analysis(*metrics: dict[str, Any]) -> dict[str, Any]:
    return {"analysis": {"metrics": list(metrics) or [metric()]}}


def weight(w: int) -> dict[str, Any]:
    return {"setWeight": w}


def pause(duration: str | None = None) -> dict[str, Any]:
    return {"pause": {"duration": duration} if duration else {}}


def canary(*steps: dict[str, Any], router: bool = False, background: dict[str, Any] | None = None,
           deadline: int = 600) -> Rollout:
    spec: dict[str, Any] = {"steps": list(steps), "progressDeadlineSeconds": deadline}
    if router:
        spec["trafficRouting"] = {"alb": {"ingress": "web"}}
    if background is not None:
        spec["analysis"] = background
    return Rollout.model_validate({"strategy": "canary", "canary": spec})


def blue_green(**settings: Any) -> Rollout:
    return Rollout.model_validate({"strategy": "blueGreen", "blueGreen": settings})


# ---------------------------------------------------------------------------------------------------------------
# The world and the driver
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """ReplicaSets, a traffic router and two Services, changed only by the engine's actions."""

    spec: str = "v1"
    replicas: int = 10
    sets: dict[str, tuple[int, int]] = field(default_factory=dict)  # revision -> (replicas, ready)
    applied: int | None = None
    requested: int | None = None
    active: str | None = None
    preview: str | None = None
    held: set[str] = field(default_factory=set)  # revisions whose new pods do not become ready
    router_lag: bool = False

    def observe(self, measurements: tuple[RunMeasurement, ...] = (),
                commands: tuple[Command, ...] = ()) -> Observations:
        return Observations(
            desired_revision=self.spec, replicas=self.replicas,
            replica_sets={r: ReplicaSetObservation(n, ready) for r, (n, ready) in self.sets.items()},
            traffic_applied_weight=self.applied, active_service=self.active, preview_service=self.preview,
            measurements=measurements, commands=commands)

    def apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, ScaleReplicaSet):
                ready = self.sets.get(a.revision, (0, 0))[1]
                self.sets[a.revision] = (a.replicas, min(ready, a.replicas) if a.revision in self.held else a.replicas)
            elif isinstance(a, SetWeight):
                self.requested = a.weight
                self.applied = self.applied if self.router_lag else a.weight
            elif isinstance(a, SwitchActive):
                self.active = a.revision
            elif isinstance(a, SwitchPreview):
                self.preview = a.revision
            elif isinstance(a, DeleteReplicaSet):
                self.sets.pop(a.revision, None)

    def release(self, revision: str) -> None:
        self.held.discard(revision)
        n, _ = self.sets.get(revision, (0, 0))
        self.sets[revision] = (n, n)

    def catch_up(self) -> None:
        self.applied = self.requested

    def size(self, revision: str) -> int:
        return self.sets.get(revision, (0, 0))[0]


@dataclass
class Driver:
    policy: Rollout
    cluster: Cluster
    state: RolloutState = field(default_factory=RolloutState)

    def step(self, t: float, *commands: Command, measurements: tuple[RunMeasurement, ...] = ()) -> Decision:
        d = step(self.state, self.policy, self.cluster.observe(measurements, commands), at(t))
        self.cluster.apply(d.actions)
        self.state = d.state
        return d


def deployed(policy: Rollout, replicas: int = 10, **cluster: Any) -> Driver:
    """v1 deployed and stable at t=1."""
    d = Driver(policy, Cluster(replicas=replicas, **cluster))
    d.step(0)
    d.step(1)
    assert (d.state.phase, d.state.stable_revision) == ("Healthy", "v1")
    return d


def of(decision: Decision, kind: type[A]) -> list[A]:
    return [a for a in decision.actions if isinstance(a, kind)]


def reasons(decision: Decision) -> list[str]:
    return [e.reason for e in of(decision, Emit)]


def running(d: Driver) -> list[str]:
    """The analysis runs the state holds as running."""
    return [r.name for r in d.state.runs if r.running]


def phase(d: Driver, run: str) -> str | None:
    """The phase of analysis run `run`, None when the state no longer holds it."""
    return next((r.phase for r in d.state.runs if r.name == run), None)


def due(d: Driver, t: float) -> list[tuple[str, str]]:
    """(run, metric) the operator measures at t: `due_measurements`, the one way analysis reaches it."""
    return [(r.run, r.metric.name) for r in due_measurements(d.state, d.policy, at(t))]


def cmd(kind: engine.CommandKind, id_: str, revision: int | None = None) -> Command:
    return Command(kind, id_, revision)


def measure(run: str, t: float, verdict: Verdict = "successful", name: str = "error-rate") -> RunMeasurement:
    return RunMeasurement(run=run, metric=name, verdict=verdict, at=at(t))


def feed(d: Driver, t: float, run: str, *verdicts: Verdict, name: str = "error-rate") -> Decision:
    """Measurements one second apart, ending at t."""
    ms = tuple(measure(run, t - len(verdicts) + 1 + i, v, name) for i, v in enumerate(verdicts))
    return d.step(t, measurements=ms)


def restarted(d: Driver) -> Driver:
    """The operator restarts: the state survives only as it was written to status."""
    wire = d.state.wire()
    return Driver(d.policy, d.cluster, RolloutState.model_validate(wire))


# ---------------------------------------------------------------------------------------------------------------
# Durations and replica arithmetic
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("0s", 0), (" 90s ", 90)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "1d", "m5", "-1s", "1.5m", "5 m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("total", "w", "expected"), [
    (10, 41, (4, 6)),   # the notes' example: round, not ceil
    (10, 25, (3, 7)),   # half rounds up
    (10, 5, (1, 9)),
    (10, 1, (1, 9)),    # a canary with weight gets at least one pod
    (10, 50, (5, 5)),
    (10, 99, (10, 1)),  # ...and the stable keeps one until 100
    (10, 0, (0, 10)),
    (10, 100, (10, 0)),
    (4, 10, (1, 3)),
    (3, 50, (2, 1)),
    (1, 50, (1, 1)),    # one pod of surge
    (0, 50, (0, 0)),
])
def test_ratio_replicas(total: int, w: int, expected: tuple[int, int]) -> None:
    assert ratio_replicas(total, w) == expected


@pytest.mark.parametrize(("total", "w", "expected"), [
    (10, 41, 5), (10, 40, 4), (3, 50, 2), (10, 0, 0), (10, 100, 10), (1, 1, 1), (7, 15, 2), (0, 30, 0),
])
def test_routed_canary_replicas_are_ceil(total: int, w: int, expected: int) -> None:
    assert routed_canary_replicas(total, w) == expected


# ---------------------------------------------------------------------------------------------------------------
# First deployment
# ---------------------------------------------------------------------------------------------------------------


def test_first_deployment_has_no_steps_and_becomes_stable_when_ready() -> None:
    d = Driver(canary(weight(20), pause()), Cluster(held={"v1"}))
    first = d.step(0)
    assert of(first, ScaleReplicaSet) == [ScaleReplicaSet("v1", 10)]
    assert (d.state.phase, d.state.stable_revision, d.state.desired_revision) == ("Progressing", None, "v1")
    assert "0/10 pods ready" in d.state.message
    d.cluster.release("v1")
    done = d.step(5)
    assert (d.state.phase, d.state.stable_revision, d.state.step, d.state.weight) == ("Healthy", "v1", 2, 0)
    assert "RolloutCompleted" in reasons(done)
    assert [(e.number, e.revision) for e in d.state.history] == [(1, "v1")]
    assert d.step(6).actions == []  # steady


def test_first_deployment_past_deadline_is_degraded_then_recovers() -> None:
    d = Driver(canary(weight(20)), Cluster(held={"v1"}))
    d.step(0)
    assert d.step(599).state.phase == "Progressing"
    late = d.step(600)
    assert d.state.phase == "Degraded" and d.state.message.startswith("ProgressDeadlineExceeded")
    assert [e.warning for e in of(late, Emit)] == [True]
    assert reasons(d.step(700)) == []  # warned once
    d.cluster.release("v1")
    d.step(800)
    assert (d.state.phase, d.state.stable_revision) == ("Healthy", "v1")


def test_first_deployment_with_router_creates_the_weighted_routing() -> None:
    d = Driver(canary(weight(20), router=True), Cluster())
    assert of(d.step(0), SetWeight) == [SetWeight(0, "v1", "v1")]
    assert of(d.step(1), SetWeight) == []


def test_a_new_revision_during_the_first_deployment_replaces_it() -> None:
    d = Driver(canary(weight(20)), Cluster(held={"v1"}))
    d.step(0)
    d.cluster.spec = "v2"
    swap = d.step(5)
    assert of(swap, ScaleReplicaSet) == [ScaleReplicaSet("v2", 10), ScaleReplicaSet("v1", 0)]
    d.step(6)
    assert (d.state.phase, d.state.stable_revision) == ("Healthy", "v2")


# ---------------------------------------------------------------------------------------------------------------
# Canary by replica ratio (no router)
# ---------------------------------------------------------------------------------------------------------------


def test_canary_without_router_through_every_step() -> None:
    d = deployed(canary(weight(20), pause("1m"), weight(50), pause(), weight(80)))
    d.cluster.spec = "v2"
    start = d.step(10)
    assert of(start, ScaleReplicaSet) == [ScaleReplicaSet("v2", 2)]  # surge first: the stable waits for them
    assert of(start, SetWeight) == []  # no router: the Service spreads traffic over the pods
    assert (d.state.step, d.state.weight, d.state.phase) == (0, 20, "Progressing")
    assert "RolloutStarted" in reasons(start)

    ready = d.step(11)  # canary pods ready: the stable shrinks, and the step waits for it
    assert of(ready, ScaleReplicaSet) == [ScaleReplicaSet("v1", 8)]
    assert (d.state.step, d.state.phase) == (0, "Progressing")
    assert d.state.message.endswith("; scaling stable 10 -> 8")
    d.step(12)  # 2 canary + 8 stable, all ready: on to the timed pause
    assert (d.state.step, d.state.phase, d.state.pause_reason) == (1, "Paused", "CanaryPauseStep")
    assert d.step(71).state.step == 1
    d.step(72)
    assert (d.state.step, d.state.weight, d.cluster.size("v2"), d.cluster.size("v1")) == (2, 50, 5, 8)
    d.step(73)
    assert (d.state.step, d.state.phase, d.cluster.size("v2"), d.cluster.size("v1")) == (2, "Progressing", 5, 5)
    d.step(74)
    assert (d.state.step, d.state.phase, d.cluster.size("v2"), d.cluster.size("v1")) == (3, "Paused", 5, 5)
    assert d.step(86_400).actions == []  # an indefinite pause holds
    d.step(86_401, cmd("promote", "p1"))
    assert (d.state.step, d.state.weight, d.cluster.size("v2"), d.cluster.size("v1")) == (4, 80, 8, 5)
    d.step(86_402)
    assert (d.state.step, d.cluster.size("v2"), d.cluster.size("v1")) == (4, 8, 2)

    end = d.step(86_403)
    assert d.state.step == 5 and d.state.phase == "Progressing"
    assert of(end, ScaleReplicaSet) == [ScaleReplicaSet("v2", 10)]  # the stable keeps its 2 pods meanwhile
    done = d.step(86_404)
    assert of(done, ScaleReplicaSet) == [ScaleReplicaSet("v1", 0)]
    assert (d.state.phase, d.state.stable_revision, d.state.weight, d.state.step) == ("Healthy", "v2", 0, 5)
    assert "RolloutCompleted" in reasons(done)


def test_ratio_steps_are_held_until_both_sides_are_at_their_share() -> None:
    """Consecutive setWeight steps: each one is left only from a pass that observed the canary and the stable
    scaled to exactly their share with every pod ready (the stable's scale-down included), one step per pass,
    and never with fewer than 10 ready pods."""
    d = deployed(canary(weight(20), weight(50), weight(80), pause()))
    d.cluster.spec = "v2"
    d.step(10)
    assert (d.state.step, d.state.weight) == (0, 20)
    left, seen_ready = [], []
    for t in range(11, 30):
        seen, before = dict(d.cluster.sets), d.state.step
        seen_ready.append(sum(ready for _, ready in seen.values()))
        d.step(t)
        assert d.state.step - before <= 1, (t, before, d.state.step)
        if d.state.step != before:
            left.append((before, seen.get("v2"), seen.get("v1")))
        if d.state.phase == "Paused":
            break
    assert left == [(i, (c, c), (s, s)) for i, (c, s) in enumerate(ratio_replicas(10, w) for w in (20, 50, 80))]
    assert min(seen_ready) >= 10


def test_ratio_step_waits_for_the_stable_scale_down_to_be_observed() -> None:
    d = deployed(canary(weight(20), pause()))
    d.cluster.spec = "v2"
    d.step(10)
    assert of(d.step(11), ScaleReplicaSet) == [ScaleReplicaSet("v1", 8)]
    d.cluster.sets["v1"] = (10, 10)  # the scale-down was lost (say, a conflict): the step holds and repeats it
    again = d.step(12)
    assert of(again, ScaleReplicaSet) == [ScaleReplicaSet("v1", 8)]
    assert (d.state.step, d.state.phase) == (0, "Progressing")
    d.cluster.sets["v1"] = (8, 10)  # scaled, but the ReplicaSet's status still counts the old pods
    assert of(d.step(13), ScaleReplicaSet) == [] and d.state.step == 0
    d.cluster.sets["v1"] = (8, 8)
    d.step(14)
    assert (d.state.step, d.state.phase) == (1, "Paused")


def test_ratio_step_waits_for_all_pods() -> None:
    d = deployed(canary(weight(30), pause()))
    d.cluster.spec, d.cluster.held = "v2", {"v2"}
    d.step(10)
    d.step(20)
    assert (d.state.step, d.state.phase) == (0, "Progressing")
    assert "waiting for 3 canary and 7 stable pods (0 and 10 ready)" in d.state.message
    assert d.cluster.size("v1") == 10  # no capacity is given up for pods that are not ready
    d.cluster.release("v2")
    d.step(30)  # the canary pods are ready: now the stable shrinks
    assert (d.state.step, d.cluster.size("v1")) == (0, 7)
    d.step(31)
    assert (d.state.step, d.state.phase) == (1, "Paused")


def test_ratio_weight_going_down_scales_the_stable_up_before_the_canary_down() -> None:
    d = deployed(canary(weight(60), pause(), weight(10), pause()))
    d.cluster.spec = "v2"
    for t in (10, 11, 12):
        d.step(t)
    assert (d.cluster.size("v2"), d.cluster.size("v1"), d.state.step) == (6, 4, 1)
    d.cluster.held = {"v1"}
    up = d.step(13, cmd("promote", "p1"))
    assert of(up, ScaleReplicaSet) == [ScaleReplicaSet("v1", 9)]  # the canary keeps its 6 pods meanwhile
    assert d.state.step == 2
    d.cluster.release("v1")
    down = d.step(14)
    assert of(down, ScaleReplicaSet) == [ScaleReplicaSet("v2", 1)]
    assert (d.state.step, d.state.phase) == (2, "Progressing")  # until the canary is down to its share
    d.step(15)
    assert (d.state.step, d.state.phase, d.cluster.size("v2"), d.cluster.size("v1")) == (3, "Paused", 1, 9)


def test_ratio_follows_a_replica_change_mid_rollout() -> None:
    d = deployed(canary(weight(41), pause()))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    assert (d.cluster.size("v2"), d.cluster.size("v1")) == (4, 6)
    d.cluster.replicas = 20
    d.step(12)
    assert (d.cluster.size("v2"), d.cluster.size("v1")) == (8, 12)


def test_set_canary_scale_without_router() -> None:
    d = deployed(canary({"setCanaryScale": {"replicas": 1}}, pause(), weight(50), pause()))
    d.cluster.spec = "v2"
    d.step(10)
    assert (d.cluster.size("v2"), d.cluster.size("v1")) == (1, 10)
    d.step(11)
    assert (d.state.step, d.state.phase) == (1, "Paused")


# ---------------------------------------------------------------------------------------------------------------
# Canary with a traffic router
# ---------------------------------------------------------------------------------------------------------------


def test_canary_with_router_through_every_step() -> None:
    d = deployed(canary(weight(20), pause("1m"), weight(50), router=True))
    d.cluster.spec = "v2"
    scale = d.step(10)
    assert of(scale, ScaleReplicaSet) == [ScaleReplicaSet("v2", 2)]  # pods first, no weight yet
    assert of(scale, SetWeight) == [] and d.state.weight == 0
    shift = d.step(11)
    assert of(shift, SetWeight) == [SetWeight(20, "v1", "v2")] and d.state.weight == 20
    assert d.state.step == 0  # until the router confirms
    d.step(12)
    assert (d.state.step, d.state.phase) == (1, "Paused")
    d.step(72)
    assert d.state.step == 2 and d.cluster.size("v2") == 5
    d.step(73)
    assert (d.cluster.applied, d.state.step) == (50, 2)
    d.step(74)
    assert d.state.step == 3 and d.cluster.size("v2") == 10  # the end: full canary before 100%
    full = d.step(75)
    assert of(full, SetWeight) == [SetWeight(100, "v1", "v2")]
    assert d.cluster.size("v1") == 10 and d.state.stable_revision == "v1"
    done = d.step(76)
    assert (d.state.phase, d.state.stable_revision, d.state.weight) == ("Healthy", "v2", 0)
    assert of(done, ScaleReplicaSet) == [ScaleReplicaSet("v1", 0)]
    assert of(done, SetWeight) == [SetWeight(0, "v2", "v2")]


def test_router_stable_keeps_full_size_until_the_end() -> None:
    d = deployed(canary(weight(10), weight(90), router=True))
    d.cluster.spec = "v2"
    seen = [a for t in range(10, 20) for a in of(d.step(t), ScaleReplicaSet) if a.revision == "v1"]
    assert seen == [ScaleReplicaSet("v1", 0)]
    assert d.state.stable_revision == "v2"


def test_router_gets_no_weight_before_canary_pods_are_ready() -> None:
    d = deployed(canary(weight(41), router=True))
    d.cluster.spec, d.cluster.held = "v2", {"v2"}
    for t in (10, 20, 30):
        assert of(d.step(t), SetWeight) == []
    assert d.cluster.size("v2") == 5  # ceil(10 * 41%)
    assert "waiting for 5 ready canary pods (0 ready)" in d.state.message
    d.cluster.release("v2")
    assert of(d.step(40), SetWeight) == [SetWeight(41, "v1", "v2")]


def test_router_must_report_the_weight_before_the_next_step() -> None:
    d = deployed(canary(weight(20), pause(), router=True))
    d.cluster.spec, d.cluster.router_lag = "v2", True
    d.step(10)
    d.step(11)
    for t in (12, 13, 14):
        assert d.step(t).state.step == 0
    assert "waiting for the router to apply weight 20 (reports 0)" in d.state.message
    assert of(d.step(15), SetWeight) == [SetWeight(20, "v1", "v2")]  # asked again until observed
    d.cluster.catch_up()
    d.step(16)
    assert (d.state.step, d.state.phase) == (1, "Paused")


def test_old_stable_is_scaled_down_only_after_the_router_reports_100() -> None:
    d = deployed(canary(weight(50), router=True))
    d.cluster.spec, d.cluster.router_lag = "v2", True
    d.step(10)
    d.step(11)
    d.cluster.catch_up()
    d.step(12)  # step done, the end: scale canary to 10
    d.step(13)  # weight 100 requested
    assert d.cluster.requested == 100 and d.cluster.applied == 50
    for t in (14, 15, 16):
        decision = d.step(t)
        assert ScaleReplicaSet("v1", 0) not in decision.actions
        assert d.state.stable_revision == "v1"
    d.cluster.catch_up()
    done = d.step(17)
    assert ScaleReplicaSet("v1", 0) in done.actions and d.state.stable_revision == "v2"


def test_router_weight_going_down_keeps_canary_pods_until_applied() -> None:
    d = deployed(canary(weight(50), weight(20), pause(), router=True))
    d.cluster.spec, d.cluster.router_lag = "v2", True
    d.step(10)
    d.step(11)
    d.cluster.catch_up()
    d.step(12)  # step 1: setWeight 20 needs only 2 pods, but the router still sends 50%
    assert d.state.step == 1 and d.cluster.requested == 20 and d.cluster.size("v2") == 5
    d.cluster.catch_up()
    shrink = d.step(13)
    assert ScaleReplicaSet("v2", 2) in shrink.actions and d.state.step == 2


def test_set_canary_scale_with_router() -> None:
    d = deployed(canary({"setCanaryScale": {"replicas": 3}}, weight(10), pause(),
                        {"setCanaryScale": {"weight": 41}}, pause(), router=True))
    d.cluster.spec = "v2"
    d.step(10)
    assert d.cluster.size("v2") == 3 and d.cluster.applied == 0  # pods, no traffic
    d.step(11)  # scale step done; setWeight 10 keeps the explicit scale
    d.step(12)
    d.step(13)
    assert (d.state.step, d.cluster.size("v2"), d.cluster.applied) == (2, 3, 10)
    d.step(14, cmd("promote", "p1"))
    assert d.cluster.size("v2") == 5  # ceil(10 * 41%)
    d.step(15)
    d.step(16, cmd("promote", "p2"))
    assert d.state.step == 5 and d.cluster.size("v2") == 10  # the end drops the explicit scale


# ---------------------------------------------------------------------------------------------------------------
# Inline analysis
# ---------------------------------------------------------------------------------------------------------------


def analysed(router: bool = True, **limits: int) -> Driver:
    """v2 at weight 20 with a started inline analysis run v2-1-step1 (step 1)."""
    d = deployed(canary(weight(20), analysis({**metric(), **limits}), weight(50), router=router))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    # One more round trip: the weight is set, then the router reports it; without a router the stable shrinks to
    # its share once the canary pods are ready, then the step is done.
    d.step(12)
    assert running(d) == ["v2-1-step1"] and due(d, 12) == [("v2-1-step1", "error-rate")]
    assert (d.state.step, d.state.phase) == (1, "Progressing")
    return d


def test_inline_analysis_success_advances() -> None:
    d = analysed()
    feed(d, 80, "v2-1-step1", "successful", "successful")
    assert d.state.step == 1 and d.state.runs[0].metrics[0].count == 2
    done = feed(d, 140, "v2-1-step1", "successful")
    assert running(d) == [] and due(d, 1000) == []
    assert "AnalysisRunSuccessful" in reasons(done)
    assert d.state.step == 2 and d.state.runs == []  # finished step runs are not kept


def test_inline_analysis_failure_aborts_and_restores_stable() -> None:
    d = analysed()
    d.cluster.router_lag = True
    fail = feed(d, 80, "v2-1-step1", "failed")
    assert (d.state.phase, d.state.aborted, d.state.abort_reason) == ("Aborted", True, "AnalysisFailed")
    assert of(fail, SetWeight) == [SetWeight(0, "v1", "v2")]
    assert (running(d), phase(d, "v2-1-step1"), due(d, 1000)) == ([], "Failed", [])
    assert any(e.warning and e.reason == "AnalysisFailed" for e in of(fail, Emit))
    assert "error-rate: 1 failed measurement(s), failureLimit 0" in d.state.message
    assert d.cluster.size("v2") == 2  # the router still sends 20%: the pods stay until it applies 0
    d.cluster.catch_up()
    d.step(81)
    assert (d.cluster.size("v2"), d.cluster.size("v1"), d.cluster.applied) == (0, 10, 0)
    assert d.state.runs[0].phase == "Failed"  # kept to show why


def test_inline_analysis_failure_without_router_scales_canary_down_at_once() -> None:
    d = analysed(router=False)
    fail = feed(d, 80, "v2-1-step1", "failed")
    assert ScaleReplicaSet("v2", 0) in fail.actions and ScaleReplicaSet("v1", 10) in fail.actions
    assert d.state.phase == "Aborted"


def test_failure_limit_is_a_tolerance() -> None:
    d = analysed(failureLimit=1)
    assert feed(d, 80, "v2-1-step1", "failed").state.phase == "Progressing"
    assert feed(d, 140, "v2-1-step1", "failed").state.phase == "Aborted"


@pytest.mark.parametrize(("verdicts", "phase"), [
    (("error",) * 4, "Progressing"),
    (("error",) * 5, "Aborted"),  # consecutiveErrorLimit 4 (the default): the fifth in a row fails the run
    (("error",) * 4 + ("successful",) + ("error",) * 4, "Progressing"),  # a success resets the streak
])
def test_consecutive_errors(verdicts: tuple[Verdict, ...], phase: str) -> None:
    d = deployed(canary(weight(20), analysis(metric(count=20)), router=True))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    feed(d, 100, "v2-1-step1", *verdicts)
    assert d.state.phase == phase
    if phase == "Aborted":
        assert d.state.runs[0].phase == "Error" and "5 consecutive errors" in d.state.message


def test_inconclusive_pauses_and_promote_continues() -> None:
    d = analysed()
    paused = feed(d, 80, "v2-1-step1", "inconclusive")
    assert (d.state.phase, d.state.pause_reason, d.state.step) == ("Paused", "InconclusiveAnalysis", 1)
    assert "RolloutPaused" in reasons(paused)
    assert d.step(5000).actions == []
    d.step(5001, cmd("promote", "p1"))
    assert d.state.step == 2 and d.state.phase == "Progressing" and d.state.runs == []


def test_inconclusive_then_abort() -> None:
    d = analysed()
    feed(d, 80, "v2-1-step1", "inconclusive")
    d.step(90, cmd("abort", "a1"))
    assert (d.state.phase, d.state.abort_reason) == ("Aborted", "AbortedByUser")


def test_repeated_stale_and_foreign_measurements_are_ignored() -> None:
    d = analysed(failureLimit=5)
    feed(d, 80, "v2-1-step1", "failed")
    d.step(81, measurements=(measure("v2-1-step1", 80, "failed"), measure("v2-1-step1", 70, "failed"),
                             measure("other-run", 81, "failed"), measure("v2-1-step1", 81, "failed", "latency")))
    m = d.state.runs[0].metrics[0]
    assert (m.count, m.failed, m.last_measured_at) == (1, 1, at(80))


def test_due_measurements_and_requeue() -> None:
    d = analysed()
    due = due_measurements(d.state, d.policy, at(12))
    assert [(r.run, r.metric.name) for r in due] == [("v2-1-step1", "error-rate")]
    d.step(12, measurements=(measure("v2-1-step1", 12),))
    assert due_measurements(d.state, d.policy, at(71)) == []
    assert len(due_measurements(d.state, d.policy, at(72))) == 1
    assert d.step(13).requeue_at == at(72)


def test_a_multi_metric_run_waits_for_every_metric() -> None:
    d = deployed(canary(weight(20), analysis(metric("errors", count=1), metric("latency", count=2)), router=True))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    d.step(20, measurements=(measure("v2-1-step1", 20, name="errors"), measure("v2-1-step1", 20, name="latency")))
    assert d.state.step == 1
    d.step(80, measurements=(measure("v2-1-step1", 80, name="latency"),))
    assert d.state.step == 2


# ---------------------------------------------------------------------------------------------------------------
# Background analysis
# ---------------------------------------------------------------------------------------------------------------


def background_policy(starting_step: int = 1, count: int = 10) -> Rollout:
    return canary(weight(20), pause(), weight(50), pause("10m"), router=True,
                  background={"startingStep": starting_step, "metrics": [metric(count=count)]})


def test_background_analysis_starts_at_its_step() -> None:
    d = deployed(background_policy(starting_step=1))
    d.cluster.spec = "v2"
    d.step(10)
    assert running(d) == [] and due(d, 10) == []
    d.step(11)
    d.step(12)
    assert running(d) == ["v2-1-background"] and due(d, 12) == [("v2-1-background", "error-rate")]
    assert d.state.step == 1


def test_background_failure_aborts_mid_step() -> None:
    d = deployed(background_policy(starting_step=0))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    assert (d.state.step, d.state.phase) == (1, "Paused")
    fail = feed(d, 100, "v2-1-background", "failed")
    assert (d.state.phase, d.state.abort_reason, d.state.step) == ("Aborted", "AnalysisFailed", 1)
    assert of(fail, SetWeight) == [SetWeight(0, "v1", "v2")]
    assert "background analysis run v2-1-background" in d.state.message


def test_background_inconclusive_pauses_and_promote_starts_a_fresh_run() -> None:
    d = deployed(background_policy(starting_step=0))
    d.cluster.spec = "v2"
    d.step(10, cmd("promote", "p0"))  # skip setWeight 20
    assert d.state.step == 1
    d.step(11, cmd("promote", "p1"))  # skip the pause
    assert d.state.step == 2
    feed(d, 30, "v2-1-background", "inconclusive")
    assert (d.state.phase, d.state.pause_reason, d.state.step) == ("Paused", "InconclusiveAnalysis", 2)
    assert d.step(40).state.step == 2
    d.step(50, cmd("promote", "p2"))
    assert running(d) == ["v2-2-background"] and due(d, 50) == [("v2-2-background", "error-rate")]
    assert d.state.phase != "Paused" or d.state.pause_reason != "InconclusiveAnalysis"


def test_resuming_background_analysis_keeps_the_timed_pause_running() -> None:
    d = deployed(canary(pause("10m"), weight(50), background={"metrics": [metric()]}))
    d.cluster.spec = "v2"
    d.step(10)
    feed(d, 100, "v2-1-background", "inconclusive")
    assert d.state.pause_reason == "InconclusiveAnalysis"
    d.step(200, cmd("promote", "p1"))  # accepts the inconclusive result, not the pause step
    assert (d.state.step, d.state.pause_reason, d.state.paused_at) == (0, "CanaryPauseStep", at(10))
    d.step(610)
    assert d.state.step == 1


def test_background_completes_and_stops_with_the_rollout() -> None:
    d = deployed(background_policy(starting_step=0, count=2))
    d.cluster.spec = "v2"
    d.step(10)
    feed(d, 20, "v2-1-background", "successful", "successful")
    assert (running(d), phase(d, "v2-1-background"), due(d, 1000)) == ([], "Successful", [])
    d2 = deployed(background_policy(starting_step=0, count=50))
    d2.cluster.spec = "v2"
    d2.step(10)
    assert running(d2) == ["v2-1-background"]
    d2.step(11, cmd("promoteFull", "f1"))
    assert (running(d2), phase(d2, "v2-1-background"), due(d2, 1000)) == ([], "Terminated", [])


# ---------------------------------------------------------------------------------------------------------------
# Pauses and promotion
# ---------------------------------------------------------------------------------------------------------------


def test_timed_pause_ends_exactly_and_requeues_for_it() -> None:
    d = deployed(canary(pause("5m"), weight(30)))
    d.cluster.spec = "v2"
    first = d.step(10)
    assert (d.state.phase, d.state.paused_at) == ("Paused", at(10))
    assert first.requeue_at == at(310)
    assert d.step(309.999).state.step == 0
    d.step(310)
    assert (d.state.step, d.state.weight) == (1, 30)


def test_indefinite_pause_holds_until_promote() -> None:
    d = deployed(canary(pause(), weight(30)))
    d.cluster.spec = "v2"
    d.step(10)
    for t in (100, 10_000, 1_000_000):
        decision = d.step(t)
        assert decision.actions == [] and decision.requeue_at is None
    assert d.state.phase == "Paused"
    promoted = d.step(1_000_001, cmd("promote", "p1"))
    assert (d.state.step, d.state.weight) == (1, 30)
    assert "RolloutPromoted" in reasons(promoted)  # the Event a notification target hears of


def test_promote_skips_one_step_only() -> None:
    d = deployed(canary(pause(), pause(), weight(30)))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11, cmd("promote", "p1"))
    assert (d.state.step, d.state.phase) == (1, "Paused")


def test_promote_full_skips_steps_and_analysis() -> None:
    d = deployed(canary(weight(10), analysis(), pause(), weight(50), router=True))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    assert d.state.run("step", 1) is not None
    full = d.step(13, cmd("promoteFull", "f1"))
    assert running(d) == [] and due(d, 1000) == [] and "RolloutPromotedFull" in reasons(full)
    assert d.state.step == 4 and d.cluster.size("v2") == 10
    d.step(14)
    assert d.cluster.applied == 100  # safety gates still hold: full pods, then 100%, then promotion
    d.step(15)
    assert (d.state.phase, d.state.stable_revision) == ("Healthy", "v2")


def test_promote_full_does_not_start_later_background_analysis() -> None:
    d = deployed(background_policy(starting_step=3))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11, cmd("promoteFull", "f1"))
    assert d.state.runs == [] and due(d, 1000) == []


def test_promote_with_nothing_to_promote_is_reported() -> None:
    d = deployed(canary(weight(20)))
    assert reasons(d.step(10, cmd("promote", "p1"))) == ["PromoteIgnored"]


# ---------------------------------------------------------------------------------------------------------------
# Abort and retry
# ---------------------------------------------------------------------------------------------------------------


def in_pause(router: bool = True) -> Driver:
    """v2 at weight 30, paused at step 1."""
    d = deployed(canary(weight(30), pause(), weight(60), router=router))
    d.cluster.spec = "v2"
    for t in (10, 11, 12):
        d.step(t)
    assert (d.state.step, d.state.phase, d.cluster.applied) == (1, "Paused", 30 if router else None)
    return d


def test_abort_restores_stable_and_waits_for_the_router_before_scaling_down() -> None:
    d = in_pause()
    d.cluster.router_lag = True
    abort = d.step(20, cmd("abort", "a1"))
    assert (d.state.phase, d.state.abort_reason, d.state.weight) == ("Aborted", "AbortedByUser", 0)
    assert of(abort, SetWeight) == [SetWeight(0, "v1", "v2")]
    assert of(abort, ScaleReplicaSet) == []
    d.cluster.catch_up()
    assert of(d.step(21), ScaleReplicaSet) == [ScaleReplicaSet("v2", 0)]


def test_aborted_stays_aborted_while_spec_holds_the_bad_revision() -> None:
    d = in_pause()
    d.step(20, cmd("abort", "a1"))
    d.step(21)
    for t in (100, 1000, 100_000):
        assert d.step(t, cmd("abort", "a1")).actions == []  # the same command again is not reapplied
    assert (d.state.phase, d.state.desired_revision, d.state.stable_revision) == ("Aborted", "v2", "v1")


def test_retry_restarts_from_step_zero() -> None:
    d = in_pause()
    d.step(20, cmd("abort", "a1"))
    d.step(21)
    retry = d.step(30, cmd("retry", "r1"))
    assert "RolloutRetried" in reasons(retry)
    assert (d.state.aborted, d.state.step, d.state.phase, d.state.desired_revision) == (False, 0, "Progressing", "v2")
    assert of(retry, ScaleReplicaSet) == [ScaleReplicaSet("v2", 3)]
    d.step(31)
    d.step(32)
    assert (d.state.step, d.state.phase) == (1, "Paused")


def test_retry_gives_analysis_runs_new_names() -> None:
    d = analysed()
    feed(d, 80, "v2-1-step1", "failed")
    d.step(81)
    d.step(90, cmd("retry", "r1"))
    d.step(91)
    d.step(92)
    assert running(d) == ["v2-2-step1"] and due(d, 92) == [("v2-2-step1", "error-rate")]


def test_a_new_revision_after_abort_starts_a_new_rollout() -> None:
    d = in_pause()
    d.step(20, cmd("abort", "a1"))
    d.step(21)
    d.cluster.spec = "v3"
    d.step(30)
    assert (d.state.aborted, d.state.desired_revision, d.state.step, d.state.stable_revision) == (
        False, "v3", 0, "v1")


def test_abort_and_retry_when_there_is_nothing_to_abort() -> None:
    d = deployed(canary(weight(20)))
    assert reasons(d.step(10, cmd("abort", "a1"))) == ["AbortIgnored"]
    assert reasons(d.step(11, cmd("retry", "r1"))) == ["RetryIgnored"]
    assert d.state.phase == "Healthy"


def test_commands_apply_in_order_and_once() -> None:
    d = in_pause()
    both = d.step(20, cmd("abort", "a1"), cmd("retry", "r1"))
    assert reasons(both)[:2] == ["AbortedByUser", "RolloutRetried"]
    assert (d.state.aborted, d.state.step, d.state.phase) == (False, 1, "Paused")  # step 0 still holds
    assert d.step(21, cmd("abort", "a1"), cmd("retry", "r1")).actions == []
    assert d.state.aborted is False and d.state.handled_commands[-2:] == ["a1", "r1"]


def test_each_promote_skips_one_step_and_no_command_is_applied_twice() -> None:
    d = deployed(canary(*[pause() for _ in range(13)]))
    d.cluster.spec = "v2"
    d.step(10)
    promotes = tuple(cmd("promote", f"p{i}") for i in range(12))
    d.step(11, *promotes)
    assert (d.state.step, d.state.phase) == (12, "Paused")
    assert d.step(12, *promotes).actions == []  # more ids than the memory holds, but all still observed
    assert len(d.state.handled_commands) == 12
    d.step(13)  # the commands were removed from the resource: the memory shrinks back
    assert d.state.handled_commands == [f"p{i}" for i in range(2, 12)]


# ---------------------------------------------------------------------------------------------------------------
# Progress deadline
# ---------------------------------------------------------------------------------------------------------------


def test_canary_pods_not_ready_in_time_abort() -> None:
    d = deployed(canary(weight(20), pause(), deadline=120))
    d.cluster.spec, d.cluster.held = "v2", {"v2"}
    first = d.step(10)
    assert first.requeue_at == at(130)
    assert d.step(129).state.phase == "Progressing"
    late = d.step(130)
    assert (d.state.phase, d.state.abort_reason) == ("Aborted", "ProgressDeadlineExceeded")
    assert any(e.warning for e in of(late, Emit))
    assert of(late, ScaleReplicaSet) == [ScaleReplicaSet("v2", 0)] and d.cluster.size("v1") == 10


def test_router_that_never_applies_the_weight_aborts() -> None:
    d = deployed(canary(weight(20), pause(), router=True, deadline=60))
    d.cluster.spec, d.cluster.router_lag = "v2", True
    d.step(10)
    d.step(11)  # pods ready, weight requested; the deadline still counts from the step's start
    d.step(69)
    assert d.state.phase == "Progressing"
    d.step(70)
    assert d.state.abort_reason == "ProgressDeadlineExceeded" and "apply weight 20" in d.state.message


def test_pauses_and_analysis_do_not_count_against_the_deadline() -> None:
    d = deployed(canary(weight(20), pause("1h"), analysis(), router=True, deadline=60))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    d.step(3612)
    assert (d.state.step, d.state.phase) == (2, "Progressing")
    d.step(10_000)
    assert d.state.phase == "Progressing"


# ---------------------------------------------------------------------------------------------------------------
# Restart: the state in status is all there is
# ---------------------------------------------------------------------------------------------------------------


def test_restart_mid_step_keeps_step_and_weight_without_a_jump() -> None:
    d = in_pause()
    d.step(20)
    before = d.state
    again = restarted(d)
    resumed = again.step(21)
    assert resumed.actions == []  # no weight jump, no scaling
    assert resumed.state == before
    assert (resumed.state.step, resumed.state.weight) == (1, 30)


def test_restart_waiting_for_the_router_asks_for_the_same_weight() -> None:
    d = deployed(canary(weight(20), pause(), router=True))
    d.cluster.spec, d.cluster.router_lag = "v2", True
    d.step(10)
    d.step(11)
    again = restarted(d)
    assert of(again.step(12), SetWeight) == [SetWeight(20, "v1", "v2")]
    assert again.state.weight == 20


def test_restart_keeps_the_timed_pause_start() -> None:
    d = deployed(canary(pause("10m"), weight(50)))
    d.cluster.spec = "v2"
    d.step(10)
    again = restarted(d)
    assert again.step(300).state.step == 0
    assert again.step(610).state.step == 1


def test_restart_keeps_analysis_counts() -> None:
    d = analysed()
    feed(d, 80, "v2-1-step1", "successful", "successful")
    again = restarted(d)
    again.step(81, measurements=(measure("v2-1-step1", 80),))  # replayed after the restart: ignored
    assert again.state.step == 1
    feed(again, 140, "v2-1-step1", "successful")
    assert again.state.step == 2


def test_wire_is_camel_case_small_and_round_trips() -> None:
    d = analysed()
    wire = d.state.wire()
    assert {"stableRevision", "desiredRevision", "stepStartedAt", "runs", "history"} <= wire.keys()
    assert "activeRevision" not in wire and "pin" not in wire  # unset optional fields are left out
    assert wire["runs"][0]["metrics"][0]["name"] == "error-rate"
    assert RolloutState.model_validate(wire) == d.state
    assert len(str(wire)) < 2000


def test_state_schema_is_structural_for_the_crd() -> None:
    raw = RolloutState.model_json_schema(by_alias=True, mode="validation")
    schema = crd._structural(raw, raw.get("$defs", {}))
    text = str(schema)
    for banned in ("$ref", "anyOf", "'default'"):
        assert banned not in text
    runs = schema["properties"]["runs"]["items"]["properties"]["metrics"]
    assert runs["x-kubernetes-list-map-keys"] == ["name"]


def test_the_engine_is_deterministic() -> None:
    d = analysed()
    obs = d.cluster.observe((measure("v2-1-step1", 80, "inconclusive"),), (cmd("promote", "p1"),))
    first = step(d.state, d.policy, obs, at(90))
    assert step(d.state, d.policy, obs, at(90)) == first


# ---------------------------------------------------------------------------------------------------------------
# Revert, supersede, undo, history
# ---------------------------------------------------------------------------------------------------------------


def test_reverting_the_spec_during_a_canary_returns_to_healthy_at_once() -> None:
    d = deployed(canary(weight(40), analysis(), pause()))
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(12)
    assert running(d) == ["v2-1-step1"]
    d.cluster.spec = "v1"
    back = d.step(20)
    assert (d.state.phase, d.state.weight, d.state.desired_revision, d.state.runs) == ("Healthy", 0, "v1", [])
    assert of(back, ScaleReplicaSet) == [ScaleReplicaSet("v1", 10), ScaleReplicaSet("v2", 0)]
    assert due(d, 1000) == [] and "RolloutReverted" in reasons(back)


def test_reverting_with_router_keeps_canary_pods_until_weight_zero() -> None:
    d = in_pause()
    d.cluster.router_lag = True
    d.cluster.spec = "v1"
    back = d.step(20)
    assert d.state.phase == "Healthy" and d.state.retiring == ["v2"]
    assert of(back, SetWeight) == [SetWeight(0, "v1", "v1")] and of(back, ScaleReplicaSet) == []
    d.cluster.catch_up()
    assert of(d.step(21), ScaleReplicaSet) == [ScaleReplicaSet("v2", 0)]
    assert d.state.retiring == []


def test_a_new_revision_mid_canary_replaces_the_canary() -> None:
    d = in_pause(router=False)
    d.cluster.spec = "v3"
    swap = d.step(20)
    assert of(swap, ScaleReplicaSet) == [ScaleReplicaSet("v3", 3), ScaleReplicaSet("v2", 0)]
    assert (d.state.desired_revision, d.state.step, d.state.stable_revision) == ("v3", 0, "v1")


def test_a_new_revision_mid_routed_canary_drains_the_old_canary_first() -> None:
    d = in_pause()
    d.cluster.router_lag = True
    d.cluster.spec = "v3"
    swap = d.step(20)
    assert of(swap, SetWeight) == [SetWeight(0, "v1", "v3")]
    assert d.state.retiring == ["v2"] and d.cluster.size("v2") == 3
    d.step(21)
    assert of(d.step(22), SetWeight) == [SetWeight(0, "v1", "v3")]  # v3 gets no weight while v2 drains
    assert "take traffic off v2" in d.state.message
    d.cluster.catch_up()
    drained = d.step(23)
    assert ScaleReplicaSet("v2", 0) in drained.actions
    assert of(d.step(24), SetWeight) == [SetWeight(30, "v1", "v3")]


def test_undo_to_a_revision_number() -> None:
    d = deployed(canary(weight(50)))
    for t, rev in ((10, "v2"), (20, "v3")):
        d.cluster.spec = rev
        for dt in range(4):  # canary up, stable down, canary to full, stable
            d.step(t + dt)
    assert [(e.number, e.revision) for e in d.state.history] == [(1, "v1"), (2, "v2"), (3, "v3")]
    assert d.state.stable_revision == "v3"
    undo = d.step(30, cmd("undo", "u1", revision=1))
    assert "RolloutUndo" in reasons(undo)
    assert d.state.pinned_revision == "v1" and d.state.desired_revision == "v1"
    assert ScaleReplicaSet("v1", 5) in undo.actions  # a canary of the old revision, like any new one
    assert [(e.number, e.revision) for e in d.state.history][-1] == (4, "v1")
    for t in (31, 32, 33):
        d.step(t)
    assert (d.state.stable_revision, d.state.phase) == ("v1", "Healthy")
    d.step(40)
    assert d.state.desired_revision == "v1"  # the spec still holds v3: the pin holds
    d.cluster.spec = "v4"
    d.step(50)
    assert d.state.pin is None and d.state.desired_revision == "v4"


def test_undo_without_number_goes_to_the_previous_revision_and_stable_is_instant() -> None:
    d = in_pause(router=False)
    d.step(20, cmd("undo", "u1"))
    assert (d.state.phase, d.state.desired_revision, d.state.pinned_revision) == ("Healthy", "v1", "v1")


def test_undo_to_an_unknown_revision_is_reported() -> None:
    d = deployed(canary(weight(50)))
    undo = d.step(10, cmd("undo", "u1", revision=42))
    assert [(e.reason, e.warning) for e in of(undo, Emit)] == [("UndoFailed", True)]
    assert d.state.pin is None


def test_history_is_bounded_and_pruned_replica_sets_are_deleted() -> None:
    d = deployed(canary(weight(50)))
    deleted: list[str] = []
    for i in range(2, 14):
        d.cluster.spec = f"v{i}"
        for t in range(3):
            deleted += [a.revision for a in of(d.step(i * 10 + t), DeleteReplicaSet)]
    assert len(d.state.history) == 10
    assert [e.number for e in d.state.history] == list(range(4, 14))
    assert deleted == ["v1", "v2", "v3"] and "v1" not in d.cluster.sets


# ---------------------------------------------------------------------------------------------------------------
# Blue-green
# ---------------------------------------------------------------------------------------------------------------


def bg_deployed(**settings: Any) -> Driver:
    d = Driver(blue_green(**settings), Cluster())
    first = d.step(0)
    assert of(first, SwitchActive) == [SwitchActive("v1")] and of(first, SwitchPreview) == [SwitchPreview("v1")]
    d.step(1)
    assert (d.state.phase, d.state.stable_revision, d.state.active_revision) == ("Healthy", "v1", "v1")
    return d


def test_blue_green_auto_promotion_and_scale_down_delay() -> None:
    d = bg_deployed(autoPromotionSeconds=30, scaleDownDelaySeconds=60)
    d.cluster.spec = "v2"
    d.cluster.held = {"v2"}
    start = d.step(10)
    assert of(start, ScaleReplicaSet) == [ScaleReplicaSet("v2", 10)]
    assert of(start, SwitchPreview) == []  # the preview Service waits for ready pods
    assert d.state.preview_revision == "v2" and d.state.phase == "Progressing"
    d.cluster.release("v2")
    ready = d.step(20)
    assert of(ready, SwitchPreview) == [SwitchPreview("v2")] and of(ready, SwitchActive) == []
    assert ready.requeue_at == at(50)
    assert of(d.step(49), SwitchActive) == []
    promoted = d.step(50)
    assert of(promoted, SwitchActive) == [SwitchActive("v2")] and d.cluster.preview == "v2"
    assert (d.state.phase, d.state.stable_revision, d.state.scale_down_revision) == ("Healthy", "v2", "v1")
    assert d.state.scale_down_at == at(110) and d.cluster.size("v1") == 10
    assert d.step(109).actions == []
    assert of(d.step(110), ScaleReplicaSet) == [ScaleReplicaSet("v1", 0)]
    assert d.state.scale_down_revision is None


def test_blue_green_manual_promotion() -> None:
    d = bg_deployed()
    d.cluster.spec = "v2"
    d.step(10)
    paused = d.step(11)
    assert (d.state.phase, d.state.pause_reason) == ("Paused", "BlueGreenPause")
    assert "RolloutPaused" in reasons(paused)
    assert d.step(100_000).actions == []
    promoted = d.step(100_001, cmd("promote", "p1"))
    assert of(promoted, SwitchActive) == [SwitchActive("v2")] and d.state.phase == "Healthy"


def test_blue_green_promote_before_preview_is_ready_is_remembered() -> None:
    d = bg_deployed()
    d.cluster.spec, d.cluster.held = "v2", {"v2"}
    d.step(10, cmd("promote", "p1"))
    assert d.state.pending_promotion == "promote" and d.cluster.active == "v1"
    d.cluster.release("v2")
    d.step(20)
    assert d.cluster.active == "v2" and d.state.stable_revision == "v2"


def test_pre_promotion_analysis_blocks_the_switch() -> None:
    d = bg_deployed(autoPromotionSeconds=0, prePromotionAnalysis={"metrics": [metric(count=2)]})
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    assert running(d) == ["v2-1-pre"] and due(d, 11) == [("v2-1-pre", "error-rate")]
    d.step(12, cmd("promote", "p1"))
    assert d.cluster.active == "v1" and d.state.pending_promotion == "promote"
    feed(d, 70, "v2-1-pre", "successful")
    assert d.cluster.active == "v1"
    passed = feed(d, 130, "v2-1-pre", "successful")
    assert of(passed, SwitchActive) == [SwitchActive("v2")] and d.state.phase == "Healthy"


def test_pre_promotion_failure_aborts_and_keeps_active() -> None:
    d = bg_deployed(autoPromotionSeconds=0, prePromotionAnalysis={"metrics": [metric()]})
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    fail = feed(d, 70, "v2-1-pre", "failed")
    assert (d.state.phase, d.state.abort_reason) == ("Aborted", "AnalysisFailed")
    assert of(fail, SwitchActive) == [] and of(fail, SwitchPreview) == [SwitchPreview("v1")]
    assert ScaleReplicaSet("v2", 0) in fail.actions and d.cluster.size("v1") == 10


def test_pre_promotion_inconclusive_pauses_until_promote() -> None:
    d = bg_deployed(autoPromotionSeconds=0, prePromotionAnalysis={"metrics": [metric()]})
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    feed(d, 70, "v2-1-pre", "inconclusive")
    assert (d.state.phase, d.state.pause_reason) == ("Paused", "InconclusiveAnalysis")
    assert d.step(500).actions == []
    d.step(501, cmd("promote", "p1"))
    assert d.cluster.active == "v2" and d.state.phase == "Healthy"


def post_promoted() -> Driver:
    d = bg_deployed(autoPromotionSeconds=0, scaleDownDelaySeconds=30, postPromotionAnalysis={"metrics": [metric()]})
    d.cluster.spec = "v2"
    d.step(10)
    promoted = d.step(11)
    assert of(promoted, SwitchActive) == [SwitchActive("v2")]
    assert running(d) == ["v2-1-post"] and due(d, 11) == [("v2-1-post", "error-rate")]
    assert (d.state.phase, d.state.active_revision, d.state.stable_revision, d.state.weight) == (
        "Progressing", "v2", "v1", 100)
    return d


def test_post_promotion_failure_switches_back_and_aborts() -> None:
    d = post_promoted()
    fail = feed(d, 70, "v2-1-post", "failed")
    assert of(fail, SwitchActive) == [SwitchActive("v1")]
    assert (d.state.phase, d.state.active_revision, d.state.weight) == ("Aborted", "v1", 0)
    assert ScaleReplicaSet("v2", 0) not in fail.actions  # the active Service still selected v2 when decided
    assert of(d.step(71), ScaleReplicaSet) == [ScaleReplicaSet("v2", 0)]


def test_post_promotion_success_completes() -> None:
    d = post_promoted()
    feed(d, 70, "v2-1-post", "successful", "successful", "successful")
    assert (d.state.phase, d.state.stable_revision, d.state.scale_down_revision) == ("Healthy", "v2", "v1")
    assert d.state.scale_down_at == at(100)
    assert d.cluster.size("v1") == 10


def test_fast_rollback_inside_the_scale_down_window() -> None:
    d = bg_deployed(autoPromotionSeconds=0, scaleDownDelaySeconds=300)
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    assert (d.state.stable_revision, d.cluster.active) == ("v2", "v2")
    d.cluster.spec = "v1"
    back = d.step(100)
    assert of(back, SwitchActive) == [SwitchActive("v1")]
    assert of(back, ScaleReplicaSet) == [] and "FastRollback" in reasons(back)
    assert (d.state.phase, d.state.stable_revision, d.state.preview_revision) == ("Healthy", "v1", None)
    assert (d.state.scale_down_revision, d.state.scale_down_at) == ("v2", at(400))
    assert of(d.step(400), ScaleReplicaSet) == [ScaleReplicaSet("v2", 0)]


def test_after_the_window_the_old_revision_is_a_normal_rollout() -> None:
    d = bg_deployed(autoPromotionSeconds=0, scaleDownDelaySeconds=30)
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.step(50)
    assert d.cluster.size("v1") == 0
    d.cluster.spec = "v1"
    again = d.step(60)
    assert "FastRollback" not in reasons(again) and d.state.preview_revision == "v1"
    assert of(again, ScaleReplicaSet) == [ScaleReplicaSet("v1", 10)]


def test_old_revision_waits_for_the_active_service_to_move() -> None:
    d = bg_deployed(autoPromotionSeconds=0, scaleDownDelaySeconds=30)
    d.cluster.spec = "v2"
    d.step(10)
    promoted = step(d.state, d.policy, d.cluster.observe(), at(11))
    d.state = promoted.state  # the switch was decided but not applied yet
    late = d.step(100)
    assert of(late, SwitchActive) == [SwitchActive("v2")] and ScaleReplicaSet("v1", 0) not in late.actions
    assert of(d.step(101), ScaleReplicaSet) == [ScaleReplicaSet("v1", 0)]


def test_blue_green_preview_not_ready_in_time_aborts() -> None:
    d = bg_deployed(progressDeadlineSeconds=60)
    d.cluster.spec, d.cluster.held = "v2", {"v2"}
    d.step(10)
    late = d.step(70)
    assert d.state.abort_reason == "ProgressDeadlineExceeded"
    assert ScaleReplicaSet("v2", 0) in late.actions and d.cluster.active == "v1"


def test_blue_green_new_revision_replaces_the_preview() -> None:
    d = bg_deployed()
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.cluster.spec = "v3"
    swap = d.step(20)
    assert of(swap, ScaleReplicaSet) == [ScaleReplicaSet("v3", 10), ScaleReplicaSet("v2", 0)]
    assert of(swap, SwitchPreview) == [SwitchPreview("v1")]
    assert (d.state.preview_revision, d.state.phase) == ("v3", "Progressing")


def test_blue_green_revert_during_preview() -> None:
    d = bg_deployed()
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    d.cluster.spec = "v1"
    back = d.step(20)
    assert d.state.phase == "Healthy" and ScaleReplicaSet("v2", 0) in back.actions
    assert of(back, SwitchPreview) == [SwitchPreview("v1")]


def test_blue_green_promote_full_skips_both_analyses() -> None:
    d = bg_deployed(prePromotionAnalysis={"metrics": [metric()]}, postPromotionAnalysis={"metrics": [metric()]})
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    assert running(d) == ["v2-1-pre"]
    full = d.step(12, cmd("promoteFull", "f1"))
    assert d.state.runs == [] and due(d, 1000) == []
    assert of(full, SwitchActive) == [SwitchActive("v2")] and d.state.phase == "Healthy"


def test_blue_green_retry_after_abort() -> None:
    d = bg_deployed(autoPromotionSeconds=0, prePromotionAnalysis={"metrics": [metric()]})
    d.cluster.spec = "v2"
    d.step(10)
    d.step(11)
    feed(d, 70, "v2-1-pre", "failed")
    d.step(71)
    retry = d.step(80, cmd("retry", "r1"))
    assert of(retry, ScaleReplicaSet) == [ScaleReplicaSet("v2", 10)] and d.state.phase == "Progressing"
    d.step(81)
    assert running(d) == ["v2-2-pre"] and due(d, 81) == [("v2-2-pre", "error-rate")]


# ---------------------------------------------------------------------------------------------------------------
# Policy changes
# ---------------------------------------------------------------------------------------------------------------


def test_strategy_change_mid_rollout_restarts_under_the_new_strategy() -> None:
    d = in_pause(router=False)
    d.policy = blue_green(autoPromotionSeconds=0)
    restart = d.step(20)
    assert "RolloutRestarted" in reasons(restart)
    assert (d.state.strategy, d.state.preview_revision, d.state.active_revision) == ("blueGreen", "v2", "v1")
    assert ScaleReplicaSet("v2", 10) in restart.actions
    d.step(21)
    assert (d.state.stable_revision, d.cluster.active) == ("v2", "v2")


def test_steps_removed_mid_rollout_go_to_the_end() -> None:
    d = deployed(canary(weight(10), weight(20), pause(), weight(50)))
    d.cluster.spec = "v2"
    for t in (10, 11, 12, 13, 14):  # each setWeight: canary up, stable down, done
        d.step(t)
    assert (d.state.step, d.state.phase) == (2, "Paused")
    d.policy = canary(weight(10))
    d.step(20)
    d.step(21)
    assert (d.state.phase, d.state.stable_revision) == ("Healthy", "v2")
