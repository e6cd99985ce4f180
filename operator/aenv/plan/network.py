"""The network the cache and the database sit in: security groups with least-privilege rules, and subnet groups.

aenv does not own the VPC: it is spec.aws.vpcId with spec.aws.subnetIds. What the spec leaves out (None, ()) is
the account's default VPC and its subnets, which the clients resolve: that is I/O.
"""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

SG_NAME_MAX = 255
SUBNET_GROUP_NAME_MAX = 255
SUBNET_GROUP_INVALID = r"[^a-z0-9-]"  # ElastiCache keeps subnet group names in lower case
DESCRIPTION_MAX = 255
REDIS_PORT = 6379
POSTGRES_PORT = 5432
WORKLOADS = "network/sg/workloads"


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """The workloads' security group; for the cache and the database each, a group that admits only the
    workloads' group on its port and sends nothing, and a subnet group."""
    if not (spec.cache or spec.database):
        return []
    tags = env.tags("network")
    placement = {"vpc_id": spec.aws.vpc_id, "subnet_ids": tuple(spec.aws.subnet_ids)}

    def group(role: str, port: int | None) -> Desired:
        params: dict[str, object] = {
            **placement,
            "description": f"aenv {role} of {env.key}"[:DESCRIPTION_MAX],
            "ingress_ports": (port,) if port else (),
            "revoke_egress": port is not None,  # the workloads' group keeps AWS's default allow-all egress
        }
        if port:
            params["ingress_source"] = Ref(WORKLOADS, "id")
        return Desired(kind="ec2.security_group", key=f"network/sg/{role}", component="network",
                       name=aws_name(env, role, max_length=SG_NAME_MAX), params=params, tags=tags)

    def subnet_group(kind: str, role: str) -> Desired:
        return Desired(kind=kind, key=f"network/subnets/{role}", component="network",
                       name=aws_name(env, role, max_length=SUBNET_GROUP_NAME_MAX, invalid=SUBNET_GROUP_INVALID),
                       params={**placement, "description": f"aenv {role} subnets of {env.key}"[:DESCRIPTION_MAX]},
                       tags=tags)

    resources = [group("workloads", None)]
    if spec.cache:
        resources += [group("cache", REDIS_PORT), subnet_group("elasticache.subnet_group", "cache")]
    if spec.database:
        resources += [group("database", POSTGRES_PORT), subnet_group("rds.subnet_group", "database")]
    return resources
