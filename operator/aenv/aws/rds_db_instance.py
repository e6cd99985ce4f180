"""RDS PostgreSQL instances (kind rds.db_instance): the environment's database.

gp3 storage encrypted with the environment's KMS key, never publicly accessible, tags copied to snapshots.
RDS never returns the master password, so the Secrets Manager version of the password last applied is kept in
the tag aenv.dev/secret-version; a new version is set with ModifyDBInstance.

With spec.database.fromSnapshot the instance is created from that DB snapshot (restore.py): copied under the
environment's key when another key encrypts it, restored with RestoreDBInstanceFromDBSnapshot, then brought to the
spec by the usual update, the environment's own master password first (a restored instance has the snapshot's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import AwsError
from .listing import Listing, aenv_items
from .restore import TAG_RESTORE_COPY, SnapshotRestore
from .stores import TAG_SECRET_VERSION, Busy, call_unless_busy, final_snapshot_name, same_key, version_change
from .tagging import tags_drifted

KIND = "rds.db_instance"
# Both serve connections as usual. storage-optimization follows every storage change and can last hours;
# backing-up follows creation. Counting them as not ready would withhold the endpoint from the workloads.
READY = {"available", "backing-up", "storage-optimization"}
_BUSY = {"InvalidDBInstanceState"}  # creating, or another change in progress
_MISSING = "DBInstanceNotFound"
_TAKEN = "DBInstanceAlreadyExists"
_MODIFIABLE = ("DBInstanceClass", "AllocatedStorage", "StorageType", "MultiAZ", "BackupRetentionPeriod",
               "DeletionProtection", "EngineVersion", "PubliclyAccessible", "CopyTagsToSnapshot",
               "VpcSecurityGroupIds")


def _tags(instance: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("TagList", [])}


def _outputs(instance: Mapping[str, Any]) -> dict[str, Any]:
    endpoint = instance.get("Endpoint", {})  # absent while creating
    return {"id": instance["DBInstanceIdentifier"], "arn": instance["DBInstanceArn"],
            "endpoint": endpoint.get("Address"), "port": endpoint.get("Port"), "name": instance.get("DBName")}


def _compare(desired: Desired, instance: Mapping[str, Any]) -> tuple[dict[str, tuple[Any, Any]], tuple[str, ...]]:
    """(diff, immutable). A change RDS has accepted but not applied yet (PendingModifiedValues) counts as made."""
    p = desired.params
    now = {**instance, **instance.get("PendingModifiedValues", {})}
    immutable = []
    if not now.get("StorageEncrypted"):
        immutable.append("storage_encryption")
    elif now.get("KmsKeyId") and not same_key(now["KmsKeyId"], p["kms_key_arn"]):
        immutable.append("kms_key")
    if now.get("DBName") != p["db_name"]:
        immutable.append("db_name")
    if now.get("MasterUsername") != p["master_username"]:
        immutable.append("master_username")
    if now.get("DBSubnetGroup", {}).get("DBSubnetGroupName", p["subnet_group"]) != p["subnet_group"]:
        immutable.append("subnet_group")  # moving an instance to another VPC is a migration, not an update
    if now["AllocatedStorage"] > p["storage_gib"]:
        immutable.append("storage_gib (RDS storage cannot shrink)")

    want: dict[str, Any] = {
        "DBInstanceClass": p["instance_class"], "StorageType": "gp3", "MultiAZ": p["multi_az"],
        "BackupRetentionPeriod": p["backup_retention_days"], "DeletionProtection": p["deletion_protection"],
        "PubliclyAccessible": False, "CopyTagsToSnapshot": True,
    }
    diff = {k: (now.get(k), v) for k, v in want.items() if now.get(k) != v}
    if now["AllocatedStorage"] < p["storage_gib"]:
        diff["AllocatedStorage"] = (now["AllocatedStorage"], p["storage_gib"])
    change = version_change(now["EngineVersion"], p["engine_version"])
    if change == "downgrade":
        immutable.append("engine_version (a major version cannot be downgraded)")
    elif change:
        diff["EngineVersion"] = (now["EngineVersion"], p["engine_version"])
    groups = sorted(g["VpcSecurityGroupId"] for g in now.get("VpcSecurityGroups", []) if g.get("Status") != "removing")
    if groups != [p["security_group_id"]]:
        diff["VpcSecurityGroupIds"] = (groups, [p["security_group_id"]])
    tags = _tags(instance)
    if tags.get(TAG_SECRET_VERSION) != p["password_version"]:
        diff["password_version"] = (tags.get(TAG_SECRET_VERSION), p["password_version"])  # versions, not passwords
    if tags_drifted(tags, desired.tags):
        diff["tags"] = (tags, dict(desired.tags))
    if TAG_RESTORE_COPY in tags:
        diff["restore_copy"] = (tags[TAG_RESTORE_COPY], None)  # the snapshot copy restored from, to delete
    return diff, tuple(immutable)


class RdsDbInstances(Classified):
    """One paginated DescribeDBInstances per interval for every environment together; it includes the tags."""

    def __init__(self, target: AwsTarget) -> None:
        self.rds = session.client("rds", target.region, target.endpoint)
        self.instances: Listing[dict[str, Any]] = Listing(self._list)
        self.snapshots = SnapshotRestore(self.rds, target.region)

    def _list(self) -> dict[str, dict[str, Any]]:
        return aenv_items(self.rds, "describe_db_instances", "DBInstances", "DBInstanceIdentifier")

    def _call(self, method: str, **kwargs: Any) -> Any:
        return call_unless_busy(self.rds, _BUSY, method, **kwargs)

    def _get(self, name: str) -> dict[str, Any] | None:
        return self.instances.get(name)

    def _put(self, instance: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        """Record a write's result with the tags known to be on it (not every response carries them)."""
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.instances.put(instance["DBInstanceIdentifier"], {**instance, "TagList": tag_list})

    def observe(self, desired: Desired) -> Observation:
        instance = self._get(desired.name)
        if instance is None:
            return Observation.absent()
        tags = _tags(instance)
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            diff, immutable = _compare(desired, instance)
        status = instance.get("DBInstanceStatus", "")
        return Observation(
            exists=True, ready=status in READY, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs=_outputs(instance), owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
            state=status,
        )

    def create(self, desired: Desired) -> Observation:
        p = desired.params
        tags = {**desired.tags, TAG_SECRET_VERSION: p["password_version"]}
        try:
            if p.get("from_snapshot"):
                return self._restore(desired)
            instance = self._call(
                "create_db_instance",
                DBInstanceIdentifier=desired.name, Engine=p["engine"], EngineVersion=p["engine_version"],
                DBInstanceClass=p["instance_class"], AllocatedStorage=p["storage_gib"], StorageType="gp3",
                StorageEncrypted=True, KmsKeyId=p["kms_key_arn"], MultiAZ=p["multi_az"],
                BackupRetentionPeriod=p["backup_retention_days"], DeletionProtection=p["deletion_protection"],
                DBName=p["db_name"], MasterUsername=p["master_username"], MasterUserPassword=str(p["password"]),
                VpcSecurityGroupIds=[p["security_group_id"]], DBSubnetGroupName=p["subnet_group"],
                PubliclyAccessible=False, CopyTagsToSnapshot=True,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )["DBInstance"]
        except AwsError as e:
            if e.code != _TAKEN:
                raise
            self.instances.expire()  # made by someone else since the listing: observe what is there
        else:
            self._put(instance, tags)
        return self.observe(desired)

    def _restore(self, desired: Desired) -> Observation:
        """RestoreDBInstanceFromDBSnapshot once the snapshot (or its copy under the environment's key) is available;
        until then an absent instance whose state says what it waits for. Without the secret-version tag: the
        update that follows sets the environment's master password."""
        p = desired.params
        start = self.snapshots.prepare(desired.name, str(p["from_snapshot"]), p["kms_key_arn"], p["storage_gib"],
                                       desired.tags)
        if start.waiting:
            return Observation(exists=False, state=start.waiting)
        tags = {**desired.tags, **({TAG_RESTORE_COPY: start.snapshot} if start.copied else {})}
        instance = self._call(
            "restore_db_instance_from_db_snapshot",
            DBInstanceIdentifier=desired.name, DBSnapshotIdentifier=start.snapshot, Engine=p["engine"],
            DBInstanceClass=p["instance_class"], AllocatedStorage=p["storage_gib"], StorageType="gp3",
            MultiAZ=p["multi_az"], BackupRetentionPeriod=p["backup_retention_days"],
            DeletionProtection=p["deletion_protection"], VpcSecurityGroupIds=[p["security_group_id"]],
            DBSubnetGroupName=p["subnet_group"], PubliclyAccessible=False, CopyTagsToSnapshot=True,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["DBInstance"]
        self._put(instance, tags)
        observed = self.observe(desired)
        if observed.immutable or observed.up_to_date:
            return observed
        # Available at once (RDS takes minutes): the password is set before the endpoint is handed to anyone.
        return self.update(desired, observed)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        """Tags at any time; the rest in one ModifyDBInstance with ApplyImmediately, only while available."""
        p, diff = desired.params, observed.diff
        arn = observed.outputs["arn"]
        instance = self._get(desired.name)
        if instance is None:
            return Observation.absent()
        tags = _tags(instance)
        try:
            if "tags" in diff:
                tags = self._retag(arn, tags, desired.tags)
            changes = {k: diff[k][1] for k in _MODIFIABLE if k in diff}
            if "password_version" in diff:
                changes["MasterUserPassword"] = str(p["password"])
            if changes and observed.state == "available":
                if "EngineVersion" in changes:
                    changes["AllowMajorVersionUpgrade"] = version_change(*diff["EngineVersion"]) == "major"
                instance = self._call("modify_db_instance", DBInstanceIdentifier=desired.name,
                                      ApplyImmediately=True, **changes)["DBInstance"]
                if "password_version" in diff:
                    tags = self._retag(arn, tags, {TAG_SECRET_VERSION: p["password_version"]})
            if "restore_copy" in diff and observed.state == "available":
                self.snapshots.delete_copy(diff["restore_copy"][0])
                self._call("remove_tags_from_resource", ResourceName=arn, TagKeys=[TAG_RESTORE_COPY])
                tags = {k: v for k, v in tags.items() if k != TAG_RESTORE_COPY}
            self._put(instance, tags)
        except Busy:
            self.instances.expire()
        return self.observe(desired)

    def _retag(self, arn: str, current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
        """Add `wanted` and drop the released mark; returns the tags now on the instance."""
        self._call("add_tags_to_resource", ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
        if TAG_RELEASED in current:
            self._call("remove_tags_from_resource", ResourceName=arn, TagKeys=[TAG_RELEASED])
        return retagged(current, wanted)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Delete the instance per the environment's deletion policy; confirmed by a later observe.

        Deletion protection (the prod default) guards the database against a stray DeleteDBInstance. The
        deletion policy is the platform engineer's explicit word on what deleting the environment does, so
        Delete and Snapshot turn protection off first and then delete (Snapshot after a final DB snapshot named
        <id>-final-<hash of the environment's uid>). Retain leaves the instance, protection included, and tags
        it aenv.dev/released=true for a later environment of the same name to adopt.
        """
        instance = self._get(desired.name)
        if instance is None or observed.state == "deleting":
            return
        tags = _tags(instance)
        if policy == "Retain":
            self._call("add_tags_to_resource", ResourceName=observed.outputs["arn"],
                       Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            self._put(instance, {**tags, TAG_RELEASED: "true"})
            return
        try:
            if instance.get("DeletionProtection"):
                self._call("modify_db_instance", DBInstanceIdentifier=desired.name, DeletionProtection=False,
                           ApplyImmediately=True)
            final: dict[str, Any]
            if policy == "Snapshot":
                final = {"SkipFinalSnapshot": False,
                         "FinalDBSnapshotIdentifier": final_snapshot_name(desired.name, observed.owner)}
            else:
                final = {"SkipFinalSnapshot": True}
            self._call("delete_db_instance", DBInstanceIdentifier=desired.name, **final)
        except Busy:  # creating or modifying: a later pass deletes it
            return
        except AwsError as e:
            if e.code != _MISSING:
                raise
        self.instances.expire()  # deleting for minutes on AWS, or already gone: the next observe describes again
