"""spec -> the network's security groups and subnet groups."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import network
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(aws: dict[str, object] | None = None, **sections: object) -> list[Desired]:
    spec = EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1", **(aws or {})}, **sections})
    return network.plan(ENV, effective(spec))


def by_key(resources: list[Desired]) -> dict[str, Desired]:
    return {d.key: d for d in resources}


def test_nothing_without_cache_or_database() -> None:
    assert plan(queues=[{"name": "events"}]) == []


def test_cache_and_database_each_get_a_group_admitting_only_the_workloads_and_a_subnet_group() -> None:
    resources = plan(cache={}, database={})
    assert [d.key for d in resources] == [
        "network/sg/workloads", "network/sg/cache", "network/subnets/cache",
        "network/sg/database", "network/subnets/database"]
    r = by_key(resources)
    assert [r[k].kind for k in r] == ["ec2.security_group", "ec2.security_group", "elasticache.subnet_group",
                                      "ec2.security_group", "rds.subnet_group"]
    workloads, cache, database = r["network/sg/workloads"], r["network/sg/cache"], r["network/sg/database"]
    assert workloads.params["ingress_ports"] == () and "ingress_source" not in workloads.params
    assert workloads.params["revoke_egress"] is False
    assert cache.params["ingress_ports"] == (6379,) and database.params["ingress_ports"] == (5432,)
    for group in (cache, database):
        assert group.params["ingress_source"] == Ref("network/sg/workloads", "id")
        assert group.params["revoke_egress"] is True
        assert group.depends_on == ("network/sg/workloads",)
    assert workloads.name == "aenv-analytics-defi-workloads"
    assert r["network/subnets/cache"].name == "aenv-analytics-defi-cache"
    assert r["network/subnets/database"].name == "aenv-analytics-defi-database"
    for d in resources:
        assert d.component == "network"
        assert d.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "network"}


def test_only_the_sections_that_are_set() -> None:
    assert [d.key for d in plan(database={})] == ["network/sg/workloads", "network/sg/database",
                                                  "network/subnets/database"]
    assert [d.key for d in plan(cache={})] == ["network/sg/workloads", "network/sg/cache", "network/subnets/cache"]


def test_default_vpc_is_left_to_the_client() -> None:
    for d in plan(cache={}):
        assert d.params["vpc_id"] is None and d.params["subnet_ids"] == ()


def test_spec_vpc_and_subnets_are_passed_on() -> None:
    aws: dict[str, object] = {"vpcId": "vpc-0123456789abcdef0",
                              "subnetIds": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef0"]}
    for d in plan(aws, cache={}, database={}):
        assert d.params["vpc_id"] == "vpc-0123456789abcdef0"
        assert d.params["subnet_ids"] == ("subnet-0123456789abcdef1", "subnet-0123456789abcdef0")


def test_long_names_are_shortened_within_limits() -> None:
    env = EnvironmentRef("n" * 63, "long.name-" + "x" * 240, "uid-2")
    spec = effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"},
                                                     "cache": {}, "database": {}}))
    resources = network.plan(env, spec)
    assert len({(d.kind, d.name) for d in resources}) == len(resources)
    for d in resources:
        assert len(d.name) <= 255 and "." not in d.name
        assert len(d.params["description"]) <= 255
