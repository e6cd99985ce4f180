"""The SQS loop: long polls in batches, handles a batch's messages in parallel, deletes what was handled, extends
the visibility of messages still being handled, and finishes its batch when asked to stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aenv_workload import Connection

from . import events, metrics
from .stores import Cache, Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    queue_url: str
    database_url: Callable[[], str]
    cache_url: Callable[[], str]
    alerts_topic_arn: str | None
    batch_size: int = 10  # SQS's maximum per receive
    wait_seconds: int = 20  # long polling: below the pod's termination grace period, so a stop finishes a poll
    concurrency: int = 8

    @classmethod
    def from_connection(cls, c: Connection) -> Settings:
        queue = c.get("PROCESSOR_QUEUE") or "events"  # which of the environment's queues (default: events)
        topic = c.get("PROCESSOR_ALERTS_TOPIC") or "alerts"
        c.require("DATABASE_URL", "where events are written")
        c.require("CACHE_URL", "where aggregates are kept")
        return cls(queue_url=c.queue_url(queue),
                   database_url=lambda: c.require("DATABASE_URL", "where events are written"),
                   cache_url=lambda: c.require("CACHE_URL", "where aggregates are kept"),
                   alerts_topic_arn=c.topic_arn(topic),
                   batch_size=max(1, min(10, int(c.number("PROCESSOR_BATCH_SIZE", 10)))),
                   wait_seconds=max(0, min(20, int(c.number("PROCESSOR_WAIT_SECONDS", 20)))),
                   concurrency=max(1, int(c.number("PROCESSOR_CONCURRENCY", 8))))


class InFlight:
    """Receipt handles of messages being handled, and when their visibility was last set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, float] = {}

    def add(self, receipts: list[str], now: float) -> None:
        with self._lock:
            self._since |= dict.fromkeys(receipts, now)
            metrics.inflight.set(len(self._since))

    def remove(self, receipt: str) -> None:
        with self._lock:
            self._since.pop(receipt, None)
            metrics.inflight.set(len(self._since))

    def due(self, now: float, after: float) -> list[str]:
        """Handles whose visibility was set `after` seconds ago or more; marked as extended now."""
        with self._lock:
            due = [r for r, t in self._since.items() if now - t >= after]
            self._since |= dict.fromkeys(due, now)
            return due


