"""aenv.dataplane: which stores are checked, what is remembered, and how a verdict changes a component."""

from __future__ import annotations

import socket

import psycopg

from aenv.api.spec import EnvironmentSpec
from aenv.dataplane import Remembered, Settings, Target, Verdict, check, judged, postgres, redis_store, targets
from aenv.plan.conditions import ComponentResult
from aenv.plan.types import Sensitive

SPEC = EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"},
                                       "cache": {"transitEncryption": True}, "database": {}})
DATA = {"CACHE_HOST": "cache.example", "CACHE_PORT": "6379", "CACHE_AUTH_TOKEN": "token-0123456789abcdef",
        "DATABASE_HOST": "db.example", "DATABASE_PORT": "5432", "DATABASE_USER": "aenv",
        "DATABASE_PASSWORD": "password-0123456789", "DATABASE_NAME": "analytics"}
OK = Verdict("ok", "Checked", "answered")


def test_targets_carry_the_connection_secrets_credentials() -> None:
    cache, db = targets(SPEC, DATA)
    assert (cache.component, cache.endpoint, cache.user, cache.tls) == ("cache", "cache.example:6379", "default", True)
    assert cache.password == DATA["CACHE_AUTH_TOKEN"] and "token" not in repr(cache)
    assert (db.component, db.user, db.database, db.tls) == ("database", "aenv", "analytics", True)
    assert targets(SPEC, {}) == []  # nothing provisioned yet: nothing to check


def test_settings_from_the_environment() -> None:
    assert Settings.from_environ({}).enabled
    off = Settings.from_environ({"AENV_DATA_PLANE_CHECKS": "off", "AENV_DATA_PLANE_CA_FILE": "/ca.crt",
                                 "AENV_DATA_PLANE_CHECK_SECONDS": "5"})
    assert (off.enabled, off.ca_file, off.interval) == (False, "/ca.crt", 5.0)


def test_a_good_check_is_remembered_until_the_credential_changes_or_the_interval_passes() -> None:
    calls: list[str] = []

    def probe(target: Target, _settings: Settings) -> Verdict:
        calls.append(target.component)
        return OK

    memory: dict[str, Remembered] = {}
    found = targets(SPEC, DATA)
    settings, now = Settings(interval=60), [0.0]
    probes = {"cache": probe, "database": probe}
    check(found, probes, settings, memory, lambda: now[0])
    check(found, probes, settings, memory, lambda: now[0])
    assert calls == ["cache", "database"]
    rotated = targets(SPEC, {**DATA, "DATABASE_PASSWORD": "another-password-0123"})
    check(rotated, probes, settings, memory, lambda: now[0])
    assert calls == ["cache", "database", "database"]
    now[0] = 61
    check(rotated, probes, settings, memory, lambda: now[0])
    assert calls[3:] == ["cache", "database"]
    assert all(DATA["DATABASE_PASSWORD"] not in r.fingerprint for r in memory.values())


def test_a_failure_is_checked_again_and_never_shows_the_secret() -> None:
    calls = []

    def leaky(target: Target, _settings: Settings) -> Verdict:
        calls.append(1)
        return Verdict("failed", "CheckFailed", f"the server said {target.password}")

    memory: dict[str, Remembered] = {}
    db = targets(SPEC, DATA)[1:]
    first = check(db, {"database": leaky}, Settings(), memory)
    check(db, {"database": leaky}, Settings(), memory)
    assert len(calls) == 2
    assert first["database"].message == "the server said ***"


def test_verdicts_change_only_ready_components() -> None:
    results = [ComponentResult("cache", "ready", "Provisioned", "cache provisioned"),
               ComponentResult("database", "ready", "Provisioned", "database provisioned"),
               ComponentResult("queues", "progressing", "Provisioning", "making")]
    verdicts = {"cache": Verdict("unreachable", "Unreachable", "not checked: unreachable"),
                "database": Verdict("failed", "AuthenticationFailed", "refused user aenv"),
                "queues": OK}
    cache, db, queues = judged(results, verdicts)
    assert (cache.state, cache.message) == ("ready", "cache provisioned; not checked: unreachable")
    assert (db.state, db.reason, db.message) == ("failed", "AuthenticationFailed", "refused user aenv")
    assert queues == results[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_or_unresolvable_endpoint_is_unreachable_not_a_failure() -> None:
    port, settings = closed_port(), Settings(timeout=1)
    for host in ("127.0.0.1", "does-not-resolve.invalid"):
        cache = Target("cache", host, port, "default", Sensitive("token-0123456789abcdef"), tls=True)
        db = Target("database", host, port, "aenv", Sensitive("password-0123456789"), tls=True, database="a")
        assert redis_store.probe(cache, settings).state == "unreachable"
        assert postgres.probe(db, settings).state == "unreachable"


def test_postgres_errors_are_classified() -> None:
    db = targets(SPEC, DATA)[1]
    wrong = psycopg.OperationalError('connection failed: FATAL:  password authentication failed for user "aenv"')
    assert postgres.classify(db, wrong).reason == "AuthenticationFailed"
    assert "aenv" in postgres.classify(db, wrong).message
    tls = psycopg.OperationalError("connection failed: SSL error: certificate verify failed")
    assert postgres.classify(db, tls).reason == "TLSFailed"
    assert postgres.classify(db, psycopg.OperationalError('database "x" does not exist')).reason == "CheckFailed"


def test_a_rotation_request_reaches_only_the_secret_it_names() -> None:
    from aenv.naming import EnvironmentRef
    from aenv.plan.secrets import plan, with_rotation_requests

    desired = plan(EnvironmentRef("ns", "env", "uid"), SPEC)
    asked = with_rotation_requests(desired, {"aenv.dev/rotate-cache": "2030-01-01T00:00:00Z", "other": "x"})
    params = {d.key: d.params.get("rotate_requested_at") for d in asked}
    assert params == {"secret/cache-auth": "2030-01-01T00:00:00Z", "secret/database": None,
                      "secret/database-login": None}
    asked = with_rotation_requests(desired, {"aenv.dev/rotate-database": "2030-01-01T00:00:00Z"})
    params = {d.key: d.params.get("rotate_requested_at") for d in asked}
    assert params == {"secret/cache-auth": None, "secret/database": None,  # the master user is aenv's own
                      "secret/database-login": "2030-01-01T00:00:00Z"}
