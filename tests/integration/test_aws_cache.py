"""The ElastiCache replication group client (kind elasticache.replication_group) against moto in server mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws import session
from aenv.aws.component import AwsTarget
from aenv.aws.elasticache_replication_group import (
    KIND,
    TAG_SECRET_VERSION,
    ElastiCacheReplicationGroups,
    final_snapshot_name,
)
from aenv.aws.errors import AwsError
from aenv.local.emulator import CREDENTIALS, AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import cache
from aenv.plan.actions import decide
from aenv.plan.types import Desired, Sensitive

ENV = EnvironmentRef("analytics", "defi", "uid-1")
TOKEN = Sensitive("first-auth-token-0123456789abcdef")
Outputs = dict[str, dict[str, Any]]



@pytest.fixture
def outputs(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> Outputs:
    """A fresh account holding what the cache refers to, as the network, encryption and secrets components output it.
    The client gets the emulator's credentials from the environment, as the operator does."""
    emulator.reset()
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    ec2, kms, elasticache = emulator.client("ec2"), emulator.client("kms"), emulator.client("elasticache")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    sg = ec2.create_security_group(GroupName="cache", Description="cache", VpcId=vpc)["GroupId"]
    elasticache.create_cache_subnet_group(CacheSubnetGroupName="aenv-analytics-defi-cache",
                                          CacheSubnetGroupDescription="cache", SubnetIds=subnets)
    key = kms.create_key()["KeyMetadata"]
    return {
        "network/sg/cache": {"id": sg, "arn": f"arn:aws:ec2:us-east-1:123456789012:security-group/{sg}"},
        "network/subnets/cache": {"name": "aenv-analytics-defi-cache"},
        "kms/key": {"id": key["KeyId"], "arn": key["Arn"]},
        "secret/cache-auth": {"arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:cache-auth",
                              "value": TOKEN, "version": "v1"},
    }


def desired(outputs: Outputs, tier: str = "prod", env: EnvironmentRef = ENV, **cache_spec: object) -> Desired:
    """The planner's group with every Ref resolved, as the reconcile loop hands it to the client."""
    spec = EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, "cache": cache_spec})
    [group] = cache.plan(env, effective(spec))
    resolved = group.resolve(outputs)
    assert resolved is not None
    return resolved


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with: the inventory's kind, key and name, no parameters."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def client(emulator: AwsEmulator) -> ElastiCacheReplicationGroups:
    return ElastiCacheReplicationGroups(AwsTarget(region="us-east-1", endpoint=emulator.url))


def described(emulator: AwsEmulator, name: str) -> dict[str, Any]:
    group: dict[str, Any] = emulator.client("elasticache").describe_replication_groups(
        ReplicationGroupId=name)["ReplicationGroups"][0]
    return group


def tags_of(emulator: AwsEmulator, arn: str) -> dict[str, str]:
    listed = emulator.client("elasticache").list_tags_for_resource(ResourceName=arn)["TagList"]
    return {t["Key"]: t["Value"] for t in listed}


