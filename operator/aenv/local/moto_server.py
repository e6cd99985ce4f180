"""moto's server with a few additions, each in its own section below, that make it behave like AWS where aenv needs it.

- EC2 custom ids: a VPC or subnet created with the tag `_custom_id_` gets that id. moto already honours that tag for
  many resources (moto.utilities.id_generator) but not, as of moto 5.2, for VPCs and subnets, which draw their ids
  straight from a random generator. The local environment needs them so that the examples, which name the VPC and
  subnets a production account would have, find those ids in the emulator.
- ElastiCache deletes finish: moto leaves a deleted replication group `deleting` for ever and ignores its
  FinalSnapshotIdentifier. Here the final snapshot is taken, and the group is gone once a DescribeReplicationGroups
  has shown it `deleting` and it has been deleting for AENV_EMULATOR_DELETE_SECONDS (default 0: the next describe).
- ElastiCache DeleteCacheSubnetGroup (HTTP 500 in moto): CacheSubnetGroupNotFoundFault when absent,
  CacheSubnetGroupInUse while a replication group that is not gone yet (or a cache cluster) uses it.
- ElastiCache DescribeSnapshots of a snapshot name that does not exist: an empty list instead of
  SnapshotNotFoundFault, which the ACK elasticache controller treats as an error, not as "not found" (it expects
  the CacheClusterNotFound of a cluster filter), so its Snapshot CRs never get created against moto.
- ElastiCache DescribeCacheClusters of a replication group's member cluster: moto lists the member clusters' ids
  but makes no such clusters (CacheClusterNotFound), and the ACK elasticache controller describes one before each
  ModifyReplicationGroup, so it could change no replication group. Here a member is described from its group
  (status, engine, node type, subnet group, security groups), as AWS describes it.
- ElastiCache DescribeEvents (HTTP 500 in moto; the ACK elasticache controller calls it on every sync): an empty
  list, paginated as AWS pages it (Events, Marker).
- API Gateway v2 tags on a stage: moto routes TagResource and UntagResource only for APIs and VPC links (a stage's
  ARN, `.../apis/<id>/stages/<name>`, is a 404), and GetStage answers the tags the stage was created with. Here a
  stage is tagged and untagged as AWS does it, and GetStage shows the result.
- API Gateway Management API connections: moto takes any id for a connection, even one it deleted, and keeps what
  was posted as one run of bytes that no call returns. Here a deleted connection is gone (GoneException, HTTP 410,
  on PostToConnection and GetConnection, as AWS answers once a client left), and GetConnection also answers
  `posted`, the messages posted to the connection in order (the emulator's own field, for tests).
- CloudWatch over Smithy RPC v2 CBOR, the protocol of the ACK cloudwatch controller's Go SDK, which moto does not
  serve: translated to the JSON protocol in front of moto (cbor_rpc).
- The local data plane (AENV_EMULATOR_DATA_PLANE=1): a real redis-server behind each replication group and a real
  PostgreSQL behind each PostgreSQL DB instance, with the credentials they were given, described at their address
  on 127.0.0.1 (dataplane_backend).

Run as `python -m aenv.local.moto_server`, with the arguments of `python -m moto.server`.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from types import ModuleType
from typing import Any

from moto import server
from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend, Connection
from moto.apigatewayv2 import urls as apigatewayv2_urls
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult, PaginatedResult
from moto.ec2.models import subnets as ec2_subnets
from moto.ec2.models import vpcs as ec2_vpcs
from moto.elasticache.exceptions import (
    CacheSubnetGroupNotFound,
    ElastiCacheException,
    ReplicationGroupNotFound,
    SnapshotNotFound,
)
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.utilities.id_generator import TAG_KEY_CUSTOM_ID

from . import cbor_rpc, dataplane_backend

# EC2 custom ids ---------------------------------------------------------------------------------------------------

_chosen = threading.local()  # the id the create call running on this thread asked for


def custom_id(tags: object) -> str | None:
    """The `_custom_id_` tag among tags as moto's EC2 responses pass them: a list of {"Key", "Value"} (VPCs) or
    {resource type: {key: value}} (subnets)."""
    if isinstance(tags, list):
        return next((str(t["Value"]) for t in tags if isinstance(t, dict) and t.get("Key") == TAG_KEY_CUSTOM_ID),
                    None)
    if isinstance(tags, dict):
        for by_type in tags.values():
            if isinstance(by_type, dict) and TAG_KEY_CUSTOM_ID in by_type:
                return str(by_type[TAG_KEY_CUSTOM_ID])
    return None


def _honour_custom_id(module: ModuleType, generator: str, backend: type, create: str,
                      taken: Callable[[Any], Iterable[str]]) -> None:
    """Make backend.create use the tag's id, unless a resource already has it (then a random one, as moto does for
    the resources it gives custom ids)."""
    random_id: Callable[[], str] = getattr(module, generator)

    def generate() -> str:
        chosen: str | None = getattr(_chosen, "id", None)
        return chosen or random_id()

    original = getattr(backend, create)

    @functools.wraps(original)
    def create_with_custom_id(self: Any, *args: Any, **kwargs: Any) -> Any:
        wanted = custom_id(kwargs.get("tags"))
        existing: Collection[str] = set(taken(self))
        _chosen.id = wanted if wanted and wanted not in existing else None
        try:
            return original(self, *args, **kwargs)
        finally:
            _chosen.id = None

    setattr(module, generator, generate)
    setattr(backend, create, create_with_custom_id)


# ElastiCache deletes finish ---------------------------------------------------------------------------------------

DELETE_SECONDS = "AENV_EMULATOR_DELETE_SECONDS"
_BACKEND: Any = ElastiCacheBackend  # the classes the sections below patch (Any: they gain methods)
_RESPONSE: Any = ElastiCacheResponse
_DELETED_AT = "_aenv_deleted_at"  # on moto's replication group: time.monotonic() of its DeleteReplicationGroup
_SHOWN = "_aenv_shown_deleting"  # on moto's replication group: a describe has answered it `deleting`


def delete_seconds(environ: Mapping[str, str]) -> float:
    """How long a deleted replication group stays `deleting` at least (AWS: minutes; default 0)."""
    raw = environ.get(DELETE_SECONDS, "").strip() or "0"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:
        raise ValueError(f"{DELETE_SECONDS}={raw!r}: give a number of seconds, 0 or more")
    return seconds


def deletion_done(deleted_at: float | None, shown: bool, now: float, delay: float) -> bool:
    """Whether a replication group is gone: deleted (at deleted_at), answered `deleting` by a describe at least
    once, so that whoever polls sees the state AWS shows for minutes, and deleting for delay seconds or more."""
    return deleted_at is not None and shown and now - deleted_at >= delay


class InvalidReplicationGroupState(ElastiCacheException):
    code = "InvalidReplicationGroupState"


def _purge(backend: ElastiCacheBackend, delay: float) -> None:
    """Forget the replication groups whose deletion is done, with their tags."""
    now = time.monotonic()
    for group_id, group in list(backend.replication_groups.items()):
        if deletion_done(getattr(group, _DELETED_AT, None), getattr(group, _SHOWN, False), now, delay):
            backend.replication_groups.pop(group_id, None)
            backend.tagging_service.delete_all_tags_for_resource(group.arn)


def _finish_replication_group_deletes(delay: float) -> None:
    """Take the final snapshot a delete asks for, and let what reads replication groups find a deleted one gone."""
    def purging_first(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def purge_then_call(self: ElastiCacheBackend, *args: Any, **kwargs: Any) -> Any:
            _purge(self, delay)
            return original(self, *args, **kwargs)
        return purge_then_call

    for name in ("create_replication_group", "modify_replication_group", "create_snapshot", "describe_snapshots",
                 "list_tags_for_resource", "iter_tagged_resources"):
        setattr(_BACKEND, name, purging_first(getattr(_BACKEND, name)))

    describe = _BACKEND.describe_replication_groups

    @functools.wraps(describe)
    def describe_showing_deletes(self: ElastiCacheBackend, *args: Any, **kwargs: Any) -> Any:
        _purge(self, delay)
        groups = describe(self, *args, **kwargs)
        for group in groups:
            if getattr(group, _DELETED_AT, None) is not None:
                setattr(group, _SHOWN, True)
        return groups

    delete = _BACKEND.delete_replication_group

    @functools.wraps(delete)
    def delete_after_final_snapshot(self: ElastiCacheBackend, replication_group_id: str,
                                    retain_primary_cluster: bool | None,
                                    final_snapshot_identifier: str | None = None) -> Any:
        _purge(self, delay)
        group = self.replication_groups.get(replication_group_id)
        if group is None:
            raise ReplicationGroupNotFound(replication_group_id)
        if getattr(group, _DELETED_AT, None) is not None:
            raise InvalidReplicationGroupState(f"Replication group {replication_group_id} is being deleted.")
        if final_snapshot_identifier:  # before the delete: a name already taken fails it, as on AWS
            self.create_snapshot(snapshot_name=final_snapshot_identifier, replication_group_id=replication_group_id,
                                 cache_cluster_id=None, kms_key_id=group.kms_key_id, tags=None)
        deleted = delete(self, replication_group_id, retain_primary_cluster)
        setattr(deleted, _DELETED_AT, time.monotonic())
        return deleted

    def delete_response(self: ElastiCacheResponse) -> ActionResult:
        backend: Any = self.elasticache_backend
        group = backend.delete_replication_group(
            replication_group_id=self._get_param("ReplicationGroupId"),
            retain_primary_cluster=self._get_bool_param("RetainPrimaryCluster"),
            final_snapshot_identifier=self._get_param("FinalSnapshotIdentifier"))
        return ActionResult({"ReplicationGroup": group})

    _BACKEND.describe_replication_groups = describe_showing_deletes
    _BACKEND.delete_replication_group = delete_after_final_snapshot
    _RESPONSE.delete_replication_group = delete_response


# ElastiCache DeleteCacheSubnetGroup -------------------------------------------------------------------------------

class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"


def subnet_group_users(name: str, groups: Iterable[Any], clusters: Iterable[Any]) -> list[str]:
    """The ids of moto's replication groups (deleting ones too, until they are gone) and cache clusters that use the
    cache subnet group `name`. A `deleting` cache cluster does not count: moto never finishes deleting one."""
    return ([g.replication_group_id for g in groups if g.cache_subnet_group_name == name]
            + [c.cache_cluster_id for c in clusters
               if c.cache_subnet_group_name == name and c.cache_cluster_status != "deleting"])


def _delete_cache_subnet_groups(delay: float) -> None:
    def delete_cache_subnet_group(self: ElastiCacheBackend, cache_subnet_group_name: str) -> Any:
        _purge(self, delay)
        group = self.cache_subnet_groups.get(cache_subnet_group_name)
        if group is None:
            raise CacheSubnetGroupNotFound(cache_subnet_group_name)
        users = subnet_group_users(cache_subnet_group_name, self.replication_groups.values(),
                                   self.cache_clusters.values())
        if users:
            raise CacheSubnetGroupInUse(f"Cache subnet group {cache_subnet_group_name} is currently in use by "
                                        f"{', '.join(users)}.")
        self.cache_subnet_groups.pop(cache_subnet_group_name, None)
        self.tagging_service.delete_all_tags_for_resource(group.arn)
        return group

    def delete_response(self: ElastiCacheResponse) -> ActionResult:
        delete_cache_subnet_group(self.elasticache_backend, self._get_param("CacheSubnetGroupName"))
        return EmptyResult()

    _BACKEND.delete_cache_subnet_group = delete_cache_subnet_group
    _RESPONSE.delete_cache_subnet_group = delete_response


# ElastiCache DescribeEvents ---------------------------------------------------------------------------------------

def _describe_no_events() -> None:
    def describe_events(self: ElastiCacheResponse) -> ActionResult:
        """The emulator records no events: every page is empty, the last one without a Marker."""
        return PaginatedResult({"Events": []})

    _RESPONSE.describe_events = describe_events


# ElastiCache DescribeSnapshots of a name not taken ----------------------------------------------------------------

def _describe_missing_snapshot() -> None:
    original = _RESPONSE.describe_snapshots

    def describe_snapshots(self: ElastiCacheResponse) -> ActionResult:
        """No snapshot of that name: an empty list, which the ACK elasticache controller reads as "not found"
        (it takes SnapshotNotFoundFault for a failure, so a Snapshot CR could never be created)."""
        try:
            result: ActionResult = original(self)
        except SnapshotNotFound:
            return ActionResult({"Snapshots": []})
        return result

    _RESPONSE.describe_snapshots = describe_snapshots


# ElastiCache DescribeCacheClusters of a replication group's member ------------------------------------------------

def member_cluster(group: Any, cluster_id: str) -> dict[str, Any]:
    """The cache cluster AWS describes for one member of the replication group."""
    described: dict[str, Any] = {
        "CacheClusterId": cluster_id, "ReplicationGroupId": group.replication_group_id,
        "CacheClusterStatus": group.status, "Engine": group.engine, "CacheNodeType": group.cache_node_type,
        "NumCacheNodes": 1, "CacheSubnetGroupName": group.cache_subnet_group_name,
        "SecurityGroups": [{"SecurityGroupId": g, "Status": "active"} for g in group.security_group_ids or []],
        "AuthTokenEnabled": group.auth_token_enabled, "TransitEncryptionEnabled": group.transit_encryption_enabled,
        "AtRestEncryptionEnabled": group.at_rest_encryption_enabled,
        "SnapshotRetentionLimit": group.snapshot_retention_limit,
    }
    if group.engine_version:
        described["EngineVersion"] = group.engine_version
    if group.preferred_maintenance_window:
        described["PreferredMaintenanceWindow"] = group.preferred_maintenance_window
    if group.cache_parameter_group_name:
        described["CacheParameterGroup"] = {"CacheParameterGroupName": group.cache_parameter_group_name,
                                            "ParameterApplyStatus": "in-sync"}
    return described


def _describe_member_clusters() -> None:
    original = _RESPONSE.describe_cache_clusters

    def describe_cache_clusters(self: ElastiCacheResponse) -> ActionResult:
        cluster_id = self._get_param("CacheClusterId")
        if cluster_id and cluster_id not in self.elasticache_backend.cache_clusters:
            for group in self.elasticache_backend.replication_groups.values():
                if cluster_id in group.member_clusters:
                    return PaginatedResult({"CacheClusters": [member_cluster(group, cluster_id)]})
        result: ActionResult = original(self)
        return result

    _RESPONSE.describe_cache_clusters = describe_cache_clusters


# API Gateway v2 stage tags ---------------------------------------------------------------------------------------

STAGE_ARN = re.compile(r"^arn:aws[\w-]*:apigateway:[\w-]+::/apis/(?P<api>[^/]+)/stages/(?P<stage>[^/]+)$")


def _tag_stages() -> None:
    paths = apigatewayv2_urls.url_paths
    stage = "{0}/v2/tags/(?P<arn_pt1>[^/]+)/apis/(?P<arn_pt2>[^/]+)/stages/(?P<arn_pt3>[^/]+)$"
    paths[stage] = paths["{0}/v2/tags/(?P<resource_arn>[^/]+)$"]

    def stage_tags(backend: ApiGatewayV2Backend, resource_arn: str) -> dict[str, str] | None:
        found = STAGE_ARN.match(resource_arn)
        if found is None:
            return None
        tags: dict[str, str] = backend.get_stage(found["api"], found["stage"]).tags
        return tags

    tag, untag = ApiGatewayV2Backend.tag_resource, ApiGatewayV2Backend.untag_resource

    def tag_resource(self: ApiGatewayV2Backend, resource_arn: str, tags: dict[str, str]) -> None:
        on_stage = stage_tags(self, resource_arn)
        if on_stage is None:
            return tag(self, resource_arn, tags)
        on_stage.update(tags or {})
        return None

    def untag_resource(self: ApiGatewayV2Backend, resource_arn: str, tag_keys: list[str]) -> None:
        on_stage = stage_tags(self, resource_arn)
        if on_stage is None:
            return untag(self, resource_arn, tag_keys)
        for key in tag_keys:
            on_stage.pop(key, None)
        return None

    backend: Any = ApiGatewayV2Backend
    backend.tag_resource, backend.untag_resource = tag_resource, untag_resource


# API Gateway Management API connections ----------------------------------------------------------------------

class GoneException(JsonRESTError):
    code = 410

    def __init__(self, connection_id: str) -> None:
        super().__init__("GoneException", f"connection {connection_id} is gone")


def _connections_gone_once_deleted() -> None:
    def gone(self: ApiGatewayManagementApiBackend) -> set[str]:
        found: set[str] = self.__dict__.setdefault("aenv_gone", set())
        return found

    def get_connection(self: ApiGatewayManagementApiBackend, connection_id: str) -> Connection:
        if connection_id in gone(self):
            raise GoneException(connection_id)
        return self.connections[connection_id]

    def post_to_connection(self: ApiGatewayManagementApiBackend, data: bytes, connection_id: str) -> None:
        connection = get_connection(self, connection_id)
        connection.data += data
        connection.__dict__.setdefault("aenv_posted", []).append(data.decode(errors="replace"))

    def delete_connection(self: ApiGatewayManagementApiBackend, connection_id: str) -> None:
        get_connection(self, connection_id)
        self.connections.pop(connection_id, None)
        gone(self).add(connection_id)

    to_dict = Connection.to_dict

    def with_posted(self: Connection) -> dict[str, Any]:
        return {**to_dict(self), "posted": list(self.__dict__.get("aenv_posted", []))}

    backend: Any = ApiGatewayManagementApiBackend
    backend.get_connection, backend.post_to_connection = get_connection, post_to_connection
    backend.delete_connection = delete_connection
    connection: Any = Connection
    connection.to_dict = with_posted


# CloudWatch over CBOR --------------------------------------------------------------------------------------------

def _serve_cbor() -> None:
    """The server's application (moto.server.main makes it from this name) behind the CBOR translator."""
    moto_server: Any = server
    dispatcher = moto_server.DomainDispatcherApplication

    def translated(*args: Any, **kwargs: Any) -> cbor_rpc.CborToJson:
        return cbor_rpc.CborToJson(dispatcher(*args, **kwargs))

    moto_server.DomainDispatcherApplication = translated


def install(environ: Mapping[str, str] = os.environ) -> dataplane_backend.DataPlane | None:
    """Every addition; returns the data plane when it is on."""
    _honour_custom_id(ec2_vpcs, "random_vpc_id", ec2_vpcs.VPCBackend, "create_vpc", lambda b: b.vpcs)
    _honour_custom_id(ec2_subnets, "random_subnet_id", ec2_subnets.SubnetBackend, "create_subnet",
                      lambda b: (s for zone in b.subnets.values() for s in zone))
    delay = delete_seconds(environ)
    _finish_replication_group_deletes(delay)
    _delete_cache_subnet_groups(delay)
    _describe_member_clusters()
    _describe_no_events()
    _describe_missing_snapshot()
    _tag_stages()
    _connections_gone_once_deleted()
    _serve_cbor()
    return dataplane_backend.install(environ)  # last: it wraps what the sections above made


def main() -> None:
    plane = install()
    if plane is not None:
        dataplane_backend.stop_on_signals(plane)
    server.main()


if __name__ == "__main__":
    main()
