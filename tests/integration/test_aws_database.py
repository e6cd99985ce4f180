"""The RDS DB instance client (kind rds.db_instance) against moto in server mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws import session
from aenv.aws.component import AwsTarget
from aenv.aws.rds_db_instance import KIND, TAG_SECRET_VERSION, RdsDbInstances, final_snapshot_name
from aenv.local.emulator import CREDENTIALS, AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import database
from aenv.plan.actions import decide
from aenv.plan.types import Desired, Sensitive

ENV = EnvironmentRef("analytics", "defi", "uid-1")
PASSWORD = Sensitive("first-Password-0123456789")
Outputs = dict[str, dict[str, Any]]



@pytest.fixture
def outputs(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> Outputs:
    """A fresh account holding what the database refers to, as the network, encryption and secrets components
    output it. The client gets the emulator's credentials from the environment, as the operator does."""
    emulator.reset()
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    ec2, kms, rds = emulator.client("ec2"), emulator.client("kms"), emulator.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    sg = ec2.create_security_group(GroupName="database", Description="database", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="aenv-analytics-defi-database",
                               DBSubnetGroupDescription="database", SubnetIds=subnets)
    key = kms.create_key()["KeyMetadata"]
    return {
        "network/sg/database": {"id": sg, "arn": f"arn:aws:ec2:us-east-1:123456789012:security-group/{sg}"},
        "network/subnets/database": {"name": "aenv-analytics-defi-database"},
        "kms/key": {"id": key["KeyId"], "arn": key["Arn"]},
        "secret/database": {"arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:database",
                            "username": "aenv", "password": PASSWORD, "version": "v1"},
    }


def desired(outputs: Outputs, tier: str = "prod", env: EnvironmentRef = ENV, **db_spec: object) -> Desired:
    """The planner's instance with every Ref resolved, as the reconcile loop hands it to the client."""
    spec = EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, "database": db_spec})
    [instance] = database.plan(env, effective(spec))
    resolved = instance.resolve(outputs)
    assert resolved is not None
    return resolved


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with: the inventory's kind, key and name, no parameters."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def client(emulator: AwsEmulator) -> RdsDbInstances:
    return RdsDbInstances(AwsTarget(region="us-east-1", endpoint=emulator.url))


