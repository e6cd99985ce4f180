"""The database in mode ack (kind rds.db_instance): an rds DBInstance CR.

It refers to the database's SecurityGroup CR (vpcSecurityGroupRefs), the DB subnet group's CR (dbSubnetGroupRef) and
the environment's Key CR (kmsKeyRef). The master password is the key `password` of the Kubernetes Secret holding the
current version of the database login (see secretsmanager_secret.py): a rotation points masterUserPassword at the
next version's Secret, a change ACK sees and applies with ModifyDBInstance. The other settings are mode boto3's
(gp3, never public, tags copied to snapshots).

Ready when ACK reports it synced, the instance is available and it has an endpoint. Outputs are mode boto3's.

spec.database.fromSnapshot is not built here: ACK's DBInstance has dbSnapshotIdentifier, but its restore takes the
snapshot's KMS key and master password and nothing makes ACK set the environment's own afterwards (it sends
masterUserPassword only when the reference changes), so the connection Secret would not open the database. The
database fails with NotImplemented naming the field, and no empty instance is made in its place.

Deletion, as in mode boto3: Delete and Snapshot turn deletion protection off first (the CR is applied with it off,
and deleted once ACK has synced that), then ACK deletes the instance; Snapshot with a final DB snapshot named as
mode boto3 names it (ACK's annotations rds.services.k8s.aws/skip-final-snapshot and final-db-snapshot-identifier;
ACK skips the final snapshot by default), Delete without one. Retain leaves the instance (ACK's retain).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.rds_db_instance import READY
from ..aws.stores import final_snapshot_name
from ..naming import EnvironmentRef, aws_name
from ..plan import encryption
from ..plan.network import SG_NAME_MAX
from ..plan.types import Desired, Observation
from .kms_key import key_name
from .resource import AckClient, AckError, AckKind, arn, environment_of_object, object_name, reference, synced_since
from .secretsmanager_secret import PASSWORD_KEY

KIND = "rds.db_instance"
SKIP_FINAL_SNAPSHOT = "rds.services.k8s.aws/skip-final-snapshot"
FINAL_SNAPSHOT = "rds.services.k8s.aws/final-db-snapshot-identifier"
UNPROTECTED_AT = "aenv.dev/unprotected-at"  # when aenv turned deletion protection off to delete the instance
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class DbInstances(AckClient):
    KIND = AckKind("rds", "DBInstance")

    def create(self, desired: Desired) -> Observation:
        if desired.params.get("from_snapshot"):
            raise AckError("NotImplemented", f"spec.database.fromSnapshot ({desired.params['from_snapshot']}): mode "
                                             "ack cannot create a database from an RDS snapshot yet",
                           "use mode boto3 for an environment restored from a snapshot")
        return super().create(desired)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        return {
            "dbInstanceIdentifier": desired.name,
            "dbInstanceClass": p["instance_class"],
            "engine": p["engine"],
            "engineVersion": p["engine_version"],
            "allocatedStorage": p["storage_gib"],
            "storageType": "gp3",
            "multiAZ": p["multi_az"],
            "backupRetentionPeriod": p["backup_retention_days"],
            "deletionProtection": p["deletion_protection"],
            "publiclyAccessible": False,
            "copyTagsToSnapshot": True,
            "dbName": p["db_name"],
            "masterUsername": p["master_username"],
            "masterUserPassword": {"name": p["password_version"], "key": PASSWORD_KEY, "namespace": env.namespace},
            "storageEncrypted": True,
            "kmsKeyRef": reference(key_name(encryption.alias(env))),
            "vpcSecurityGroupRefs": [reference(object_name(aws_name(env, "database", max_length=SG_NAME_MAX)))],
            "dbSubnetGroupRef": reference(object_name(p["subnet_group"])),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = obj.get("status") or {}
        state = status.get("dbInstanceStatus")
        if state not in READY:
            return f"synced, instance {state or 'not described yet'}"
        if not (status.get("endpoint") or {}).get("address") or not arn(obj):
            return "synced, but without an endpoint yet"
        return None

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        endpoint = status.get("endpoint") or {}
        return {"id": spec.get("dbInstanceIdentifier"), "arn": arn(obj), "endpoint": endpoint.get("address"),
                "port": endpoint.get("port"), "name": spec.get("dbName")}

    def before_delete(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> bool:
        """Deletion protection off in AWS before ACK is asked to delete: ACK cannot change a CR being deleted."""
        meta = obj.get("metadata") or {}
        if (obj.get("spec") or {}).get("deletionProtection"):
            stamp = datetime.now(UTC).strftime(_TIME_FORMAT)
            self.cluster.apply({
                "apiVersion": self.KIND.api_version, "kind": self.KIND.kind,
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "annotations": {UNPROTECTED_AT: stamp}},
                "spec": {"deletionProtection": False},
            }, field_manager="aenv-deletion")
            return False
        asked = (meta.get("annotations") or {}).get(UNPROTECTED_AT)
        return asked is None or synced_since(obj, str(asked))

    def delete_annotations(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> dict[str, str]:
        annotations = super().delete_annotations(obj, policy)
        if policy == "Snapshot":
            env = environment_of_object(obj)
            instance = (obj.get("spec") or {}).get("dbInstanceIdentifier") or ""
            annotations |= {SKIP_FINAL_SNAPSHOT: "false",
                            FINAL_SNAPSHOT: final_snapshot_name(instance, env.uid if env else None)}
        elif policy == "Delete":
            annotations[SKIP_FINAL_SNAPSHOT] = "true"
        return annotations
