"""The migration gate's I/O without a cluster: the prod snapshot in moto, a Job source's transitions (the Job
created once when the engine asks, its status read into an outcome) with a fake batch API, and the prod snapshot
taken before either source's migrations run (a ConfigMap source's runner on an in-memory schema_migrations)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from kubernetes.client.exceptions import ApiException
from moto import mock_aws

from aenv.api import EnvironmentSpec, effective
from aenv.migrations import Applied, Migration, Result, Row, gate
from aenv.migrations.plan import pending, rows
from aenv.migrations.snapshot import SnapshotFailed, snapshot_name, take
from aenv.naming import EnvironmentRef
from aenv.rollouts.engine import MigrationOutcome, RunMigrations

ENV = EnvironmentRef("team-a", "defi", "uid-1")


def spec(migrations: dict[str, Any], tier: str = "prod") -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({
        "tier": tier, "aws": {"region": "us-east-1"}, "database": {"engineVersion": "16", "migrations": migrations},
        "workloads": [{"name": "api", "image": "example/api:1", "replicas": 1},
                      {"name": "web", "image": "example/web:1", "replicas": 1}]}))


@pytest.fixture
def rds() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("rds", region_name="us-east-1")


def test_prod_snapshot_is_taken_once_and_waited_for(rds: Any) -> None:
    s = spec({"configMap": {"name": "m"}})
    instance, name = snapshot_name(ENV, s, "abc123")
    rds.create_db_instance(DBInstanceIdentifier=instance, DBInstanceClass="db.t4g.micro", Engine="postgres",
                           MasterUsername="aenv", MasterUserPassword="secret-password-1", AllocatedStorage=20)
    assert take(ENV, s, "abc123", timeout=5, rds=rds) == name == f"{instance}-pre-migrate-abc123"
    assert take(ENV, s, "abc123", timeout=5, rds=rds) == name  # the existing snapshot serves
    found = rds.describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="manual")["DBSnapshots"]
    assert [(x["DBSnapshotIdentifier"], x["Status"]) for x in found] == [(name, "available")]


def test_a_snapshot_that_never_becomes_available_fails_in_bounded_time() -> None:
    class Rds:
        class exceptions:  # boto3 spelling
            DBSnapshotAlreadyExistsFault = RuntimeError

        def create_db_snapshot(self, **_: Any) -> None:
            pass

        def describe_db_snapshots(self, **_: Any) -> dict[str, Any]:
            return {"DBSnapshots": [{"Status": "creating"}]}

    slept: list[float] = []
    with pytest.raises(SnapshotFailed, match="not available after 0s"):
        take(ENV, spec({"configMap": {"name": "m"}}), "abc123", timeout=0, rds=Rds(), sleep=slept.append)


class Batch:
    def __init__(self, calls: list[str] | None = None) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.calls = calls if calls is not None else []

    def create_namespaced_job(self, namespace: str, body: dict[str, Any]) -> None:
        self.created += 1
        self.calls.append("job")
        if body["metadata"]["name"] in self.jobs:
            raise ApiException(status=409)
        self.jobs[body["metadata"]["name"]] = {"status": {}}

    def read_namespaced_job(self, name: str, namespace: str) -> Any:
        if name not in self.jobs:
            raise ApiException(status=404)
        job = self.jobs[name]

        class Found:
            def to_dict(self) -> dict[str, Any]:
                return job

        return Found()


def test_a_job_source_gates_its_workload_and_reads_the_job_outcome() -> None:
    s = spec({"job": {"workload": "api", "command": ["./migrate"]}}, tier="dev")
    batch = Batch()
    g = gate.Gate(ENV, s, {}, core=None, batch=batch, wake=lambda: None)  # type: ignore[arg-type]
    api, web = s.workloads
    assert g.identity(web) is None  # not the Job's workload: not gated
    source = g.identity(api)
    assert source is not None and source.startswith("job/defi-migrate-")
    assert g.outcomes(api, "r1") == []  # not created yet
    g.run(RunMigrations("r1", "up", source))
    g.run(RunMigrations("r1", "up", source))  # asked again while it runs: the same Job
    name = source.removeprefix("job/")
    assert list(batch.jobs) == [name] and batch.created == 2
    assert g.outcomes(api, "r1") == []  # running
    batch.jobs[name]["status"] = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                                  "message": "Job has reached the specified backoff limit"}]}
    [failed] = g.outcomes(api, "r1")
    assert not failed.ok and "BackoffLimitExceeded" in failed.message and f"kubectl logs job/{name}" in failed.message
    batch.jobs[name]["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    assert g.outcomes(api, "r1") == [MigrationOutcome("r1", "up", True, f"Job {name} succeeded")]
    g.run(RunMigrations("r1", "down", source))  # a Job has no down migrations: nothing is created
    assert batch.created == 2


def test_a_configmap_source_gates_every_workload_and_names_its_content() -> None:
    data = {"0001_users.up.sql": "CREATE TABLE users (id int);"}

    class Core:
        def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
            return type("Found", (), {"data": data})()

    s = spec({"configMap": {"name": "m"}}, tier="dev")
    g = gate.Gate(ENV, s, {}, core=Core(), batch=None, wake=lambda: None)  # type: ignore[arg-type]
    ids = {g.identity(w) for w in s.workloads}
    assert ids == {f"configMap/m@{gate.checksum(data)}"}
    g.run(RunMigrations("r1", "up", "configMap/m@x"))  # no DATABASE_URL yet: waits, starts nothing
    assert gate.runs(ENV).futures == {}


DATA = {"0001_users.up.sql": "CREATE TABLE users (id int);", "0001_users.down.sql": "DROP TABLE users;"}
OUTPUTS = {"database/instance": {"endpoint": "db.internal", "port": 5432, "name": "app"},
           "secret/database": {"username": "aenv", "password": "secret-password-1"}}
JOB = {"job": {"workload": "api", "command": ["./migrate"]}}


class Core:
    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        return type("Found", (), {"data": DATA})()


class Runner:
    """migrations.runner.Runner on an in-memory schema_migrations; `up` recorded in `calls`."""

    def __init__(self, calls: list[str], hold: threading.Event | None = None) -> None:
        self.calls, self.applied, self.hold = calls, list[Applied](), hold

    def __call__(self, url: str) -> Runner:
        assert "secret-password-1" in url
        return self

    def status(self, source: Sequence[Migration]) -> list[Row]:
        return rows(source, self.applied)

    def up(self, source: Sequence[Migration]) -> Result:
        if self.hold is not None:  # keeps the run in the pool until the test lets it go on
            assert self.hold.wait(5)
        todo = pending(source, self.applied)
        assert isinstance(todo, list)
        self.calls.append("up")
        self.applied += [Applied(m.version, m.name, m.checksum, datetime.now(UTC)) for m in todo]
        return Result("up", tuple(m.label for m in todo))


class Passes:
    """The gate of each pass, and the wakes its runs end with."""

    def __init__(self, tier: str, migrations: dict[str, Any], calls: list[str], fail: Exception | None = None,
                 hold: threading.Event | None = None, hold_up: threading.Event | None = None) -> None:
        self.spec, self.calls, self.fail, self.hold = spec(migrations, tier), calls, fail, hold
        self.batch, self.runner, self.woken = Batch(calls), Runner(calls, hold_up), threading.Semaphore(0)

    def snapshot(self, env: EnvironmentRef, s: EnvironmentSpec, revision: str) -> None:
        if self.hold is not None:
            assert self.hold.wait(5)
        self.calls.append(f"snapshot {revision}")
        if self.fail is not None:
            raise self.fail

    def gate(self) -> gate.Gate:
        return gate.Gate(ENV, self.spec, OUTPUTS, core=Core(), batch=self.batch,  # type: ignore[arg-type]
                         wake=self.woken.release, snapshot=self.snapshot, runner=self.runner)

    def run(self, revision: str = "r1") -> list[MigrationOutcome]:
        """A pass that asks for `revision`'s migrations, then the outcomes of the next one."""
        g = self.gate()
        g.run(RunMigrations(revision, "up", g.identity(self.spec.workloads[0]) or "", attempt=1))
        return self.gate().outcomes(self.spec.workloads[0], revision)

    def wait(self) -> None:
        assert self.woken.acquire(timeout=5), "the run never woke the environment"