@pytest.fixture
def requests(emulator: AwsEmulator) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The parameters of each ElastiCache request the clients send, seen through botocore's own event hooks."""
    sent: dict[str, list[dict[str, Any]]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.setdefault(model.name, []).append(dict(params))

    events = session.client("elasticache", "us-east-1", emulator.url).meta.events
    handler_id = "aenv-test-record"
    events.register("provide-client-params.elasticache", record, unique_id=handler_id)
    try:
        yield sent
    finally:
        events.unregister("provide-client-params.elasticache", unique_id=handler_id)


def test_create_then_observe(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs)
    assert d.kind == KIND
    groups = client(emulator)
    assert not groups.observe(d).exists
    made = groups.create(d)
    assert made.exists and made.ready and made.up_to_date, made.diff
    assert (made.owner, made.owner_environment, made.state) == ("uid-1", "analytics/defi", "available")
    assert made.outputs["id"] == d.name == "aenv-analytics-defi-cache"
    assert made.outputs["arn"] == f"arn:aws:elasticache:us-east-1:123456789012:replicationgroup:{d.name}"
    assert made.outputs["endpoint"].startswith(f"master.{d.name}.") and made.outputs["port"] == 6379
    assert made.outputs["reader_endpoint"]
    assert decide(ENV, d, made).kind == "none"

    group = described(emulator, d.name)
    assert group["Status"] == "available" and group["Engine"] == "redis"
    assert group["CacheNodeType"] == "cache.r7g.large"
    assert len(group["MemberClusters"]) == 3  # a primary and the prod tier's 2 replicas
    assert (group["AutomaticFailover"], group["MultiAZ"]) == ("enabled", "enabled")
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"] and group["AuthTokenEnabled"]
    assert group["KmsKeyId"] == outputs["kms/key"]["arn"]
    assert group["SnapshotRetentionLimit"] == 7
    # SecurityGroupIds and CacheSubnetGroupName: AWS reports them on the member clusters, which moto does not
    # create for a replication group, so they cannot be checked here (the observe path is tested below).
    assert tags_of(emulator, made.outputs["arn"]) == {
        TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "cache", TAG_SECRET_VERSION: "v1"}


def test_observe_again_finds_the_same_group(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs, "staging")
    made = client(emulator).create(d)
    again = client(emulator).observe(d)
    assert again.exists and again.up_to_date and again.outputs == made.outputs
    # A crash between create and status write: the next create finds the group instead of making another.
    raced = client(emulator).create(d)
    assert raced.exists and raced.outputs["arn"] == made.outputs["arn"]
    assert len(emulator.client("elasticache").describe_replication_groups()["ReplicationGroups"]) == 1


def test_update_of_mutable_fields(emulator: AwsEmulator, outputs: Outputs) -> None:
    groups = client(emulator)
    groups.create(desired(outputs, "staging"))
    bigger = desired(outputs, "staging", nodeType="cache.m7g.large", snapshotRetentionDays=5, multiAZ=True)
    observed = groups.observe(bigger)
    assert not observed.up_to_date and not observed.immutable
    assert observed.diff == {"CacheNodeType": ("cache.t4g.medium", "cache.m7g.large"),
                             "SnapshotRetentionLimit": (1, 5),
                             "AutomaticFailoverEnabled": (False, True), "MultiAZEnabled": (False, True)}
    assert decide(ENV, bigger, observed).kind == "update"
    updated = groups.update(bigger, observed)
    assert updated.up_to_date and updated.ready, updated.diff
    group = described(emulator, bigger.name)
    assert (group["CacheNodeType"], group["SnapshotRetentionLimit"]) == ("cache.m7g.large", 5)
    assert (group["AutomaticFailover"], group["MultiAZ"]) == ("enabled", "enabled")
    # Replica counts change through Increase/DecreaseReplicaCount, which moto does not implement (HTTP 500):
    # only the diff is checked.
    more = desired(outputs, "staging", nodeType="cache.m7g.large", snapshotRetentionDays=5, multiAZ=True, replicas=2)
    assert client(emulator).observe(more).diff == {"replicas": (1, 2)}


def test_auth_token_rotation_follows_the_secret_version(emulator: AwsEmulator, outputs: Outputs,
                                                        requests: dict[str, list[dict[str, Any]]]) -> None:
    groups = client(emulator)
    made = groups.create(desired(outputs))
    new_token = Sensitive("second-auth-token-0123456789abcdef")
    rotated = desired({**outputs, "secret/cache-auth": {**outputs["secret/cache-auth"], "value": new_token,
                                                        "version": "v2"}})
    observed = groups.observe(rotated)
    assert observed.diff == {"auth_token_version": ("v1", "v2")}
    assert str(TOKEN) not in repr(observed) and str(new_token) not in repr(observed)
    assert groups.update(rotated, observed).up_to_date
    assert tags_of(emulator, made.outputs["arn"])[TAG_SECRET_VERSION] == "v2"
    # moto accepts the token but does not model it (ElastiCache never returns one): check what was asked.
    [modify] = requests["ModifyReplicationGroup"]
    assert (modify["AuthToken"], modify["AuthTokenUpdateStrategy"], modify["ApplyImmediately"]) == (
        new_token, "ROTATE", True)


def test_immutable_changes_are_reported(emulator: AwsEmulator, outputs: Outputs) -> None:
    groups = client(emulator)
    made = groups.create(desired(outputs, "staging", engineVersion="7.1"))
    for change, field in ((dict(engine="valkey"), "engine"), (dict(transitEncryption=False), "transit_encryption"),
                          (dict(atRestEncryption=False), "at_rest_encryption")):
        observed = groups.observe(desired(outputs, "staging", engineVersion="7.1", **change))
        assert field in observed.immutable
        assert decide(ENV, desired(outputs, "staging"), observed).kind == "conflict"
    other_key = emulator.client("kms").create_key()["KeyMetadata"]
    observed = groups.observe(desired({**outputs, "kms/key": {"id": other_key["KeyId"], "arn": other_key["Arn"]}},
                                      "staging", engineVersion="7.1"))
    assert observed.immutable == ("kms_key",)

    # AWS reports subnet group and engine version on the group's member clusters; moto creates none for a
    # replication group, so make the member cluster AWS would report, in another subnet group.
    emulator.client("elasticache").create_cache_cluster(
        CacheClusterId=f"{made.outputs['id']}-001", ReplicationGroupId=made.outputs["id"],
        CacheNodeType="cache.t4g.medium", Engine="redis", EngineVersion="7.1.0", NumCacheNodes=1,
        CacheSubnetGroupName="somewhere-else")
    fresh = client(emulator)
    assert fresh.observe(desired(outputs, "staging", engineVersion="7.1")).immutable == ("subnet_group",)
    assert fresh.observe(desired(outputs, "staging", engineVersion="6.2")).immutable == (
        "subnet_group", "engine_version (a major version cannot be downgraded)")
    upgrade = fresh.observe(desired(outputs, "staging", engineVersion="7.2"))
    assert upgrade.diff["EngineVersion"] == ("7.1.0", "7.2")


def test_drift_is_detected_and_corrected(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs, "staging")
    groups = client(emulator)
    made = groups.create(d)
    elasticache = emulator.client("elasticache")
    elasticache.modify_replication_group(ReplicationGroupId=d.name, CacheNodeType="cache.t4g.micro",
                                         SnapshotRetentionLimit=0, ApplyImmediately=True)
    elasticache.remove_tags_from_resource(ResourceName=made.outputs["arn"], TagKeys=[TAG_COMPONENT])
    groups.groups.expire()
    groups.tags.expire()
    drifted = groups.observe(d)
    assert set(drifted.diff) == {"CacheNodeType", "SnapshotRetentionLimit", "tags"}
    assert groups.update(d, drifted).up_to_date
    group = described(emulator, d.name)
    assert (group["CacheNodeType"], group["SnapshotRetentionLimit"]) == ("cache.t4g.medium", 1)
    assert tags_of(emulator, made.outputs["arn"])[TAG_COMPONENT] == "cache"
    assert client(emulator).observe(d).up_to_date


def test_delete_with_final_snapshot(emulator: AwsEmulator, outputs: Outputs,
                                    requests: dict[str, list[dict[str, Any]]]) -> None:
    d = desired(outputs)
    groups = client(emulator)
    groups.create(d)
    observed = groups.observe(lookup(d))
    assert observed.exists and observed.up_to_date
    groups.delete(lookup(d), observed, "Snapshot")
    [call] = requests["DeleteReplicationGroup"]
    assert call == {"ReplicationGroupId": d.name, "FinalSnapshotIdentifier": final_snapshot_name(d.name, "uid-1")}
    # AWS shows the group "deleting" for minutes (the emulator: to the first describe), takes the snapshot and
    # removes the group. Until then the loop keeps observing, and a repeated delete sends nothing.
    deleting = client(emulator).observe(lookup(d))
    assert deleting.exists and not deleting.ready and deleting.state == "deleting"
    groups.delete(lookup(d), deleting, "Snapshot")
    assert len(requests["DeleteReplicationGroup"]) == 1
    assert not client(emulator).observe(lookup(d)).exists
    [snapshot] = emulator.client("elasticache").describe_snapshots(
        SnapshotName=final_snapshot_name(d.name, "uid-1"))["Snapshots"]
    assert snapshot["ReplicationGroupId"] == d.name and snapshot["SnapshotStatus"] == "available"


def test_delete_without_snapshot(emulator: AwsEmulator, outputs: Outputs,
                                 requests: dict[str, list[dict[str, Any]]]) -> None:
    d = desired(outputs, "dev")
    groups = client(emulator)
    groups.create(d)
    groups.delete(lookup(d), groups.observe(lookup(d)), "Delete")
    assert requests["DeleteReplicationGroup"] == [{"ReplicationGroupId": d.name}]
    assert described(emulator, d.name)["Status"] == "deleting"


def test_retain_marks_the_group_released_and_a_new_environment_adopts_it(emulator: AwsEmulator,
                                                                         outputs: Outputs) -> None:
    d = desired(outputs)
    groups = client(emulator)
    made = groups.create(d)
    groups.delete(lookup(d), groups.observe(lookup(d)), "Retain")
    assert described(emulator, d.name)["Status"] == "available"
    assert tags_of(emulator, made.outputs["arn"])[TAG_RELEASED] == "true"

    successor = EnvironmentRef("analytics", "defi", "uid-2")
    again = desired(outputs, env=successor)
    observed = client(emulator).observe(again)
    assert decide(successor, again, observed).kind == "adopt"
    adopted = groups.update(again, observed)
    assert adopted.up_to_date and adopted.owner == "uid-2"
    assert TAG_RELEASED not in tags_of(emulator, made.outputs["arn"])


def test_multi_az_without_replicas_is_an_error_the_user_can_fix(emulator: AwsEmulator, outputs: Outputs) -> None:
    with pytest.raises(AwsError) as error:
        client(emulator).create(desired(outputs, replicas=0))
    assert error.value.code == "InvalidParameterCombination" and "spec.cache.replicas" in str(error.value)
    assert emulator.client("elasticache").describe_replication_groups()["ReplicationGroups"] == []


def test_a_group_of_another_environment_is_reported_by_its_owner_tags(emulator: AwsEmulator,
                                                                      outputs: Outputs) -> None:
    d = desired(outputs, "dev")
    elasticache = emulator.client("elasticache")
    elasticache.create_replication_group(
        ReplicationGroupId=d.name, ReplicationGroupDescription="someone else's", CacheNodeType="cache.t4g.micro",
        Tags=[{"Key": TAG_ENVIRONMENT, "Value": "other/env"}, {"Key": TAG_UID, "Value": "uid-9"}])
    observed = client(emulator).observe(d)
    assert (observed.owner_environment, observed.owner) == ("other/env", "uid-9")
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to other/env" in action.message

    untagged = desired(outputs, "dev", env=EnvironmentRef("analytics", "plain", "uid-3"))
    elasticache.create_replication_group(ReplicationGroupId=untagged.name, ReplicationGroupDescription="by hand",
                                         CacheNodeType="cache.t4g.micro")
    observed = client(emulator).observe(untagged)
    assert observed.exists and observed.owner_environment is None
    assert "not managed by aenv" in decide(ENV, untagged, observed).message
