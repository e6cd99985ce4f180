"""spec -> the cache's desired replication group."""

import re

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import cache
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(tier: str = "staging", env: EnvironmentRef = ENV, **cache_spec: object) -> list[Desired]:
    spec = EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, "cache": cache_spec})
    return cache.plan(env, effective(spec))


def test_no_cache_section_plans_nothing() -> None:
    spec = EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"}})
    assert cache.plan(ENV, effective(spec)) == []


def test_one_replication_group_with_the_tier_defaults_and_refs() -> None:
    [group] = plan("prod")
    assert (group.kind, group.key, group.component) == ("elasticache.replication_group", "cache/replication-group",
                                                        "cache")
    assert group.name == "aenv-analytics-defi-cache"
    assert group.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "cache"}
    assert group.params == {
        "engine": "redis", "engine_version": None, "node_type": "cache.r7g.large", "replicas": 2, "multi_az": True,
        "transit_encryption": True, "at_rest_encryption": True, "snapshot_retention_days": 7,
        "security_group_id": Ref("network/sg/cache", "id"), "subnet_group": Ref("network/subnets/cache", "name"),
        "kms_key_arn": Ref("kms/key", "arn"),
        "auth_token": Ref("secret/cache-auth", "value"), "auth_token_version": Ref("secret/cache-auth", "version"),
    }
    assert set(group.depends_on) == {"network/sg/cache", "network/subnets/cache", "kms/key", "secret/cache-auth"}


def test_dev_tier_is_single_az_without_replicas_or_snapshots() -> None:
    [group] = plan("dev")
    assert (group.params["node_type"], group.params["replicas"], group.params["multi_az"],
            group.params["snapshot_retention_days"]) == ("cache.t4g.micro", 0, False, 0)


def test_spec_overrides_the_tier() -> None:
    [group] = plan("prod", engine="valkey", engineVersion="8.0", nodeType="cache.m7g.large", replicas=1,
                   snapshotRetentionDays=3)
    p = group.params
    assert (p["engine"], p["engine_version"], p["node_type"], p["replicas"], p["multi_az"],
            p["snapshot_retention_days"]) == ("valkey", "8.0", "cache.m7g.large", 1, True, 3)


def test_no_auth_token_without_tls_and_no_key_without_encryption_at_rest() -> None:
    [group] = plan("dev", transitEncryption=False, atRestEncryption=False)
    assert not {"auth_token", "auth_token_version", "kms_key_arn"} & set(group.params)
    assert set(group.depends_on) == {"network/sg/cache", "network/subnets/cache"}


def test_multi_az_without_replicas_is_left_to_the_client_to_report() -> None:
    [group] = plan("prod", replicas=0)
    assert group.params["multi_az"] is True and group.params["replicas"] == 0


def test_name_fits_elasticache_rules() -> None:
    long = EnvironmentRef("team-analytics-production", "defi-realtime-dashboards", "uid-2")
    [group] = plan(env=long)
    assert len(group.name) <= cache.ELASTICACHE_ID_MAX and group.name.startswith("aenv-team-analytics")
    assert group.name == plan(env=long)[0].name  # deterministic


def test_double_hyphens_are_collapsed_without_collisions() -> None:
    double = cache.identifier(EnvironmentRef("a--b", "c", "u"), "cache", max_length=40)
    single = cache.identifier(EnvironmentRef("a-b", "c", "u"), "cache", max_length=40)
    assert "--" not in double and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", double)
    assert single == "aenv-a-b-c-cache" and double != single
