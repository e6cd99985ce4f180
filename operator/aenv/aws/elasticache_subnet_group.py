"""ElastiCache cache subnet groups (kind elasticache.subnet_group): the subnets the cache's nodes go in."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import TransientError, error_code
from .listing import Listing
from .tagging import tags_by_arn, tags_or_ask
from .vpc import Network

KIND = "elasticache.subnet_group"


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class CacheSubnetGroups(Classified):
    """One paginated describe_cache_subnet_groups and one tagging-API page set per interval for every
    environment; list_tags_for_resource only for a group the tagging API does not show."""

    def __init__(self, target: AwsTarget) -> None:
        self.elasticache = session.client("elasticache", target.region, target.endpoint)
        self.network = Network.of(target)
        self.groups = Listing(self._list_groups)
        tagging = session.client("resourcegroupstaggingapi", target.region, target.endpoint)
        self.tags = tags_by_arn(tagging, "elasticache")

    def _list_groups(self) -> dict[str, dict[str, Any]]:
        out = {}
        for page in self.elasticache.get_paginator("describe_cache_subnet_groups").paginate():
            for group in page.get("CacheSubnetGroups", []):
                if group["CacheSubnetGroupName"].startswith("aenv-"):
                    out[group["CacheSubnetGroupName"]] = group
        return out

    def _group(self, name: str) -> dict[str, Any] | None:
        return self.groups.get(name)

    def observe(self, desired: Desired) -> Observation:
        placement = self.network.placement(desired)  # checked whether or not the group exists yet
        group = self._group(desired.name)
        if group is None:
            return Observation.absent()
        tags = self._tags(group["ARN"])
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if placement is not None:
            vpc, subnets = placement
            if group["VpcId"] != vpc:  # vpc exists: the group really is in another VPC
                immutable = ("vpc_id",)
            have = tuple(sorted(s["SubnetIdentifier"] for s in group.get("Subnets", [])))
            if have != subnets:
                diff["subnet_ids"] = (have, subnets)
            if any(tags.get(k) != v for k, v in desired.tags.items()) or TAG_RELEASED in tags:
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"name": group["CacheSubnetGroupName"]},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    def _tags(self, arn: str) -> dict[str, str]:
        return tags_or_ask(self.tags, arn, lambda: {
            t["Key"]: t["Value"] for t in self.elasticache.list_tags_for_resource(ResourceName=arn).get("TagList", [])})

    def create(self, desired: Desired) -> Observation:
        _, subnets = self.network.resolve(desired.params["vpc_id"], desired.params["subnet_ids"], fresh=True)
        try:
            group = self.elasticache.create_cache_subnet_group(
                CacheSubnetGroupName=desired.name, CacheSubnetGroupDescription=desired.params["description"],
                SubnetIds=list(subnets), Tags=_tag_list(dict(desired.tags)))["CacheSubnetGroup"]
        except ClientError as e:
            if error_code(e) != "CacheSubnetGroupAlreadyExists":
                raise
            self.groups.expire()  # made by someone else since the listing: observe what is there
        else:
            self.groups.put(desired.name, group)
            self.tags.put(group["ARN"], dict(desired.tags))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        if "subnet_ids" in observed.diff:
            group = self.elasticache.modify_cache_subnet_group(CacheSubnetGroupName=desired.name,
                               SubnetIds=list(observed.diff["subnet_ids"][1]))["CacheSubnetGroup"]
            self.groups.put(desired.name, group)
        if "tags" in observed.diff:
            arn = self._arn(desired.name)
            have = observed.diff["tags"][0]
            if TAG_RELEASED in have:  # ElastiCache refuses to remove a tag that is not there
                self.elasticache.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_RELEASED])
            self.elasticache.add_tags_to_resource(ResourceName=arn, Tags=_tag_list(dict(desired.tags)))
            self.tags.put(arn, retagged(have, desired.tags))
        return self.observe(desired)

    def _arn(self, name: str) -> str:
        group = self._group(name)
        assert group is not None, name  # observed just before
        return str(group["ARN"])

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            arn = self._arn(desired.name)
            self.elasticache.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": TAG_RELEASED, "Value": "true"}])
            self.tags.forget(arn)
            return
        try:  # Snapshot: a subnet group holds no data
            self.elasticache.delete_cache_subnet_group(CacheSubnetGroupName=desired.name)
        except ClientError as e:
            if error_code(e) == "CacheSubnetGroupInUse":  # the replication group is still being deleted
                raise TransientError(f"{desired.name} is still used by a cache cluster; retrying") from e
            if error_code(e) != "CacheSubnetGroupNotFoundFault":
                raise
        self.groups.forget(desired.name)
