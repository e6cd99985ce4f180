"""EC2 security groups in mode ack (kind ec2.security_group): an ec2 SecurityGroup CR per group.

The cache's and the database's groups admit the workloads' group on their port, named through ACK's reference
field (userIDGroupPairs[].groupRef: the workloads' SecurityGroup CR), and send nothing: ACK revokes AWS's default
allow-all egress rule when it creates a group, as mode boto3 does. The workloads' group keeps that rule, so its CR
names it in egressRules. Outputs are mode boto3's: id and arn.

Placement: aenv holds no AWS credentials in mode ack, so it cannot look up the account's default VPC and its
subnets; the network needs spec.aws.vpcId and spec.aws.subnetIds (PlacementRequired otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..naming import EnvironmentRef, aws_name
from ..plan.network import SG_NAME_MAX
from ..plan.types import Desired
from .resource import AckClient, AckError, AckKind, arn, object_name, reference

KIND = "ec2.security_group"
ALLOW_ALL_EGRESS = {"ipProtocol": "-1", "ipRanges": [{"cidrIP": "0.0.0.0/0"}]}


def placement(desired: Desired) -> tuple[str, list[str]]:
    """The VPC and subnets of a network resource, which mode ack must be told (it cannot look up the default)."""
    vpc, subnets = desired.params["vpc_id"], list(desired.params["subnet_ids"])
    if not vpc or not subnets:
        raise AckError("PlacementRequired", "mode ack cannot find the account's default VPC and subnets (aenv "
                                            "calls no AWS API itself)", "set spec.aws.vpcId and spec.aws.subnetIds")
    return vpc, subnets


def workloads_group(env: EnvironmentRef) -> str:
    """The workloads' SecurityGroup CR (plan/network.py names the group)."""
    return object_name(aws_name(env, "workloads", max_length=SG_NAME_MAX))


class SecurityGroups(AckClient):
    KIND = AckKind("ec2", "SecurityGroup")
    ADOPTED_BY = (("id", "status.id"),)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        vpc, _ = placement(desired)
        spec: dict[str, Any] = {
            "name": desired.name,
            "description": p["description"],
            "vpcID": vpc,
            "tags": [{"key": k, "value": v} for k, v in desired.tags.items()],
            "ingressRules": [
                {"ipProtocol": "tcp", "fromPort": port, "toPort": port,
                 "userIDGroupPairs": [{"groupRef": reference(workloads_group(env))}]}
                for port in p["ingress_ports"]],
        }
        if not p["revoke_egress"]:
            spec["egressRules"] = [ALLOW_ALL_EGRESS]
        return spec

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        return None if (obj.get("status") or {}).get("id") and arn(obj) else "synced, but without a group id yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": (obj.get("status") or {}).get("id"), "arn": arn(obj)}
