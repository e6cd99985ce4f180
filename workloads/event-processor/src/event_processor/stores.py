"""PostgreSQL (every event once, keyed by its id) and Redis (aggregates, applied once per event, and the
gateway's channels)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from aenv_workload.keys import EVENTS_TABLE, aggregate_key, seen_key, updates_channel
from psycopg.types.json import Jsonb

from . import metrics
from .events import Event

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (
  event_id    text PRIMARY KEY,
  channel     text NOT NULL,
  kind        text NOT NULL,
  value       double precision NOT NULL,
  severity    text,
  payload     jsonb NOT NULL,
  occurred_at timestamptz,
  received_at timestamptz NOT NULL DEFAULT now(),
  alerted_at  timestamptz
);
CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_channel ON {EVENTS_TABLE} (channel, received_at);
"""
SCHEMA_LOCK = 0x61656E76  # an advisory lock: replicas starting together create the table once

# Applies an event to its channel's aggregate unless that event was applied before (the marker), atomically.
APPLY = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) == false then return nil end
local value = tonumber(ARGV[1])
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('HINCRBYFLOAT', KEYS[2], 'sum', ARGV[1])
local low, high = tonumber(redis.call('HGET', KEYS[2], 'min')), tonumber(redis.call('HGET', KEYS[2], 'max'))
if low == nil or value < low then redis.call('HSET', KEYS[2], 'min', ARGV[1]) end
if high == nil or value > high then redis.call('HSET', KEYS[2], 'max', ARGV[1]) end
redis.call('HSET', KEYS[2], 'last', ARGV[1], 'updatedAt', ARGV[2])
return redis.call('HGETALL', KEYS[2])
"""
SEEN_SECONDS = 7 * 24 * 3600  # longer than any redelivery: SQS keeps a message 14 days at most, DLQ aside


class Database:
    """One connection per worker thread (psycopg connections are not shared between threads)."""

    def __init__(self, url: Callable[[], str]) -> None:
        self._url = url
        self._local = threading.local()

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self._url(), autocommit=True, connect_timeout=5)
            self._local.conn = conn
        return conn

    def migrate(self) -> None:
        with self._conn().transaction() as tx:
            tx.connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            tx.connection.execute(SCHEMA.encode())

    def insert(self, e: Event) -> bool:
        """True when this call wrote the event; False when it was there already."""
        started = time.perf_counter()
        cursor = self._conn().execute(
            f"INSERT INTO {EVENTS_TABLE} (event_id, channel, kind, value, severity, payload, occurred_at) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            (e.id, e.channel, e.kind, e.value, e.severity, Jsonb(e.payload), e.occurred_at))
        inserted = cursor.fetchone() is not None
        metrics.query_latency.labels(service="event-processor", store="postgresql").observe(
            time.perf_counter() - started)
        return inserted

    def claim_alert(self, event_id: str) -> bool:
        """Mark the event's alert as sent: True for the one caller that marks it (an alert goes out once)."""
        cursor = self._conn().execute(
            f"UPDATE {EVENTS_TABLE} SET alerted_at = now() WHERE event_id = %s AND alerted_at IS NULL "
            f"RETURNING event_id", (event_id,))
        return cursor.fetchone() is not None

    def unclaim_alert(self, event_id: str) -> None:
        self._conn().execute(f"UPDATE {EVENTS_TABLE} SET alerted_at = NULL WHERE event_id = %s", (event_id,))

    def ping(self) -> None:
        self._conn().execute("SELECT 1")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


class Cache:
    def __init__(self, url: Callable[[], str]) -> None:
        self._url = url
        self._client: Any = None
        self._apply: Any = None

    def client(self) -> Any:
        if self._client is None:
            self._client = redis.Redis.from_url(self._url(), socket_connect_timeout=3, socket_timeout=5,
                                                health_check_interval=30)
            self._apply = self._client.register_script(APPLY)
        return self._client

    def apply(self, e: Event) -> dict[str, float] | None:
        """The channel's aggregate after the event, or None when the event was applied before."""
        client = self.client()
        started = time.perf_counter()
        try:
            result = self._apply(keys=[seen_key(e.id), aggregate_key(e.channel)],
                                 args=[repr(e.value), repr(time.time()), SEEN_SECONDS], client=client)
        except redis.AuthenticationError:
            self._client = None  # the token rotated: the next call reads the mounted Secret again
            raise
        metrics.query_latency.labels(service="event-processor", store="redis").observe(time.perf_counter() - started)
        if result is None:
            return None
        pairs = iter(result)
        return {k.decode(): float(v) for k, v in zip(pairs, pairs, strict=True)}

    def publish(self, channel: str, update: str) -> None:
        self.client().publish(updates_channel(channel), update)
        metrics.events_published.inc()
