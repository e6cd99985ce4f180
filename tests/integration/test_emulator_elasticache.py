"""The AWS emulator finishes ElastiCache deletes as AWS does (aenv.local.moto_server): a deleted replication group is
`deleting`, then gone, after the final snapshot it asked for; a cache subnet group can be deleted once nothing uses
it; DescribeEvents answers an empty page. Checked through boto3 against the emulator process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aenv.local.emulator import AwsEmulator
from aenv.local.moto_server import DELETE_SECONDS
from aenv.local.processes import wait_for

GROUP, SUBNETS, SNAPSHOT = "aenv-emulator-cache", "aenv-emulator-subnets", "aenv-emulator-cache-final"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return str(e.value.response["Error"]["Code"])


def cache(emulator: AwsEmulator) -> Any:
    """A fresh account holding a replication group GROUP in the subnet group SUBNETS; returns the client."""
    emulator.reset()
    ec2, elasticache = emulator.client("ec2"), emulator.client("elasticache")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    elasticache.create_cache_subnet_group(CacheSubnetGroupName=SUBNETS, CacheSubnetGroupDescription="test",
                                          SubnetIds=[s["SubnetId"] for s in subnets[:2]],
                                          Tags=[{"Key": "team", "Value": "analytics"}])
    elasticache.create_replication_group(ReplicationGroupId=GROUP, ReplicationGroupDescription="test",
                                         Engine="redis", CacheNodeType="cache.t4g.micro", CacheSubnetGroupName=SUBNETS,
                                         AtRestEncryptionEnabled=True, KmsKeyId=KEY,
                                         Tags=[{"Key": "team", "Value": "analytics"}])
    return elasticache


def groups(elasticache: Any) -> dict[str, str]:
    """Every replication group's status, by id."""
    return {g["ReplicationGroupId"]: g["Status"]
            for page in elasticache.get_paginator("describe_replication_groups").paginate()
            for g in page["ReplicationGroups"]}


def test_a_deleted_group_is_deleting_then_gone_after_its_final_snapshot(emulator: AwsEmulator) -> None:
    elasticache = cache(emulator)
    arn = elasticache.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]["ARN"]
    deleted = elasticache.delete_replication_group(ReplicationGroupId=GROUP, FinalSnapshotIdentifier=SNAPSHOT)
    assert deleted["ReplicationGroup"]["Status"] == "deleting"
    assert error_code(elasticache.delete_replication_group, ReplicationGroupId=GROUP) == "InvalidReplicationGroupState"

    assert groups(elasticache) == {GROUP: "deleting"}, "the first describe after the delete shows it deleting"
    assert groups(elasticache) == {}, "and the next finds it gone"
    assert error_code(elasticache.describe_replication_groups, ReplicationGroupId=GROUP) == \
        "ReplicationGroupNotFoundFault"
    assert error_code(elasticache.delete_replication_group, ReplicationGroupId=GROUP) == \
        "ReplicationGroupNotFoundFault"
    tagged = emulator.client("resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]
    assert arn not in {r["ResourceARN"] for r in tagged}

    [snapshot] = elasticache.describe_snapshots(SnapshotName=SNAPSHOT)["Snapshots"]
    assert snapshot["ReplicationGroupId"] == GROUP and snapshot["SnapshotStatus"] == "available"
    assert snapshot["SnapshotSource"] == "manual" and snapshot["KmsKeyId"] == KEY
    assert snapshot["CacheSubnetGroupName"] == SUBNETS

    # The id is free again.
    elasticache.create_replication_group(ReplicationGroupId=GROUP, ReplicationGroupDescription="again",
                                         Engine="redis", CacheNodeType="cache.t4g.micro")
    assert groups(elasticache) == {GROUP: "available"}


def test_a_final_snapshot_name_already_taken_fails_the_delete_and_keeps_the_group(emulator: AwsEmulator) -> None:
    elasticache = cache(emulator)
    elasticache.create_snapshot(ReplicationGroupId=GROUP, SnapshotName=SNAPSHOT)
    assert error_code(elasticache.delete_replication_group, ReplicationGroupId=GROUP,
                      FinalSnapshotIdentifier=SNAPSHOT) == "SnapshotAlreadyExistsFault"
    assert groups(elasticache) == groups(elasticache) == {GROUP: "available"}
    elasticache.delete_replication_group(ReplicationGroupId=GROUP)  # no snapshot asked: none taken
    assert groups(elasticache) == {GROUP: "deleting"} and groups(elasticache) == {}
    assert [s["SnapshotName"] for s in elasticache.describe_snapshots()["Snapshots"]] == [SNAPSHOT]


def test_a_cache_subnet_group_is_deleted_once_no_group_uses_it(emulator: AwsEmulator) -> None:
    elasticache = cache(emulator)
    delete = elasticache.delete_cache_subnet_group
    assert error_code(delete, CacheSubnetGroupName="absent") == "CacheSubnetGroupNotFoundFault"
    assert error_code(delete, CacheSubnetGroupName=SUBNETS) == "CacheSubnetGroupInUse"
    elasticache.delete_replication_group(ReplicationGroupId=GROUP)
    assert error_code(delete, CacheSubnetGroupName=SUBNETS) == "CacheSubnetGroupInUse", "the group is deleting"
    assert groups(elasticache) == {GROUP: "deleting"}
    arn = elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"][0]["ARN"]

    delete(CacheSubnetGroupName=SUBNETS)  # the group is gone by now: it was shown deleting, and the delay is 0
    assert elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"] == []
    assert error_code(delete, CacheSubnetGroupName=SUBNETS) == "CacheSubnetGroupNotFoundFault"
    tagged = emulator.client("resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]
    assert arn not in {r["ResourceARN"] for r in tagged}


def test_describe_events_answers_an_empty_last_page(emulator: AwsEmulator) -> None:
    elasticache = cache(emulator)
    for kwargs in ({}, {"SourceType": "replication-group", "SourceIdentifier": GROUP, "Duration": 60,
                        "MaxRecords": 20}):
        answer = elasticache.describe_events(**kwargs)
        assert answer["Events"] == [] and "Marker" not in answer, kwargs
    pages = list(elasticache.get_paginator("describe_events").paginate(SourceType="cache-subnet-group"))
    assert [p["Events"] for p in pages] == [[]]


@pytest.fixture
def slow_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEmulator]:
    """An emulator of its own whose replication groups stay deleting for a second."""
    monkeypatch.setenv(DELETE_SECONDS, "1")
    slow = AwsEmulator(tmp_path)
    slow.start()
    try:
        yield slow
    finally:
        slow.stop()


def test_a_deleted_group_stays_deleting_for_the_delay_given(slow_emulator: AwsEmulator) -> None:
    elasticache = cache(slow_emulator)
    elasticache.delete_replication_group(ReplicationGroupId=GROUP, FinalSnapshotIdentifier=SNAPSHOT)
    assert groups(elasticache) == groups(elasticache) == {GROUP: "deleting"}
    wait_for(lambda: not groups(elasticache), 10, f"{GROUP} to be gone")
    assert elasticache.describe_snapshots(SnapshotName=SNAPSHOT)["Snapshots"][0]["ReplicationGroupId"] == GROUP
