"""The emulator's ElastiCache replication groups and RDS PostgreSQL instances, each backed by a real server.

With AENV_EMULATOR_DATA_PLANE=1 the emulator (moto_server) makes sure a server from `dataplane` runs for each
replication group (redis-server, for the redis and valkey engines) and each PostgreSQL DB instance it holds,
whoever creates them (aenv in mode boto3 or an ACK controller):

- CreateReplicationGroup starts a redis-server whose default user takes the AuthToken (none: no AUTH), with TLS on
  its port when TransitEncryptionEnabled. ModifyReplicationGroup's AuthToken is applied by its
  AuthTokenUpdateStrategy: ROTATE adds it to the valid tokens (AWS keeps at most two), SET leaves it the only one,
  DELETE turns AUTH off.
- CreateDBInstance (engine postgres) starts a PostgreSQL cluster whose master user has MasterUsername and
  MasterUserPassword and holds DBName; a ModifyDBInstance MasterUserPassword is set on the server.
- Describe* answer with the server's address, 127.0.0.1:<port>, so the connection Secret leads to it.
- Deleting the group or instance, or resetting the emulator, stops its server and removes its data.
- CreateDBSnapshot (a final snapshot on DeleteDBInstance too) dumps the instance's database (pg_dump, custom format)
  into snapshots/<snapshot id>-<suffix>.dump; CopyDBSnapshot gives the copy the same dump (a hard link);
  RestoreDBInstanceFromDBSnapshot starts a new server for the new instance (the snapshot's master user, password and
  database, as RDS restores them) and restores the dump into it. DeleteDBSnapshot and a reset remove the dumps.

Each server is started when the group or instance is created and started again when a describe or modify finds it
gone. The servers' directories, the CA that signed their certificates (ca.crt) among them, are under
AENV_EMULATOR_DATA_PLANE_DIR (default: a new temporary directory), emptied when the emulator starts.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from moto.core.utils import utcnow
from moto.elasticache.exceptions import ElastiCacheException, InvalidParameterValueException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend

from .dataplane import HOST, DataPlaneError, PostgresServer, RedisServer, Tls

ENABLE = "AENV_EMULATOR_DATA_PLANE"
DIRECTORY = "AENV_EMULATOR_DATA_PLANE_DIR"
CACHE_ENGINES = {"redis", "valkey"}
DATABASE_ENGINES = {"postgres"}
STRATEGIES = ("ROTATE", "SET", "DELETE")
MAX_TOKENS = 2  # ElastiCache keeps the rotated-in token and the one before it
_SERVER = "_aenv_server"  # on moto's replication group or DB instance: its server
_TOKENS = "_aenv_tokens"  # on moto's replication group: the AUTH tokens its server takes
_ADDRESS = "_aenv_address"  # on moto's DB instance: the address its endpoint answers with
_DUMP = "_aenv_dump"  # on moto's DB snapshot: the dump of the database it holds

Server = RedisServer | PostgresServer


def enabled(environ: Mapping[str, str]) -> bool:
    value = environ.get(ENABLE, "").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ValueError(f"{ENABLE}={value!r}: give 1 to run Redis and PostgreSQL behind the emulator, 0 not to")
    return value in ("1", "true", "yes", "on")


def rotated(tokens: Sequence[str], token: str | None, strategy: str | None) -> tuple[str, ...]:
    """The AUTH tokens valid after ModifyReplicationGroup's AuthToken and AuthTokenUpdateStrategy (default ROTATE,
    as the token alone is given)."""
    strategy = (strategy or "ROTATE").upper()
    if strategy not in STRATEGIES:
        raise ValueError(f"AuthTokenUpdateStrategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy == "DELETE":
        if token:
            raise ValueError("AuthTokenUpdateStrategy DELETE takes no AuthToken")
        return ()
    if not token:
        raise ValueError(f"AuthTokenUpdateStrategy {strategy} needs an AuthToken")
    if strategy == "SET":
        return (token,)
    return (*[t for t in tokens if t != token], token)[-MAX_TOKENS:]


def point_group_at(group: Any, port: int) -> None:
    """Make moto's replication group describe every endpoint (primary, reader, members, configuration) as
    127.0.0.1:port."""
    group.port = port
    if getattr(group, "configuration_endpoint", None):
        group.configuration_endpoint = {"address": HOST, "port": port}
    for node_group in group.node_groups:
        node_group["port"] = port
        if "primary_endpoint" in node_group:
            node_group["primary_endpoint"] = {"address": HOST, "port": port}
            node_group["primary_endpoint_address"] = node_group["reader_endpoint_address"] = HOST
        for member in node_group.get("node_group_members", []):
            if "read_endpoint" in member:
                member["read_endpoint"] = {"address": HOST, "port": port}


def master_password(instance: Any) -> str | None:
    """moto's DB instance keeps the password it was given but answers NotImplementedError when asked for it."""
    password: str | None = vars(instance).get("_master_user_password")
    return password


