"""The reference workloads (workloads/*) run as the processes they are in a pod, against the real Redis and
PostgreSQL of aenv.local.dataplane and SQS/SNS in moto, configured only with the connection Secret's variables."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
import redis

from aenv.local.dataplane import HOST, PostgresServer, RedisServer, Tls
from aenv.local.emulator import CREDENTIALS, REGION, AwsEmulator, free_port
from aenv.local.processes import wait_for

DEADLINE = 30.0
PASSWORD = secrets.token_urlsafe(16)
JWT_SECRET = secrets.token_urlsafe(32)


@dataclass
class Stores:
    redis: RedisServer
    postgres: PostgresServer
    token: str

    @property
    def cache_url(self) -> str:
        return f"redis://:{self.token}@{HOST}:{self.redis.port}"

    def database_url(self, db: str) -> str:
        return f"postgresql://aenv:{PASSWORD}@{HOST}:{self.postgres.port}/{db}?sslmode=require"

    def cache(self) -> Any:
        return self.redis.client(self.token)

    def fresh(self) -> dict[str, str]:
        """The connection Secret's data-store variables of a new database and an empty cache."""
        db = f"w_{secrets.token_hex(4)}"
        with self.postgres.connect("postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {db}".encode())
        self.cache().flushall()
        return {"CACHE_URL": self.cache_url, "CACHE_HOST": HOST, "CACHE_PORT": str(self.redis.port),
                "CACHE_AUTH_TOKEN": self.token, "DATABASE_URL": self.database_url(db), "DATABASE_HOST": HOST,
                "DATABASE_PORT": str(self.postgres.port), "DATABASE_NAME": db, "DATABASE_USER": "aenv",
                "DATABASE_PASSWORD": PASSWORD, "JWT_SECRET": JWT_SECRET, "AWS_REGION": REGION}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    with running_stores(tmp_path_factory.mktemp("stores")) as started:
        yield started


@contextlib.contextmanager
def running_stores(directory: Path) -> Iterator[Stores]:
    """A redis-server with an AUTH token and a PostgreSQL with TLS, on 127.0.0.1, stopped on leaving."""
    token = secrets.token_urlsafe(24)
    cache = RedisServer(directory / "redis").start([token])
    try:
        database = PostgresServer(directory / "postgres", Tls.make(directory), "aenv", PASSWORD, None).start()
        try:
            yield Stores(cache, database, token)
        finally:
            database.stop()
    finally:
        cache.stop()


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode(), args).fetchall()


def token(sub: str = "tester", secret: str = JWT_SECRET, ttl: float = 300, **claims: Any) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time() + ttl), **claims}, secret, algorithm="HS256")


@dataclass
class Workload:
    """One workload process; `port` serves /healthz, /readyz, /metrics (and the WebSocket, for the gateway)."""
    module: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: bool = True) -> Workload:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CACHE_", "DATABASE_", "QUEUE_"))}
        env |= {"HOST": HOST, "PORT": str(self.port), "PYTHONUNBUFFERED": "1", **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if ready:
            wait_for(self.ready, DEADLINE, f"{self.module} on port {self.port} to be ready (log: {self.log})")
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=3) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"{self.module} exited: {self.log_text()[-2000:]}"
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """A sample's value from /metrics (0 when absent)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.get("/metrics")[1].splitlines():
            sample, _, value = line.rpartition(" ")
            metric, _, rest = sample.partition("{")
            have = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
            if metric == name and have == wanted:
                return float(value)
        return 0.0

    def terminate(self, timeout: float = DEADLINE) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]


@dataclass
class Queues:
    """The queues and topic aenv would make for `queues: [{name: events, deadLetter: ...}]` and `topics: [alerts]`,
    with the variables the connection Secret gives them."""
    url: str
    dlq_url: str
    notifications_url: str
    topic_arn: str

    @property
    def env(self) -> dict[str, str]:
        return {"QUEUE_EVENTS_URL": self.url, "QUEUE_EVENTS_DLQ_URL": self.dlq_url, "TOPIC_ALERTS_ARN": self.topic_arn}


def make_queues(emulator: AwsEmulator, visibility: int = 30, max_receives: int = 5) -> Queues:
    sqs, sns = emulator.client("sqs"), emulator.client("sns")
    suffix = secrets.token_hex(3)
    dlq = sqs.create_queue(QueueName=f"events-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"events-{suffix}", Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})})["QueueUrl"]
    notifications = sqs.create_queue(QueueName=f"notifications-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=notifications, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"alerts-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return Queues(url, dlq, notifications, topic)


def aws_env(emulator: AwsEmulator) -> dict[str, str]:
    """What IRSA gives a pod, as the standard variables boto3 reads; here pointing at the emulator."""
    return {**CREDENTIALS, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": emulator.url}


def processor_env(emulator: AwsEmulator, stores: dict[str, str], queues: Queues) -> dict[str, str]:
    return {**stores, **queues.env, **aws_env(emulator), "PROCESSOR_WAIT_SECONDS": "1"}


def queued(emulator: AwsEmulator, url: str) -> int:
    """Messages in a queue, visible or in flight."""
    a = emulator.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def publish(stores: Stores, channel: str, data: dict[str, Any]) -> int:
    """What the event processor does with an update: every replica of the gateway subscribed to it gets it."""
    from aenv_workload.keys import updates_channel

    client: redis.Redis = stores.cache()
    return int(client.publish(updates_channel(channel), json.dumps(data)))
