"""The processor's Prometheus metrics; the analytics_* families are the platform's own, shared with the gateway."""

from __future__ import annotations

from aenv_workload import metrics as platform
from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = ("ok", "duplicate", "invalid", "failed")

received = Counter("processor_messages_received", "SQS messages received")
messages = Counter("processor_messages", "SQS messages handled, by outcome (invalid and failed stay queued)",
                   ["outcome"])
latency = Histogram("processor_processing_latency_seconds", "Time to handle one message",
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
errors = Counter("processor_errors", "Failures of the processor or its stores", ["kind"])
queue_lag = Gauge("processor_queue_lag_seconds", "Age of the oldest message of the last batch when received")
visibility_extensions = Counter("processor_visibility_extensions", "Visibility timeouts extended for slow messages")
inflight = Gauge("processor_inflight_messages", "Messages being handled")
draining = Gauge("processor_draining", "1 while the processor finishes its batch after SIGTERM")

events_published = platform.events_published.labels(service="event-processor")  # to the gateway's channels
alerts_triggered = platform.alerts_triggered
query_latency = platform.query_latency


def init() -> None:
    for outcome in OUTCOMES:
        messages.labels(outcome=outcome)
    for severity in ("warning", "critical"):
        alerts_triggered.labels(severity=severity)
    for store in ("postgresql", "redis"):
        query_latency.labels(service="event-processor", store=store)
