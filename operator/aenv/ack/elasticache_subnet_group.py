"""ElastiCache cache subnet groups in mode ack (kind elasticache.subnet_group): an elasticache CacheSubnetGroup CR."""

from __future__ import annotations

from .resource import AckKind
from .subnet_group import SubnetGroups

KIND = "elasticache.subnet_group"


class CacheSubnetGroups(SubnetGroups):
    KIND = AckKind("elasticache", "CacheSubnetGroup")
    NAME_FIELD = "cacheSubnetGroupName"
    DESCRIPTION_FIELD = "cacheSubnetGroupDescription"
