"""ElastiCache cache subnet groups in mode ack (kind elasticache.subnet_group): an elasticache CacheSubnetGroup CR
over the spec's subnets (spec.aws.subnetIds; see ec2_security_group.placement). Outputs are mode boto3's: name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..naming import EnvironmentRef
from ..plan.types import Desired
from .ec2_security_group import placement
from .resource import AckClient, AckKind

KIND = "elasticache.subnet_group"


class CacheSubnetGroups(AckClient):
    KIND = AckKind("elasticache", "CacheSubnetGroup")

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        _, subnets = placement(desired)
        return {
            "cacheSubnetGroupName": desired.name,
            "cacheSubnetGroupDescription": desired.params["description"],
            "subnetIDs": sorted(subnets),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get("cacheSubnetGroupName")}
