"""The rollout engine's migration gate: a revision's migrations run before its first step, a failure aborts with
the migration named, an abort reverts what the revision applied. Pure: the outcomes are fed in by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aenv.api.rollout import Rollout
from aenv.api.rollout_state import RolloutState
from aenv.rollouts.engine import (
    Command,
    Decision,
    Emit,
    MigrationOutcome,
    Observations,
    ReplicaSetObservation,
    RunMigrations,
    ScaleReplicaSet,
    SetWeight,
    SwitchPreview,
    step,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SOURCE = "configMap/m@0123456789ab"


def canary(router: bool = False) -> Rollout:
    spec: dict[str, Any] = {"steps": [{"setWeight": 20}, {"pause": {}}]}
    if router:
        spec["trafficRouting"] = {"alb": {"ingress": "web"}}
    return Rollout.model_validate({"strategy": "canary", "canary": spec})


@dataclass
class World:
    policy: Rollout
    spec: str = "v1"
    migrations: str | None = SOURCE
    sets: dict[str, int] = field(default_factory=dict)  # revision -> replicas (all ready at once)
    applied: int | None = None
    outcomes: list[MigrationOutcome] = field(default_factory=list)
    state: RolloutState = field(default_factory=RolloutState)
    t: int = 0

    def step(self, *commands: Command) -> Decision:
        self.t += 1
        obs = Observations(desired_revision=self.spec, replicas=4,
                           replica_sets={r: ReplicaSetObservation(n, n) for r, n in self.sets.items()},
                           traffic_applied_weight=self.applied, commands=commands, migrations=self.migrations,
                           migration_outcomes=list(self.outcomes))
        d = step(self.state, self.policy, obs, T0 + timedelta(seconds=self.t))
        for a in d.actions:
            if isinstance(a, ScaleReplicaSet):
                self.sets[a.revision] = a.replicas
            elif isinstance(a, SetWeight):
                self.applied = a.weight
        self.state = d.state
        return d


def asked(d: Decision) -> list[RunMigrations]:
    return [a for a in d.actions if isinstance(a, RunMigrations)]


def reasons(d: Decision) -> list[str]:
    return [a.reason for a in d.actions if isinstance(a, Emit)]


def stable_v1(policy: Rollout) -> World:
    w = World(policy)
    assert asked(w.step()) == [RunMigrations("v1", "up", SOURCE)]
    assert w.sets == {}  # the first deployment gets no pods before its migrations ran
    w.outcomes.append(MigrationOutcome("v1", "up", True, "applied 0001_users", 0, 1))
    assert "MigrationsApplied" in reasons(w.step())
    w.step()
    assert (w.state.phase, w.state.stable_revision) == ("Healthy", "v1")
    return w


def migrated_v2() -> World:
    """v1 stable, v2 rolling out with its migrations applied (version 1 -> 2)."""
    w = stable_v1(canary())
    w.spec = "v2"
    w.step()
    w.outcomes.append(MigrationOutcome("v2", "up", True, "applied 0002_events", 1, 2))
    w.step()
    return w


def test_a_canary_migrates_before_its_first_traffic_step() -> None:
    w = stable_v1(canary(router=True))
    w.spec = "v2"
    d = w.step()
    assert asked(d) == [RunMigrations("v2", "up", SOURCE)]
    assert w.sets.get("v2", 0) == 0 and w.applied == 0
    assert w.state.message.startswith("running the migrations of revision v2")
    assert asked(w.step()) == [RunMigrations("v2", "up", SOURCE)]  # asked until an outcome is observed
    w.outcomes.append(MigrationOutcome("v2", "up", True, "applied 0002_events", 1, 2))
    d = w.step()
    assert "MigrationsApplied" in reasons(d) and not asked(d)
    assert w.sets["v2"] == 1 and (w.state.step, w.state.migration and w.state.migration.phase) == (0, "Applied")
    w.step()
    w.step()
    assert w.applied == 20 and w.state.step == 1


def test_a_failed_migration_aborts_without_traffic_and_names_it() -> None:
    w = stable_v1(canary())
    w.spec = "v2"
    w.step()
    w.outcomes.append(MigrationOutcome("v2", "up", False, "failed 0002_events: relation \"nowhere\" does not "
                                                          "exist; rolled back", 1, 1))
    d = w.step()
    assert w.state.phase == "Aborted" and w.state.abort_reason == "MigrationFailed"
    assert "0002_events" in w.state.message and "MigrationFailed" in reasons(d)
    assert w.sets.get("v2", 0) == 0 and w.sets["v1"] == 4
    assert not asked(w.step())  # nothing was applied: nothing to revert


def test_a_failure_after_some_migrations_applied_reverts_them() -> None:
    w = stable_v1(canary())
    w.spec = "v2"
    w.step()
    w.outcomes.append(MigrationOutcome("v2", "up", False, "failed 0003_index: ...", 1, 2))
    d = w.step()
    assert w.state.aborted and asked(d) == [RunMigrations("v2", "down", SOURCE, 1)]
    w.outcomes.append(MigrationOutcome("v2", "down", True, "reverted 0002_events", None, 1))
    d = w.step()
    assert "MigrationsReverted" in reasons(d) and not asked(d)
    assert w.state.migration is not None and w.state.migration.phase == "Reverted"


def test_an_abort_after_the_migrations_ran_reverts_them_and_retry_runs_them_again() -> None:
    w = migrated_v2()
    d = w.step(Command("abort", "a1"))
    assert w.state.aborted and asked(d) == [RunMigrations("v2", "down", SOURCE, 1)]
    w.outcomes.append(MigrationOutcome("v2", "down", False, "failed 0002_events: cannot drop", None, 2))
    d = w.step(Command("abort", "a1"))
    assert "MigrationRevertFailed" in reasons(d) and w.state.migration is not None
    assert w.state.migration.phase == "RevertFailed"
    d = w.step(Command("abort", "a1"), Command("retry", "r1"))  # the earlier outcomes count for attempt 1 only
    assert asked(d) == [RunMigrations("v2", "up", SOURCE, attempt=2)] and not w.state.aborted
    w.outcomes.append(MigrationOutcome("v2", "up", True, "applied 0002_events", 1, 2, attempt=2))
    assert "MigrationsApplied" in reasons(w.step(Command("abort", "a1"), Command("retry", "r1")))


def test_re_applying_the_stable_revision_reverts_the_canary_migrations() -> None:
    w = migrated_v2()
    w.spec = "v1"
    assert asked(w.step()) == [RunMigrations("v2", "down", SOURCE, 1)]


def test_an_abort_while_the_migrations_run_reverts_them_once_they_finish() -> None:
    w = stable_v1(canary())
    w.spec = "v2"
    w.step()
    assert not asked(w.step(Command("abort", "a1")))  # aborted: no new run is started
    w.outcomes.append(MigrationOutcome("v2", "up", True, "applied 0002_events", 1, 2))
    assert asked(w.step(Command("abort", "a1"))) == [RunMigrations("v2", "down", SOURCE, 1)]
    assert w.sets.get("v2", 0) == 0


def test_a_failed_first_deployment_is_degraded_and_retry_runs_the_migrations_again() -> None:
    w = World(canary())
    w.step()
    w.outcomes.append(MigrationOutcome("v1", "up", False, "failed 0001_users: syntax error", 0, 0))
    d = w.step()
    assert w.state.phase == "Degraded" and "0001_users" in w.state.message and "MigrationFailed" in reasons(d)
    w.step()
    assert w.sets == {} and w.state.phase == "Degraded"
    assert asked(w.step(Command("retry", "r1"))) == [RunMigrations("v1", "up", SOURCE, attempt=2)]


def test_blue_green_preview_gets_no_pods_before_the_migrations() -> None:
    w = stable_v1(Rollout.model_validate({"strategy": "blueGreen", "blueGreen": {}}))
    w.spec = "v2"
    d = w.step()
    assert w.sets.get("v2", 0) == 0 and SwitchPreview("v2") not in d.actions
    w.outcomes.append(MigrationOutcome("v2", "up", True, "nothing to apply", 1, 1))
    w.step()
    assert w.sets["v2"] == 4


def test_without_migrations_nothing_is_gated() -> None:
    w = World(canary(), migrations=None)
    d = w.step()
    assert not asked(d) and w.sets == {"v1": 4} and w.state.migration is None


def test_the_migration_state_survives_a_restart() -> None:
    w = stable_v1(canary())
    w.spec = "v2"
    w.step()
    w.state = RolloutState.model_validate(w.state.wire())
    assert w.state.migration is not None and w.state.migration.source == SOURCE
    assert asked(w.step()) == [RunMigrations("v2", "up", SOURCE)]
