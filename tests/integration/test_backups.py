"""Backups with real PostgreSQL data (the emulator's data plane): rows written into an environment's database,
`aenv backup` -> an SSE-KMS object in moto's S3 -> `aenv restore` into a second environment's database -> the same
rows; the restore drill passes on a good backup and fails loudly on a corrupt one."""

from __future__ import annotations

import base64
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aenv.local.emulator import AwsEmulator

from .conftest import Operator, fresh_namespace
from .kube import Kube
from .test_data_plane import emulator as emulator  # an emulator of this module's own, with the data plane on

pytestmark = pytest.mark.integration
ROWS = [(1, "BTC", 64000.5), (2, "ETH", 3100.25), (3, "SOL", 145.0)]


@pytest.fixture(scope="module")
def backups_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                     emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("operator-backups"), kubeconfig, emulator, prefix="aenv-backups-",
                  env={"AENV_BACKUP_POLL_SECONDS": "1"}) as op:
        yield op


@pytest.fixture
def namespace(kube: Kube, emulator: AwsEmulator, backups_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, backups_operator)


def spec(tables: list[str]) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
            "database": {"engineVersion": "16", "restoreDrill": {"tables": tables}}}


def database_url(kube: Kube, namespace: str, name: str) -> str:
    secret = kube.core.read_namespaced_secret(f"{name}-connection", namespace)
    return base64.b64decode(secret.data["DATABASE_URL"]).decode()


def aenv(operator: Operator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aenv", *args], env=operator.env, capture_output=True, text=True,
                          timeout=120)


def metric(operator: Operator, name: str, namespace: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and f'namespace="{namespace}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def test_backup_restore_and_the_drill(kube: Kube, emulator: AwsEmulator, backups_operator: Operator,
                                      namespace: str) -> None:
    ns, op = namespace, backups_operator
    kube.create_env(ns, "src", spec(["trades"]))
    kube.create_env(ns, "dst", spec([]))
    src = kube.wait_condition(ns, "src", "Ready", timeout=120)
    kube.wait_condition(ns, "dst", "Ready", timeout=120)
    with psycopg.connect(database_url(kube, ns, "src"), connect_timeout=5) as conn:
        conn.execute("CREATE TABLE trades (id int PRIMARY KEY, symbol text NOT NULL, price double precision)")
        conn.cursor().executemany("INSERT INTO trades VALUES (%s, %s, %s)", ROWS)

    # A backup now: an object under <env>/, encrypted with the environment's key, no credentials in the output.
    done = aenv(op, "backup", "src", "-n", ns)
    assert done.returncode == 0, done.stderr + done.stdout
    status = kube.get_env(ns, "src")["status"]["backups"]
    bucket, key = status["bucket"], status["lastBackup"]["key"]
    assert bucket == f"aenv-{ns}-src-backups" and key.startswith("src/") and key.endswith(".dump")
    s3, kms = emulator.client("s3"), emulator.client("kms")
    head = s3.head_object(Bucket=bucket, Key=key)
    [alias] = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/aenv-{ns}-src"]
    key_arn = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"]
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    assert head["ContentLength"] == status["lastBackup"]["bytes"] > 0
    password = database_url(kube, ns, "src").split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr + op.log_text() + str(kube.get_env(ns, "src")["status"])

    # Restored into the second environment's database: the same rows.
    done = aenv(op, "restore", "src", "-n", ns, "--from", key, "--to", "dst")
    assert done.returncode == 0, done.stderr + done.stdout
    with psycopg.connect(database_url(kube, ns, "dst"), connect_timeout=5) as conn:
        assert conn.execute("SELECT id, symbol, price FROM trades ORDER BY id").fetchall() == ROWS
    refused = aenv(op, "restore", "src", "-n", ns, "--from", "rds:some-snapshot", "--to", "dst")  # a snapshot
    assert refused.returncode != 0 and f"{ns}/dst already exists" in refused.stderr

    # The drill: the latest backup restored into a temporary database, trades checked, the copy dropped.
    done = aenv(op, "backup", "src", "-n", ns, "--drill")
    assert done.returncode == 0, done.stderr + done.stdout
    drill = kube.get_env(ns, "src")["status"]["backups"]["drill"]
    assert drill["outcome"] == "Succeeded" and drill["key"] == key and drill["tables"] == [
        {"name": "trades", "rows": len(ROWS)}]
    print(f"restore drill on the test data: {drill['seconds']:.2f} s")
    assert metric(op, "aenv_restore_drill_seconds", ns) == drill["seconds"]
    assert metric(op, "aenv_restore_drill_success", ns) == 1.0

    def drill_copies() -> list[Any]:
        with psycopg.connect(database_url(kube, ns, "src"), connect_timeout=5) as conn:
            return conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'aenv_drill_%'").fetchall()

    assert drill_copies() == []

    # A corrupt newest backup: the drill fails loudly (exit 1, condition, Warning Event, metric) and leaves no copy.
    s3.put_object(Bucket=bucket, Key="src/99991231T000000Z.dump", Body=b"PGDMP not really a dump")
    done = aenv(op, "backup", "src", "-n", ns, "--drill")
    assert done.returncode == 1, done.stdout
    env = kube.get_env(ns, "src")
    failed = kube.condition(env, "RestoreDrillSucceeded")
    assert failed is not None and (failed["status"], failed["reason"]) == ("False", "RestoreDrillFailed")
    assert "src/99991231T000000Z.dump" in failed["message"] and "pg_restore" in failed["message"]
    assert env["status"]["backups"]["drill"]["outcome"] == "Failed"
    event = kube.wait_event(ns, "src", "RestoreDrillFailed", timeout=30)
    assert event.type == "Warning"
    assert metric(op, "aenv_restore_drill_success", ns) == 0.0
    assert drill_copies() == []
    assert kube.condition(env, "Ready")["status"] == "True"  # type: ignore[index]  # provisioning is unaffected
    assert src["metadata"]["uid"] == env["metadata"]["uid"]
