"""ElastiCache replication groups (kind elasticache.replication_group): the environment's Redis or Valkey.

Cluster mode disabled: one primary and `replicas` read replicas behind a primary and a reader endpoint.
ElastiCache never returns the AUTH token, so the Secrets Manager version of the token last applied is kept in
the tag aenv.dev/secret-version. A new version is rotated in with AuthTokenUpdateStrategy=ROTATE, which keeps the
token before it valid (tag aenv.dev/secret-previous); that one is revoked with SET once no ready pod of the
environment holds it (param auth_tokens_in_use, from the workloads' pod templates; without it, never).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import AwsError, TransientError
from .listing import Listing, aenv_items
from .stores import (
    TAG_SECRET_PREVIOUS,
    TAG_SECRET_VERSION,
    Busy,
    call_unless_busy,
    final_snapshot_name,
    same_key,
    version_change,
)
from .tagging import tags_by_arn, tags_drifted, tags_or_ask

KIND = "elasticache.replication_group"
# "snapshotting" is the daily automatic backup: the group serves traffic throughout.
READY = {"available", "snapshotting"}
_BUSY = {"InvalidReplicationGroupState", "InvalidCacheClusterState"}  # another change is in progress
_MISSING = "ReplicationGroupNotFoundFault"
_TAKEN = "ReplicationGroupAlreadyExists"
_MODIFIABLE = ("CacheNodeType", "SnapshotRetentionLimit", "AutomaticFailoverEnabled", "MultiAZEnabled",
               "SecurityGroupIds", "EngineVersion")


def _check(desired: Desired) -> None:
    p = desired.params
    if p["multi_az"] and not p["replicas"]:
        raise AwsError("InvalidParameterCombination",
                       "Multi-AZ with automatic failover needs at least one replica: set spec.cache.replicas "
                       "to 1 or more, or spec.cache.multiAZ to false")


def _outputs(group: Mapping[str, Any]) -> dict[str, Any]:
    node = (group.get("NodeGroups") or [{}])[0]
    primary = node.get("PrimaryEndpoint", {})
    reader = node.get("ReaderEndpoint") or primary  # absent while creating (and in moto): reads go to the primary
    return {"id": group["ReplicationGroupId"], "arn": group["ARN"], "endpoint": primary.get("Address"),
            "port": primary.get("Port"), "reader_endpoint": reader.get("Address")}


def _compare(desired: Desired, group: Mapping[str, Any], member: Mapping[str, Any],
             tags: Mapping[str, str]) -> tuple[dict[str, tuple[Any, Any]], tuple[str, ...]]:
    """(diff, immutable). `member` is one of the group's clusters, {} until AWS lists it: engine version, subnet
    group and security groups are reported per cluster, not per group."""
    p = desired.params
    diff: dict[str, tuple[Any, Any]] = {}
    immutable = []
    if group.get("Engine", p["engine"]) != p["engine"]:
        immutable.append("engine")
    if bool(group.get("TransitEncryptionEnabled")) != p["transit_encryption"]:
        immutable.append("transit_encryption")
    if bool(group.get("AtRestEncryptionEnabled")) != p["at_rest_encryption"]:
        immutable.append("at_rest_encryption")
    elif p.get("kms_key_arn") and group.get("KmsKeyId") and not same_key(group["KmsKeyId"], p["kms_key_arn"]):
        immutable.append("kms_key")
    if member.get("CacheSubnetGroupName", p["subnet_group"]) != p["subnet_group"]:
        immutable.append("subnet_group")
    if p.get("engine_version") and member.get("EngineVersion"):
        change = version_change(member["EngineVersion"], p["engine_version"])
        if change == "downgrade":
            immutable.append("engine_version (a major version cannot be downgraded)")
        elif change:
            diff["EngineVersion"] = (member["EngineVersion"], p["engine_version"])

    if group.get("CacheNodeType") != p["node_type"]:
        diff["CacheNodeType"] = (group.get("CacheNodeType"), p["node_type"])
    replicas = len(group.get("MemberClusters", [])) - 1
    if replicas != p["replicas"]:
        diff["replicas"] = (replicas, p["replicas"])
    failover = group.get("AutomaticFailover") in ("enabled", "enabling")
    if failover != p["multi_az"]:
        diff["AutomaticFailoverEnabled"] = (failover, p["multi_az"])
    if (group.get("MultiAZ") == "enabled") != p["multi_az"]:
        diff["MultiAZEnabled"] = (group.get("MultiAZ") == "enabled", p["multi_az"])
    if group.get("SnapshotRetentionLimit", 0) != p["snapshot_retention_days"]:
        diff["SnapshotRetentionLimit"] = (group.get("SnapshotRetentionLimit", 0), p["snapshot_retention_days"])
    if "SecurityGroups" in member:
        groups = sorted(g["SecurityGroupId"] for g in member["SecurityGroups"])
        if groups != [p["security_group_id"]]:
            diff["SecurityGroupIds"] = (groups, [p["security_group_id"]])
    if p.get("auth_token") and (not group.get("AuthTokenEnabled")
                                or tags.get(TAG_SECRET_VERSION) != p["auth_token_version"]):
        diff["auth_token_version"] = (tags.get(TAG_SECRET_VERSION), p["auth_token_version"])  # versions, not tokens
    elif p.get("auth_token") and (previous := tags.get(TAG_SECRET_PREVIOUS)) and "auth_tokens_in_use" in p \
            and previous not in p["auth_tokens_in_use"]:
        diff["auth_token_previous"] = (previous, None)  # still accepted, held by no ready pod: revoke it
    if tags_drifted(tags, desired.tags):
        diff["tags"] = (dict(tags), dict(desired.tags))
    return diff, tuple(immutable)


class ElastiCacheReplicationGroups(Classified):
    """Per interval, for every environment together: one paginated DescribeReplicationGroups, one paginated
    DescribeCacheClusters and one GetResources of the tagging API. ListTagsForResource only for a group the
    tagging API did not report (untagged, or tagged since)."""

    def __init__(self, target: AwsTarget) -> None:
        self.elasticache = session.client("elasticache", target.region, target.endpoint)
        self.groups: Listing[dict[str, Any]] = Listing(self._list_groups)
        self.members: Listing[dict[str, Any]] = Listing(self._list_members)
        self.tags = tags_by_arn(session.client("resourcegroupstaggingapi", target.region, target.endpoint),
                                "elasticache:replicationgroup")

    def _list_groups(self) -> dict[str, dict[str, Any]]:
        return aenv_items(self.elasticache, "describe_replication_groups", "ReplicationGroups", "ReplicationGroupId")

    def _list_members(self) -> dict[str, dict[str, Any]]:
        """One member cluster per group: they share engine version, subnet group and security groups."""
        out: dict[str, dict[str, Any]] = {}
        for page in self.elasticache.get_paginator("describe_cache_clusters").paginate():
            for cluster in page.get("CacheClusters", []):
                if cluster.get("ReplicationGroupId", "").startswith("aenv-"):
                    out.setdefault(cluster["ReplicationGroupId"], cluster)
        return out

    def _call(self, method: str, **kwargs: Any) -> Any:
        return call_unless_busy(self.elasticache, _BUSY, method, **kwargs)

    def observe(self, desired: Desired) -> Observation:
        group = self.groups.get(desired.name)
        member = self.members.get(desired.name) if group and desired.params else None
        if group is None:
            return Observation.absent()
        tags = self._tags(group["ARN"], desired.name)
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            diff, immutable = _compare(desired, group, member or {}, tags)
        status = group.get("Status", "")
        return Observation(
            exists=True, ready=status in READY, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs=_outputs(group), owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
            state=status,
        )

    def _tags(self, arn: str, group_id: str) -> dict[str, str]:
        def ask() -> dict[str, str]:
            try:
                listed = self._call("list_tags_for_resource", ResourceName=arn)["TagList"]
            except Busy as e:  # ElastiCache lists the tags of an available group only
                raise TransientError(f"{group_id} is not available: its tags cannot be read yet") from e
            return {t["Key"]: t["Value"] for t in listed}

        return tags_or_ask(self.tags, arn, ask)

    def create(self, desired: Desired) -> Observation:
        _check(desired)
        p = desired.params
        tags = dict(desired.tags)
        args: dict[str, Any] = {
            "ReplicationGroupId": desired.name,
            "ReplicationGroupDescription": f"aenv cache of {desired.tags.get(TAG_ENVIRONMENT, desired.name)}",
            "Engine": p["engine"],
            "CacheNodeType": p["node_type"],
            "NumNodeGroups": 1,
            "ReplicasPerNodeGroup": p["replicas"],
            "AutomaticFailoverEnabled": p["multi_az"],
            "MultiAZEnabled": p["multi_az"],
            "TransitEncryptionEnabled": p["transit_encryption"],
            "AtRestEncryptionEnabled": p["at_rest_encryption"],
            "SnapshotRetentionLimit": p["snapshot_retention_days"],
            "SecurityGroupIds": [p["security_group_id"]],
            "CacheSubnetGroupName": p["subnet_group"],
        }
        if p.get("engine_version"):
            args["EngineVersion"] = p["engine_version"]
        if p["at_rest_encryption"] and p.get("kms_key_arn"):
            args["KmsKeyId"] = p["kms_key_arn"]
        if p.get("auth_token"):
            args["AuthToken"] = str(p["auth_token"])
            tags[TAG_SECRET_VERSION] = p["auth_token_version"]
        args["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        try:
            group = self._call("create_replication_group", **args)["ReplicationGroup"]
        except AwsError as e:
            if e.code != _TAKEN:
                raise
            self.groups.expire()  # made by someone else since the listing: observe what is there
        else:
            self.groups.put(desired.name, group)
            self.tags.put(group["ARN"], tags)
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        """Tags, then (only while available) the AUTH token, more replicas, modifiable fields, fewer replicas:
        replicas are added before Multi-AZ is turned on and removed after it is turned off. On AWS each step
        leaves the group "modifying" and the next one waits for a later pass."""
        _check(desired)
        p, diff, arn = desired.params, observed.diff, observed.outputs["arn"]
        try:
            if "tags" in diff:
                self._retag(arn, diff["tags"][0], dict(desired.tags))
            if observed.state != "available":
                return self.observe(desired)
            if "auth_token_version" in diff:
                self._modify(desired.name, AuthToken=str(p["auth_token"]), AuthTokenUpdateStrategy="ROTATE")
                rotated = {TAG_SECRET_VERSION: p["auth_token_version"]}
                if before := diff["auth_token_version"][0]:
                    rotated[TAG_SECRET_PREVIOUS] = before
                self._retag(arn, self._tags(arn, desired.name), rotated)
            elif "auth_token_previous" in diff:
                self._modify(desired.name, AuthToken=str(p["auth_token"]), AuthTokenUpdateStrategy="SET")
                self._call("remove_tags_from_resource", ResourceName=arn, TagKeys=[TAG_SECRET_PREVIOUS])
                self.tags.put(arn, {k: v for k, v in self._tags(arn, desired.name).items()
                                    if k != TAG_SECRET_PREVIOUS})
            replicas = diff.get("replicas", (0, 0))
            if replicas[1] > replicas[0]:
                self._replicas("increase_replica_count", desired.name, replicas[1])
            changes = {k: diff[k][1] for k in _MODIFIABLE if k in diff}
            if changes:
                self._modify(desired.name, **changes)
                if "SecurityGroupIds" in changes:
                    self.members.expire()
            if replicas[1] < replicas[0]:
                self._replicas("decrease_replica_count", desired.name, replicas[1])
        except Busy:
            pass
        return self.observe(desired)

    def _modify(self, group_id: str, **changes: Any) -> None:
        group = self._call("modify_replication_group", ReplicationGroupId=group_id, ApplyImmediately=True, **changes)
        self.groups.put(group_id, group["ReplicationGroup"])

    def _replicas(self, method: str, group_id: str, count: int) -> None:
        group = self._call(method, ReplicationGroupId=group_id, NewReplicaCount=count, ApplyImmediately=True)
        self.groups.put(group_id, group["ReplicationGroup"])

    def _retag(self, arn: str, current: Mapping[str, str], wanted: Mapping[str, str]) -> None:
        """Add `wanted` and drop the released mark; the tagging listing learns the result."""
        self._call("add_tags_to_resource", ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
        if TAG_RELEASED in current:
            self._call("remove_tags_from_resource", ResourceName=arn, TagKeys=[TAG_RELEASED])
        self.tags.put(arn, retagged(current, wanted))

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Snapshot takes a final snapshot (not of a group that failed to create: it holds no data)."""
        arn = observed.outputs["arn"]
        if policy == "Retain":
            self._call("add_tags_to_resource", ResourceName=arn, Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            self.tags.put(arn, {**self._tags(arn, desired.name), TAG_RELEASED: "true"})
            return
        if observed.state == "deleting":
            return
        args: dict[str, Any] = {"ReplicationGroupId": desired.name}
        if policy == "Snapshot" and observed.state != "create-failed":
            args["FinalSnapshotIdentifier"] = final_snapshot_name(desired.name, observed.owner)
        try:
            group = self._call("delete_replication_group", **args)["ReplicationGroup"]
        except Busy:  # creating or modifying: a later pass deletes it
            return
        except AwsError as e:
            if e.code != _MISSING:
                raise
            self.groups.forget(desired.name)
            return
        self.groups.put(desired.name, group)
