"""The AWS emulator holds the network the examples name, with those ids, in a fresh account after every reset."""

from __future__ import annotations

from typing import Any

import pytest

from aenv.local.emulator import EXAMPLES, REGION, AwsEmulator, example_networks


def network(ec2: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every VPC and every subnet by id."""
    vpcs = {v["VpcId"]: v for v in ec2.describe_vpcs()["Vpcs"]}
    subnets = {s["SubnetId"]: s for p in ec2.get_paginator("describe_subnets").paginate() for s in p["Subnets"]}
    return vpcs, subnets


def test_reset_leaves_the_default_vpc_and_the_examples_network_and_nothing_else(emulator: AwsEmulator) -> None:
    ec2 = emulator.client("ec2")
    wanted = example_networks(EXAMPLES.glob("*.yaml"))
    assert wanted, "examples/ names no VPC: nothing to check"
    emulator.reset()
    stray = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=next(iter(wanted))[1], CidrBlock="10.0.200.0/24")
    old_default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]

    emulator.reset()
    vpcs, subnets = network(ec2)
    assert stray not in vpcs and not any(s["CidrBlock"] == "10.0.200.0/24" for s in subnets.values())
    [default] = [v for v in vpcs.values() if v["IsDefault"]]
    assert default["VpcId"] != old_default, "moto's reset makes a new default VPC"
    default_subnets = [s for s in subnets.values() if s["VpcId"] == default["VpcId"]]
    assert len(default_subnets) >= 2
    seeded = {vpc for region, vpc in wanted if region == REGION}
    assert set(vpcs) == {default["VpcId"], *seeded}
    for (region, vpc), subnet_ids in wanted.items():
        assert region == REGION, "the examples use the emulator's region"
        assert vpcs[vpc]["CidrBlock"] == "10.0.0.0/16" and not vpcs[vpc]["IsDefault"]
        assert {"Key": "Name", "Value": "aenv examples"} in vpcs[vpc]["Tags"]
        mine = {s: subnets[s] for s in subnet_ids}
        assert {s["VpcId"] for s in mine.values()} == {vpc}
        assert {s["SubnetId"] for s in subnets.values() if s["VpcId"] == vpc} == set(subnet_ids)
        assert len({s["AvailabilityZone"] for s in mine.values()}) == len(subnet_ids), "one zone per subnet"
        assert len({s["CidrBlock"] for s in mine.values()}) == len(subnet_ids)
        for s in mine.values():
            assert all(t["Key"] != "_custom_id_" for t in s.get("Tags", []))


def test_seeding_again_changes_nothing(emulator: AwsEmulator) -> None:
    ec2 = emulator.client("ec2")
    emulator.reset()
    before = network(ec2)
    assert emulator.seed_network() == example_networks(EXAMPLES.glob("*.yaml"))
    after = network(ec2)
    assert after == before


def test_a_subnet_missing_from_the_examples_network_is_made_again_in_a_free_block(emulator: AwsEmulator) -> None:
    ec2 = emulator.client("ec2")
    emulator.reset()
    (_, vpc), subnet_ids = next(iter(example_networks(EXAMPLES.glob("*.yaml")).items()))
    _, subnets = network(ec2)
    gone = subnets[subnet_ids[0]]
    ec2.delete_subnet(SubnetId=gone["SubnetId"])
    ec2.create_subnet(VpcId=vpc, CidrBlock=gone["CidrBlock"])  # someone took its block meanwhile
    emulator.seed_network()
    _, again = network(ec2)
    back = again[gone["SubnetId"]]
    assert back["VpcId"] == vpc and back["CidrBlock"] != gone["CidrBlock"]
    assert back["AvailabilityZone"] == gone["AvailabilityZone"]


def test_the_emulator_gives_a_vpc_the_custom_id_it_asks_for_unless_taken(emulator: AwsEmulator) -> None:
    ec2 = emulator.client("ec2")
    emulator.reset()

    def create(vpc_id: str) -> str:
        made: str = ec2.create_vpc(CidrBlock="10.50.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "_custom_id_", "Value": vpc_id}]}])["Vpc"]["VpcId"]
        return made

    assert create("vpc-0123456789abcdef0") == "vpc-0123456789abcdef0"
    other = create("vpc-0123456789abcdef0")
    assert other != "vpc-0123456789abcdef0" and other.startswith("vpc-")
    subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.50.1.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "_custom_id_", "Value": "subnet-0123456789abcdef0"}]}])
    assert subnet["Subnet"]["SubnetId"] == "subnet-0123456789abcdef0"


def test_an_example_subnet_id_taken_in_another_vpc_is_an_error_naming_it(emulator: AwsEmulator) -> None:
    ec2 = emulator.client("ec2")
    emulator.reset()
    (_, vpc), subnet_ids = next(iter(example_networks(EXAMPLES.glob("*.yaml")).items()))
    ec2.delete_subnet(SubnetId=subnet_ids[0])
    elsewhere = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=elsewhere, CidrBlock="10.60.0.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "_custom_id_", "Value": subnet_ids[0]}]}])
    before = network(ec2)
    with pytest.raises(RuntimeError, match=f"instead of {subnet_ids[0]}: the id is taken by another subnet"):
        emulator.seed_network()
    assert network(ec2) == before, "nothing is left behind"
    assert network(ec2)[1][subnet_ids[0]]["VpcId"] == elsewhere != vpc
    emulator.reset()
