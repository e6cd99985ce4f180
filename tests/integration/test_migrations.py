"""Migrations against a real PostgreSQL (aenv.local.dataplane): up, down, a failure in the middle, two runners at
once, an edited migration refused; and `aenv migrate` against the control plane."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kubernetes import client

from aenv.local.dataplane import PostgresServer, Tls
from aenv.local.processes import wait_for
from aenv.migrations import Result, parse
from aenv.migrations.runner import Runner

from .conftest import Operator
from .kube import Kube, rejected

PASSWORD = secrets.token_urlsafe(16)
SOURCE = {
    "0001_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n"
                         "INSERT INTO users VALUES (1, '100% real');",
    "0001_users.down.sql": "DROP TABLE users;",
    "0002_events.up.sql": "CREATE TABLE events (id bigint, user_id bigint REFERENCES users);",
    "0002_events.down.sql": "DROP TABLE events;",
    "0003_index.up.sql": "CREATE INDEX events_user ON events (user_id);",
    "0003_index.down.sql": "DROP INDEX events_user;",
}


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    directory = tmp_path_factory.mktemp("postgres")
    server = PostgresServer(directory / "server", Tls.make(directory), "aenv", PASSWORD, None).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    """A fresh database's URL, as the connection Secret's DATABASE_URL spells it."""
    name = f"m_{uuid.uuid4().hex[:8]}"
    with postgres.connect("postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return f"postgresql://aenv:{PASSWORD}@127.0.0.1:{postgres.port}/{name}?sslmode=require"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(sql.encode())
        return cursor.fetchall() if cursor.description else []


def tables(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def recorded(url: str) -> list[tuple[int, str]]:
    return [(v, n) for v, n in query(url, "SELECT version, name FROM schema_migrations ORDER BY version")]


def test_up_then_down_to_a_version(url: str) -> None:
    source, runner = parse(SOURCE), Runner(url)
    assert runner.up(source, to=2) == Result("up", ("0001_users", "0002_events"))
    assert runner.up(source) == Result("up", ("0003_index",))
    assert runner.up(source) == Result("up")
    assert recorded(url) == [(1, "users"), (2, "events"), (3, "index")]
    assert {c for (c,) in query(url, "SELECT checksum FROM schema_migrations")} == {m.checksum for m in source}
    assert [(r.migration, r.state) for r in runner.status(source)] == [
        ("0001_users", "applied"), ("0002_events", "applied"), ("0003_index", "applied")]

    assert runner.down(source) == Result("down", ("0003_index",))  # without --to: the latest one
    assert runner.down(source, to=0) == Result("down", ("0002_events", "0001_users"))
    assert recorded(url) == [] and tables(url) == {"schema_migrations"}
    assert [r.state for r in runner.status(source)] == ["pending"] * 3


def test_a_failure_in_the_middle_is_rolled_back_and_named(url: str) -> None:
    source = parse({**SOURCE, "0002_events.up.sql": "CREATE TABLE events (id bigint);\n"
                                                    "ALTER TABLE events ADD COLUMN user_id bigint REFERENCES nowhere;"})
    result = Runner(url).up(source)
    assert result.done == ("0001_users",) and result.failure is not None
    assert result.failure.migration == "0002_events" and not result.failure.refused
    assert result.failure.reason == 'relation "nowhere" does not exist [SQLSTATE 42P01]'
    assert tables(url) == {"schema_migrations", "users"}  # events' CREATE TABLE went with its transaction
    assert recorded(url) == [(1, "users")]  # and 0003 never ran
    assert PASSWORD not in "\n".join(result.lines())


def test_two_runners_never_interleave(url: str) -> None:
    """The first runner is held inside its first migration by a table lock; the second waits on the advisory lock
    and, once it has it, finds nothing left to apply."""
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE gate (); CREATE TABLE log (migration text)")
    source = parse({"1_one.up.sql": "LOCK TABLE gate IN SHARE MODE; INSERT INTO log VALUES ('one');",
                    "2_two.up.sql": "INSERT INTO log VALUES ('two');"})
    results: dict[str, Result] = {}

    def run(name: str) -> None:
        results[name] = Runner(url).up(source)

    def waiting_on(event: str) -> bool:
        sessions = query(url, "SELECT wait_event FROM pg_stat_activity WHERE application_name = 'aenv-migrate' "
                              "AND datname = current_database()")
        return (event,) in sessions

    with psycopg.connect(url) as gate:
        gate.execute("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE")
        first = threading.Thread(target=run, args=("first",))
        first.start()
        wait_for(lambda: waiting_on("relation"), 10, "the first runner to wait inside migration 1")
        second = threading.Thread(target=run, args=("second",))
        second.start()
        wait_for(lambda: waiting_on("advisory"), 10, "the second runner to wait on the advisory lock")
        gate.rollback()
    first.join(10)
    second.join(10)
    assert results == {"first": Result("up", ("1_one", "2_two")), "second": Result("up")}
    assert query(url, "SELECT migration FROM log") == [("one",), ("two",)]


def test_an_edited_migration_that_ran_is_refused(url: str) -> None:
    runner = Runner(url)
    runner.up(parse(SOURCE), to=2)
    edited = parse({**SOURCE, "0001_users.up.sql": SOURCE["0001_users.up.sql"] + "\nALTER TABLE users ADD age int;"})
    result = runner.up(edited)
    assert result.done == () and result.failure is not None and result.failure.refused
    assert result.failure.migration == "0001_users" and "was edited after it was applied" in result.failure.reason
    assert runner.down(edited).failure is None  # 0002 is unchanged: it can be reverted
    assert runner.down(edited, to=0).failure == result.failure
    query(url, "UPDATE schema_migrations SET checksum = 'tampered'")  # a record edited by hand is refused alike
    assert runner.up(parse(SOURCE)).failure.migration == "0001_users"  # type: ignore[union-attr]
    assert recorded(url) == [(1, "users")] and "events" not in tables(url)


def migrate(operator: Operator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aenv", "migrate", *args], env=operator.env, capture_output=True,
                          text=True, timeout=60)


def test_aenv_migrate_status_up_down(kube: Kube, operator: Operator, namespace: str, url: str) -> None:
    """The command reads the environment, its connection Secret and the ConfigMap from the cluster."""
    # Mode ack without ACK controllers: aenv calls no AWS here, and the Secret stays what this test wrote.
    kube.core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="migrations"), data=SOURCE))
    kube.core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="defi-connection"),
        data={"DATABASE_URL": base64.b64encode(url.encode()).decode()}))
    kube.create_env(namespace, "defi", {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"},
                                        "deletionPolicy": "Delete",
                                        "database": {"migrations": {"configMap": {"name": "migrations"}}}})
    status = migrate(operator, "status", "defi", "-n", namespace)
    assert status.returncode == 0, status.stderr
    assert f"{namespace}/defi: 3 migrations in ConfigMap migrations" in status.stdout
    assert status.stdout.count(" pending ") == 3
    up = migrate(operator, "up", "defi", "-n", namespace, "--to", "2")
    assert up.returncode == 0, up.stderr
    assert "applied 0001_users\n  applied 0002_events\n" in up.stdout
    status = migrate(operator, "status", "defi", "-n", namespace)
    assert status.stdout.count(" applied ") == 2 and status.stdout.count(" pending ") == 1
    down = migrate(operator, "down", "defi", "-n", namespace)
    assert down.returncode == 0 and "reverted 0002_events" in down.stdout
    assert recorded(url) == [(1, "users")]

    kube.core.patch_namespaced_config_map("migrations", namespace, {"data": {"0004-cleanup.up.sql": "x"}})
    bad = migrate(operator, "up", "defi", "-n", namespace)
    assert bad.returncode == 1 and f"ConfigMap {namespace}/migrations: key '0004-cleanup.up.sql' is not" in bad.stderr
    for out in (status, up, down, bad):
        assert PASSWORD not in out.stdout + out.stderr


@pytest.mark.parametrize(("migrations", "field", "says"), [
    ({}, "spec.database.migrations", "set exactly one of configMap or job"),
    ({"configMap": {"name": "m"}, "job": {"workload": "api", "command": ["up"]}}, "spec.database.migrations",
     "set exactly one of configMap or job"),
    ({"job": {"workload": "nope", "command": ["up"]}}, "spec.database.migrations.job.workload",
     "must name a workload in spec.workloads"),
    ({"job": {"workload": "api", "command": []}}, "spec.database.migrations.job.command", "at least 1"),
])
def test_admission_names_the_migrations_field(kube: Kube, namespace: str, migrations: dict[str, Any], field: str,
                                              says: str) -> None:
    spec = {"tier": "dev", "aws": {"region": "us-east-1"}, "database": {"migrations": migrations},
            "workloads": [{"name": "api", "image": "ghcr.io/example/api:1"}]}
    message = rejected(lambda: kube.create_env(namespace, "bad", spec, dry_run=True))
    assert field in message and says in message, message

