"""Real Redis and PostgreSQL servers from Debian's packages, on 127.0.0.1: the local data plane.

The AWS emulator starts one behind each ElastiCache replication group and RDS PostgreSQL instance it holds
(dataplane_backend), so the endpoints and credentials aenv hands its workloads can be checked by connecting.

Each server runs as a child of the process that starts it, in that process's process group (stopping the emulator
stops them too), listens on a free port of 127.0.0.1, keeps its state in its own directory, and is waited on with a
deadline. PostgreSQL refuses to run as root: as root it runs as the `postgres` user, its cluster in a directory
that user owns (a directory of its own under the system's temporary directory: the caller's may not be reachable
by another user).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import processes
from .emulator import free_port

HOST = "127.0.0.1"
REDIS_SERVER = "redis-server"
POSTGRES_ROOT = Path("/usr/lib/postgresql")  # Debian: /usr/lib/postgresql/<major>/bin
ADMIN_USER = "aenv-emulator"  # Redis: the user the emulator sets the default user's passwords through
START_SECONDS = 30
STOP_SECONDS = 15


class DataPlaneError(RuntimeError):
    """A server could not be started or configured: says what to do about it."""


# TLS --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tls:
    """A certificate authority made for the data plane and a server certificate it signed for 127.0.0.1 and
    localhost. Clients trust the servers by trusting ca_file."""
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, directory: Path, days: int = 30) -> Tls:
        """Write a new ca.crt, server.crt and server.key (mode 0600) into directory."""
        tls = cls(directory / "ca.crt", directory / "server.crt", directory / "server.key")
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days))

        def name(cn: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (x509.CertificateBuilder().subject_name(name("aenv local data plane CA")).issuer_name(
            name("aenv local data plane CA")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(validity[0]).not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(HOST)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(validity[0]).not_valid_after(validity[1])
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST)),
                                                            x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        directory.mkdir(parents=True, exist_ok=True)
        pem = serialization.Encoding.PEM
        tls.key_file.touch(mode=0o600)
        tls.key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        tls.cert_file.write_bytes(cert.public_bytes(pem))
        tls.ca_file.write_bytes(ca.public_bytes(pem))
        return tls


# Child processes --------------------------------------------------------------------------------------------------

class _Child:
    """A server process started by this process, stopped by its pid alone (it shares this process's group)."""

    def __init__(self, cmd: Sequence[str], log: Path, user: str | None = None) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         **_as_user(user))

    def running(self) -> bool:
        return self.proc.poll() is None

    def check_running(self, what: str) -> None:
        if not self.running():
            raise DataPlaneError(f"{what} exited with status {self.proc.returncode}: {log_tail(self.log)}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.running():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _as_user(user: str | None) -> dict[str, Any]:
    """Popen's arguments that run the child as `user` (with that user's group and no supplementary groups)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def log_tail(log: Path, chars: int = 1500) -> str:
    try:
        return log.read_text(errors="replace")[-chars:].strip() or "(no output)"
    except OSError:
        return "(no log)"


def _wait(check: Callable[[], bool], child: _Child, what: str) -> None:
    """Wait until check() holds, failing at once if the process exits, and after START_SECONDS."""
    def ready() -> bool:
        child.check_running(what)
        return check()

    try:
        processes.wait_for(ready, START_SECONDS, what, interval=0.05)
    except TimeoutError as e:
        child.check_running(what)  # the exit, when that is why
        raise DataPlaneError(f"{e}: {log_tail(child.log)}") from e


# Redis ------------------------------------------------------------------------------------------------------------

def redis_config(port: int, directory: Path, admin_password: str, tls: Tls | None) -> str:
    """redis-server's configuration: 127.0.0.1 only, no persistence, the default user off until the emulator sets
    its passwords (default_user_rules) through the admin user. With tls, TLS only on `port` (as ElastiCache with
    transit encryption), client certificates not asked for."""
    lines = [f"bind {HOST}", "protected-mode yes", f"dir {directory}", 'save ""', "appendonly no",
             "daemonize no", 'logfile ""', "databases 16", "user default off",
             f"user {ADMIN_USER} on >{admin_password} ~* &* +@all"]
    if tls:
        lines += ["port 0", f"tls-port {port}", f"tls-cert-file {tls.cert_file}", f"tls-key-file {tls.key_file}",
                  f"tls-ca-cert-file {tls.ca_file}", "tls-auth-clients no"]
    else:
        lines.append(f"port {port}")
    return "\n".join(lines) + "\n"


def default_user_rules(tokens: Sequence[str]) -> list[str]:
    """ACL SETUSER arguments for the default user: every token a valid AUTH password, or no password at all
    (ElastiCache without an AUTH token) when there is none."""
    passwords = [f">{t}" for t in tokens] if tokens else ["nopass"]
    return ["reset", "on", *passwords, "~*", "&*", "+@all"]


class RedisServer:
    """One redis-server; `tokens` are the AUTH passwords its default user accepts (none: no AUTH)."""

    def __init__(self, directory: Path, tls: Tls | None = None) -> None:
        self.directory, self.tls = directory, tls
        self.port = 0
        self.tokens: tuple[str, ...] = ()
        self._admin_password = secrets.token_hex(16)
        self._child: _Child | None = None

    def start(self, tokens: Sequence[str] = ()) -> RedisServer:
        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            raise DataPlaneError(f"{REDIS_SERVER} is not installed: run `make setup` (Debian package redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = self.directory / "redis.conf"
        config.touch(mode=0o600)
        config.write_text(redis_config(self.port, self.directory, self._admin_password, self.tls))
        self._child = _Child([binary, str(config)], self.directory / "redis.log")
        _wait(lambda: bool(self._admin().ping()), self._child, f"redis-server on {HOST}:{self.port}")
        self.set_tokens(tokens)
        return self

    def set_tokens(self, tokens: Sequence[str]) -> None:
        with self._admin() as admin:
            admin.execute_command("ACL", "SETUSER", "default", *default_user_rules(tokens))
        self.tokens = tuple(tokens)

    def client(self, password: str | None = None, **kwargs: Any) -> Any:
        """A redis-py client of this server as the default user (with the data plane's CA when it serves TLS)."""
        import redis

        tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": str(self.tls.ca_file)} if self.tls else {}
        return redis.Redis(host=HOST, port=self.port, password=password, socket_timeout=5, **tls, **kwargs)

    def _admin(self) -> Any:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return self.client(username=ADMIN_USER, password=self._admin_password, socket_connect_timeout=2,
                           retry=Retry(NoBackoff(), 0))  # waiting for the start polls already

    def running(self) -> bool:
        return self._child is not None and self._child.running()

    def stop(self) -> None:
        """Stop the server and remove its directory (its data)."""
        if self._child is not None:
            self._child.stop(signal.SIGTERM)
        shutil.rmtree(self.directory, ignore_errors=True)


# PostgreSQL -------------------------------------------------------------------------------------------------------

def postgres_bin(root: Path = POSTGRES_ROOT) -> Path:
    """The bin directory of the newest PostgreSQL Debian installed (/usr/lib/postgresql/<major>/bin)."""
    found = sorted((int(p.name), p / "bin") for p in _children(root) if p.name.isdigit()
                   and (p / "bin" / "postgres").exists())
    if not found:
        raise DataPlaneError(f"PostgreSQL is not installed ({root}/<version>/bin/postgres): run `make setup` "
                             f"(Debian package postgresql)")
    return found[-1][1]


def _children(root: Path) -> Iterable[Path]:
    return root.iterdir() if root.is_dir() else ()


def postgres_settings(port: int, tls: Tls) -> dict[str, str]:
    """The server's settings (-c): TCP on 127.0.0.1 only, no Unix socket, TLS offered (sslmode=require works;
    plain connections are accepted too, as on RDS without rds.force_ssl), durability traded for speed."""
    return {"listen_addresses": HOST, "port": str(port), "unix_socket_directories": "", "ssl": "on",
            "ssl_cert_file": str(tls.cert_file), "ssl_key_file": str(tls.key_file), "fsync": "off",
            "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "50",
            "shared_buffers": "16MB", "log_min_messages": "warning"}


def _service_user() -> str | None:
    """Whom PostgreSQL runs as: the `postgres` user when this process is root (it refuses root), else nobody else."""
    return "postgres" if os.geteuid() == 0 else None


class PostgresServer:
    """One PostgreSQL cluster whose bootstrap superuser is the instance's master user, holding its database."""

    def __init__(self, directory: Path, tls: Tls, username: str, password: str, database: str | None) -> None:
        self.directory, self.tls = directory, tls
        self.username, self.password, self.database = username, password, database
        self.port = 0
        self.user = _service_user()
        self._cluster: Path | None = None
        self._child: _Child | None = None

    def start(self) -> PostgresServer:
        bin_dir = postgres_bin()
        self.directory.mkdir(parents=True, exist_ok=True)
        home = self._home()
        pwfile = home / "pwfile"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        tls = Tls(self.tls.ca_file, home / "server.crt", home / "server.key")  # readable by the server's user
        shutil.copyfile(self.tls.cert_file, tls.cert_file)
        tls.key_file.touch(mode=0o600)
        shutil.copyfile(self.tls.key_file, tls.key_file)
        self._chown(home)
        cluster = home / "data"
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(cluster), "-U", self.username, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, **_as_user(self.user))
        pwfile.unlink()
        if initdb.returncode:
            raise DataPlaneError(f"initdb failed: {(initdb.stdout + initdb.stderr)[-1500:]}")
        self._cluster = cluster
        self.port = free_port()
        cmd = [str(bin_dir / "postgres"), "-D", str(cluster)]
        for key, value in postgres_settings(self.port, tls).items():
            cmd += ["-c", f"{key}={value}"]
        log = self.directory / "postgres.log"
        log.touch()
        self._child = _Child(cmd, log, self.user)
        _wait(self._accepts, self._child, f"PostgreSQL on {HOST}:{self.port}")
        if self.database and self.database != "postgres":
            from psycopg import sql
            with self.connect("postgres", autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        return self

    def _home(self) -> Path:
        """Where the cluster lives: the server's directory, or as root a directory the postgres user owns."""
        if self.user is None:
            return self.directory
        home = Path(tempfile.mkdtemp(prefix="aenv-postgres-"))
        link = self.directory / "cluster"
        link.unlink(missing_ok=True)
        link.symlink_to(home)
        return home

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for p in (path, *path.iterdir()):
                os.chown(p, entry.pw_uid, entry.pw_gid)

    def _accepts(self) -> bool:
        with self.connect("postgres", connect_timeout=2):
            return True

    def connect(self, dbname: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        """A psycopg connection as the master user (TLS required, as the connection Secret asks)."""
        import psycopg

        return psycopg.connect(host=HOST, port=self.port, user=self.username,
                               password=self.password if password is None else password,
                               dbname=dbname or self.database or "postgres", sslmode="require", **kwargs)

    def set_password(self, password: str) -> None:
        """The master user's new password (ModifyDBInstance MasterUserPassword)."""
        from psycopg import sql

        with self.connect("postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(self.username),
                                                                     sql.Literal(password)))
        self.password = password

    def dump(self, path: Path) -> None:
        """pg_dump (custom format) of the master user's database into path: what a DB snapshot holds here."""
        self._tool("pg_dump", "--format=custom", "--no-password", f"--file={path}")

    def restore(self, path: Path) -> None:
        """pg_restore of a dump into the database, owned by this server's master user (a restored instance's)."""
        self._tool("pg_restore", "--no-password", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                   f"--dbname={self.database or 'postgres'}", str(path))

    def _tool(self, name: str, *args: str) -> None:
        """One of PostgreSQL's client tools against this server as the master user (the password in PGPASSWORD)."""
        environ = {**os.environ, "PGHOST": HOST, "PGPORT": str(self.port), "PGUSER": self.username,
                   "PGPASSWORD": self.password, "PGDATABASE": self.database or "postgres", "PGSSLMODE": "require"}
        done = subprocess.run([str(postgres_bin() / name), *args], capture_output=True, text=True, env=environ,
                              timeout=START_SECONDS * 4)
        if done.returncode:
            output = done.stderr or done.stdout
            output = output.replace(self.password, "***") if self.password else output
            raise DataPlaneError(f"{name} failed (exit {done.returncode}): {output[-1500:].strip()}")

    def running(self) -> bool:
        return self._child is not None and self._child.running()

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions are ended), then remove the cluster and the server's directory."""
        if self._child is not None:
            self._child.stop(signal.SIGINT)
        if self._cluster is not None and self.user is not None:
            shutil.rmtree(self._cluster.parent, ignore_errors=True)
        shutil.rmtree(self.directory, ignore_errors=True)

