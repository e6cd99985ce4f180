"""The two reference workloads together: an event sent to SQS reaches a WebSocket client subscribed at the gateway,
with its row in PostgreSQL, its aggregate in Redis and, with a severity, an alert through the SNS topic; and the
canary analysis of examples/env-prod.yaml, evaluated by aenv's Prometheus provider against a real Prometheus,
passes a healthy gateway and fails one that cannot reach Redis."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.sync.client import connect

from aenv.api.rollout import Metric
from aenv.local.emulator import AwsEmulator, free_port
from aenv.local.processes import wait_for
from aenv.rollouts.analysis import PrometheusProvider

from .test_analysis_providers import running_prometheus
from .workloads import DEADLINE, Stores, Workload, make_queues, processor_env, query, stores, token

pytestmark = pytest.mark.integration
__all__ = ["stores"]  # the module's fixture
REPO = Path(__file__).resolve().parents[2]


def test_an_event_from_sqs_reaches_a_websocket_subscriber(emulator: AwsEmulator, stores: Stores,
                                                          tmp_path: Path) -> None:
    queues = make_queues(emulator)
    env = processor_env(emulator, stores.fresh(), queues)
    with ExitStack() as stack:
        gateway = Workload("ws_gateway", env, tmp_path / "gateway.log")
        processor = Workload("event_processor", env, tmp_path / "processor.log")
        for w in (gateway, processor):
            w.start(ready=False)
            stack.callback(w.stop)
        for w in (gateway, processor):
            wait_for(w.ready, DEADLINE, f"{w.module} to be ready (log: {w.log})")
        ws = stack.enter_context(connect(f"ws://127.0.0.1:{gateway.port}/?token={token()}"))
        ws.send(json.dumps({"action": "subscribe", "channel": "btc-usd"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "subscribed", "channel": "btc-usd", "snapshot": None}

        sqs = emulator.client("sqs")
        sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(
            {"id": "t-1", "channel": "btc-usd", "value": 101.5, "kind": "trade", "severity": "critical"}))
        update = json.loads(ws.recv(timeout=DEADLINE))
        assert update["type"] == "event" and update["channel"] == "btc-usd"
        assert update["data"]["event"] == {"id": "t-1", "kind": "trade", "value": 101.5, "severity": "critical"}
        assert {k: update["data"]["aggregate"][k] for k in ("count", "sum", "last")} == {
            "count": 1, "sum": 101.5, "last": 101.5}

        assert query(env["DATABASE_URL"], "SELECT channel, value, severity FROM analytics_events WHERE event_id = %s",
                     "t-1") == [("btc-usd", 101.5, "critical")]
        assert stores.cache().hget("analytics:aggregate:btc-usd", "count") == b"1"
        alerts: list[dict[str, Any]] = []
        wait_for(lambda: bool(alerts.extend(sqs.receive_message(QueueUrl=queues.notifications_url).get(
            "Messages", [])) or alerts), DEADLINE, "the alert through the SNS topic")
        alert = json.loads(json.loads(alerts[0]["Body"])["Message"])
        assert (alert["id"], alert["severity"]) == ("t-1", "critical")
        assert processor.metric("analytics_alerts_triggered_total", severity="critical") == 1

        # A client that subscribes later gets the aggregate from the cache.
        ws.send(json.dumps({"action": "subscribe", "channel": "btc-usd"}))
        assert json.loads(ws.recv(timeout=10))["snapshot"]["count"] == 1
        assert gateway.metric("analytics_cache_hit_rate", service="ws-gateway") == 0.5


def env_prod_analysis(address: str) -> Metric:
    """The error-rate metric of examples/env-prod.yaml's canary analysis, its address pointed at `address`."""
    spec = yaml.safe_load((REPO / "examples" / "env-prod.yaml").read_text())["spec"]
    [metric] = [m for m in spec["rollout"]["canary"]["analysis"]["metrics"] if m["name"] == "error-rate"]
    return Metric.model_validate({**metric, "prometheus": {**metric["prometheus"], "address": address}})


@pytest.fixture
def two_gateways(stores: Stores, tmp_path: Path) -> Iterator[tuple[Workload, Workload]]:
    env = stores.fresh()
    healthy = Workload("ws_gateway", env, tmp_path / "healthy.log")
    failing = Workload("ws_gateway", {**env, "CACHE_URL": f"redis://127.0.0.1:{free_port()}"},  # nothing there
                       tmp_path / "failing.log")
    try:
        healthy.start()
        failing.start(ready=False)
        wait_for(lambda: failing.get("/healthz")[0] == 200, DEADLINE, f"the failing gateway (log: {failing.log})")
        assert failing.get("/readyz")[0] == 503
        yield healthy, failing
    finally:
        healthy.stop()
        failing.stop()


def traffic(gw: Workload, stop: threading.Event) -> None:
    """A client's requests: subscriptions (which need Redis) and pings, until stop."""
    with connect(f"ws://127.0.0.1:{gw.port}/?token={token()}") as ws:
        i = 0
        while not stop.is_set():
            i += 1
            ws.send(json.dumps({"action": "subscribe", "channel": f"c{i % 3}"}))
            ws.send(json.dumps({"action": "ping"}))
            ws.recv(timeout=10)
            ws.recv(timeout=10)
            stop.wait(0.05)


def test_env_prod_canary_analysis_passes_a_healthy_gateway_and_fails_a_failing_one(
        two_gateways: tuple[Workload, Workload], tmp_path_factory: pytest.TempPathFactory) -> None:
    stop = threading.Event()
    clients = [threading.Thread(target=traffic, args=(gw, stop), daemon=True) for gw in two_gateways]
    for c in clients:
        c.start()
    provider = PrometheusProvider()
    try:
        with ExitStack() as stack:
            addresses = [stack.enter_context(running_prometheus(tmp_path_factory.mktemp("prometheus"),
                                                                [f"127.0.0.1:{gw.port}"])) for gw in two_gateways]
            phases = {}
            for name, address in zip(("healthy", "failing"), addresses, strict=True):
                metric, seen = env_prod_analysis(address), []

                def measured(metric: Metric = metric, seen: list[Any] = seen) -> bool:
                    seen.append(provider.measure(metric, datetime.now(UTC)))
                    return bool(seen[-1].phase != "error")  # no data until two scrapes saw requests

                wait_for(measured, DEADLINE, f"a measurement of the {name} gateway")
                phases[name] = (seen[-1].phase, seen[-1].value)
    finally:
        stop.set()
        for c in clients:
            c.join(15)
    assert phases["healthy"] == ("successful", 0.0), phases
    assert phases["failing"][0] == "failed" and phases["failing"][1] > 0.01, phases
