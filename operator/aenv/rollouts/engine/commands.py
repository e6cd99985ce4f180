"""User commands (promote, promoteFull, abort, retry, undo), each applied once, and the undo pin."""

from __future__ import annotations

from collections.abc import Callable

from ...api.rollout_state import COMMAND_MEMORY, RevisionEntry, RolloutState, UndoPin
from .context import _Ctx, _set
from .migrating import _retry_first_deployment
from .model import Command, CommandKind
from .revisions import _start
from .transitions import _abort


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
    retried = _retry_first_deployment(s, ctx)
    if retried is not None:
        return retried
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
