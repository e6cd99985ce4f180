"""The operator's Prometheus metrics: what it costs (AWS calls) and what it does (reconciles, outcomes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

AWS_CALLS = Counter("aenv_aws_requests", "AWS API requests sent by the operator, retries included",
                    ["service", "operation"])
RECONCILES = Counter("aenv_reconciles", "Reconcile passes", ["kind", "outcome"])
RECONCILE_SECONDS = Histogram("aenv_reconcile_seconds", "Duration of one reconcile pass", ["kind"])


def serve(port: int, address: str = "127.0.0.1") -> None:
    start_http_server(port, addr=address)
