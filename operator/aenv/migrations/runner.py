"""The migrations against PostgreSQL (psycopg): a session-level advisory lock held for the whole run, so two
runners never interleave, and one transaction per migration, recorded in schema_migrations in that transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg

from .plan import Applied, Direction, Failure, Result, Row, pending, reverting, rows
from .source import Migration

LOCK_KEY = int.from_bytes(b"aenvmigr", "big")  # one key per database: advisory locks are scoped to a database
TABLE = "schema_migrations"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (version bigint PRIMARY KEY, name text NOT NULL, "
           "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
_SELECT = f"SELECT version, name, checksum, applied_at FROM {TABLE} ORDER BY version"


def redact(text: str, url: str) -> str:
    """`text` without the password of `url` (libpq echoes a connection string it cannot parse)."""
    password = urlsplit(url).password if "://" in url else None
    text = text.replace(url, "<DATABASE_URL>")
    return text.replace(password, "***") if password else text


def _reason(e: psycopg.Error, sql: str) -> str:
    d = e.diag
    reason = d.message_primary or str(e).strip()
    if d.statement_position:  # 1-based character offset into the migration
        reason += f" (line {sql[: int(d.statement_position) - 1].count(chr(10)) + 1})"
    return reason + (f" [SQLSTATE {e.sqlstate}]" if e.sqlstate else "")


class Runner:
    """Runs a source's migrations against the database at `url` (a libpq URL or connection string).

    A rollout can run the pending migrations of a revision with `up(source)`, and revert what a revision added
    with `down(newer_source, to=plan.latest(older_source))`; each Result names the migration that failed.
    """

    def __init__(self, url: str, lock_key: int = LOCK_KEY, connect_timeout: int = 10) -> None:
        self.url, self.lock_key, self.connect_timeout = url, lock_key, connect_timeout

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout,
                                   application_name="aenv-migrate")
        except psycopg.Error as e:  # the message may quote the URL: never let it out whole
            raise ConnectionError(redact(str(e).strip(), self.url)) from None
        with conn:
            yield conn

    @contextmanager
    def _locked(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A session holding the advisory lock; closing the session releases it, however the run ends."""
        with self._connect() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))
            conn.execute(_CREATE)
            yield conn

    @staticmethod
    def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> list[Applied]:
        return [Applied(*row) for row in conn.execute(_SELECT).fetchall()]  # type: ignore[arg-type]

    def status(self, source: Sequence[Migration]) -> list[Row]:
        """Each migration of the source and of schema_migrations: applied, pending, edited or missing."""
        with self._connect() as conn:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()
            return rows(source, self._applied(conn) if exists and exists[0] else [])

    def up(self, source: Sequence[Migration], to: int | None = None) -> Result:
        """Applies the pending migrations in order (up to and including version `to`), stopping at a failure."""
        return self._each("up", lambda applied: pending(source, applied, to))

    def down(self, source: Sequence[Migration], to: int | None = None) -> Result:
        """Reverts the applied migrations above version `to`, newest first (without `to`: the latest one)."""
        return self._each("down", lambda applied: reverting(source, applied, to))

    def _each(self, direction: Direction,
              plan: Callable[[list[Applied]], list[Migration] | Failure]) -> Result:
        """Under the lock: what `plan` makes of schema_migrations, one transaction each, until one fails."""
        with self._locked() as conn:
            todo = plan(self._applied(conn))
            if isinstance(todo, Failure):
                return Result(direction, failure=todo)
            done: list[str] = []
            for m in todo:
                if direction == "up":
                    failure = self._run(conn, m, m.up, f"INSERT INTO {TABLE} (version, name, checksum) "
                                                       "VALUES (%s, %s, %s)", (m.version, m.name, m.checksum))
                else:
                    assert m.down is not None  # reverting() refuses a migration without one
                    failure = self._run(conn, m, m.down, f"DELETE FROM {TABLE} WHERE version = %s", (m.version,))
                if failure:
                    return Result(direction, tuple(done), failure)
                done.append(m.label)
            return Result(direction, tuple(done))

    @staticmethod
    def _run(conn: psycopg.Connection[tuple[object, ...]], m: Migration, sql: str, record: str,
             params: tuple[object, ...]) -> Failure | None:
        """The migration's SQL and its record in one transaction: both happen, or neither."""
        try:
            with conn.transaction():
                conn.execute(sql.encode())  # without parameters: several statements, and '%' is not a placeholder
                conn.execute(record.encode(), params)
        except psycopg.Error as e:
            return Failure(m.label, _reason(e, sql))
        return None
