"""Where an environment's network lives. aenv does not own the VPC: it is the spec's (spec.aws.vpcId and
spec.aws.subnetIds) or, for what the spec leaves out, the account's default VPC and its subnets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..plan.types import Desired
from . import session
from .component import AwsTarget
from .errors import AwsError
from .listing import Listing

VPC_FIELD = "spec.aws.vpcId"
SUBNETS_FIELD = "spec.aws.subnetIds"


@dataclass(frozen=True)
class Topology:
    """The region's VPCs and subnets as one listing saw them."""

    default_vpc: str | None
    subnets: dict[str, str] = field(default_factory=dict)  # subnet id -> VPC id
    vpcs: frozenset[str] = frozenset()  # every VPC id, the default one included

    def place(self, vpc_id: str | None, subnet_ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """The VPC and the subnets (sorted) to use, checked against what exists: each named VPC and subnet must
        exist, and the subnets must all lie in one VPC, the named one when there is one. Without subnets: every
        subnet of the VPC. An error names the spec's field and the id."""
        if vpc_id and vpc_id not in self.vpcs:
            raise AwsError("InvalidVpcID.NotFound", f"{VPC_FIELD}: {vpc_id} does not exist in this account and region")
        for i, subnet in enumerate(subnet_ids):
            if subnet not in self.subnets:
                raise AwsError("InvalidSubnetID.NotFound",
                               f"{SUBNETS_FIELD}[{i}]: {subnet} does not exist in this account and region")
        if subnet_ids:
            return self._in_one_vpc(vpc_id, subnet_ids), tuple(sorted(set(subnet_ids)))
        vpc = vpc_id or self.default_vpc
        if vpc is None:
            raise AwsError("InvalidParameterValue",
                           f"the region has no default VPC: set {VPC_FIELD} and {SUBNETS_FIELD}")
        subnets = tuple(sorted(s for s, v in self.subnets.items() if v == vpc))
        if not subnets:
            raise AwsError("InvalidParameterValue", f"{vpc} has no subnets: set {SUBNETS_FIELD}")
        return vpc, subnets

    def _in_one_vpc(self, vpc_id: str | None, subnet_ids: Sequence[str]) -> str:
        """The VPC of subnets that exist: the named VPC, or the first subnet's when none is named."""
        vpc = vpc_id or self.subnets[subnet_ids[0]]
        where = f"{VPC_FIELD} {vpc}" if vpc_id else f"{vpc}, the VPC of {SUBNETS_FIELD}[0]"
        for i, subnet in enumerate(subnet_ids):
            if self.subnets[subnet] != vpc:
                raise AwsError("SubnetNotInVpc", f"{SUBNETS_FIELD}[{i}]: {subnet} is in {self.subnets[subnet]}, "
                                                 f"not in {where}")
        return vpc


class Network:
    """Resolves and checks the spec's placement against one paginated describe_vpcs and one paginated
    describe_subnets per interval, shared by every environment the client serves."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        self.topology = Listing(self._describe)

    def _describe(self) -> dict[str, Topology]:
        vpcs = [v for page in self.ec2.get_paginator("describe_vpcs").paginate() for v in page.get("Vpcs", [])]
        subnets = {s["SubnetId"]: s["VpcId"] for page in self.ec2.get_paginator("describe_subnets").paginate()
                   for s in page.get("Subnets", [])}
        default = next((v["VpcId"] for v in vpcs if v.get("IsDefault")), None)
        return {"": Topology(default, subnets, frozenset(v["VpcId"] for v in vpcs))}

    def _topology(self) -> Topology:
        topology = self.topology.get("")
        assert topology is not None
        return topology

    def resolve(self, vpc_id: str | None, subnet_ids: Sequence[str],
                fresh: bool = False) -> tuple[str, tuple[str, ...]]:
        """The VPC and the subnets (sorted) to use; AwsError when the spec names what does not exist.

        fresh: from a listing made now, not one up to an interval old. A create asks for it, so that nothing is
        placed in a VPC or subnets that have gone since (a default VPC deleted and made again has a new id)."""
        if fresh:
            self.topology.expire()
        return self._topology().place(vpc_id, subnet_ids)

    def placement(self, desired: Desired, fresh: bool = False) -> tuple[str, tuple[str, ...]] | None:
        """resolve() for a desired network resource; None for a lookup-only desired (deleting), which has no
        parameters to check or compare."""
        return self.resolve(desired.params["vpc_id"], desired.params["subnet_ids"], fresh) if desired.params else None

    @classmethod
    def of(cls, target: AwsTarget) -> Network:
        return cls(session.client("ec2", target.region, target.endpoint))