class Processor:
    def __init__(self, settings: Settings, sqs: Any, sns: Any, db: Database, cache: Cache) -> None:
        self.settings, self.sqs, self.sns, self.db, self.cache = settings, sqs, sns, db, cache
        self.inflight = InFlight()
        self.visibility = 30
        self.last_poll_ok = 0.0
        self.started = False
        metrics.init()

    def prepare(self) -> None:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.settings.queue_url,
                                                   AttributeNames=["VisibilityTimeout"])["Attributes"]
        self.visibility = int(attributes.get("VisibilityTimeout", 30))
        self.db.migrate()
        self.started = True

    def run(self, stop: threading.Event) -> None:
        """Poll until stop is set; a batch in hand is always finished, so no handled message is lost."""
        finished = threading.Event()  # the extender runs until the last batch is done, stop or not
        extender = threading.Thread(target=self._extend, args=(finished,), name="visibility", daemon=True)
        extender.start()
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="handle") as pool:
            failures = 0
            while not stop.is_set():
                try:
                    batch = self.receive()
                    failures = 0
                except Exception as e:  # noqa: BLE001 - SQS unreachable or throttling: back off, keep going
                    failures += 1
                    metrics.errors.labels(kind="sqs_receive").inc()
                    log.warning("receive failed", extra={"error": repr(e)})
                    stop.wait(min(0.5 * 2 ** failures, 20))
                    continue
                if batch:
                    self.handle_batch(batch, pool)
        metrics.draining.set(1)
        finished.set()
        extender.join(timeout=5)

    def receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url, MaxNumberOfMessages=self.settings.batch_size,
            WaitTimeSeconds=self.settings.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"])
        self.last_poll_ok = time.monotonic()
        batch: list[dict[str, Any]] = response.get("Messages", [])
        if batch:
            metrics.received.inc(len(batch))
            oldest = min(int(m.get("Attributes", {}).get("SentTimestamp", time.time() * 1000)) for m in batch)
            metrics.queue_lag.set(max(0.0, time.time() - oldest / 1000))
        return batch

    def handle_batch(self, batch: list[dict[str, Any]], pool: ThreadPoolExecutor) -> None:
        self.inflight.add([m["ReceiptHandle"] for m in batch], time.monotonic())
        try:
            done = [m for m, ok in zip(batch, pool.map(self.handle, batch), strict=True) if ok]
            if done:
                self.delete(done)
        finally:
            for m in batch:
                self.inflight.remove(m["ReceiptHandle"])

    def delete(self, done: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
        response = self.sqs.delete_message_batch(QueueUrl=self.settings.queue_url, Entries=entries)
        for failed in response.get("Failed", []):
            metrics.errors.labels(kind="sqs_delete").inc()  # handled again on redelivery: idempotent
            log.warning("delete failed", extra={"code": failed.get("Code"), "error": failed.get("Message")})

    def handle(self, message: dict[str, Any]) -> bool:
        """True when the message is done with (delete it); False leaves it to SQS's redelivery and DLQ."""
        started = time.perf_counter()
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            event = events.parse(message["MessageId"], message["Body"])
        except events.Poison as e:
            metrics.messages.labels(outcome="invalid").inc()
            log.warning("invalid message left for the dead-letter queue",
                        extra={"message_id": message["MessageId"], "reason": str(e), "receives": receives})
            return False
        try:
            outcome = self.process(event)
        except Exception as e:  # noqa: BLE001 - a store or SNS failed: redelivered after the visibility timeout
            metrics.messages.labels(outcome="failed").inc()
            metrics.errors.labels(kind=type(e).__name__).inc()
            log.warning("message failed, left for redelivery",
                        extra={"event_id": event.id, "error": repr(e), "receives": receives})
            return False
        metrics.messages.labels(outcome=outcome).inc()
        metrics.latency.observe(time.perf_counter() - started)
        return True

    def process(self, event: events.Event) -> str:
        inserted = self.db.insert(event)
        aggregate = self.cache.apply(event)
        if aggregate is not None:
            self.cache.publish(event.channel, events.update(event, aggregate, time.time()))
        if event.severity and self.settings.alerts_topic_arn and self.db.claim_alert(event.id):
            self.alert(event)
        return "ok" if inserted else "duplicate"  # the row is the event's record; the aggregate follows it once

    def alert(self, event: events.Event) -> None:
        subject, body = events.alert(event)
        try:
            self.sns.publish(TopicArn=self.settings.alerts_topic_arn, Subject=subject, Message=body,
                             MessageAttributes={"severity": {"DataType": "String",
                                                             "StringValue": str(event.severity)}})
        except BaseException:
            self.db.unclaim_alert(event.id)  # sent again on the redelivery
            raise
        metrics.alerts_triggered.labels(severity=str(event.severity)).inc()
        log.info("alert sent", extra={"event_id": event.id, "severity": event.severity})

    def _extend(self, finished: threading.Event) -> None:
        """Slow messages keep their visibility: extended when half of it has passed."""
        while not finished.wait(max(0.25, self.visibility / 4)):
            self.extend_due()

    def extend_due(self) -> None:
        due = self.inflight.due(time.monotonic(), self.visibility / 2)
        for start in range(0, len(due), 10):
            entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": self.visibility}
                       for i, r in enumerate(due[start:start + 10])]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.settings.queue_url, Entries=entries)
                metrics.visibility_extensions.inc(len(entries))
            except Exception as e:  # noqa: BLE001 - the next round tries again
                metrics.errors.labels(kind="sqs_visibility").inc()
                log.warning("visibility extension failed", extra={"error": repr(e)})
