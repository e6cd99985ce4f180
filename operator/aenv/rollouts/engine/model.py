"""What goes in and out of `step`: the observations the operator feeds in, the actions it applies, the
decision that carries them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ...api.rollout import Metric
from ...api.rollout_state import RolloutState

Verdict = Literal["successful", "failed", "inconclusive", "error"]


CommandKind = Literal["promote", "promoteFull", "abort", "retry", "undo"]
MigrationDirection = Literal["up", "down"]


@dataclass(frozen=True)
class ReplicaSetObservation:
    """One ReplicaSet of the workload: the replicas its spec asks for and how many pods are ready."""

    replicas: int
    ready: int


@dataclass(frozen=True)
class RunMeasurement:
    """One result of an analysis provider for `metric` of `run` (a run name from `due_measurements`)."""

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
class MigrationOutcome:
    """A finished run of a revision's migrations. The versions are the database's before and after the run
    (None: the source does not tell, as a Job's); `message` says what ran, or names the migration that failed."""

    revision: str
    direction: MigrationDirection
    ok: bool
    message: str = ""
    from_version: int | None = None
    to_version: int | None = None
    attempt: int = 1


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
    migrations             what the desired revision's migrations are (the source and its checksum); None: no
                           migration gate. A rollout starting records it and runs them before its first step
    migration_outcomes     the finished runs of migrations the operator holds (of any revision)
    """

    desired_revision: str
    replicas: int
    replica_sets: Mapping[str, ReplicaSetObservation] = field(default_factory=dict)
    traffic_applied_weight: int | None = None
    active_service: str | None = None
    preview_service: str | None = None
    measurements: Sequence[RunMeasurement] = ()
    commands: Sequence[Command] = ()
    migrations: str | None = None
    migration_outcomes: Sequence[MigrationOutcome] = ()

    def migration(self, revision: str, direction: MigrationDirection, attempt: int) -> MigrationOutcome | None:
        return next((o for o in self.migration_outcomes
                     if (o.revision, o.direction, o.attempt) == (revision, direction, attempt)), None)

    def ready(self, revision: str | None) -> int:
        rs = self.replica_sets.get(revision) if revision is not None else None
        return rs.ready if rs is not None else 0

    def scaled(self, revision: str) -> int:
        rs = self.replica_sets.get(revision)
        return rs.replicas if rs is not None else 0


@dataclass(frozen=True)
class ScaleReplicaSet:
    """Set the ReplicaSet of `revision` to `replicas`, creating it if missing (from the spec's pod template);
    another revision (a pinned undo, an old one scaled down) already has its ReplicaSet to take it from."""

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


@dataclass(frozen=True)
class RunMigrations:
    """Run `revision`'s migrations recorded as `source`: up (the pending ones), or down back to `to_version`.
    Level-triggered: asked in every call while the gate waits; the operator runs each attempt once and reports
    a MigrationOutcome of that attempt."""

    revision: str
    direction: MigrationDirection
    source: str
    to_version: int | None = None
    attempt: int = 1


Action = ScaleReplicaSet | SetWeight | SwitchActive | SwitchPreview | DeleteReplicaSet | Emit | RunMigrations


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