class DataPlane:
    """The servers behind the emulator's groups and instances. One lock: a request waits for another's server."""

    def __init__(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)  # what an earlier emulator left: moto kept nothing of it
        directory.mkdir(parents=True)
        self.directory = directory
        self.tls = Tls.make(directory)
        self.lock = threading.RLock()
        self.servers: set[Server] = set()

    def _dir(self, kind: str, name: str) -> Path:
        return self.directory / f"{kind}-{name}-{uuid.uuid4().hex[:6]}"

    def cache(self, group: Any) -> None:
        """Make sure a redis-server runs for moto's replication group (unless it is being deleted), taking its
        tokens, and that the group describes its address."""
        if group.status == "deleting":
            return
        with self.lock:
            server: RedisServer | None = getattr(group, _SERVER, None)
            if server is not None and server.running():
                return
            self.stop(server)
            tls = self.tls if group.transit_encryption_enabled else None
            server = RedisServer(self._dir("redis", group.replication_group_id), tls)
            self.servers.add(server)
            setattr(group, _SERVER, server)
            server.start(getattr(group, _TOKENS, ()))
            point_group_at(group, server.port)

    def set_tokens(self, group: Any, tokens: Sequence[str]) -> None:
        with self.lock:
            setattr(group, _TOKENS, tuple(tokens))
            self.cache(group)
            server: RedisServer = getattr(group, _SERVER)
            if server.tokens != tuple(tokens):
                server.set_tokens(tokens)

    def database(self, instance: Any) -> None:
        """Make sure a PostgreSQL server runs for moto's DB instance, with its master user, password and
        database, and that the instance describes its address."""
        with self.lock:
            server: PostgresServer | None = getattr(instance, _SERVER, None)
            if server is not None and server.running():
                return
            self.stop(server)
            server = PostgresServer(self._dir("postgres", instance.db_instance_identifier), self.tls,
                                    instance.master_username, master_password(instance) or "", instance.db_name)
            self.servers.add(server)
            setattr(instance, _SERVER, server)
            server.start()
            instance.port = server.port
            setattr(instance, _ADDRESS, HOST)

    def set_password(self, instance: Any, password: str) -> None:
        with self.lock:
            self.database(instance)
            server: PostgresServer = getattr(instance, _SERVER)
            if server.password != password:
                server.set_password(password)

    def snapshot(self, instance: Any, snapshot: Any) -> None:
        """Dump the database of the instance's server for moto's new DB snapshot (an instance without a server, or
        whose server is gone, has nothing to dump: a restore of its snapshot starts empty)."""
        with self.lock:
            server: PostgresServer | None = getattr(instance, _SERVER, None)
            if server is None or not server.running():
                return
            path = self._snapshot_path(snapshot)
            try:
                server.dump(path)
            except (DataPlaneError, OSError, subprocess.SubprocessError):
                path.unlink(missing_ok=True)
                raise
            setattr(snapshot, _DUMP, path)

    def copy_snapshot(self, source: Any, target: Any) -> None:
        dump: Path | None = getattr(source, _DUMP, None)
        if dump is not None and dump.exists():
            path = self._snapshot_path(target)
            os.link(dump, path)
            setattr(target, _DUMP, path)

    def forget_snapshot(self, snapshot: Any) -> None:
        dump: Path | None = getattr(snapshot, _DUMP, None)
        if dump is not None:
            dump.unlink(missing_ok=True)

    def restore(self, instance: Any, snapshot: Any) -> None:
        """Restore the snapshot's dump into the database of the (new) instance's server."""
        dump: Path | None = getattr(snapshot, _DUMP, None)
        if dump is None:
            return
        with self.lock:
            self.database(instance)
            server: PostgresServer = getattr(instance, _SERVER)
            server.restore(dump)

    def _snapshot_path(self, snapshot: Any) -> Path:
        folder = self.directory / "snapshots"
        folder.mkdir(exist_ok=True)
        return folder / f"{snapshot.db_snapshot_identifier}-{uuid.uuid4().hex[:6]}.dump"

    def release(self, resource: Any) -> None:
        """Stop the server of moto's group or instance and remove its data."""
        self.stop(getattr(resource, _SERVER, None))

    def stop(self, server: Server | None) -> None:
        if server is not None:
            with self.lock:
                server.stop()
                self.servers.discard(server)

    def shutdown(self) -> None:
        for server in list(self.servers):
            self.stop(server)


