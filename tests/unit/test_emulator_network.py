"""Which VPCs and subnets the local emulator must hold for the examples, read from the example files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aenv.local.emulator import EXAMPLES, example_networks, free_cidrs
from aenv.local.moto_server import custom_id

ENV = """
apiVersion: aenv.dev/v1alpha1
kind: AnalyticsEnvironment
metadata: {{name: {name}, namespace: ns}}
spec:
  tier: prod
  aws: {aws}
"""


def write(tmp_path: Path, name: str, *docs: str) -> Path:
    path = tmp_path / name
    path.write_text("---\n".join(docs))
    return path


def test_every_vpc_an_example_names_with_its_subnets_in_order_once_each(tmp_path: Path) -> None:
    files = [
        write(tmp_path, "a.yaml",
              ENV.format(name="a", aws="{region: us-east-1, vpcId: vpc-0000000a, subnetIds: [subnet-2, subnet-1]}"),
              "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n",
              ENV.format(name="b", aws="{region: us-east-1}")),
        write(tmp_path, "b.yaml",
              ENV.format(name="c", aws="{region: us-east-1, vpcId: vpc-0000000a, subnetIds: [subnet-1, subnet-3]}"),
              ENV.format(name="d", aws="{region: eu-west-1, vpcId: vpc-0000000b}")),
    ]
    assert example_networks(files) == {
        ("us-east-1", "vpc-0000000a"): ("subnet-2", "subnet-1", "subnet-3"),
        ("eu-west-1", "vpc-0000000b"): (),
    }
    assert example_networks([files[0]]) == {("us-east-1", "vpc-0000000a"): ("subnet-2", "subnet-1")}


def test_subnets_without_their_vpc_cannot_be_seeded(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", ENV.format(name="a", aws="{region: us-east-1, subnetIds: [subnet-1]}"))
    with pytest.raises(ValueError, match=r"bad\.yaml: subnetIds without vpcId"):
        example_networks([path])


def test_the_repository_examples_name_the_prod_network() -> None:
    prod = yaml.safe_load((EXAMPLES / "env-prod.yaml").read_text())["spec"]["aws"]
    networks = example_networks(EXAMPLES.glob("*.yaml"))
    assert networks[(prod["region"], prod["vpcId"])] == tuple(prod["subnetIds"])


def test_free_cidrs_skip_the_blocks_subnets_use() -> None:
    free = free_cidrs("10.0.0.0/16", ["10.0.0.0/24", "10.0.2.0/23"])
    assert [next(free) for _ in range(3)] == ["10.0.1.0/24", "10.0.4.0/24", "10.0.5.0/24"]
    assert len(list(free_cidrs("10.0.0.0/23", []))) == 2


def test_custom_id_is_read_from_the_tags_in_either_form_moto_passes_them() -> None:
    assert custom_id([{"Key": "Name", "Value": "x"}, {"Key": "_custom_id_", "Value": "vpc-1"}]) == "vpc-1"
    assert custom_id({"subnet": {"Name": "x", "_custom_id_": "subnet-1"}}) == "subnet-1"
    assert custom_id([{"Key": "Name", "Value": "x"}]) is None
    assert custom_id({"subnet": {"Name": "x"}}) is None
    assert custom_id(None) is None
