"""event-processor: consume until SIGTERM, finish the batch in hand, exit. Serves /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from aenv_workload import start
from botocore.config import Config
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import __version__
from .consumer import Processor, Settings
from .stores import Cache, Database

log = logging.getLogger("event_processor")


def health_server(processor: Processor, stop: threading.Event, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, kind = 404, b"not found\n", "text/plain"
            if self.path == "/healthz":
                status, body = 200, b"ok\n"
            elif self.path == "/readyz":
                ready, why = readiness(processor, stop)
                status, body = (200 if ready else 503), why.encode() + b"\n"
            elif self.path == "/metrics":
                status, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def readiness(processor: Processor, stop: threading.Event) -> tuple[bool, str]:
    if stop.is_set():
        return False, "draining"
    if not processor.started:
        return False, "starting"
    if time.monotonic() - processor.last_poll_ok > processor.settings.wait_seconds + 30:
        return False, "SQS has not answered a poll lately"
    return True, "ready"


def main() -> None:
    connection, settings, port = start("event-processor", Settings.from_connection)
    region = connection.get("AWS_REGION")  # IRSA's web identity credentials come from the standard variables
    aws = Config(region_name=region, retries={"mode": "standard", "max_attempts": 5},
                 max_pool_connections=settings.concurrency + 4)
    processor = Processor(settings, boto3.client("sqs", config=aws), boto3.client("sns", config=aws),
                          Database(settings.database_url), Cache(settings.cache_url))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = health_server(processor, stop, os.environ.get("HOST", "0.0.0.0"), port)
    log.info("starting", extra={"queue": settings.queue_url, "port": port, "version": __version__})
    while not stop.is_set():
        try:
            processor.prepare()
            break
        except Exception as e:  # noqa: BLE001 - a store not reachable yet: not ready, try again
            log.warning("not ready", extra={"error": repr(e)})
            stop.wait(2)
    processor.run(stop)
    server.shutdown()
    processor.db.close()
    log.info("stopped")


if __name__ == "__main__":
    main()