class InsufficientCacheClusterCapacity(ElastiCacheException):
    code = "InsufficientCacheClusterCapacity"


def _wrap(cls: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(cls, name)
    setattr(cls, name, functools.wraps(original)(make(original)))


def _serve_caches(plane: DataPlane) -> None:
    def create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_with_server(self: Any, *args: Any, **kwargs: Any) -> Any:
            group = original(self, *args, **kwargs)
            if (group.engine or "redis") in CACHE_ENGINES:
                setattr(group, _TOKENS, (kwargs["auth_token"],) if kwargs.get("auth_token") else ())
                try:
                    plane.cache(group)
                except (DataPlaneError, OSError) as e:
                    plane.release(group)
                    self.replication_groups.pop(group.replication_group_id, None)
                    raise InsufficientCacheClusterCapacity(f"the local data plane could not start Redis: {e}") from e
            return group
        return create_with_server

    def modify(original: Callable[..., Any]) -> Callable[..., Any]:
        def modify_auth(self: Any) -> Any:
            token, strategy = self._get_param("AuthToken"), self._get_param("AuthTokenUpdateStrategy")
            group = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
            tokens: tuple[str, ...] | None = None
            if token or strategy:
                try:
                    tokens = rotated(getattr(group, _TOKENS, ()), token, strategy)
                except ValueError as e:
                    raise InvalidParameterValueException(str(e)) from e
            result = original(self)  # a group that does not exist fails here
            if _SERVER in vars(group):
                if tokens is not None:
                    plane.set_tokens(group, tokens)
                    group.auth_token_enabled = bool(tokens)
                    group.auth_token_last_modified_date = utcnow()
                else:
                    plane.cache(group)
            return result
        return modify_auth

    _wrap(ElastiCacheBackend, "create_replication_group", create)
    _wrap(ElastiCacheResponse, "modify_replication_group", modify)
    _wrap(ElastiCacheBackend, "describe_replication_groups", _serving(plane.cache))
    _wrap(ElastiCacheBackend, "delete_replication_group", _releasing(plane.release))
    _wrap(ElastiCacheBackend, "reset", _releasing_first(plane.release, lambda b: b.replication_groups.values()))


def _serve_databases(plane: DataPlane) -> None:
    def create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_with_server(self: Any, db_kwargs: dict[str, Any]) -> Any:
            instance = original(self, db_kwargs)
            if instance.engine in DATABASE_ENGINES and master_password(instance):
                _serve_or_remove(plane, self, instance, lambda: plane.database(instance),
                                 "InsufficientDBInstanceCapacity", "start PostgreSQL")
            return instance
        return create_with_server

    def modify(original: Callable[..., Any]) -> Callable[..., Any]:
        def modify_password(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
            instance = original(self, db_instance_identifier, db_kwargs)
            if _SERVER in vars(instance):
                plane.set_password(instance, master_password(instance) or "")
                instance.port = getattr(instance, _SERVER).port  # a DBPortNumber does not move the server
            return instance
        return modify_password

    _wrap(RDSBackend, "create_db_instance", create)
    _wrap(RDSBackend, "modify_db_instance", modify)
    _wrap(RDSBackend, "describe_db_instances", _serving(plane.database))
    _wrap(RDSBackend, "delete_db_instance", _releasing(plane.release))
    _wrap(RDSBackend, "reset", _releasing_first(plane.release, lambda b: b.databases.values()))
    _serve_snapshots(plane)
    instance_class: Any = DBInstance
    address = instance_class.address
    instance_class.address = property(lambda self: vars(self).get(_ADDRESS) or address.fget(self))


def _serve_or_remove(plane: DataPlane, backend: Any, instance: Any, serve: Callable[[], None], code: str,
                     what: str) -> None:
    """serve(); when it fails, the instance's server is stopped, moto forgets the instance, and RDS's error `code`
    says what could not be done."""
    try:
        serve()
    except (DataPlaneError, OSError, subprocess.SubprocessError) as e:
        plane.release(instance)
        backend.databases.pop(instance.db_instance_identifier, None)
        raise RDSClientError(code, f"the local data plane could not {what}: {e}") from e


def _serve_snapshots(plane: DataPlane) -> None:
    """DB snapshots that hold what the instance's database held, and restores that bring it back."""
    def create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_with_dump(self: Any, db_instance_identifier: str, db_snapshot_identifier: str,
                             *args: Any, **kwargs: Any) -> Any:
            snapshot = original(self, db_instance_identifier, db_snapshot_identifier, *args, **kwargs)
            try:
                plane.snapshot(self.databases[db_instance_identifier], snapshot)
            except (DataPlaneError, OSError, subprocess.SubprocessError) as e:
                self.database_snapshots.pop(db_snapshot_identifier, None)
                raise RDSClientError("InvalidDBInstanceState",
                                     f"the local data plane could not dump the database: {e}") from e
            return snapshot
        return create_with_dump

    def copy(original: Callable[..., Any]) -> Callable[..., Any]:
        def copy_with_dump(self: Any, source_db_snapshot_identifier: str, target_db_snapshot_identifier: str,
                           *args: Any, **kwargs: Any) -> Any:
            target = original(self, source_db_snapshot_identifier, target_db_snapshot_identifier, *args, **kwargs)
            plane.copy_snapshot(self.get_db_snapshot(source_db_snapshot_identifier), target)
            return target
        return copy_with_dump

    def restore(original: Callable[..., Any]) -> Callable[..., Any]:
        def restore_with_data(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
            instance = original(self, from_snapshot_id, overrides)  # the new instance's server starts empty
            if _SERVER in vars(instance):
                snapshot = self.get_db_snapshot(from_snapshot_id)
                _serve_or_remove(plane, self, instance, lambda: plane.restore(instance, snapshot),
                                 "InvalidRestoreFault", "restore the snapshot")
            return instance
        return restore_with_data

    _wrap(RDSBackend, "create_db_snapshot", create)
    _wrap(RDSBackend, "copy_db_snapshot", copy)
    _wrap(RDSBackend, "delete_db_snapshot", _releasing(plane.forget_snapshot))
    _wrap(RDSBackend, "restore_db_instance_from_db_snapshot", restore)
    _wrap(RDSBackend, "reset", _releasing_first(plane.forget_snapshot, lambda b: b.database_snapshots.values()))


def _serving(serve: Callable[[Any], object]) -> Callable[[Callable[..., Any]], Any]:
    """A describe that makes sure each group or instance with a server still has it running."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def describe_with_servers(self: Any, *args: Any, **kwargs: Any) -> Any:
            found = original(self, *args, **kwargs)
            for resource in found:
                if _SERVER in vars(resource):
                    serve(resource)
            return found
        return describe_with_servers
    return make


def _releasing(release: Callable[[Any], None]) -> Callable[[Callable[..., Any]], Any]:
    """A delete that stops the server (or removes the dump) of what it deleted."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_with_server(self: Any, *args: Any, **kwargs: Any) -> Any:
            resource = original(self, *args, **kwargs)
            release(resource)
            return resource
        return delete_with_server
    return make


def _releasing_first(release: Callable[[Any], None],
                     resources: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Any]:
    """A backend's reset that first stops the servers (removes the dumps) of what it holds (POST /moto-api/reset)."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def reset(self: Any) -> Any:
            for resource in list(resources(self)):
                release(resource)
            return original(self)
        return reset
    return make


def stop_on_signals(plane: DataPlane) -> None:
    """SIGTERM and SIGINT stop the servers before the emulator exits (they share its process group, so they are
    signalled too; PostgreSQL is then told to shut down fast)."""
    def stop(signum: int, _frame: FrameType | None) -> None:
        plane.shutdown()
        sys.exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def install(environ: Mapping[str, str] = os.environ) -> DataPlane | None:
    """Back the emulator's caches and databases with servers when ENABLE is set; returns the data plane."""
    if not enabled(environ):
        return None
    given = environ.get(DIRECTORY, "").strip()
    plane = DataPlane(Path(given) if given else Path(tempfile.mkdtemp(prefix="aenv-dataplane-")))
    _serve_caches(plane)
    _serve_databases(plane)
    return plane
