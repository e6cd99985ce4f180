"""One listing of the network per target for the registry's clients; a client made on its own lists it itself.

Making a client calls no AWS: nothing here needs a server."""

from __future__ import annotations

from aenv import aws
from aenv.aws import ec2_security_group, elasticache_subnet_group, rds_subnet_group
from aenv.aws.component import AwsTarget, Registry
from aenv.aws.ec2_security_group import SecurityGroups
from aenv.aws.subnet_group import SubnetGroups
from aenv.aws.vpc import Network

HERE = AwsTarget("us-east-1", "http://127.0.0.1:9")
THERE = AwsTarget("eu-west-1", "http://127.0.0.1:9")
PLACED = (ec2_security_group.KIND, elasticache_subnet_group.KIND, rds_subnet_group.KIND)


def network(registry: Registry, kind: str, target: AwsTarget) -> Network:
    client = registry.get(kind, target)
    assert isinstance(client, SecurityGroups | SubnetGroups), kind
    return client.network


def test_the_registry_s_clients_share_one_network_listing_per_target() -> None:
    registry = aws.registry()
    here = {id(network(registry, kind, HERE)) for kind in PLACED}
    there = {id(network(registry, kind, THERE)) for kind in PLACED}
    assert len(here) == 1 and len(there) == 1 and here != there


def test_a_client_made_on_its_own_or_by_another_registry_lists_the_network_itself() -> None:
    shared = network(aws.registry(), ec2_security_group.KIND, HERE)
    assert network(aws.registry(), ec2_security_group.KIND, HERE) is not shared
    alone = [SecurityGroups(HERE), elasticache_subnet_group.CacheSubnetGroups(HERE),
             rds_subnet_group.DbSubnetGroups(HERE)]
    assert len({id(c.network) for c in alone} | {id(shared)}) == 4
