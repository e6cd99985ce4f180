"""The local data plane (aenv.local.dataplane_backend): the emulator's replication groups and PostgreSQL instances
are real servers on 127.0.0.1, holding the credentials given through the AWS API, checked by connecting."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

from aenv import commands
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.plan import connection

from .conftest import Operator, fresh_namespace
from .kube import Kube
from .leaks import HarvestedEmulator

TOKEN, ROTATED, SET = "first-token-0123456789", "second-token-0123456789", "third-token-0123456789"
PASSWORD, NEW_PASSWORD = "first-password-0123", "second-password-4567"
ONCE = {"retry": Retry(NoBackoff(), 0), "socket_timeout": 5}  # redis-py retries a refused connection by default


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEmulator]:
    """An emulator of its own with the data plane on (the session's has it off)."""
    moto = HarvestedEmulator(tmp_path_factory.mktemp("moto-dataplane"), data_plane=True)
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


def name() -> str:
    return f"dp-{uuid.uuid4().hex[:8]}"


def pings(endpoint: dict[str, Any], password: str | None, **tls: Any) -> bool:
    """AUTH (when password) and PING; False when the server refuses the password."""
    client = redis.Redis(host=endpoint["Address"], port=endpoint["Port"], password=password, **ONCE, **tls)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


def selects(endpoint: dict[str, Any], password: str, dbname: str = "analytics") -> bool:
    """SELECT 1 as the master user over TLS; False when the server refuses the password."""
    try:
        with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user="aenv", password=password,
                             dbname=dbname, sslmode="require", connect_timeout=5) as conn:
            row = conn.execute("SELECT 1").fetchone()
            return row == (1,)
    except psycopg.OperationalError as e:
        if "password authentication failed" in str(e):
            return False
        raise


def refused(call: Any) -> bool:
    try:
        call()
    except (redis.ConnectionError, psycopg.OperationalError) as e:
        return "refused" in str(e).lower() or isinstance(e, redis.ConnectionError)
    return False


def group_endpoint(elasticache: Any, group_id: str) -> dict[str, Any]:
    group = elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    endpoint: dict[str, Any] = group["NodeGroups"][0]["PrimaryEndpoint"]
    return endpoint


def servers(emulator: AwsEmulator, kind: str) -> list[Path]:
    return sorted(emulator.data_plane_dir.glob(f"{kind}-*"))


def test_replication_group_auth_token_create_rotate_set_delete(emulator: AwsEmulator) -> None:
    elasticache, group_id = emulator.client("elasticache"), name()
    elasticache.create_replication_group(ReplicationGroupId=group_id, ReplicationGroupDescription="dp",
                                         Engine="redis", CacheNodeType="cache.t4g.micro", AuthToken=TOKEN)
    endpoint = group_endpoint(elasticache, group_id)
    assert endpoint["Address"] == "127.0.0.1"
    assert pings(endpoint, TOKEN)
    assert not pings(endpoint, "not-the-token-0123456789")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=endpoint["Port"], **ONCE).set("k", "v")  # no AUTH: refused

    def modify(**auth: str) -> dict[str, Any]:
        group: dict[str, Any] = elasticache.modify_replication_group(
            ReplicationGroupId=group_id, ApplyImmediately=True, **auth)["ReplicationGroup"]
        return group

    modify(AuthToken=ROTATED, AuthTokenUpdateStrategy="ROTATE")
    assert pings(endpoint, TOKEN) and pings(endpoint, ROTATED)
    group = modify(AuthToken=SET, AuthTokenUpdateStrategy="SET")
    assert group["AuthTokenEnabled"]
    assert pings(endpoint, SET) and not pings(endpoint, TOKEN) and not pings(endpoint, ROTATED)
    assert not modify(AuthTokenUpdateStrategy="DELETE")["AuthTokenEnabled"]
    assert pings(endpoint, None)
    assert group_endpoint(elasticache, group_id) == endpoint  # modifying kept the server

    elasticache.delete_replication_group(ReplicationGroupId=group_id)
    assert refused(lambda: pings(endpoint, None))
    assert servers(emulator, f"redis-{group_id}") == []


