"""The migration gate: a revision's database migrations run before its first step (its first traffic), and an
aborted rollout reverts what they applied. The engine only asks (`RunMigrations`) and reads the outcome.

    Pending ------ the rollout holds at step 0 with no canary pods; RunMigrations(up) is asked until an outcome
                   is observed: Applied starts the first step, Failed aborts (MigrationFailed)
    Applied ------ the rollout goes on; an abort (or the stable revision re-applied) while the run changed the
                   database makes it Reverting
    Reverting ---- RunMigrations(down, to the version before) until an outcome: Reverted or RevertFailed
"""

from __future__ import annotations

from ...api.rollout_state import MigrationPhase, MigrationState, RolloutState
from .blue_green import _start_blue_green
from .canary import _enter
from .context import _clip, _Ctx, _set
from .model import Action, MigrationOutcome, RunMigrations
from .transitions import _abort


def _held(s: RolloutState) -> bool:
    """The desired revision waits for its migrations, or they failed: no step runs and it gets no pods."""
    m = s.migration
    return (m is not None and m.phase in ("Pending", "Failed") and m.revision == s.desired_revision
            and not s.aborted)


def _begin(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """The rollout's first step (a canary's step 0, a blue-green preview)."""
    assert s.desired_revision is not None
    if s.strategy == "blueGreen":
        return _start_blue_green(s, s.desired_revision, ctx)
    return _enter(s, 0, ctx)


def _await_migrations(s: RolloutState, want: str, ctx: _Ctx) -> RolloutState:
    """Record the migrations `want` brings (when it has any) and hold the rollout until they ran."""
    if ctx.obs.migrations is None:
        return _set(s, migration=None)
    first = s.stable_revision is None
    attempt = s.migration.attempt + 1 if s.migration is not None and s.migration.revision == want else 1
    s = _set(s, migration=MigrationState(revision=want, source=ctx.obs.migrations, attempt=attempt), step=0,
             weight=0,
             phase="Progressing", waiting_since=None, paused_at=None, pause_reason=None)
    return _set(s, message=_pending_message(want, ctx.obs.migrations, first))


def _retry_first_deployment(s: RolloutState, ctx: _Ctx) -> RolloutState | None:
    """A first deployment whose migrations failed runs them again (None: not such a deployment)."""
    m = s.migration
    if s.stable_revision is not None or s.desired_revision is None or m is None or m.phase != "Failed":
        return None
    ctx.emit("RolloutRetried", f"running the migrations of revision {s.desired_revision} again")
    return _await_migrations(s, s.desired_revision, ctx)


def _pending_message(revision: str, source: str, first: bool) -> str:
    before = "its first deployment" if first else "step 1"
    return f"running the migrations of revision {revision} ({source}) before {before}"


def _migration_gate(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """A Pending run's outcome: Applied starts the rollout (unless it was aborted meanwhile), Failed aborts it."""
    m = s.migration
    if m is None or m.phase != "Pending":
        return s
    out = ctx.obs.migration(m.revision, "up", m.attempt)
    if out is None:
        return s
    m = _outcome(m, out, "Applied" if out.ok else "Failed")
    s = _set(s, migration=m)
    if m.revision != s.desired_revision or s.aborted:
        return s
    if out.ok:
        ctx.emit("MigrationsApplied", f"revision {m.revision}: {out.message}")
        if s.stable_revision is None:  # the first deployment waits for its pods from now on
            return _set(s, waiting_since=ctx.now, message=f"first deployment of revision {m.revision}")
        return _begin(s, ctx)
    if s.stable_revision is None:  # nothing to abort to
        ctx.emit("MigrationFailed", f"revision {m.revision}: {out.message}", warning=True)
        return _set(s, phase="Degraded", message=f"MigrationFailed: revision {m.revision}: {out.message}")
    return _abort(s, "MigrationFailed", f"revision {m.revision}: {out.message}", ctx)


def _revert_migrations(s: RolloutState, ctx: _Ctx) -> RolloutState:
    """After an abort (or a revert to the stable revision), the down migrations of what the revision applied."""
    m = s.migration
    if m is None:
        return s
    cancelled = ((s.aborted and m.revision == s.desired_revision)
                 or (s.desired_revision == s.stable_revision and m.revision != s.stable_revision))
    if m.phase in ("Applied", "Failed") and m.changed and cancelled:
        ctx.emit("MigrationsReverting", f"revision {m.revision}: reverting its migrations to version "
                                        f"{m.from_version}")
        return _set(s, migration=m.model_copy(update={"phase": "Reverting"}))
    if m.phase != "Reverting":
        return s
    out = ctx.obs.migration(m.revision, "down", m.attempt)
    if out is None:
        return s
    if out.ok:
        ctx.emit("MigrationsReverted", f"revision {m.revision}: {out.message}")
        return _set(s, migration=_outcome(m, out, "Reverted"))
    ctx.emit("MigrationRevertFailed", f"revision {m.revision}: {out.message}", warning=True)
    return _set(s, migration=m.model_copy(update={"phase": "RevertFailed", "message": _clip(out.message)}))


def _outcome(m: MigrationState, out: MigrationOutcome, phase: MigrationPhase) -> MigrationState:
    changes: dict[str, object] = {"phase": phase, "message": _clip(out.message), "to_version": out.to_version}
    if out.direction == "up":
        changes["from_version"] = out.from_version
    return m.model_copy(update=changes)


def _migration_actions(s: RolloutState) -> list[Action]:
    m = s.migration
    if m is None:
        return []
    if _held(s) and m.phase == "Pending":
        return [RunMigrations(m.revision, "up", m.source, attempt=m.attempt)]
    if m.phase == "Reverting":
        return [RunMigrations(m.revision, "down", m.source, m.from_version, m.attempt)]
    return []