@pytest.fixture(autouse=True)
def no_runs() -> Iterator[None]:
    gate.forget(ENV.uid)
    yield
    gate.forget(ENV.uid)


@pytest.mark.parametrize("tier", ["prod", "dev"])
def test_a_configmap_source_snapshots_before_up_in_prod_only(tier: str) -> None:
    calls: list[str] = []
    hold_up = threading.Event()
    passes = Passes(tier, {"configMap": {"name": "m"}}, calls, hold_up=hold_up)
    assert passes.run() == []  # the run is in the pool
    hold_up.set()
    passes.wait()
    [applied] = passes.run()
    assert applied.ok and (applied.from_version, applied.to_version) == (0, 1)
    assert calls == (["snapshot r1", "up"] if tier == "prod" else ["up"])
    passes.run("r2")  # nothing pending: no snapshot, and `up` applies nothing
    passes.wait()
    assert calls == (["snapshot r1", "up", "up"] if tier == "prod" else ["up", "up"])


def test_a_job_source_is_created_only_after_its_prod_snapshot() -> None:
    calls: list[str] = []
    hold = threading.Event()
    passes = Passes("prod", JOB, calls, hold=hold)
    assert passes.run() == []
    assert passes.run() == [] and calls == [] and passes.batch.jobs == {}  # the snapshot is not taken yet
    hold.set()
    passes.wait()
    assert passes.run() == [] and calls == ["snapshot r1", "job"]  # the pass after it creates the Job
    passes.run()
    assert calls == ["snapshot r1", "job", "job"]  # taken once; the Job asked for again is the same Job


def test_a_dev_job_source_takes_no_snapshot() -> None:
    calls: list[str] = []
    passes = Passes("dev", JOB, calls)
    passes.run()
    assert calls == ["job"] and len(passes.batch.jobs) == 1


@pytest.mark.parametrize("source", [{"configMap": {"name": "m"}}, JOB], ids=["configMap", "job"])
@pytest.mark.parametrize(("error", "says"), [
    (lambda name: SnapshotFailed(f"snapshot {name} is failed"), "snapshot {name} is failed; no migration ran"),
    (lambda _: RuntimeError("AccessDenied: rds:CreateDBSnapshot"),
     "snapshot {name}: RuntimeError: AccessDenied: rds:CreateDBSnapshot; no migration ran"),
], ids=["not-available", "refused"])
def test_a_failed_snapshot_is_a_failed_outcome_and_nothing_migrates(
        source: dict[str, Any], error: Callable[[str], Exception], says: str) -> None:
    name = snapshot_name(ENV, spec(source), "r1")[1]
    calls: list[str] = []
    passes = Passes("prod", source, calls, fail=error(name))
    passes.run()
    passes.wait()
    [failed] = passes.run()
    assert not failed.ok and failed.message == says.format(name=name)
    assert name.endswith("-pre-migrate-r1") and (failed.revision, failed.direction) == ("r1", "up")
    assert calls == ["snapshot r1"] and passes.batch.jobs == {}  # neither `up` nor the Job ran