def test_transit_encryption_serves_tls_only_with_the_data_plane_ca(emulator: AwsEmulator) -> None:
    elasticache, group_id = emulator.client("elasticache"), name()
    elasticache.create_replication_group(ReplicationGroupId=group_id, ReplicationGroupDescription="dp",
                                         Engine="redis", CacheNodeType="cache.t4g.micro", AuthToken=TOKEN,
                                         TransitEncryptionEnabled=True)
    endpoint = group_endpoint(elasticache, group_id)
    url = f"rediss://:{TOKEN}@{endpoint['Address']}:{endpoint['Port']}"
    assert redis.from_url(url, ssl_ca_certs=str(emulator.ca_file), **ONCE).ping()
    with pytest.raises(redis.ConnectionError):  # a client that does not trust the data plane's CA
        redis.from_url(url, **ONCE).ping()
    with pytest.raises(redis.ConnectionError):  # no plain text on a TLS port
        redis.Redis(host="127.0.0.1", port=endpoint["Port"], password=TOKEN, **ONCE).ping()
    elasticache.delete_replication_group(ReplicationGroupId=group_id)


def test_db_instance_master_password_create_modify_delete(emulator: AwsEmulator) -> None:
    rds, instance_id = emulator.client("rds"), name()
    rds.create_db_instance(DBInstanceIdentifier=instance_id, Engine="postgres", EngineVersion="16.4",
                           DBInstanceClass="db.t4g.micro", AllocatedStorage=20, MasterUsername="aenv",
                           MasterUserPassword=PASSWORD, DBName="analytics")
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["Endpoint"]
    assert endpoint["Address"] == "127.0.0.1"
    assert selects(endpoint, PASSWORD)
    assert not selects(endpoint, "not-the-password")

    rds.modify_db_instance(DBInstanceIdentifier=instance_id, MasterUserPassword=NEW_PASSWORD, ApplyImmediately=True)
    assert selects(endpoint, NEW_PASSWORD) and not selects(endpoint, PASSWORD)
    assert rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["Endpoint"] == endpoint

    rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
    assert refused(lambda: selects(endpoint, NEW_PASSWORD))
    assert servers(emulator, f"postgres-{instance_id}") == []


def test_reset_stops_every_server(emulator: AwsEmulator) -> None:
    elasticache, group_id = emulator.client("elasticache"), name()
    elasticache.create_replication_group(ReplicationGroupId=group_id, ReplicationGroupDescription="dp",
                                         Engine="redis", CacheNodeType="cache.t4g.micro")
    endpoint = group_endpoint(elasticache, group_id)
    assert pings(endpoint, None)  # no AuthToken: no AUTH, as on ElastiCache
    emulator.reset()
    assert refused(lambda: pings(endpoint, None))
    assert servers(emulator, "redis-") == servers(emulator, "postgres-") == []


# Through the operator -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_plane_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                        emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("operator-dataplane"), kubeconfig, emulator,
                  prefix="aenv-dataplane-", env={"AENV_DATA_PLANE_CHECK_SECONDS": "2"}) as op:
        yield op


@pytest.fixture
def data_plane_namespace(kube: Kube, emulator: AwsEmulator, data_plane_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, data_plane_operator)


