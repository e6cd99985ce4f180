"""pg_dump and pg_restore against one database, with S3 between them. The password goes to the tools through
PGPASSWORD, never on a command line; what they print is masked before it reaches an error message."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..plan.types import Sensitive

BIN = os.environ.get("AENV_PG_BIN", "")  # a directory holding pg_dump and pg_restore; empty: PATH
TIMEOUT_SECONDS = float(os.environ.get("AENV_BACKUP_TIMEOUT_SECONDS", "3600"))
OUTPUT_LIMIT = 1500


class BackupError(RuntimeError):
    """A dump, a restore or a check failed: the message says which and why, without credentials."""


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    dbname: str
    user: str
    password: Sensitive
    sslmode: str = "require"

    @classmethod
    def of(cls, outputs: Mapping[str, Mapping[str, Any]]) -> Database | None:
        """The environment's database as its connection Secret describes it (the same outputs), or None while
        the instance or its credentials are not known yet."""
        db, creds = outputs.get("database/instance"), outputs.get("secret/database", {})
        if not db or "password" not in creds:
            return None
        return cls(str(db["endpoint"]), int(db["port"]), str(db["name"]), str(creds["username"]),
                   Sensitive(str(creds["password"])))

    def named(self, dbname: str) -> Database:
        return replace(self, dbname=dbname)

    def conninfo(self) -> dict[str, Any]:
        """psycopg's keyword arguments."""
        return {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user,
                "password": str(self.password), "sslmode": self.sslmode, "connect_timeout": 10}

    def environ(self) -> dict[str, str]:
        return {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port), "PGDATABASE": self.dbname,
                "PGUSER": self.user, "PGPASSWORD": str(self.password), "PGSSLMODE": self.sslmode,
                "PGCONNECT_TIMEOUT": "10"}

    def masked(self, text: str) -> str:
        return text.replace(str(self.password), "***")[-OUTPUT_LIMIT:].strip()


def tool(name: str) -> str:
    found = shutil.which(name, path=BIN or None)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL's client tools; AENV_PG_BIN names their directory)")
    return found


def object_key(environment: str, at: datetime) -> str:
    """`<environment>/<timestamp>.dump`: sorted by name is sorted by time."""
    return f"{environment}/{at.strftime('%Y%m%dT%H%M%SZ')}.dump"


def dump(db: Database, s3: Any, bucket: str, key: str, kms_key_arn: str) -> int:
    """pg_dump (custom format) of the database streamed to s3://bucket/key with SSE-KMS under the key; the size.
    A dump that fails leaves no object behind."""
    with subprocess.Popen([tool("pg_dump"), "--format=custom", "--no-password"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=db.environ()) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        counted = _Counting(proc.stdout)
        try:
            s3.upload_fileobj(counted, bucket, key, ExtraArgs={"ServerSideEncryption": "aws:kms",
                                                               "SSEKMSKeyId": kms_key_arn})
        finally:
            errors = proc.stderr.read().decode(errors="replace")
            code = proc.wait(timeout=TIMEOUT_SECONDS)
        if code != 0:
            s3.delete_object(Bucket=bucket, Key=key)
            raise BackupError(f"pg_dump of {db.dbname} failed (exit {code}): {db.masked(errors)}")
    return counted.size


class _Counting:
    """A readable stream that counts what was read from it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.size = stream, 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.stream.read(n)
        self.size += len(data)
        return data


def latest(s3: Any, bucket: str, environment: str) -> str | None:
    """The newest backup of the environment in the bucket."""
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{environment}/")
            for o in page.get("Contents", []) if o["Key"].endswith(".dump")]
    return max(keys, default=None)


def restore(db: Database, s3: Any, bucket: str, key: str) -> None:
    """pg_restore of s3://bucket/key into the database: what the backup holds replaces what the database holds of
    the same objects (--clean --if-exists), owners and grants left to the target's own user."""
    with tempfile.NamedTemporaryFile(prefix="aenv-restore-", suffix=".dump") as file:
        s3.download_fileobj(bucket, key, file)
        file.flush()
        done = subprocess.run(
            [tool("pg_restore"), "--no-password", "--clean", "--if-exists", "--no-owner", "--no-acl",
             "--exit-on-error", "--single-transaction", f"--dbname={db.dbname}", file.name],
            capture_output=True, text=True, env=db.environ(), timeout=TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise BackupError(f"pg_restore of {key} into {db.dbname} failed (exit {done.returncode}): "
                          f"{db.masked(done.stderr or done.stdout)}")
