"""A new environment from an RDS DB snapshot, with real PostgreSQL data (the emulator's data plane): rows written into
an environment's database, a DB snapshot of it, `aenv restore ENV --from <snapshot> --to NEW-ENV` -> NEW-ENV Ready
with its own key and password, and the same rows; a snapshot that does not exist is named in the condition."""

from __future__ import annotations

import psycopg
import pytest
from kubernetes.client.exceptions import ApiException

from aenv.api import EnvironmentSpec, effective
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.naming import EnvironmentRef
from aenv.plan import database

from .conftest import Operator
from .kube import Kube
from .test_backups import ROWS, aenv, database_url
from .test_backups import backups_operator as backups_operator  # an operator of this module's own
from .test_backups import namespace as namespace
from .test_data_plane import emulator as emulator  # an emulator of this module's own, with the data plane on

pytestmark = pytest.mark.integration
SPEC = {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"}, "database": {"engineVersion": "16"}}
SNAPSHOT = "src-before-launch"


def instance(namespace: str, name: str, uid: str) -> str:
    return database.plan(EnvironmentRef(namespace, name, uid), effective(EnvironmentSpec.model_validate(SPEC)))[0].name


def key_arn(emulator: AwsEmulator, namespace: str, name: str) -> str:
    kms = emulator.client("kms")
    [alias] = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/aenv-{namespace}-{name}"]
    return str(kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"])


def test_a_new_environment_from_a_snapshot(kube: Kube, emulator: AwsEmulator, backups_operator: Operator,
                                           namespace: str) -> None:
    ns, op, rds = namespace, backups_operator, emulator.client("rds")
    src = kube.create_env(ns, "src", SPEC)
    kube.wait_condition(ns, "src", "Ready", timeout=120)
    with psycopg.connect(database_url(kube, ns, "src"), connect_timeout=5) as conn:
        conn.execute("CREATE TABLE trades (id int PRIMARY KEY, symbol text NOT NULL, price double precision)")
        conn.cursor().executemany("INSERT INTO trades VALUES (%s, %s, %s)", ROWS)
    rds.create_db_snapshot(DBInstanceIdentifier=instance(ns, "src", src["metadata"]["uid"]),
                           DBSnapshotIdentifier=SNAPSHOT)

    done = aenv(op, "restore", "src", "-n", ns, "--from", SNAPSHOT, "--to", "dst")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Ready in" in done.stdout
    print(done.stdout.strip().splitlines()[-1])
    dst = kube.get_env(ns, "dst")
    assert dst["spec"]["database"]["fromSnapshot"] == SNAPSHOT
    assert {k: v for k, v in dst["spec"].items() if k != "database"} == {k: v for k, v in SPEC.items()
                                                                          if k != "database"}

    # The same rows, reached with the new environment's own password on its own instance and key.
    src_url, dst_url = database_url(kube, ns, "src"), database_url(kube, ns, "dst")
    assert src_url.split("@")[0] != dst_url.split("@")[0] and src_url.split("@")[1] != dst_url.split("@")[1]
    with psycopg.connect(dst_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT id, symbol, price FROM trades ORDER BY id").fetchall() == ROWS
        conn.execute("DELETE FROM trades")
    with psycopg.connect(src_url, connect_timeout=5) as conn:  # a copy: the source keeps its rows
        assert conn.execute("SELECT count(*) FROM trades").fetchone() == (len(ROWS),)
    [restored] = rds.describe_db_instances(DBInstanceIdentifier=instance(ns, "dst", dst["metadata"]["uid"]))[
        "DBInstances"]
    assert restored["StorageEncrypted"] and restored["KmsKeyId"] == key_arn(emulator, ns, "dst")

    # The copy under the new environment's key is deleted once the instance is available; the snapshot stays.
    def snapshots() -> set[str]:
        return {s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}

    wait_for(lambda: snapshots() == {SNAPSHOT}, 30, "the restore's copy of the snapshot deleted")
    password = dst_url.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr + op.log_text() + str(kube.get_env(ns, "dst")["status"])

    # Created once: the field cannot change, and a target that exists is refused.
    with pytest.raises(ApiException) as refused:
        kube.patch_spec(ns, "dst", {"database": {"fromSnapshot": "another-snapshot"}})
    assert refused.value.status == 422 and "fromSnapshot is immutable" in str(refused.value.body)
    again = aenv(op, "restore", "src", "-n", ns, "--from", SNAPSHOT, "--to", "dst")
    assert again.returncode != 0 and f"{ns}/dst already exists" in again.stderr


def test_a_snapshot_that_does_not_exist_is_named(kube: Kube, emulator: AwsEmulator, backups_operator: Operator,
                                                 namespace: str) -> None:
    ns, op = namespace, backups_operator
    kube.create_env(ns, "src", SPEC)
    done = aenv(op, "restore", "src", "-n", ns, "--from", "no-such-snapshot", "--to", "dst")
    assert done.returncode == 1, done.stderr + done.stdout
    assert "DBSnapshotNotFound" in done.stdout and "describe-db-snapshots" in done.stdout
    condition = kube.condition(kube.get_env(ns, "dst"), "DatabaseReady")
    assert condition is not None and (condition["status"], condition["reason"]) == ("False", "DBSnapshotNotFound")
    assert "spec.database.fromSnapshot: there is no DB snapshot no-such-snapshot in us-east-1" in condition["message"]