def test_connection_secret_leads_to_the_servers(kube: Kube, emulator: AwsEmulator, data_plane_namespace: str) -> None:
    """An environment with a cache (AUTH, TLS) and a database: its connection Secret's CACHE_URL and DATABASE_URL
    connect, with the credentials aenv generated; deleting the environment stops both servers."""
    ns = data_plane_namespace
    kube.create_env(ns, "defi", {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
                                 "cache": {"engine": "redis", "transitEncryption": True},
                                 "database": {"engineVersion": "16"}})
    kube.wait_condition(ns, "defi", "Ready", timeout=90)
    secret = kube.core.read_namespaced_secret("defi-connection", ns)
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data["CACHE_URL"].startswith("rediss://") and data["CACHE_HOST"] == "127.0.0.1"
    assert redis.from_url(data["CACHE_URL"], ssl_ca_certs=str(emulator.ca_file), **ONCE).ping()
    with psycopg.connect(data["DATABASE_URL"], connect_timeout=5) as conn:
        assert conn.execute("SELECT session_user, current_database()").fetchone() == (
            data["DATABASE_USER"], data["DATABASE_NAME"])

    kube.delete_env(ns, "defi")
    wait_for(lambda: kube.env_gone(ns, "defi"), 60, "the environment to be deleted")
    assert servers(emulator, "redis-") == servers(emulator, "postgres-") == []


def connection_data(kube: Kube, ns: str, env: str) -> dict[str, str]:
    secret = kube.core.read_namespaced_secret(f"{env}-connection", ns)
    return {k: base64.b64decode(v).decode() for k, v in secret.data.items()}


def test_readiness_checks_the_stores_and_reports_a_refused_password(
        kube: Kube, emulator: AwsEmulator, data_plane_namespace: str, data_plane_operator: Operator) -> None:
    """CacheReady and DatabaseReady log in with the connection Secret's credentials; a password changed behind
    aenv's back on the real PostgreSQL makes DatabaseReady False with AuthenticationFailed, the secret nowhere."""
    ns = data_plane_namespace
    kube.create_env(ns, "hc", {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
                               "cache": {"engine": "redis", "transitEncryption": True},
                               "database": {"engineVersion": "16"}})
    env = kube.wait_condition(ns, "hc", "Ready", timeout=90)
    assert "authenticated PING answered at 127.0.0.1:" in (kube.condition(env, "CacheReady") or {})["message"]
    assert "SELECT 1 answered at 127.0.0.1:" in (kube.condition(env, "DatabaseReady") or {})["message"]

    data = connection_data(kube, ns, "hc")
    changed = "changed-behind-aenvs-back-0123"
    master = json.loads(emulator.client("secretsmanager").get_secret_value(
        SecretId=f"aenv-{ns}-hc-database")["SecretString"])  # aenv's own user, not the workloads' login
    with psycopg.connect(host=data["DATABASE_HOST"], port=data["DATABASE_PORT"], dbname=data["DATABASE_NAME"],
                         user=master["username"], password=master["password"], sslmode="require", autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(data["DATABASE_USER"]),
                                                                 sql.Literal(changed)))
    env = kube.wait_condition(ns, "hc", "DatabaseReady", "False", reason="AuthenticationFailed", timeout=30)
    message = (kube.condition(env, "DatabaseReady") or {})["message"]
    assert f"user {data['DATABASE_USER']}" in message and data["DATABASE_PORT"] in message
    assert (kube.condition(env, "CacheReady") or {})["status"] == "True"
    secrets = (data["DATABASE_PASSWORD"], data["CACHE_AUTH_TOKEN"], changed)
    events = " ".join(f"{e.reason} {e.message}" for e in kube.events(ns, "hc"))
    for where in (str(env["status"]), events, data_plane_operator.log_text()):
        assert not any(s in where for s in secrets)


@dataclass(frozen=True)
class Store:
    """What a rotation test needs of one store: its spec, its credential's name and how a client connects."""

    section: dict[str, Any]
    secret: str  # the credential's name in the pods' stamp (plan/connection.credential_versions)
    url: str  # the connection Secret's key a client connects with

    def connects(self, url: str, ca_file: Path) -> bool:
        """False when the server refuses the credential; ConnectionError-like errors propagate."""
        if self.url == "CACHE_URL":
            try:
                return bool(redis.from_url(url, ssl_ca_certs=str(ca_file), **ONCE).ping())
            except redis.AuthenticationError:
                return False
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError as e:
            if "password authentication failed" in str(e) or "not permitted to log in" in str(e):
                return False
            raise


