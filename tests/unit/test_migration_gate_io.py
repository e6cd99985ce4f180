"""The migration gate's I/O without a cluster: the prod snapshot in moto, and a Job source's transitions (the Job
created once when the engine asks, its status read into an outcome) with a fake batch API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from kubernetes.client.exceptions import ApiException
from moto import mock_aws

from aenv.api import EnvironmentSpec, effective
from aenv.migrations import gate
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
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created = 0

    def create_namespaced_job(self, namespace: str, body: dict[str, Any]) -> None:
        self.created += 1
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
