"""The pure rules of the emulator's ElastiCache additions (aenv.local.moto_server): when a deleted replication group
is gone, what uses a cache subnet group, the delay setting, and how a member cluster of a group is described."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aenv.local.moto_server import DELETE_SECONDS, delete_seconds, deletion_done, member_cluster, subnet_group_users


def test_a_deleted_group_is_gone_once_shown_deleting_and_the_delay_has_passed() -> None:
    assert deletion_done(deleted_at=10.0, shown=True, now=10.0, delay=0.0)
    assert deletion_done(deleted_at=10.0, shown=True, now=12.5, delay=2.0)
    assert not deletion_done(deleted_at=10.0, shown=True, now=11.9, delay=2.0), "still deleting"
    assert not deletion_done(deleted_at=10.0, shown=False, now=99.0, delay=0.0), "no describe has shown it deleting"
    assert not deletion_done(deleted_at=None, shown=True, now=99.0, delay=0.0), "never deleted"


def test_the_delay_comes_from_the_environment_and_defaults_to_zero() -> None:
    assert delete_seconds({}) == 0.0
    assert delete_seconds({DELETE_SECONDS: " "}) == 0.0
    assert delete_seconds({DELETE_SECONDS: "2.5"}) == 2.5
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ValueError, match=f"{DELETE_SECONDS}='{bad}': give a number of seconds"):
            delete_seconds({DELETE_SECONDS: bad})


def test_a_subnet_group_is_used_by_its_groups_even_deleting_and_by_its_clusters_not_deleting() -> None:
    groups = [SimpleNamespace(replication_group_id="a", cache_subnet_group_name="sg", status="available"),
              SimpleNamespace(replication_group_id="b", cache_subnet_group_name="sg", status="deleting"),
              SimpleNamespace(replication_group_id="c", cache_subnet_group_name="other", status="available")]
    clusters = [SimpleNamespace(cache_cluster_id="x", cache_subnet_group_name="sg", cache_cluster_status="available"),
                SimpleNamespace(cache_cluster_id="y", cache_subnet_group_name="sg", cache_cluster_status="deleting")]
    assert subnet_group_users("sg", groups, clusters) == ["a", "b", "x"]
    assert subnet_group_users("other", groups, clusters) == ["c"]
    assert subnet_group_users("free", groups, clusters) == []


def test_a_member_cluster_is_described_from_its_group() -> None:
    """The ACK elasticache controller compares the member's security groups with the group's before modifying it."""
    group = SimpleNamespace(
        replication_group_id="g", status="available", engine="redis", cache_node_type="cache.t4g.micro",
        cache_subnet_group_name="subnets", security_group_ids=["sg-1", "sg-2"], auth_token_enabled=True,
        transit_encryption_enabled=True, at_rest_encryption_enabled=False, snapshot_retention_limit=1,
        engine_version="7.1", preferred_maintenance_window=None, cache_parameter_group_name=None)
    described = member_cluster(group, "g-001")
    assert (described["CacheClusterId"], described["ReplicationGroupId"], described["CacheClusterStatus"]) == (
        "g-001", "g", "available")
    assert described["SecurityGroups"] == [{"SecurityGroupId": "sg-1", "Status": "active"},
                                           {"SecurityGroupId": "sg-2", "Status": "active"}]
    assert described["EngineVersion"] == "7.1"
    assert "PreferredMaintenanceWindow" not in described and "CacheParameterGroup" not in described  # not given
