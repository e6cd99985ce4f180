"""Where an environment's network lives. aenv does not own the VPC: it is the spec's (spec.aws.vpcId and
spec.aws.subnetIds) or, for what the spec leaves out, the account's default VPC and its subnets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import session
from .component import AwsTarget
from .errors import AwsError, classify
from .listing import Listing


@dataclass(frozen=True)
class Topology:
    default_vpc: str | None
    subnets: dict[str, str] = field(default_factory=dict)  # subnet id -> VPC id


class Network:
    """Resolves the spec's placement. A spec that names both the VPC and the subnets costs no call; otherwise one
    describe_vpcs and one describe_subnets per interval, shared by every environment the client serves."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        self.topology = Listing(self._describe)

    def _describe(self) -> dict[str, Topology]:
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        subnets = {}
        for page in self.ec2.get_paginator("describe_subnets").paginate():
            subnets.update({s["SubnetId"]: s["VpcId"] for s in page.get("Subnets", [])})
        return {"": Topology(vpcs[0]["VpcId"] if vpcs else None, subnets)}

    def _topology(self) -> Topology:
        try:
            topology = self.topology.get("")
        except Exception as e:
            raise classify(e) from e
        assert topology is not None
        return topology

    def resolve(self, vpc_id: str | None, subnet_ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """The VPC and the subnets (sorted) to use. Without subnets: every subnet of the VPC."""
        if vpc_id and subnet_ids:
            return vpc_id, tuple(sorted(subnet_ids))
        topology = self._topology()
        if subnet_ids:
            vpc = topology.subnets.get(subnet_ids[0])
            if vpc is None:
                raise AwsError("InvalidSubnetID.NotFound", f"{subnet_ids[0]} in spec.aws.subnetIds does not exist")
            return vpc, tuple(sorted(subnet_ids))
        vpc = vpc_id or topology.default_vpc
        if vpc is None:
            raise AwsError("InvalidParameterValue", "the region has no default VPC: set spec.aws.vpcId and subnetIds")
        subnets = tuple(sorted(s for s, v in topology.subnets.items() if v == vpc))
        if not subnets:
            raise AwsError("InvalidParameterValue", f"{vpc} has no subnets: set spec.aws.subnetIds")
        return vpc, subnets

    @classmethod
    def of(cls, target: AwsTarget) -> Network:
        return cls(session.client("ec2", target.region, target.endpoint))
