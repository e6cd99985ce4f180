"""The cache in mode ack (kind elasticache.replication_group): an elasticache ReplicationGroup CR.

It refers to the cache's SecurityGroup CR (securityGroupRefs), the cache subnet group's CR (cacheSubnetGroupRef)
and the environment's Key CR (kmsKeyRef); the AUTH token is the Kubernetes Secret that holds the current version
of the cache-auth secret (see secretsmanager_secret.py). A rotation writes a new version into a new Secret and
points the CR's authToken at it. That alone is no change to ACK: it compares the CR with a copy of itself filled in
from DescribeReplicationGroups, which never returns the token, so authToken never differs. The description names
the token's version as well (`...; AUTH token v<n>`, from the second on), and ElastiCache does describe that: the
difference makes ACK call ModifyReplicationGroup, which sends every field of the spec, the token the CR points at
among them. ACK sends no AuthTokenUpdateStrategy, so ElastiCache applies ROTATE: the new token is accepted beside
the one before, which stays valid until the next rotation replaces it (ElastiCache keeps two). Mode ack has no SET
that revokes the previous token once no pod holds it, as mode boto3 does: the CRD has no field for the strategy.

Ready when ACK reports it synced, the group is available and it has a primary endpoint (ACK sets
ACK.ResourceSynced on a group whose creation failed). Outputs are mode boto3's.

Deletion: ACK deletes a replication group without a final snapshot. For Snapshot, aenv first writes an elasticache
Snapshot CR of the group named as mode boto3 names its final snapshot, with ACK's deletion policy retain (the
snapshot outlives its CR, which goes with the environment), and deletes the group once the snapshot is available.
Retain leaves the group (ACK's retain).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.elasticache_replication_group import READY, _check
from ..aws.stores import final_snapshot_name
from ..naming import TAG_ENVIRONMENT, EnvironmentRef, aws_name
from ..plan import encryption
from ..plan.network import SG_NAME_MAX
from ..plan.types import Desired
from .kms_key import key_name
from .resource import (
    DELETION_POLICY,
    AckClient,
    AckError,
    AckKind,
    Cluster,
    arn,
    environment_of_object,
    manifest,
    object_name,
    readiness,
    reference,
)
from .secretsmanager_secret import VALUE_KEY, version_of

KIND = "elasticache.replication_group"
SNAPSHOT = AckKind("elasticache", "Snapshot")


def description(desired: Desired) -> str:
    """Mode boto3's description, naming the AUTH token's version from the second on: the one change to the CR on
    a rotation that ACK sees (see above)."""
    text = f"aenv cache of {desired.tags.get(TAG_ENVIRONMENT, desired.name)}"
    version = version_of(str(desired.params.get("auth_token_version") or "")) if desired.params.get("auth_token") \
        else 0
    return text if version <= 1 else f"{text}; AUTH token v{version}"


def _primary(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    node = ((obj.get("status") or {}).get("nodeGroups") or [{}])[0] or {}
    primary = node.get("primaryEndpoint") or {}
    return primary, node.get("readerEndpoint") or primary  # no reader endpoint while creating (and in moto)


class ReplicationGroups(AckClient):
    KIND = AckKind("elasticache", "ReplicationGroup")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshots = Cluster(SNAPSHOT)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        _check(desired)
        p = desired.params
        spec: dict[str, Any] = {
            "replicationGroupID": desired.name,
            "description": description(desired),
            "engine": p["engine"],
            "cacheNodeType": p["node_type"],
            "numNodeGroups": 1,
            "replicasPerNodeGroup": p["replicas"],
            "automaticFailoverEnabled": p["multi_az"],
            "multiAZEnabled": p["multi_az"],
            "transitEncryptionEnabled": p["transit_encryption"],
            "atRestEncryptionEnabled": p["at_rest_encryption"],
            "snapshotRetentionLimit": p["snapshot_retention_days"],
            "securityGroupRefs": [reference(object_name(aws_name(env, "cache", max_length=SG_NAME_MAX)))],
            "cacheSubnetGroupRef": reference(object_name(p["subnet_group"])),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }
        if p.get("engine_version"):
            spec["engineVersion"] = p["engine_version"]
        if p["at_rest_encryption"] and p.get("kms_key_arn"):
            spec["kmsKeyRef"] = reference(key_name(encryption.alias(env)))
        if p.get("auth_token"):
            spec["authToken"] = {"name": p["auth_token_version"], "key": VALUE_KEY, "namespace": env.namespace}
        return spec

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        state = (obj.get("status") or {}).get("status")
        if state not in READY:
            return f"synced, group {state or 'not described yet'}"
        if not _primary(obj)[0].get("address") or not arn(obj):
            return "synced, but without a primary endpoint yet"
        return None

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        primary, reader = _primary(obj)
        return {"id": (obj.get("spec") or {}).get("replicationGroupID"), "arn": arn(obj),
                "endpoint": primary.get("address"), "port": primary.get("port"),
                "reader_endpoint": reader.get("address")}

    def before_delete(self, obj: Mapping[str, Any], policy: DeletionPolicy) -> bool:
        return policy != "Snapshot" or self._final_snapshot_taken(obj)

    def _final_snapshot_taken(self, obj: Mapping[str, Any]) -> bool:
        """Whether the group's final snapshot is available, writing its CR first if needed. A group that never
        became available holds no data: it needs none."""
        if (obj.get("status") or {}).get("status") == "create-failed":
            return True
        env = environment_of_object(obj)
        if env is None:
            return True
        group_spec = obj.get("spec") or {}
        group = group_spec.get("replicationGroupID") or ""
        name = final_snapshot_name(group, env.uid)
        snapshot = self.snapshots.get(env.namespace, object_name(name))
        if snapshot is None:
            body = manifest(SNAPSHOT, object_name(name), env, self.region, {
                "snapshotName": name, "replicationGroupID": group,
                "tags": [{"key": t["key"], "value": t["value"]} for t in group_spec.get("tags") or []],
                **({"kmsKeyRef": group_spec["kmsKeyRef"]} if group_spec.get("kmsKeyRef") else {}),
            })
            body["metadata"]["annotations"][DELETION_POLICY] = "retain"  # the snapshot outlives its CR
            self.snapshots.apply(body)
            return False
        status = readiness(snapshot, SNAPSHOT.controller, None)
        if status.terminal is not None:
            raise AckError("ACK.Terminal", f"ACK cannot take the final snapshot {name}: {status.terminal}",
                           "the group is kept until it can be snapshotted; fix the cause or delete with policy "
                           "Delete")
        return status.ready and (snapshot.get("status") or {}).get("snapshotStatus") == "available"
