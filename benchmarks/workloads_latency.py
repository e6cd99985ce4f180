"""End-to-end latency of the reference workloads: an event sent to SQS until its update frame reaches a WebSocket
client subscribed at the gateway (through the event processor, PostgreSQL, Redis and the gateway).

    PYTHONPATH=operator ~/.cache/aenv/venv/bin/python benchmarks/workloads_latency.py --messages 300 --rate 100

Runs a real Redis and PostgreSQL (Debian's packages), SQS in moto, one ws-gateway and one event-processor process,
all on 127.0.0.1, with the processor's production long-poll wait (20 s); prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the integration tests' helpers start the servers and the workloads

from tests.integration.workloads import (  # noqa: E402
    Workload,
    aws_env,
    make_queues,
    running_stores,
    token,
)
from websockets.sync.client import connect  # noqa: E402

from aenv.local.emulator import AwsEmulator  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--rate", type=float, default=100.0, help="messages sent per second")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="aenv-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        emulator = AwsEmulator(work / "moto")
        emulator.start()
        stack.callback(emulator.stop)
        stores = stack.enter_context(running_stores(work / "stores"))
        queues = make_queues(emulator)
        env = {**stores.fresh(), **queues.env, **aws_env(emulator)}
        gateway, processor = Workload("ws_gateway", env, work / "gateway.log"), Workload(
            "event_processor", env, work / "processor.log")
        for w in (gateway, processor):
            stack.callback(w.stop)
            w.start()
        ws = stack.enter_context(connect(f"ws://127.0.0.1:{gateway.port}/?token={token(ttl=3600)}"))
        ws.send(json.dumps({"action": "subscribe", "channel": "bench"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"

        sqs = emulator.client("sqs")
        sent: dict[str, float] = {}

        def send() -> None:
            for i in range(args.messages):
                due = start + i / args.rate
                time.sleep(max(0.0, due - time.monotonic()))
                sent[f"m{i}"] = time.monotonic()
                sqs.send_message(QueueUrl=queues.url,
                                 MessageBody=json.dumps({"id": f"m{i}", "channel": "bench", "value": i}))

        start = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        latencies: list[float] = []
        while len(latencies) < args.messages:
            frame = json.loads(ws.recv(timeout=60))
            if frame.get("type") == "event":
                latencies.append(time.monotonic() - sent[frame["data"]["event"]["id"]])
        elapsed = time.monotonic() - start
        sender.join()

    ms = [x * 1000 for x in latencies]
    print(f"workloads end to end (SQS send -> WebSocket frame), {args.messages} messages at {args.rate:g}/s "
          f"in {elapsed:.1f} s, local servers")
    print(f"  p50 {percentile(ms, 50):.1f} ms  p95 {percentile(ms, 95):.1f} ms  p99 {percentile(ms, 99):.1f} ms  "
          f"max {max(ms):.1f} ms  mean {statistics.fmean(ms):.1f} ms")


if __name__ == "__main__":
    main()
