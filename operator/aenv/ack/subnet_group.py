"""Subnet groups in mode ack, one class for ElastiCache's and RDS's: a CR over the spec's subnets
(spec.aws.subnetIds; see ec2_security_group.placement). Outputs are mode boto3's: name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..naming import EnvironmentRef
from ..plan.types import Desired
from .ec2_security_group import placement
from .resource import AckClient


class SubnetGroups(AckClient):
    NAME_FIELD: ClassVar[str]  # the spec field that holds the group's name, and the one for its description
    DESCRIPTION_FIELD: ClassVar[str]

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        _, subnets = placement(desired)
        return {
            self.NAME_FIELD: desired.name,
            self.DESCRIPTION_FIELD: desired.params["description"],
            "subnetIDs": sorted(subnets),
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
        }

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get(self.NAME_FIELD)}
