"""Migrations: the source's naming, ordering and checksums, what up and down would run, the Job of a Job source,
and spec.database.migrations. Pure."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from aenv.api import EnvironmentSpec
from aenv.migrations import Applied, Failure, Migration, Result, SourceError, latest, parse
from aenv.migrations.job import job, outcome
from aenv.migrations.plan import pending, reverting, rows
from aenv.naming import EnvironmentRef

DATA = {
    "0002_events.up.sql": "CREATE TABLE events (id bigint);",
    "0002_events.down.sql": "DROP TABLE events;",
    "0001_init.up.sql": "CREATE TABLE users (id bigint);",
    "0001_init.down.sql": "DROP TABLE users;",
    "10_index.up.sql": "CREATE INDEX ON events (id);",
}
AT = datetime(2025, 1, 1, tzinfo=UTC)


def applied(*migrations: Migration) -> list[Applied]:
    return [Applied(m.version, m.name, m.checksum, AT) for m in migrations]


def test_parse_orders_by_version_number_and_pairs_up_and_down() -> None:
    source = parse(DATA)
    assert [(m.label, m.version, m.down is not None) for m in source] == [
        ("0001_init", 1, True), ("0002_events", 2, True), ("10_index", 10, False)]
    assert latest(source) == 10 and latest([]) == 0


@pytest.mark.parametrize(("data", "says"), [
    ({"init.up.sql": "x"}, "key 'init.up.sql' is not <version>_<name>.up.sql"),
    ({"0001_init.sql": "x"}, "key '0001_init.sql' is not"),
    ({"0001_init.up.sql": "x", "0001_other.up.sql": "y"}, "keys '0001_init.up.sql' and '0001_other.up.sql' have "
                                                         "the same version 1"),
    ({"1_a.up.sql": "x", "01_a.up.sql": "y"}, "the same version 1"),
    ({"0001_init.down.sql": "x"}, "key '0001_init.down.sql' has no 1_init.up.sql"),
    ({"0001_init.up.sql": "x", "0001_other.down.sql": "y"}, "have the same version and different names"),
    ({"0001_init.up.sql": "  \n"}, "key '0001_init.up.sql' is empty"),
])
def test_parse_names_the_wrong_key(data: dict[str, str], says: str) -> None:
    with pytest.raises(SourceError, match=r"^ConfigMap ns/m: ") as e:
        parse(data, "ConfigMap ns/m")
    assert says in str(e.value)


def test_checksum_is_of_the_up_sql_and_ignores_line_endings() -> None:
    a = Migration(1, "a", "SELECT 1;\nSELECT 2;\n", "x")
    assert a.checksum == Migration(1, "a", "SELECT 1;\r\nSELECT 2;\r\n", "y").checksum
    assert a.checksum != Migration(1, "a", "SELECT 1;\nSELECT 3;\n").checksum


def test_pending_in_order_up_to_a_version() -> None:
    source = parse(DATA)
    assert [m.label for m in pending(source, [])] == ["0001_init", "0002_events", "10_index"]  # type: ignore[union-attr]
    assert [m.label for m in pending(source, applied(source[0]), to=2)] == ["0002_events"]  # type: ignore[union-attr]
    assert pending(source, applied(*source)) == []


def test_an_edited_or_renamed_applied_migration_is_refused_by_name() -> None:
    source = parse(DATA)
    edited = parse({**DATA, "0001_init.up.sql": "CREATE TABLE users (id bigint, name text);"})
    failure = pending(edited, applied(*source[:1]))
    assert isinstance(failure, Failure) and failure.refused and failure.migration == "0001_init"
    assert "was edited after it was applied" in failure.reason
    renamed = [Migration(1, "start", source[0].up)]
    failure = pending(renamed, applied(source[0]))
    assert isinstance(failure, Failure) and "version 1 was applied as 1_init" in failure.reason
    assert isinstance(reverting(edited, applied(source[0])), Failure)


def test_a_pending_migration_older_than_the_latest_applied_is_refused() -> None:
    source = parse(DATA)
    failure = pending(source, applied(source[0], source[2]))
    assert isinstance(failure, Failure) and failure.migration == "0002_events"
    assert "is older than 10_index, which is applied" in failure.reason


def test_reverting_newest_first_to_a_version() -> None:
    source = parse(DATA)[:2]
    assert [m.label for m in reverting(source, applied(*source))] == ["0002_events"]  # type: ignore[union-attr]
    assert [m.label for m in reverting(source, applied(*source), to=0)] == [  # type: ignore[union-attr]
        "0002_events", "0001_init"]
    assert reverting(source, applied(*source), to=2) == []


def test_reverting_refuses_what_it_cannot_revert() -> None:
    source = parse(DATA)
    failure = reverting(source, applied(*source), to=0)  # 10_index has no down
    assert isinstance(failure, Failure) and failure.migration == "10_index"
    assert failure.reason == "has no down migration (10_index.down.sql)"
    failure = reverting(source[:1], applied(*source[:2]), to=0)
    assert isinstance(failure, Failure) and failure.migration == "2_events"
    assert "not in the source" in failure.reason


def test_status_rows() -> None:
    source = parse(DATA)
    edited = Migration(1, "init", "other")
    recorded = [*applied(source[0], source[1]), Applied(7, "gone", "c", AT)]
    states = [(r.migration, r.state) for r in rows([edited, *source[1:]], recorded)]
    assert states == [("1_init", "edited"), ("0002_events", "applied"), ("7_gone", "missing"),
                      ("10_index", "pending")]


def test_result_lines() -> None:
    assert Result("up", ("1_a",)).lines() == ["applied 1_a"]
    assert Result("down").lines() == ["nothing to revert"]
    failed = Result("up", ("1_a",), Failure("2_b", 'relation "x" does not exist'))
    assert not failed.ok and failed.lines()[-1] == ('failed 2_b: relation "x" does not exist; rolled back, '
                                                    "later migrations were not run")
    assert Failure("1_a", "edited", refused=True).line() == "refused 1_a: edited; nothing was run"


def spec(migrations: dict[str, object], **extra: object) -> dict[str, object]:
    return {"tier": "dev", "aws": {"region": "us-east-1"}, "database": {"migrations": migrations}, **extra}


API = {"name": "api", "image": "ghcr.io/example/api:1.2", "uses": ["database"], "env": [{"name": "A", "value": "b"}]}


@pytest.mark.parametrize(("doc", "says"), [
    (spec({}), "set exactly one of configMap or job"),
    (spec({"configMap": {"name": "m"}, "job": {"workload": "api", "command": ["x"]}}, workloads=[API]),
     "set exactly one of configMap or job"),
    (spec({"configMap": {"name": "Bad_Name"}}), "database.migrations.configMap.name"),
    (spec({"job": {"workload": "api", "command": []}}, workloads=[API]), "database.migrations.job.command"),
    (spec({"job": {"workload": "nope", "command": ["migrate"]}}),
     "spec.database.migrations.job.workload: nope is not in spec.workloads"),
])
def test_spec_rejects_bad_migrations_naming_the_field(doc: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as e:
        EnvironmentSpec.model_validate(doc)
    assert says in str(e.value)


def test_the_job_runs_the_workloads_pod_once_with_the_command() -> None:
    s = EnvironmentSpec.model_validate(spec({"job": {"workload": "api", "command": ["migrate", "up"]}},
                                            workloads=[API]))
    assert s.database and s.database.migrations and s.database.migrations.job
    env = EnvironmentRef("ns", "defi", "uid-1")
    j = job(env, s, s.database.migrations.job)
    assert j["metadata"]["name"].startswith("defi-migrate-") and j["spec"]["backoffLimit"] == 0
    assert j["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    pod = j["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"]
    [c] = pod["containers"]
    assert c["image"] == "ghcr.io/example/api:1.2" and c["command"] == ["migrate", "up"]
    assert c["envFrom"] == [{"secretRef": {"name": "defi-connection"}}] and c["env"] == [{"name": "A", "value": "b"}]
    assert "readinessProbe" not in c and "ports" not in c
    assert "aenv.dev/workload" not in j["spec"]["template"]["metadata"]["labels"]  # the workload's Services skip it
    other = s.model_copy(update={"workloads": [s.workloads[0].model_copy(update={"image": "ghcr.io/example/api:1.3"})]})
    assert job(env, other, s.database.migrations.job)["metadata"]["name"] != j["metadata"]["name"]
    assert job(env, s, s.database.migrations.job) == j


def test_job_outcome() -> None:
    assert outcome(None).state == "running"
    assert outcome({"active": 1, "conditions": [{"type": "Failed", "status": "False"}]}).state == "running"
    assert outcome({"conditions": [{"type": "Complete", "status": "True"}]}).state == "succeeded"
    failed = outcome({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                      "message": "Job has reached the specified backoff limit"}]})
    assert failed.state == "failed"
    assert failed.message == "BackoffLimitExceeded: Job has reached the specified backoff limit"
