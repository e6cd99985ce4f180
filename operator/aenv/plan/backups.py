"""The database's backups: an S3 bucket for its daily logical backups, encrypted with the environment's key,
versioned, never public, its objects expiring after the database's backup retention."""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

BUCKET_NAME_MAX = 63
KEY = "backups/bucket"


def bucket_name(env: EnvironmentRef) -> str:
    return aws_name(env, "backups", max_length=BUCKET_NAME_MAX, invalid=r"[^a-z0-9-]")


def retention_days(spec: EnvironmentSpec) -> int:
    """An S3 expiration is one day at least: a retention of 0 (RDS: no automated backups) keeps a day's."""
    return max(1, (spec.database.backup_retention_days or 0) if spec.database else 1)


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    if spec.database is None:
        return []
    return [Desired(
        kind="s3.bucket", key=KEY, component="backups", name=bucket_name(env),
        params={"kms_key_arn": Ref("kms/key", "arn"), "expiration_days": retention_days(spec)},
        tags=env.tags("backups"),
    )]