def described(emulator: AwsEmulator, name: str) -> dict[str, Any]:
    instance: dict[str, Any] = emulator.client("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return instance


def instances(emulator: AwsEmulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = emulator.client("rds").describe_db_instances()["DBInstances"]
    return found


def tags_of(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("TagList", [])}


@pytest.fixture
def requests(emulator: AwsEmulator) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The parameters of each RDS request the clients send, seen through botocore's own event hooks."""
    sent: dict[str, list[dict[str, Any]]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.setdefault(model.name, []).append(dict(params))

    events = session.client("rds", "us-east-1", emulator.url).meta.events
    events.register("provide-client-params.rds", record, unique_id="aenv-test-record")
    try:
        yield sent
    finally:
        events.unregister("provide-client-params.rds", unique_id="aenv-test-record")


def test_create_then_observe(emulator: AwsEmulator, outputs: Outputs,
                             requests: dict[str, list[dict[str, Any]]]) -> None:
    d = desired(outputs)
    assert d.kind == KIND
    dbs = client(emulator)
    assert not dbs.observe(d).exists
    made = dbs.create(d)
    assert made.exists and made.ready and made.up_to_date, made.diff
    assert (made.owner, made.owner_environment, made.state) == ("uid-1", "analytics/defi", "available")
    assert made.outputs["id"] == d.name == "aenv-analytics-defi-database"
    assert made.outputs["arn"] == f"arn:aws:rds:us-east-1:123456789012:db:{d.name}"
    assert made.outputs["endpoint"].startswith(f"{d.name}.") and made.outputs["port"] == 5432
    assert made.outputs["name"] == "analytics"
    assert decide(ENV, d, made).kind == "none"
    assert str(PASSWORD) not in repr(made)

    db = described(emulator, d.name)
    assert (db["Engine"], db["EngineVersion"], db["DBInstanceClass"]) == ("postgres", "16", "db.r6g.large")
    assert (db["AllocatedStorage"], db["StorageType"]) == (100, "gp3")
    assert db["StorageEncrypted"] and db["KmsKeyId"] == outputs["kms/key"]["arn"]
    assert db["MultiAZ"] and db["DeletionProtection"] and db["BackupRetentionPeriod"] == 30
    assert (db["DBName"], db["MasterUsername"]) == ("analytics", "aenv")
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [outputs["network/sg/database"]["id"]]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "aenv-analytics-defi-database"
    assert not db["PubliclyAccessible"] and db["CopyTagsToSnapshot"]
    assert tags_of(db) == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "database",
                           TAG_SECRET_VERSION: "v1"}
    # RDS never returns the master password: check what was asked.
    assert requests["CreateDBInstance"][0]["MasterUserPassword"] == PASSWORD


def test_observe_again_finds_the_same_instance(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs, "staging")
    made = client(emulator).create(d)
    again = client(emulator).observe(d)
    assert again.exists and again.up_to_date and again.outputs == made.outputs
    # A crash between create and status write: the next create finds the instance instead of making another.
    raced = client(emulator).create(d)
    assert raced.exists and raced.outputs["arn"] == made.outputs["arn"]
    assert len(instances(emulator)) == 1


def test_update_of_mutable_fields(emulator: AwsEmulator, outputs: Outputs) -> None:
    dbs = client(emulator)
    dbs.create(desired(outputs, "staging"))
    changed = desired(outputs, "staging", engineVersion="16.4", instanceClass="db.r6g.large", storageGiB=80,
                      multiAZ=True, backupRetentionDays=7, deletionProtection=True)
    observed = dbs.observe(changed)
    assert not observed.immutable
    assert observed.diff == {
        "DBInstanceClass": ("db.t4g.medium", "db.r6g.large"), "AllocatedStorage": (50, 80), "MultiAZ": (False, True),
        "BackupRetentionPeriod": (3, 7), "DeletionProtection": (False, True), "EngineVersion": ("16", "16.4")}
    assert decide(ENV, changed, observed).kind == "update"
    assert dbs.update(changed, observed).up_to_date
    db = described(emulator, changed.name)
    assert (db["DBInstanceClass"], db["AllocatedStorage"], db["MultiAZ"], db["BackupRetentionPeriod"],
            db["DeletionProtection"], db["EngineVersion"]) == ("db.r6g.large", 80, True, 7, True, "16.4")
    assert client(emulator).observe(changed).up_to_date
    # An older minor version than the instance runs is not a change (RDS upgrades minor versions by itself).
    assert client(emulator).observe(desired(outputs, "staging", engineVersion="16.2", instanceClass="db.r6g.large",
                                            storageGiB=80, multiAZ=True, backupRetentionDays=7,
                                            deletionProtection=True)).up_to_date


def test_password_rotation_follows_the_secret_version(emulator: AwsEmulator, outputs: Outputs,
                                                      requests: dict[str, list[dict[str, Any]]]) -> None:
    dbs = client(emulator)
    dbs.create(desired(outputs, "dev"))
    new_password = Sensitive("second-Password-0123456789")
    rotated = desired({**outputs, "secret/database": {**outputs["secret/database"], "password": new_password,
                                                      "version": "v2"}}, "dev")
    observed = dbs.observe(rotated)
    assert observed.diff == {"password_version": ("v1", "v2")}
    assert str(new_password) not in repr(observed)
    assert dbs.update(rotated, observed).up_to_date
    assert tags_of(described(emulator, rotated.name))[TAG_SECRET_VERSION] == "v2"
    [modify] = requests["ModifyDBInstance"]
    assert (modify["MasterUserPassword"], modify["ApplyImmediately"]) == (new_password, True)


def test_immutable_changes_are_reported(emulator: AwsEmulator, outputs: Outputs) -> None:
    dbs = client(emulator)
    dbs.create(desired(outputs, "staging", engineVersion="16"))
    other_key = emulator.client("kms").create_key()["KeyMetadata"]
    cases: list[tuple[Outputs, dict[str, Any], str]] = [
        (outputs, {"storageGiB": 20}, "storage_gib (RDS storage cannot shrink)"),
        (outputs, {"databaseName": "other"}, "db_name"),
        (outputs, {"engineVersion": "15"}, "engine_version (a major version cannot be downgraded)"),
        ({**outputs, "kms/key": {"id": other_key["KeyId"], "arn": other_key["Arn"]}}, {}, "kms_key"),
        ({**outputs, "secret/database": {**outputs["secret/database"], "username": "root"}}, {}, "master_username"),
        ({**outputs, "network/subnets/database": {"name": "elsewhere"}}, {}, "subnet_group"),
    ]
    for given, change, field in cases:
        d = desired(given, "staging", **change)
        observed = dbs.observe(d)
        assert observed.immutable == (field,), change
        assert decide(ENV, d, observed).kind == "conflict"


def test_major_upgrade_is_allowed_explicitly(emulator: AwsEmulator, outputs: Outputs,
                                             requests: dict[str, list[dict[str, Any]]]) -> None:
    dbs = client(emulator)
    dbs.create(desired(outputs, "staging", engineVersion="16"))
    upgrade = desired(outputs, "staging", engineVersion="17")
    observed = dbs.observe(upgrade)
    assert observed.diff == {"EngineVersion": ("16", "17")}
    assert dbs.update(upgrade, observed).up_to_date
    [modify] = requests["ModifyDBInstance"]
    assert (modify["EngineVersion"], modify["AllowMajorVersionUpgrade"]) == ("17", True)
    assert described(emulator, upgrade.name)["EngineVersion"] == "17"


def test_drift_is_detected_and_corrected(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs, "staging")
    dbs = client(emulator)
    made = dbs.create(d)
    rds = emulator.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=d.name, PubliclyAccessible=True, BackupRetentionPeriod=0,
                           CopyTagsToSnapshot=False, ApplyImmediately=True)
    rds.remove_tags_from_resource(ResourceName=made.outputs["arn"], TagKeys=[TAG_COMPONENT])
    dbs.instances.expire()
    drifted = dbs.observe(d)
    assert set(drifted.diff) == {"PubliclyAccessible", "BackupRetentionPeriod", "CopyTagsToSnapshot", "tags"}
    assert dbs.update(d, drifted).up_to_date
    db = described(emulator, d.name)
    assert (db["PubliclyAccessible"], db["BackupRetentionPeriod"], db["CopyTagsToSnapshot"]) == (False, 3, True)
    assert tags_of(db)[TAG_COMPONENT] == "database"
    assert client(emulator).observe(d).up_to_date


def test_snapshot_policy_lifts_deletion_protection_and_keeps_a_final_snapshot(emulator: AwsEmulator,
                                                                              outputs: Outputs) -> None:
    d = desired(outputs)  # prod: deletion protection on
    dbs = client(emulator)
    dbs.create(d)
    observed = dbs.observe(lookup(d))
    dbs.delete(lookup(d), observed, "Snapshot")
    assert not dbs.observe(lookup(d)).exists  # moto deletes at once; AWS reports "deleting" for minutes
    assert instances(emulator) == []
    name = final_snapshot_name(d.name, "uid-1")
    assert name.startswith(f"{d.name}-final-")
    [snapshot] = emulator.client("rds").describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"]
    assert snapshot["Status"] == "available" and snapshot["DBInstanceIdentifier"] == d.name
    assert snapshot["Encrypted"] and snapshot["KmsKeyId"] == outputs["kms/key"]["arn"]


def test_delete_policy_deletes_without_snapshot(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs, "prod")
    dbs = client(emulator)
    dbs.create(d)
    dbs.delete(lookup(d), dbs.observe(lookup(d)), "Delete")
    assert not dbs.observe(lookup(d)).exists and instances(emulator) == []
    assert emulator.client("rds").describe_db_snapshots()["DBSnapshots"] == []


def test_retain_keeps_the_instance_protected_and_released(emulator: AwsEmulator, outputs: Outputs) -> None:
    d = desired(outputs)
    dbs = client(emulator)
    dbs.create(d)
    dbs.delete(lookup(d), dbs.observe(lookup(d)), "Retain")
    db = described(emulator, d.name)
    assert db["DBInstanceStatus"] == "available" and db["DeletionProtection"]
    assert tags_of(db)[TAG_RELEASED] == "true"

    successor = EnvironmentRef("analytics", "defi", "uid-2")
    again = desired(outputs, env=successor)
    observed = client(emulator).observe(again)
    assert decide(successor, again, observed).kind == "adopt"
    adopted = dbs.update(again, observed)
    assert adopted.up_to_date and adopted.owner == "uid-2"
    assert TAG_RELEASED not in tags_of(described(emulator, d.name))


def test_an_instance_of_another_environment_is_reported_by_its_owner_tags(emulator: AwsEmulator,
                                                                          outputs: Outputs) -> None:
    d = desired(outputs, "dev")
    emulator.client("rds").create_db_instance(
        DBInstanceIdentifier=d.name, DBInstanceClass="db.t4g.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="someone", MasterUserPassword="someone-else-0123",
        Tags=[{"Key": TAG_ENVIRONMENT, "Value": "other/env"}, {"Key": TAG_UID, "Value": "uid-9"}])
    observed = client(emulator).observe(d)
    assert (observed.owner_environment, observed.owner) == ("other/env", "uid-9")
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to other/env" in action.message
