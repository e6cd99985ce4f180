"""ElastiCache cache subnet groups (kind elasticache.subnet_group): the subnets the cache's nodes go in."""

from __future__ import annotations

from .subnet_group import SubnetGroups, SubnetGroupService

KIND = "elasticache.subnet_group"


class CacheSubnetGroups(SubnetGroups):
    SERVICE = SubnetGroupService(
        service="elasticache", tagging_type="elasticache", noun="cache_subnet_group", group="CacheSubnetGroup",
        arn="ARN", already_exists="CacheSubnetGroupAlreadyExists", in_use="CacheSubnetGroupInUse",
        not_found="CacheSubnetGroupNotFoundFault", user="a cache cluster")
