"""What a run does, from the source and what schema_migrations records. Pure.

Nothing runs unless every check passes: an applied migration edited since (its checksum differs from the
source's) or a pending one older than the latest applied is refused before anything is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .source import Migration

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Applied:
    """A row of schema_migrations."""

    version: int
    name: str
    checksum: str
    applied_at: datetime

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"


@dataclass(frozen=True)
class Failure:
    """The migration that failed (rolled back; later ones did not run), or that a check refused (nothing ran)."""

    migration: str  # <version>_<name>
    reason: str
    refused: bool = False

    def line(self) -> str:
        if self.refused:
            return f"refused {self.migration}: {self.reason}; nothing was run"
        return f"failed {self.migration}: {self.reason}; rolled back, later migrations were not run"


@dataclass(frozen=True)
class Result:
    """A run: the migrations applied (up) or reverted (down) in order, and the one that failed or was refused."""

    direction: Direction
    done: tuple[str, ...] = ()
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def lines(self) -> list[str]:
        verb = "applied" if self.direction == "up" else "reverted"
        out = [f"{verb} {label}" for label in self.done]
        if self.failure is not None:
            out.append(self.failure.line())
        elif not self.done:
            out.append(f"nothing to {'apply' if self.direction == 'up' else 'revert'}")
        return out


@dataclass(frozen=True)
class Row:
    """One line of `aenv migrate status`."""

    migration: str
    state: Literal["applied", "pending", "edited", "missing"]
    applied_at: datetime | None = None


def latest(source: Sequence[Migration]) -> int:
    """The version a source brings the database to (0: none): `down(to=latest(older revision's source))`."""
    return max((m.version for m in source), default=0)


def _edited(m: Migration, a: Applied) -> Failure | None:
    if m.name != a.name:
        return Failure(m.label, f"version {a.version} was applied as {a.label}; a migration that ran cannot be "
                                "renamed: add a new version instead", refused=True)
    if m.checksum != a.checksum:
        return Failure(m.label, f"was edited after it was applied (checksum {m.checksum[:12]} in the source, "
                                f"{a.checksum[:12]} in schema_migrations): add a new version instead", refused=True)
    return None


def pending(source: Sequence[Migration], applied: Sequence[Applied],
            to: int | None = None) -> list[Migration] | Failure:
    """The migrations `up` applies, in order (up to and including `to`), or why it refuses to run."""
    by_version = {a.version: a for a in applied}
    for m in source:
        if m.version in by_version and (failure := _edited(m, by_version[m.version])):
            return failure
    todo = [m for m in source if m.version not in by_version and (to is None or m.version <= to)]
    newest = max(applied, key=lambda a: a.version, default=None)
    if todo and newest is not None and todo[0].version < newest.version:
        return Failure(todo[0].label, f"is older than {newest.label}, which is applied: give it a version above "
                                      f"{newest.version}", refused=True)
    return todo


def reverting(source: Sequence[Migration], applied: Sequence[Applied],
              to: int | None = None) -> list[Migration] | Failure:
    """The migrations `down` reverts, newest first (those above `to`; without `to`, the latest applied only),
    or why it refuses to run."""
    newest_first = sorted(applied, key=lambda a: a.version, reverse=True)
    targets = newest_first[:1] if to is None else [a for a in newest_first if a.version > to]
    by_version = {m.version: m for m in source}
    todo = []
    for a in targets:
        m = by_version.get(a.version)
        if m is None:
            return Failure(a.label, "is applied but not in the source: its down migration is unknown",
                           refused=True)
        if failure := _edited(m, a):
            return failure
        if m.down is None:
            return Failure(m.label, f"has no down migration ({m.label}.down.sql)", refused=True)
        todo.append(m)
    return todo


def rows(source: Sequence[Migration], applied: Sequence[Applied]) -> list[Row]:
    by_version = {a.version: a for a in applied}
    out = []
    for m in source:
        a = by_version.pop(m.version, None)
        if a is None:
            out.append(Row(m.label, "pending"))
        else:
            out.append(Row(m.label, "edited" if _edited(m, a) else "applied", a.applied_at))
    out += [Row(a.label, "missing", a.applied_at) for a in by_version.values()]
    return sorted(out, key=lambda r: int(r.migration.split("_", 1)[0]))
