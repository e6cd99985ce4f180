"""Migrations as a rollout gate, against the environment's own database (the emulator's data plane: a real
PostgreSQL behind the RDS instance): a revision's migrations run before its first traffic step, a failing one
aborts the rollout before any traffic, an abort reverts what the revision applied, and in tier prod an RDS snapshot
of the database is taken before the migrations run."""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client, watch
from urllib3.exceptions import ProtocolError

from aenv.api import EnvironmentSpec, effective
from aenv.local.dataplane import postgres_bin
from aenv.local.emulator import AwsEmulator
from aenv.migrations.snapshot import snapshot_name
from aenv.naming import EnvironmentRef

from .conftest import Operator, fresh_namespace
from .kube import Kube
from .test_data_plane import emulator
from .test_rollouts import cli, replica_sets, rollout_of, status_of, wait_env

pytestmark = pytest.mark.integration

__all__ = ["emulator"]  # an emulator of the module's own with the data plane on

ENV, WORKLOAD, TIMEOUT = "rt", "web", 60.0
USERS = {"0001_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);",
         "0001_users.down.sql": "DROP TABLE users;"}
EVENTS = {"0002_events.up.sql": "CREATE TABLE events (id bigint, user_id bigint REFERENCES users);",
          "0002_events.down.sql": "DROP TABLE events;"}
BROKEN = {"0003_broken.up.sql": "CREATE INDEX events_user ON events (user_id);\nSELECT * FROM nowhere;",
          "0003_broken.down.sql": "DROP INDEX events_user;"}


@pytest.fixture(scope="module")
def gate_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                  emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("operator-migration-gate"), kubeconfig, emulator,
                  prefix="aenv-migrate-gate-") as op:
        yield op


@pytest.fixture
def ns(kube: Kube, emulator: AwsEmulator, gate_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, gate_operator)


class CanaryScale:
    """Watches the workload's ReplicaSets; the first time a revision other than `stable` is scaled up, reads
    schema_migrations right then."""

    def __init__(self, kube: Kube, namespace: str, stable: str, url: str) -> None:
        self.versions_when_scaled: list[int] | None = None
        self.scaled = threading.Event()
        self._watch, self._args = watch.Watch(), (kube, namespace, stable, url)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        kube, namespace, stable, url = self._args
        apps = client.AppsV1Api(kube.core.api_client)
        try:
            for event in self._watch.stream(apps.list_namespaced_replica_set, namespace, timeout_seconds=120):
                rs = event["object"]
                revision = (rs.metadata.labels or {}).get("aenv.dev/revision")
                if revision not in (None, stable) and (rs.spec.replicas or 0) > 0 and not self.scaled.is_set():
                    self.versions_when_scaled = versions(url)
                    self.scaled.set()
        except ProtocolError:  # the API server ends the stream once the test is over
            return

    def __enter__(self) -> CanaryScale:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._watch.stop()


def spec(image: str = "example/web:1", tier: str = "dev") -> dict[str, Any]:
    return {"tier": tier, "aws": {"region": "us-east-1", "mode": "boto3"}, "deletionPolicy": "Delete",
            "database": {"engineVersion": "16", "deletionProtection": False,
                         "migrations": {"configMap": {"name": "migrations"}}},
            "workloads": [{"name": WORKLOAD, "image": image, "replicas": 2}],
            "rollout": {"strategy": "canary", "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}


def set_migrations(kube: Kube, namespace: str, data: dict[str, str]) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="migrations"), data=data)
    try:
        kube.core.replace_namespaced_config_map("migrations", namespace, body)
    except client.ApiException as e:
        if e.status != 404:
            raise
        kube.core.create_namespaced_config_map(namespace, body)


def database_url(kube: Kube, namespace: str) -> str:
    secret = kube.core.read_namespaced_secret(f"{ENV}-connection", namespace)
    return base64.b64decode(secret.data["DATABASE_URL"]).decode()


