"""The operator's Prometheus metrics: what it costs (AWS calls) and what it does (reconciles, outcomes)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, start_http_server

AWS_CALLS = Counter("aenv_aws_requests", "AWS API requests sent by the operator, retries included",
                    ["service", "operation"])
RECONCILES = Counter("aenv_reconciles", "Reconcile passes", ["kind", "outcome"])
RECONCILE_SECONDS = Histogram("aenv_reconcile_seconds", "Duration of one reconcile pass", ["kind"])
BACKUPS = Counter("aenv_backups", "Logical backups of databases to S3", ["outcome"])
BACKUP_TIMESTAMP = Gauge("aenv_backup_last_success_timestamp_seconds", "When the last backup succeeded",
                         ["namespace", "name"])
DRILLS = Counter("aenv_restore_drills", "Restore drills run", ["outcome"])
DRILL_SECONDS = Gauge("aenv_restore_drill_seconds", "How long the last restore drill took (restore and checks)",
                      ["namespace", "name"])
DRILL_SUCCESS = Gauge("aenv_restore_drill_success", "1 when the last restore drill passed, 0 when it failed",
                      ["namespace", "name"])
DRILL_TIMESTAMP = Gauge("aenv_restore_drill_timestamp_seconds", "When the last restore drill finished",
                        ["namespace", "name"])

DRIFT_EVENTS = Counter("aenv_drift_events", "CloudTrail events read from aenv's drift queue, by what became of them "
                       "(routed to an environment, own change, unowned resource, ignored)", ["result"])

REMEMBERED = Gauge("aenv_environments_remembered", "Environments the operator keeps a memory of (memory.py)")
_PER_ENVIRONMENT = (BACKUP_TIMESTAMP, DRILL_SECONDS, DRILL_SUCCESS, DRILL_TIMESTAMP)


def forget(namespace: str, name: str) -> None:
    """Drop a deleted environment's series: a name made again later starts without the old one's figures."""
    for gauge in _PER_ENVIRONMENT:
        with contextlib.suppress(KeyError):  # no figure was ever set for it
            gauge.remove(namespace, name)


def serve(port: int, address: str = "127.0.0.1") -> None:
    start_http_server(port, addr=address)
