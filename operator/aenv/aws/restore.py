"""A database created from an RDS DB snapshot (spec.database.fromSnapshot), mode boto3.

RestoreDBInstanceFromDBSnapshot takes no KMS key: the new instance is encrypted with its snapshot's key. So a
snapshot that the environment's own key does not encrypt (another environment's, or an unencrypted one) is first
copied under it with CopyDBSnapshot, as `<instance>-restore-<hash of the snapshot id>`, tagged as the environment's,
and the instance is restored from the copy. The copy's name goes into the instance's tag aenv.dev/restore-copy; once
the instance is available the copy is deleted and the tag removed (rds_db_instance.update). Nothing here waits:
a snapshot still being made or copied is a state for a later pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AwsError
from .stores import call_unless_busy, same_key

TAG_RESTORE_COPY = "aenv.dev/restore-copy"
FIELD = "spec.database.fromSnapshot"
SNAPSHOT_MISSING = "DBSnapshotNotFound"
SNAPSHOT_UNUSABLE = "InvalidDBSnapshot"
ENGINES = {"postgres"}


def snapshot_name(snapshot: str) -> str:
    """The identifier of a snapshot given by identifier or ARN (arn:aws:rds:<region>:<account>:snapshot:<id>)."""
    return snapshot.split(":snapshot:", 1)[1] if snapshot.startswith("arn:") and ":snapshot:" in snapshot else snapshot


def copy_name(instance: str, snapshot: str) -> str:
    """The copy of `snapshot` under the environment's key: named after the instance (aenv-*, within the operator's
    IAM policy), and after the snapshot so that another snapshot never finds an older copy."""
    return f"{instance}-restore-{hashlib.sha256(snapshot_name(snapshot).encode()).hexdigest()[:8]}"


def refusal(snapshot: str, found: Mapping[str, Any], storage_gib: int) -> str | None:
    """Why the snapshot cannot make the environment's database, or None."""
    engine = found.get("Engine", "")
    if engine not in ENGINES:
        return f"{FIELD}: DB snapshot {snapshot} is of engine {engine or 'unknown'}, not PostgreSQL"
    if int(found.get("AllocatedStorage") or 0) > storage_gib:
        return (f"spec.database.storageGiB: {storage_gib} GiB is less than the {found['AllocatedStorage']} GiB of DB "
                f"snapshot {snapshot} ({FIELD}); RDS restores at least the snapshot's size")
    return None


def needs_copy(found: Mapping[str, Any], kms_key_arn: str) -> bool:
    return not (found.get("Encrypted") and same_key(str(found.get("KmsKeyId") or ""), kms_key_arn))


@dataclass(frozen=True)
class Start:
    """What to restore from, or what the restore still waits for."""

    snapshot: str = ""
    copied: bool = False
    waiting: str = ""


class SnapshotRestore:
    """The snapshot side of a restore: describe, copy under the environment's key, delete the copy."""

    def __init__(self, rds: Any, region: str) -> None:
        self.rds, self.region = rds, region

    def describe(self, snapshot: str) -> dict[str, Any] | None:
        try:
            found: list[dict[str, Any]] = self._call("describe_db_snapshots",
                                                     DBSnapshotIdentifier=snapshot_name(snapshot))["DBSnapshots"]
        except AwsError as e:
            if e.code != SNAPSHOT_MISSING:
                raise
            return None
        return found[0] if found else None

    def prepare(self, instance: str, snapshot: str, kms_key_arn: str, storage_gib: int,
                tags: Mapping[str, str]) -> Start:
        found = self.describe(snapshot)
        if found is None:
            raise AwsError(SNAPSHOT_MISSING, f"{FIELD}: there is no DB snapshot {snapshot} in {self.region}")
        if why := refusal(snapshot, found, storage_gib):
            raise AwsError(SNAPSHOT_UNUSABLE, why)
        if found.get("Status") != "available":
            return Start(waiting=f"waiting for DB snapshot {snapshot} to be available (it is {found.get('Status')})")
        if not needs_copy(found, kms_key_arn):
            return Start(snapshot=found["DBSnapshotIdentifier"])
        name = copy_name(instance, snapshot)
        copy = self.describe(name)
        if copy is None:
            copy = self._call("copy_db_snapshot", SourceDBSnapshotIdentifier=found["DBSnapshotArn"],
                              TargetDBSnapshotIdentifier=name, KmsKeyId=kms_key_arn,
                              Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["DBSnapshot"]
        if copy.get("Status") != "available":
            return Start(waiting=f"copying DB snapshot {snapshot} under the environment's key as {name} "
                                 f"({copy.get('Status')}, {copy.get('PercentProgress', 0)}%)")
        return Start(snapshot=name, copied=True)

    def delete_copy(self, name: str) -> None:
        """Delete the copy the instance was restored from (gone already: done)."""
        try:
            self._call("delete_db_snapshot", DBSnapshotIdentifier=name)
        except AwsError as e:
            if e.code != SNAPSHOT_MISSING:
                raise

    def _call(self, method: str, **kwargs: Any) -> Any:
        return call_unless_busy(self.rds, (), method, **kwargs)
