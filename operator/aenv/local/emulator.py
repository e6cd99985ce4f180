"""moto in server mode on 127.0.0.1: the AWS stand-in for the local environment and the tests.

Besides what moto makes by itself (each region's default VPC), the emulator holds the VPCs and subnets that the
files in examples/ name, so that every example applies as it is written.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.utilities.id_generator import TAG_KEY_CUSTOM_ID

from . import processes

# moto accepts any credentials; these say plainly that they are not real.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds the aenv package
EXAMPLES = PACKAGE_ROOT.parent / "examples"
EXAMPLE_VPC_CIDR = "10.0.0.0/16"
EXAMPLE_SUBNET_PREFIX = 24
EXAMPLE_NAME = "aenv examples"  # the Name tag of what seed_network makes


def example_networks(files: Iterable[Path]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(region, VPC id) -> the subnet ids named with it, in order of first mention, for every AnalyticsEnvironment
    in files that names a VPC (spec.aws.vpcId and spec.aws.subnetIds)."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(files):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "AnalyticsEnvironment":
                continue
            aws = doc.get("spec", {}).get("aws", {})
            vpc, subnets = aws.get("vpcId"), aws.get("subnetIds", [])
            if not vpc:
                if subnets:
                    raise ValueError(f"{path.name}: subnetIds without vpcId; name the VPC the subnets belong to")
                continue
            named = out.setdefault((aws["region"], vpc), [])
            named += [s for s in subnets if s not in named]
    return {key: tuple(subnets) for key, subnets in out.items()}


def free_cidrs(vpc_cidr: str, taken: Iterable[str]) -> Iterator[str]:
    """The /24 blocks of the VPC's range that no subnet uses, lowest first."""
    used = [ipaddress.ip_network(c) for c in taken]
    for block in ipaddress.ip_network(vpc_cidr).subnets(new_prefix=EXAMPLE_SUBNET_PREFIX):
        if not any(block.overlaps(u) for u in used):
            yield str(block)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AwsEmulator:
    def __init__(self, state_dir: Path, data_plane: bool = False) -> None:
        """data_plane: a real Redis and PostgreSQL behind each replication group and DB instance (see
        dataplane_backend), their state and the CA that signed their certificates (ca_file) in state_dir/dataplane."""
        self.state_dir = state_dir
        self.pidfile = state_dir / "moto.pid"
        self.portfile = state_dir / "moto.port"
        self.logfile = state_dir / "moto.log"
        self.data_plane = data_plane
        self.data_plane_dir = state_dir / "dataplane"
        self.modefile = state_dir / "moto.dataplane"  # whether the running emulator has the data plane

    @property
    def ca_file(self) -> Path:
        """The CA certificate the data plane's TLS servers present a certificate of (rediss://, sslmode=verify-*)."""
        return self.data_plane_dir / "ca.crt"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.portfile.read_text().strip()}"

    def healthy(self) -> bool:
        if processes.read_pid(self.pidfile) is None or not self.portfile.exists():
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def start(self) -> str:
        """Start moto (or reuse the running one) holding the examples' network; returns its URL."""
        mode = "1" if self.data_plane else "0"
        if self.healthy() and self.modefile.exists() and self.modefile.read_text() == mode:
            self.seed_network()
            return self.url
        self.stop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.portfile.write_text(str(free_port()))
        self.modefile.write_text(mode)
        port = self.portfile.read_text().strip()
        # moto's server, taught to give VPCs and subnets the ids the examples name (see moto_server).
        path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "AENV_EMULATOR_DATA_PLANE": mode,
               "AENV_EMULATOR_DATA_PLANE_DIR": str(self.data_plane_dir)}
        processes.start([sys.executable, "-m", "aenv.local.moto_server", "-H", "127.0.0.1", "-p", port],
                        self.pidfile, self.logfile, env=env)
        processes.wait_for(self.healthy, 30, f"the AWS emulator on {self.url} (log: {self.logfile})")
        self.seed_network()
        return self.url

    def stop(self) -> None:
        processes.stop(self.pidfile)

    def reset(self) -> None:
        """A fresh account: nothing but what moto makes by itself and the examples' network."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass
        self.seed_network()

    def seed_network(self, examples: Path = EXAMPLES) -> dict[tuple[str, str], tuple[str, ...]]:
        """Make whatever is missing of the VPCs and subnets that the example files name, with those ids: each VPC
        10.0.0.0/16, each subnet a free /24 of its VPC, in the region's zones in turn. Returns what the examples
        name: (region, VPC id) -> subnet ids."""
        wanted = example_networks(examples.glob("*.yaml")) if examples.is_dir() else {}
        for (region, vpc_id), subnet_ids in wanted.items():
            ec2 = self.client("ec2", region)
            found = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
            vpc = found[0] if found else _create(ec2, "vpc", vpc_id, CidrBlock=EXAMPLE_VPC_CIDR)
            have = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
            zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
            cidrs = free_cidrs(vpc["CidrBlock"], [h["CidrBlock"] for h in have])
            for i, subnet_id in enumerate(subnet_ids):
                if subnet_id not in {h["SubnetId"] for h in have}:
                    _create(ec2, "subnet", subnet_id, VpcId=vpc_id, CidrBlock=next(cidrs),
                            AvailabilityZone=zones[i % len(zones)])
        return wanted

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for this emulator (tests and benchmarks look at AWS through it)."""
        make: Any = boto3.client  # `service` is any name: the typed overloads do not apply
        return make(service, region_name=region, endpoint_url=self.url, aws_access_key_id=CREDENTIALS[
            "AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def environ(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS}


def _create(ec2: Any, resource_type: str, resource_id: str, **kwargs: Any) -> dict[str, Any]:
    """create_vpc or create_subnet with the id resource_id, through the `_custom_id_` tag (see moto_server)."""
    key = resource_type.capitalize()
    tags = [{"Key": TAG_KEY_CUSTOM_ID, "Value": resource_id}, {"Key": "Name", "Value": EXAMPLE_NAME}]
    made: dict[str, Any] = getattr(ec2, f"create_{resource_type}")(
        TagSpecifications=[{"ResourceType": resource_type, "Tags": tags}], **kwargs)[key]
    if made[f"{key}Id"] != resource_id:
        getattr(ec2, f"delete_{resource_type}")(**{f"{key}Id": made[f"{key}Id"]})
        raise RuntimeError(f"the AWS emulator gave {made[f'{key}Id']} instead of {resource_id}: the id is taken by "
                           f"another {resource_type}, or the emulator was started without aenv.local.moto_server "
                           f"(stop it, e.g. `make dev-down`, and start again)")
    ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": TAG_KEY_CUSTOM_ID}])
    return made
