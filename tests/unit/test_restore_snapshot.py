"""A database created from an RDS DB snapshot: the field, the plan, and what decides the copy and the refusals."""

import pytest
from pydantic import ValidationError

from aenv.ack.rds_db_instance import DbInstances
from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.aws.errors import AwsError
from aenv.aws.restore import copy_name, needs_copy, refusal, snapshot_name
from aenv.backups import cli
from aenv.naming import EnvironmentRef
from aenv.plan import database

ENV = EnvironmentRef("analytics", "defi", "uid-1")
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"


def spec(**db: object) -> EnvironmentSpec:
    return EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"}, "database": db})


@pytest.mark.parametrize("snapshot", [
    "defi-before-launch", "aenv-analytics-defi-database-final-1a2b3c4d", "rds:aenv-analytics-defi-2026-12-01-05-10",
    "arn:aws:rds:us-east-1:123456789012:snapshot:defi-before-launch",
])
def test_from_snapshot_takes_identifiers_and_arns(snapshot: str) -> None:
    assert spec(fromSnapshot=snapshot).database.from_snapshot == snapshot  # type: ignore[union-attr]


@pytest.mark.parametrize("snapshot", ["", "1-starts-with-a-digit", "has space", "s3://bucket/defi/x.dump",
                                      "defi/20261201T000000Z.dump"])
def test_from_snapshot_refuses_what_is_no_snapshot(snapshot: str) -> None:
    with pytest.raises(ValidationError, match=r"from_?[sS]napshot"):
        spec(fromSnapshot=snapshot)


def test_the_plan_carries_the_snapshot_only_when_asked() -> None:
    [plain] = database.plan(ENV, effective(spec()))
    [restored] = database.plan(ENV, effective(spec(fromSnapshot="defi-before-launch")))
    assert "from_snapshot" not in plain.params
    assert restored.params["from_snapshot"] == "defi-before-launch"
    assert {k: v for k, v in restored.params.items() if k != "from_snapshot"} == plain.params


def test_an_arn_names_its_snapshot() -> None:
    assert snapshot_name("arn:aws:rds:us-east-1:123456789012:snapshot:defi-1") == "defi-1"
    assert snapshot_name("rds:defi-2026-12-01-05-10") == "rds:defi-2026-12-01-05-10"


def test_the_copy_is_named_after_the_instance_and_the_snapshot() -> None:
    name = copy_name("aenv-analytics-defi2-database", "defi-1")
    assert name.startswith("aenv-analytics-defi2-database-restore-") and len(name) <= 255
    assert name == copy_name("aenv-analytics-defi2-database", "arn:aws:rds:us-east-1:1:snapshot:defi-1")
    assert name != copy_name("aenv-analytics-defi2-database", "defi-2")


def test_a_snapshot_under_another_key_or_none_is_copied_first() -> None:
    assert needs_copy({"Encrypted": True, "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/other"}, KEY)
    assert needs_copy({"Encrypted": False}, KEY)
    assert not needs_copy({"Encrypted": True, "KmsKeyId": "1111-2222"}, KEY)


def test_refusals_name_the_field() -> None:
    assert refusal("s", {"Engine": "postgres", "AllocatedStorage": 20}, 20) is None
    mysql = refusal("s", {"Engine": "mysql", "AllocatedStorage": 20}, 20)
    assert mysql is not None and "spec.database.fromSnapshot" in mysql and "mysql" in mysql
    large = refusal("s", {"Engine": "postgres", "AllocatedStorage": 100}, 20)
    assert large is not None and large.startswith("spec.database.storageGiB: 20 GiB") and "100 GiB" in large


def test_what_restore_takes_for_a_backup_and_for_a_snapshot() -> None:
    assert cli.is_backup("latest") and cli.is_backup("defi/20261201T000000Z.dump")
    assert not cli.is_backup("defi-before-launch") and not cli.is_backup("rds:defi-2026-12-01-05-10")


def test_the_new_environment_takes_the_spec_and_nothing_of_the_source_s_identity() -> None:
    source = {
        "apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
        "metadata": {"name": "defi", "namespace": "analytics", "uid": "u", "resourceVersion": "7", "generation": 3,
                     "labels": {"app.kubernetes.io/instance": "argo-app"}, "annotations": {"a": "b"},
                     "finalizers": ["aenv.dev/finalizer"]},
        "spec": {"tier": "prod", "aws": {"region": "us-east-1"},
                 "database": {"databaseName": "trades", "fromSnapshot": "older"},
                 "gateway": {"workload": "api", "domain": {"name": "ws.example.com", "certificateArn": "arn:aws:acm:"}},
                 "workloads": [{"name": "api", "image": "api:1"}]},
        "status": {"phase": "Ready"},
    }
    new = cli.restored_environment(source, "defi-restored", "defi-before-launch")
    assert new["metadata"] == {"name": "defi-restored", "namespace": "analytics"} and "status" not in new
    assert new["spec"]["database"] == {"databaseName": "trades", "fromSnapshot": "defi-before-launch"}
    assert new["spec"]["gateway"] == {"workload": "api"}  # a domain name serves one API
    assert new["spec"]["workloads"] == source["spec"]["workloads"]  # type: ignore[index]
    assert source["spec"]["database"]["fromSnapshot"] == "older"  # type: ignore[index]  # the source is untouched
    EnvironmentSpec.model_validate(new["spec"])


def env_with(generation: int, observed: int, *conditions: tuple[str, str, str]) -> dict[str, object]:
    return {"metadata": {"generation": generation},
            "status": {"observedGeneration": observed,
                       "conditions": [{"type": t, "status": s, "reason": r, "message": "m"} for t, s, r in conditions]}}


def test_the_wait_ends_when_ready_or_when_the_snapshot_is_refused() -> None:
    assert cli.snapshot_outcome({"metadata": {"generation": 1}}) is None
    assert cli.snapshot_outcome(env_with(1, 1, ("Ready", "False", "Provisioning"),
                                         ("DatabaseReady", "False", "Provisioning"))) is None
    assert cli.snapshot_outcome(env_with(2, 1, ("Ready", "True", "Ready"))) is None  # an older generation's
    assert cli.snapshot_outcome(env_with(1, 1, ("Ready", "True", "Ready"))) == (True, "Ready")
    assert cli.snapshot_outcome(env_with(1, 1, ("Ready", "False", "Failed"),
                                         ("DatabaseReady", "False", "DBSnapshotNotFound"))) == (
        False, "DBSnapshotNotFound: m")


def test_mode_ack_refuses_a_snapshot_before_writing_anything() -> None:
    [db] = database.plan(ENV, effective(spec(fromSnapshot="defi-before-launch")))
    with pytest.raises(AwsError) as refused:
        DbInstances(AwsTarget("us-east-1")).create(db)  # raises before it would reach a cluster
    assert refused.value.code == "NotImplemented"
    assert "spec.database.fromSnapshot (defi-before-launch)" in str(refused.value)
