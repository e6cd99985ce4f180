"""The reference event-processor against a real Redis and PostgreSQL and SQS/SNS in moto: one row per event id,
a poison message left to reach the dead-letter queue, a slow message kept invisible, and SIGTERM finishing the
batch in hand so that no deleted message is lost."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .workloads import DEADLINE, Stores, Workload, make_queues, processor_env, query, queued, stores

pytestmark = pytest.mark.integration
__all__ = ["stores"]  # the module's fixture


def rows(env: dict[str, str]) -> list[tuple[str, str, float]]:
    try:
        return [(r[0], r[1], r[2]) for r in query(env["DATABASE_URL"],
                                                  "SELECT event_id, channel, value FROM analytics_events ORDER BY 1")]
    except psycopg.errors.UndefinedTable:
        return []


def test_the_same_event_twice_is_one_row_and_counted_once(emulator: AwsEmulator, stores: Stores,
                                                          tmp_path: Path) -> None:
    queues = make_queues(emulator)
    env = processor_env(emulator, stores.fresh(), queues)
    sqs = emulator.client("sqs")
    event = json.dumps({"id": "trade-1", "channel": "btc-usd", "value": 42.5, "kind": "trade"})
    for _ in range(2):
        sqs.send_message(QueueUrl=queues.url, MessageBody=event)
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps({"channel": "btc-usd", "value": 7}))  # no id
    processor = Workload("event_processor", env, tmp_path / "processor.log").start()
    try:
        wait_for(lambda: queued(emulator, queues.url) == 0, DEADLINE, "the queue to be drained")
        assert [(r[1], r[2]) for r in rows(env)] == [("btc-usd", 7.0), ("btc-usd", 42.5)]
        assert "trade-1" in {r[0] for r in rows(env)}
        aggregate = {k.decode(): float(v) for k, v in stores.cache().hgetall("analytics:aggregate:btc-usd").items()}
        assert {k: aggregate[k] for k in ("count", "sum", "min", "max")} == {"count": 2, "sum": 49.5, "min": 7,
                                                                             "max": 42.5}
        assert processor.metric("processor_messages_total", outcome="ok") == 2
        assert processor.metric("processor_messages_total", outcome="duplicate") == 1
        assert queued(emulator, queues.dlq_url) == 0
    finally:
        processor.stop()


def test_a_poison_message_is_left_to_reach_the_dead_letter_queue(emulator: AwsEmulator, stores: Stores,
                                                                 tmp_path: Path) -> None:
    queues = make_queues(emulator, visibility=1, max_receives=2)
    env = processor_env(emulator, stores.fresh(), queues)
    sqs = emulator.client("sqs")
    sqs.send_message(QueueUrl=queues.url, MessageBody="{not json")
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps({"channel": "btc-usd", "value": "high"}))
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps({"id": "fine", "channel": "btc-usd", "value": 1}))
    processor = Workload("event_processor", env, tmp_path / "processor.log").start()
    try:
        wait_for(lambda: queued(emulator, queues.dlq_url) == 2, DEADLINE, "both poison messages in the DLQ")
        wait_for(lambda: queued(emulator, queues.url) == 0, DEADLINE, "the queue to be empty")
        dead = sqs.receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in dead) == sorted(["{not json", json.dumps({"channel": "btc-usd",
                                                                                   "value": "high"})])
        assert [r[0] for r in rows(env)] == ["fine"]
        assert processor.metric("processor_messages_total", outcome="invalid") >= 4  # each received maxReceiveCount
        reasons = {e.get("reason") for e in processor.logs() if e["message"].startswith("invalid message")}
        assert reasons == {"the body is not JSON", "value must be a finite number"}
    finally:
        processor.stop()


def test_a_slow_message_stays_invisible_until_it_is_done(emulator: AwsEmulator, stores: Stores,
                                                         tmp_path: Path) -> None:
    queues = make_queues(emulator, visibility=2)
    env = processor_env(emulator, stores.fresh(), queues)
    sqs = emulator.client("sqs")
    processor = Workload("event_processor", env, tmp_path / "processor.log").start()
    try:
        # The row's key held in another transaction: the processor's insert waits on it for longer than the
        # message's visibility timeout, as a slow database would make it.
        with psycopg.connect(env["DATABASE_URL"]) as blocker:
            blocker.execute("INSERT INTO analytics_events (event_id, channel, kind, value, payload) "
                            "VALUES ('slow', 'btc-usd', 'trade', 1, '{}')")
            sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps({"id": "slow", "channel": "btc-usd",
                                                                          "value": 3}))
            wait_for(lambda: processor.metric("processor_visibility_extensions_total") >= 3, DEADLINE,
                     "the message's visibility to be extended three times (3 s past its 2 s timeout)")
            assert sqs.receive_message(QueueUrl=queues.url, WaitTimeSeconds=0).get("Messages", []) == []
            blocker.rollback()
        wait_for(lambda: queued(emulator, queues.url) == 0, DEADLINE, "the message to be done and deleted")
        assert rows(env) == [("slow", "btc-usd", 3.0)]
        assert processor.metric("processor_messages_received_total") == 1
    finally:
        processor.stop()


def test_sigterm_finishes_the_batch_and_loses_no_acknowledged_message(emulator: AwsEmulator, stores: Stores,
                                                                      tmp_path: Path) -> None:
    queues = make_queues(emulator)
    env = processor_env(emulator, stores.fresh(), queues)
    sqs = emulator.client("sqs")
    n = 200
    for start in range(0, n, 10):
        sqs.send_message_batch(QueueUrl=queues.url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"id": f"e{i}", "channel": f"c{i % 5}", "value": i})}
            for i in range(start, start + 10)])
    first = Workload("event_processor", env, tmp_path / "first.log").start()
    try:
        wait_for(lambda: len(rows(env)) >= 20, DEADLINE, "the first processor to have written some events")
        assert first.terminate() == 0
    finally:
        first.stop()
    # Every message is either written or still queued (a deleted message was written first).
    written, left = len(rows(env)), queued(emulator, queues.url)
    assert written + left >= n, (written, left)
    assert {e["message"] for e in first.logs()} >= {"starting", "stopped"}
    second = Workload("event_processor", env, tmp_path / "second.log").start()
    try:
        wait_for(lambda: len(rows(env)) == n and queued(emulator, queues.url) == 0, 60,
                 "the second processor to finish the queue")
    finally:
        second.stop()
    assert sorted(r[0] for r in rows(env)) == sorted(f"e{i}" for i in range(n))
    total = sum(int(v) for v in (stores.cache().hget(f"analytics:aggregate:c{c}", "count") for c in range(5)))
    assert total == n, "each event counted once in the aggregates"
