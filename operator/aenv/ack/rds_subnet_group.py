"""RDS DB subnet groups in mode ack (kind rds.subnet_group): an rds DBSubnetGroup CR over the spec's subnets
(spec.aws.subnetIds; see ec2_security_group.placement). Usable once RDS reports it Complete. Outputs are mode
boto3's: name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..naming import EnvironmentRef
from ..plan.types import Desired
from .ec2_security_group import placement
from .resource import AckClient, AckKind, arn

KIND = "rds.subnet_group"


class DbSubnetGroups(AckClient):
    KIND = AckKind("rds", "DBSubnetGroup")

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        _, subnets = placement(desired)
        return {
            "name": desired.name,
            "description": desired.params["description"],
            "subnetIDs": sorted(subnets),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = (obj.get("status") or {}).get("subnetGroupStatus")
        if not arn(obj):
            return "synced, but without an ARN yet"
        return None if status == "Complete" else f"synced, subnet group {status or 'status unknown'}"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get("name")}