def versions(url: str) -> list[int]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def tables(url: str) -> set[str]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return {t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def deployed(kube: Kube, namespace: str, tier: str = "dev") -> tuple[str, str]:
    """The environment with 0001 applied by its first deployment: (the stable revision, DATABASE_URL)."""
    set_migrations(kube, namespace, USERS)
    kube.create_env(namespace, ENV, spec(tier=tier))
    env = kube.wait_condition(namespace, ENV, "Ready", timeout=TIMEOUT)
    url = database_url(kube, namespace)
    assert versions(url) == [1]
    assert rollout_of(env)["migration"]["phase"] == "Applied"
    return status_of(env)["stable"], url


def roll(kube: Kube, namespace: str, image: str) -> None:
    kube.patch_spec(namespace, ENV, {"workloads": [{"name": WORKLOAD, "image": image, "replicas": 2}]})


def migration(env: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = rollout_of(env).get("migration") or {}
    return found


def test_a_canary_migrates_before_its_first_traffic_step(kube: Kube, ns: str) -> None:
    stable, url = deployed(kube, ns)
    set_migrations(kube, ns, {**USERS, **EVENTS})
    with CanaryScale(kube, ns, stable, url) as watched:
        roll(kube, ns, "example/web:2")
        env = wait_env(kube, ns, lambda e: rollout_of(e).get("phase") == "Paused", "the pause step", TIMEOUT)
        assert watched.scaled.wait(10)
    assert watched.versions_when_scaled == [1, 2]  # applied before the canary got a pod, so before any weight
    assert migration(env)["phase"] == "Applied" and migration(env)["fromVersion"] == 1
    assert migration(env)["toVersion"] == 2 and "configMap/migrations@" in migration(env)["source"]
    assert "events" in tables(url)
    assert "MigrationsApplied" in {e.reason for e in kube.events(ns, ENV)}


def test_a_canary_whose_migration_fails_never_gets_traffic(kube: Kube, ns: str) -> None:
    stable, url = deployed(kube, ns)
    set_migrations(kube, ns, {**USERS, **EVENTS, **BROKEN})
    roll(kube, ns, "example/web:2")
    env = wait_env(kube, ns, lambda e: migration(e).get("phase") == "Reverted", "the migrations reverted",
                   TIMEOUT)
    rollout = rollout_of(env)
    assert rollout["phase"] == "Aborted" and rollout["abortReason"] == "MigrationFailed"
    assert rollout.get("weight", 0) == 0
    condition = kube.condition(env, "WorkloadsReady") or {}
    assert condition["status"] == "False"
    assert "0003_broken" in condition["message"] and 'relation "nowhere" does not exist' in condition["message"]
    assert {rev: n for rev, (n, _) in replica_sets(kube, ns).items() if rev != stable and n} == {}
    # 0003 rolled back by its transaction (no index), 0002 reverted by its down migration
    assert versions(url) == [1] and tables(url) == {"users", "schema_migrations"}
    events = {e.reason: e.message for e in kube.events(ns, ENV)}
    assert "0003_broken" in events["MigrationFailed"] and "MigrationsReverted" in events
    password = url.split(":")[2].split("@")[0]
    assert password not in str(env["status"]) and password not in " ".join(events.values())


def test_aborting_after_the_migrations_ran_runs_the_down_migrations(kube: Kube, ns: str,
                                                                    gate_operator: Operator) -> None:
    _, url = deployed(kube, ns)
    set_migrations(kube, ns, {**USERS, **EVENTS})
    roll(kube, ns, "example/web:2")
    wait_env(kube, ns, lambda e: rollout_of(e).get("phase") == "Paused", "the pause step", TIMEOUT)
    assert versions(url) == [1, 2]
    cli(gate_operator, "abort", ENV, "-n", ns, "--workload", WORKLOAD)
    env = wait_env(kube, ns, lambda e: migration(e).get("phase") == "Reverted", "the migrations reverted",
                   TIMEOUT)
    assert rollout_of(env)["phase"] == "Aborted" and migration(env)["toVersion"] == 1
    assert versions(url) == [1] and "events" not in tables(url)


def test_a_prod_canary_snapshots_the_database_before_its_migrations(kube: Kube, emulator: AwsEmulator,
                                                                     ns: str) -> None:
    stable, url = deployed(kube, ns, "prod")
    set_migrations(kube, ns, {**USERS, **EVENTS})
    roll(kube, ns, "example/web:2")
    env = wait_env(kube, ns, lambda e: rollout_of(e).get("phase") == "Paused", "the pause step", TIMEOUT)
    canary = migration(env)["revision"]
    assert migration(env)["phase"] == "Applied" and versions(url) == [1, 2]
    ref = EnvironmentRef(ns, ENV, env["metadata"]["uid"])
    instance, name = snapshot_name(ref, effective(EnvironmentSpec.model_validate(spec(tier="prod"))), canary)
    assert name == f"{instance}-pre-migrate-{canary}"
    rds = emulator.client("rds")
    taken = rds.describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="manual")["DBSnapshots"]
    assert {s["DBSnapshotIdentifier"]: s["Status"] for s in taken} == {
        f"{instance}-pre-migrate-{stable}": "available", name: "available"}  # the first deployment's too
    # What the snapshot holds (the emulator's pg_dump of the database): schema_migrations before 0002 ran.
    assert snapshot_versions(emulator, name) == [1]


def snapshot_versions(emulator: AwsEmulator, snapshot: str) -> list[int]:
    """schema_migrations' versions in the dump the emulator took for the DB snapshot."""
    [dump] = (emulator.data_plane_dir / "snapshots").glob(f"{snapshot}-*.dump")
    sql = subprocess.run([str(postgres_bin() / "pg_restore"), "--data-only", "--table=schema_migrations",
                          "--file=-", str(dump)], capture_output=True, text=True, check=True, timeout=30).stdout
    rows = sql.split("COPY public.schema_migrations", 1)[1].split("\n", 1)[1].split("\n\\.\n", 1)[0]
    return [int(line.split("\t", 1)[0]) for line in rows.splitlines() if line]
