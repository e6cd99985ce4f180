"""The spec's placement (spec.aws.vpcId, spec.aws.subnetIds) checked against one listing of VPCs and subnets."""

from __future__ import annotations

import pytest

from aenv.aws.errors import AwsError
from aenv.aws.vpc import Topology

DEFAULT, PRIVATE, EMPTY = "vpc-0000000000000d0f1", "vpc-0a1b2c3d4e5f60718", "vpc-0e0e0e0e0e0e0e0e0"
TOPOLOGY = Topology(
    default_vpc=DEFAULT,
    subnets={"subnet-000000000000000d1": DEFAULT, "subnet-000000000000000d2": DEFAULT,
             "subnet-0a1b2c3d4e5f60001": PRIVATE, "subnet-0a1b2c3d4e5f60002": PRIVATE,
             "subnet-0a1b2c3d4e5f60003": PRIVATE},
    vpcs=frozenset({DEFAULT, PRIVATE, EMPTY}),
)
PRIVATE_SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003")


def refused(vpc_id: str | None, subnet_ids: list[str]) -> AwsError:
    with pytest.raises(AwsError) as raised:
        TOPOLOGY.place(vpc_id, subnet_ids)
    return raised.value


def test_nothing_named_is_the_default_vpc_and_all_its_subnets() -> None:
    assert TOPOLOGY.place(None, []) == (DEFAULT, ("subnet-000000000000000d1", "subnet-000000000000000d2"))


def test_a_named_vpc_without_subnets_is_every_subnet_of_that_vpc() -> None:
    assert TOPOLOGY.place(PRIVATE, []) == (PRIVATE, PRIVATE_SUBNETS)


def test_named_vpc_and_subnets_that_exist_and_match_are_used_sorted_once_each() -> None:
    subnets = [PRIVATE_SUBNETS[2], PRIVATE_SUBNETS[0], PRIVATE_SUBNETS[0]]
    assert TOPOLOGY.place(PRIVATE, subnets) == (PRIVATE, (PRIVATE_SUBNETS[0], PRIVATE_SUBNETS[2]))


def test_subnets_without_a_vpc_are_placed_in_their_vpc() -> None:
    assert TOPOLOGY.place(None, list(PRIVATE_SUBNETS[1:])) == (PRIVATE, PRIVATE_SUBNETS[1:])


def test_a_vpc_that_does_not_exist_names_the_field_and_the_id() -> None:
    e = refused("vpc-0123456789abcdef0", list(PRIVATE_SUBNETS))
    assert e.code == "InvalidVpcID.NotFound"
    assert "spec.aws.vpcId: vpc-0123456789abcdef0 does not exist" in str(e)
    assert refused("vpc-0123456789abcdef0", []).code == "InvalidVpcID.NotFound"


def test_a_subnet_that_does_not_exist_names_its_index_and_id() -> None:
    for vpc in (PRIVATE, None):
        e = refused(vpc, [PRIVATE_SUBNETS[0], "subnet-0123456789abcdef0"])
        assert e.code == "InvalidSubnetID.NotFound"
        assert "spec.aws.subnetIds[1]: subnet-0123456789abcdef0 does not exist" in str(e)


def test_a_subnet_outside_the_named_vpc_names_its_index_both_vpcs_and_the_field() -> None:
    e = refused(PRIVATE, [PRIVATE_SUBNETS[0], "subnet-000000000000000d2"])
    assert e.code == "SubnetNotInVpc"
    assert f"spec.aws.subnetIds[1]: subnet-000000000000000d2 is in {DEFAULT}, not in spec.aws.vpcId {PRIVATE}" in str(e)


def test_subnets_of_several_vpcs_without_a_named_vpc_are_refused() -> None:
    e = refused(None, ["subnet-000000000000000d1", PRIVATE_SUBNETS[0]])
    assert e.code == "SubnetNotInVpc"
    assert f"spec.aws.subnetIds[1]: {PRIVATE_SUBNETS[0]} is in {PRIVATE}, not in {DEFAULT}" in str(e)


def test_a_region_without_a_default_vpc_or_a_vpc_without_subnets_asks_for_the_fields() -> None:
    e = refused(EMPTY, [])
    assert e.code == "InvalidParameterValue" and f"{EMPTY} has no subnets: set spec.aws.subnetIds" in str(e)
    bare = Topology(default_vpc=None, vpcs=frozenset({PRIVATE}))
    with pytest.raises(AwsError, match=r"no default VPC: set spec\.aws\.vpcId and spec\.aws\.subnetIds"):
        bare.place(None, [])
