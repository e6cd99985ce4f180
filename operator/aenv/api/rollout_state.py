"""Where one workload's rollout stands: the engine's memory, kept in status.workloads[].rollout.

Everything the engine needs to resume lives here, so an operator restarted mid-rollout continues at the
same step with the same weight. The model is small on purpose (thousands of rollouts per operator):
finished step analysis runs are dropped, the revision history and the remembered command ids are bounded,
and unset optional fields are left out of `.wire()`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import ApiModel

Strategy = Literal["canary", "blueGreen"]
RolloutPhase = Literal["Healthy", "Progressing", "Paused", "Aborted", "Degraded"]
PauseReason = Literal["CanaryPauseStep", "InconclusiveAnalysis", "BlueGreenPause"]
RunKind = Literal["step", "background", "prePromotion", "postPromotion"]
RunPhase = Literal["Running", "Successful", "Failed", "Inconclusive", "Error", "Terminated"]
PendingPromotion = Literal["promote", "full"]
MigrationPhase = Literal["Pending", "Applied", "Failed", "Reverting", "Reverted", "RevertFailed"]

HISTORY_LIMIT = 10
COMMAND_MEMORY = 10
ROLLOUT_MESSAGE_LIMIT = 1024  # characters of a rollout or analysis run message (and of the Events repeating one)


class MetricState(ApiModel):
    """One metric of an analysis run: the measurements counted so far and the verdict they add up to."""

    name: str
    count: int = Field(default=0, ge=0, description="Measurements taken, errors included.")
    successful: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    inconclusive: int = Field(default=0, ge=0)
    error: int = Field(default=0, ge=0)
    consecutive_errors: int = Field(default=0, ge=0)
    last_measured_at: datetime | None = Field(default=None, description="Older or equal measurements are ignored.")
    phase: RunPhase = "Running"


class AnalysisRunState(ApiModel):
    """One analysis run the engine started: an inline step, the background run, or a blue-green gate."""

    name: str
    kind: RunKind
    step: int | None = Field(default=None, ge=0, description="The canary step of an inline run.")
    phase: RunPhase = "Running"
    started_at: datetime
    metrics: list[MetricState] = Field(default_factory=list)
    message: str = Field(default="", max_length=ROLLOUT_MESSAGE_LIMIT)

    @property
    def running(self) -> bool:
        return self.phase == "Running"


class RevisionEntry(ApiModel):
    """A revision that was the desired one at some point; `number` grows by one each time a revision is chosen."""

    number: int = Field(ge=1)
    revision: str


class UndoPin(ApiModel):
    """An undo in force: `revision` runs instead of the spec's template while the spec still holds spec_revision."""

    revision: str
    spec_revision: str


class MigrationState(ApiModel):
    """The database migrations of one revision, a gate before its first traffic step.

    `source` names what the revision brings (the ConfigMap's name and a checksum of its content when the revision
    was made, or the Job); `from_version` is the database's version before they ran (what the stable revision
    had), the version an abort reverts to; `to_version` the version after.
    """

    revision: str
    source: str
    phase: MigrationPhase = "Pending"
    attempt: int = Field(default=1, ge=1, description="Counts the runs of this revision's migrations (a retry "
                                                     "runs them again): an outcome counts for its attempt only.")
    from_version: int | None = Field(default=None, ge=0)
    to_version: int | None = Field(default=None, ge=0)
    message: str = Field(default="", max_length=ROLLOUT_MESSAGE_LIMIT)

    @property
    def changed(self) -> bool:
        """The run applied something an abort must revert."""
        return self.to_version is not None and self.to_version != self.from_version


class RolloutState(ApiModel):
    """The rollout of one workload.

    Revisions are pod-template hashes. `desired_revision` is what the engine is moving to (the canary, or the
    blue-green preview); `stable_revision` what serves when no rollout is in progress. They are equal when
    the workload is Healthy.
    """

    strategy: Strategy | None = None
    stable_revision: str | None = None
    desired_revision: str | None = None
    step: int = Field(default=0, ge=0, description="Current canary step; len(steps) once all are done.")
    weight: int = Field(default=0, ge=0, le=100,
                        description="Traffic percentage on the new revision (canary weight, or 100 once "
                                    "blue-green switched); 0 when no rollout is in progress.")
    phase: RolloutPhase = "Healthy"
    message: str = Field(default="", max_length=ROLLOUT_MESSAGE_LIMIT)
    step_started_at: datetime | None = None
    paused_at: datetime | None = None
    pause_reason: PauseReason | None = None
    waiting_since: datetime | None = Field(default=None,
                                           description="Since when the rollout waits for pods or the router; "
                                                       "the progress deadline counts from here.")
    aborted: bool = False
    abort_reason: str | None = None
    run_seq: int = Field(default=0, ge=0, description="Analysis runs started so far: makes run names unique.")
    runs: list[AnalysisRunState] = Field(default_factory=list)
    retiring: list[str] = Field(default_factory=list,
                                description="Superseded canaries kept until the router reports weight 0.")
    history: list[RevisionEntry] = Field(default_factory=list)
    pin: UndoPin | None = None
    handled_commands: list[str] = Field(default_factory=list)
    pending_promotion: PendingPromotion | None = None
    migration: MigrationState | None = None
    # blue-green
    active_revision: str | None = None
    preview_revision: str | None = None
    preview_ready_at: datetime | None = None
    promoted_at: datetime | None = None
    scale_down_revision: str | None = None
    scale_down_at: datetime | None = None

    @property
    def in_progress(self) -> bool:
        """A rollout from a stable revision to another one is under way (or aborted)."""
        return self.stable_revision is not None and self.desired_revision not in (None, self.stable_revision)

    @property
    def canary_revision(self) -> str | None:
        return self.desired_revision if self.in_progress else None

    @property
    def pinned_revision(self) -> str | None:
        """The revision an undo made current: the operator takes its pod template from that revision's
        ReplicaSet (kept, scaled to 0, while the revision is in the history), not from the spec."""
        return self.pin.revision if self.pin is not None else None

    def history_entry(self, number: int) -> RevisionEntry | None:
        return next((e for e in self.history if e.number == number), None)

    def run(self, kind: RunKind, step: int | None = None) -> AnalysisRunState | None:
        return next((r for r in self.runs if r.kind == kind and (step is None or r.step == step)), None)