STORES = {
    "cache": Store({"cache": {"engine": "redis", "transitEncryption": True}}, "cache-auth", "CACHE_URL"),
    "database": Store({"database": {"engineVersion": "16"}}, "database-login", "DATABASE_URL"),
}


@pytest.mark.parametrize("what", list(STORES))
def test_a_rotation_keeps_every_client_authenticated_and_revokes_the_old_credential_after_the_pods(
        kube: Kube, emulator: AwsEmulator, data_plane_namespace: str, monkeypatch: pytest.MonkeyPatch,
        what: str) -> None:
    """`aenv rotate --cache|--database`: the cache's token goes through ElastiCache's ROTATE, the database's login
    moves to the other of two login roles. A client connecting with whatever the connection Secret holds at each
    moment is never refused; the workload's pods are replaced by pods started with the new credential; and the old
    credential stops working (SET; NOLOGIN) only once no ready pod started with it remains."""
    ns, store = data_plane_namespace, STORES[what]
    kube.create_env(ns, "rot", {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"}, **store.section,
                                "workloads": [{"name": "api", "image": "registry.local/api:1", "replicas": 2}]})
    kube.wait_condition(ns, "rot", "Ready", timeout=90)
    [first] = ready_stamps(kube, ns)
    old_version, old_url = first[store.secret], connection_data(kube, ns, "rot")[store.url]
    tried, failed, errors, done = [0], [0], [0], threading.Event()
    revoked_while_held: list[float] = []

    def clients(deadline: float = time.monotonic() + 90, limit: int = 5000) -> None:
        while not done.is_set() and time.monotonic() < deadline and tried[0] < limit:
            tried[0] += 1
            try:
                if not store.connects(connection_data(kube, ns, "rot")[store.url], emulator.ca_file):
                    failed[0] += 1
                # The old credential refused while a ready pod started with it is still there: revoked too early.
                if not store.connects(old_url, emulator.ca_file) and any(
                        s.get(store.secret) == old_version for s in ready_stamps(kube, ns)):
                    revoked_while_held.append(time.monotonic())
            # Not a refused credential: the server unreachable or the connection dropped. A rotation only changes
            # credentials (ROTATE/SET, ALTER ROLE), no server restarts, so none is allowed.
            except (redis.ConnectionError, psycopg.OperationalError):
                errors[0] += 1

    loop = threading.Thread(target=clients)
    loop.start()
    try:
        monkeypatch.setattr(commands, "_api", lambda: kube.custom)
        commands.rotate(ns, "rot", what)
        wait_for(lambda: connection_data(kube, ns, "rot")[store.url] != old_url, 30, "a new credential")
        wait_for(lambda: bool(stamps := ready_stamps(kube, ns)) and all(s.get(store.secret) != old_version
                                                                         for s in stamps),
                 60, "the workload's ready pods to be only pods started with the new credential")
        wait_for(lambda: not store.connects(old_url, emulator.ca_file), 30, "the old credential to be revoked")
        seen = tried[0]
        wait_for(lambda: tried[0] >= seen + 20, 30, "clients with the new credential after the revocation")
    finally:
        done.set()
        loop.join(10)
    print(f"{what} rotation: {tried[0]} connections, {failed[0]} refused, {errors[0]} other errors")
    assert tried[0] > 20 and failed[0] == 0 and errors[0] == 0 and revoked_while_held == []


def ready_stamps(kube: Kube, ns: str) -> list[dict[str, str]]:
    """The credential versions of every ReplicaSet with ready pods, as the pods' template records them."""
    return [connection.parse_credentials_stamp(
        (rs.spec.template.metadata.annotations or {}).get(connection.CREDENTIALS_ANNOTATION, ""))
        for rs in kube.apps.list_namespaced_replica_set(ns).items if (rs.status.ready_replicas or 0) > 0]
