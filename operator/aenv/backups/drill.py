"""The restore drill: the latest backup restored into a temporary database on the environment's own server,
the listed tables checked (they exist and hold rows), the temporary database dropped whatever happened."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .pgtools import BackupError, Database, restore

PREFIX = "aenv_drill_"


@dataclass(frozen=True)
class DrillResult:
    key: str
    seconds: float
    tables: list[tuple[str, int]] = field(default_factory=list)


def _admin(db: Database) -> psycopg.Connection[Any]:
    return psycopg.connect(**db.conninfo(), autocommit=True)


def count_rows(db: Database, tables: Sequence[str]) -> list[tuple[str, int]]:
    """Each table's row count; a table that is missing or empty fails the check, naming it."""
    out, missing, empty = [], [], []
    with psycopg.connect(**db.conninfo()) as conn:
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() in (None, (None,)):
                missing.append(table)
                continue
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(*table.split(".")))).fetchone()
            rows = int(row[0]) if row else 0
            out.append((table, rows))
            if rows == 0:
                empty.append(table)
    problems = ([f"missing: {', '.join(missing)}"] if missing else []) + (
        [f"empty: {', '.join(empty)}"] if empty else [])
    if problems:
        raise BackupError(f"the restored copy fails the check ({'; '.join(problems)})")
    return out


def run(db: Database, s3: Any, bucket: str, key: str, tables: Sequence[str]) -> DrillResult:
    """Restore s3://bucket/key into a new database next to `db`, check the tables, drop it. Raises BackupError
    (with how long it took in `seconds`) when the restore or the check fails."""
    start = time.monotonic()
    temporary = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    with _admin(db) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(temporary)))
    try:
        restore(db.named(temporary), s3, bucket, key)
        checked = count_rows(db.named(temporary), tables)
    finally:
        with _admin(db) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(temporary)))
    return DrillResult(key, time.monotonic() - start, checked)
