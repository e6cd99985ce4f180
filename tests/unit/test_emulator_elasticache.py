"""The pure rules of the emulator's ElastiCache additions (aenv.local.moto_server): when a deleted replication group
is gone, what uses a cache subnet group, and the delay setting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aenv.local.moto_server import DELETE_SECONDS, delete_seconds, deletion_done, subnet_group_users


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
