"""Analysis providers against real servers: Prometheus from Debian's package scraping an exporter this test
runs, CloudWatch in moto, and a small JSON HTTP server for the web provider. Everything listens on 127.0.0.1
and every wait has a deadline."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from aenv.api.rollout import Metric
from aenv.local import processes
from aenv.local.emulator import AwsEmulator, free_port
from aenv.rollouts.analysis import (
    CloudWatchProvider,
    MeasurementError,
    PrometheusProvider,
    WebProvider,
    provider_for,
)

pytestmark = pytest.mark.integration

DEADLINE = 60.0


def metric(success: str | None = None, failure: str | None = None, **source: Any) -> Metric:
    return Metric.model_validate({"name": "m", "successCondition": success, "failureCondition": failure, **source})


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Exporter:
    error_ratio: Gauge
    latency: Gauge
    port: int


@dataclass
class Prometheus:
    address: str
    exporter: Exporter


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    registry = CollectorRegistry()
    error_ratio = Gauge("aenv_test_error_ratio", "Errors per request", registry=registry)
    latency = Gauge("aenv_test_latency_seconds", "Latency", ["pod"], registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield Exporter(error_ratio, latency, server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, exporter: Exporter) -> Iterator[Prometheus]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{exporter.port}"]) as address:
        yield Prometheus(address, exporter)


@contextlib.contextmanager
def running_prometheus(state: Path, targets: list[str]) -> Iterator[str]:
    """Prometheus from Debian's package on 127.0.0.1, scraping targets every second; yields its address."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is not installed: `apt-get install -y prometheus` (Debian's package); "
                    "CI's setup must install it")
    config = state / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "aenv-test", "static_configs": [{"targets": targets}]}],
    }))
    port = free_port()
    pidfile, log = state / "prometheus.pid", state / "prometheus.log"
    processes.start([binary, f"--config.file={config}", f"--storage.tsdb.path={state / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}"], pidfile, log, cwd=state)
    address = f"http://127.0.0.1:{port}"
    try:
        processes.wait_for(lambda: _ready(address), DEADLINE, f"prometheus on {address} (log: {log})")
        yield address
    finally:
        processes.stop(pidfile)


def _ready(address: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"{address}/-/ready", timeout=2) as r:
        return bool(r.status == 200)


def await_value(prom: Prometheus, query: str, want: Any) -> None:
    """Poll the query until it returns `want`: the exporter's value has been scraped."""
    provider = PrometheusProvider()
    seen: list[Any] = []

    def check() -> bool:
        seen.append(provider.query(prom.address, query, now()))
        got = seen[-1]
        return bool(sorted(got) == sorted(want) if isinstance(want, list) and isinstance(got, list) else got == want)

    try:
        processes.wait_for(check, DEADLINE, f"prometheus to return {want!r} for {query}", interval=0.25)
    except TimeoutError as e:
        raise AssertionError(f"{e}; last result: {seen[-1:] or 'none'}") from None


def test_prometheus_success_failure_inconclusive(prometheus: Prometheus) -> None:
    gauge = prometheus.exporter.error_ratio
    query = {"prometheus": {"address": prometheus.address, "query": "aenv_test_error_ratio"}}
    success_only = metric("result < 0.01", **query)
    both = metric("result < 0.01", "result > 0.05", **query)
    provider = provider_for(success_only)
    assert isinstance(provider, PrometheusProvider)

    gauge.set(0.004)
    await_value(prometheus, "aenv_test_error_ratio", 0.004)
    m = provider.measure(success_only, now())
    assert (m.phase, m.value) == ("successful", 0.004), m
    assert provider.measure(metric("result[0] < 0.01", **query), now()).phase == "successful"  # Argo's style
    assert provider.measure(both, now()).phase == "successful"

    gauge.set(0.03)
    await_value(prometheus, "aenv_test_error_ratio", 0.03)
    assert provider.measure(success_only, now()).phase == "failed"
    m = provider.measure(both, now())
    assert (m.phase, m.value) == ("inconclusive", 0.03), m

    gauge.set(0.2)
    await_value(prometheus, "aenv_test_error_ratio", 0.2)
    m = provider.measure(both, now())
    assert (m.phase, m.value) == ("failed", 0.2), m
    scalar = metric("result > 0.1", prometheus={"address": prometheus.address,
                                                 "query": "scalar(aenv_test_error_ratio)"})
    assert provider.measure(scalar, now()).phase == "successful"


def test_prometheus_vectors_and_empty_results(prometheus: Prometheus) -> None:
    latency = prometheus.exporter.latency
    latency.labels(pod="a").set(0.1)
    latency.labels(pod="b").set(0.3)
    await_value(prometheus, "aenv_test_latency_seconds", [0.1, 0.3])
    source = {"prometheus": {"address": prometheus.address, "query": "aenv_test_latency_seconds"}}
    provider = PrometheusProvider()
    m = provider.measure(metric("result.all(x, x < 0.5) && size(result) == 2", **source), now())
    assert (m.phase, m.value) == ("successful", None), m
    assert provider.measure(metric("result.all(x, x < 0.2)", **source), now()).phase == "failed"

    absent = {"prometheus": {"address": prometheus.address, "query": "aenv_test_absent_metric"}}
    m = provider.measure(metric("result < 0.01", **absent), now())
    assert m.phase == "error"
    assert "returned no data" in m.message and "size(result) == 0" in m.message, m.message
    assert provider.measure(metric("size(result) == 0 || result[0] < 0.01", **absent), now()).phase == "successful"


def test_prometheus_errors(prometheus: Prometheus) -> None:
    provider = PrometheusProvider(timeout_seconds=3)
    bad = provider.measure(metric("result < 1.0", prometheus={"address": prometheus.address, "query": "sum("}),
                           now())
    assert bad.phase == "error"
    assert "bad_data" in bad.message, bad.message
    closed = f"http://127.0.0.1:{free_port()}"
    m = provider.measure(metric("result < 1.0", prometheus={"address": closed, "query": "up"}), now())
    assert m.phase == "error"
    assert "Connection refused" in m.message or "ConnectionRefused" in m.message, m.message
    with pytest.raises(MeasurementError, match="range vector"):
        provider.query(prometheus.address, "aenv_test_error_ratio[1m]", now())


# ---------------------------------------------------------------------------------------------------------------
# CloudWatch (moto)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def cloudwatch(emulator: AwsEmulator) -> Any:
    emulator.reset()
    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=emulator.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def cloudwatch_metric(success: str | None = None, failure: str | None = None, workload: str = "ws-gateway",
                      name: str = "ErrorRate", statistic: str = "Average") -> Metric:
    return metric(success, failure, cloudwatch={
        "namespace": "AEnv/Test", "metricName": name, "statistic": statistic, "periodSeconds": 120,
        "dimensions": {"Workload": workload, "Environment": "defi"}})


def put(cloudwatch: Any, value: float, at: datetime, workload: str = "ws-gateway", name: str = "ErrorRate") -> None:
    cloudwatch.put_metric_data(Namespace="AEnv/Test", MetricData=[{
        "MetricName": name, "Value": value, "Timestamp": at,
        "Dimensions": [{"Name": "Environment", "Value": "defi"}, {"Name": "Workload", "Value": workload}]}])


def test_cloudwatch_measures_the_latest_datapoint(cloudwatch: Any) -> None:
    t = now()
    put(cloudwatch, 0.002, t - timedelta(seconds=30))
    put(cloudwatch, 0.4, t - timedelta(seconds=20), workload="other")  # another dimension: not ours
    put(cloudwatch, 0.9, t - timedelta(seconds=15), name="Latency")
    provider = CloudWatchProvider("us-east-1", client=cloudwatch)
    m = provider.measure(cloudwatch_metric("result < 0.01"), t)
    assert (m.phase, m.value) == ("successful", 0.002), m
    m = provider.measure(cloudwatch_metric("result < 0.01", workload="other", statistic="Maximum"), t)
    assert (m.phase, m.value) == ("failed", 0.4), m
    m = provider.measure(cloudwatch_metric("result < 1.0", "result > 0.5", name="Latency"), t)
    assert (m.phase, m.value) == ("failed", 0.9), m


def test_cloudwatch_without_datapoints_is_inconclusive(cloudwatch: Any) -> None:
    t = now()
    put(cloudwatch, 0.002, t - timedelta(minutes=30))  # outside the last period
    provider = CloudWatchProvider(client=cloudwatch)
    m = provider.measure(cloudwatch_metric("result < 0.01"), t)
    assert (m.phase, m.value) == ("inconclusive", None), m
    assert "no datapoints" in m.message
    m = provider.measure(cloudwatch_metric("result < 0.01", workload="nobody"), t)
    assert m.phase == "inconclusive"


def test_cloudwatch_errors() -> None:
    closed = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    m = CloudWatchProvider(client=closed).measure(cloudwatch_metric("result < 0.01"), now())
    assert m.phase == "error"
    assert "GetMetricData" in m.message, m.message


def test_cloudwatch_default_client_follows_the_environment(emulator: AwsEmulator, cloudwatch: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in emulator.environ().items():
        monkeypatch.setenv(key, value)
    t = now()
    put(cloudwatch, 0.003, t - timedelta(seconds=10))
    provider = provider_for(cloudwatch_metric("result < 0.01"), region="us-east-1")
    assert isinstance(provider, CloudWatchProvider)
    m = provider.measure(cloudwatch_metric("result < 0.01"), t)
    assert (m.phase, m.value) == ("successful", 0.003), m


# ---------------------------------------------------------------------------------------------------------------
# Web
# ---------------------------------------------------------------------------------------------------------------


class JsonServer:
    """A small HTTP server on 127.0.0.1 answering JSON the test sets."""

    def __init__(self) -> None:
        self.document: Any = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/health":
                    self.reply(200, json.dumps(server.document).encode())
                elif path == "/text":
                    self.reply(200, b"<html>not json</html>", "text/html")
                elif path == "/down":
                    self.reply(503, b'{"error": "down"}')
                elif path == "/private":
                    expected = "Basic " + base64.b64encode(b"reader:s3cret").decode()
                    if self.headers.get("Authorization") == expected:
                        self.reply(200, b'{"ok": true}')
                    else:
                        self.reply(401, b'{"error": "unauthorized"}')
                elif path == "/trickle":  # a reply that never completes: one byte at a time
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    stop = time.monotonic() + 20
                    try:
                        while time.monotonic() < stop:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass
                else:
                    self.reply(404, b'{"error": "not found"}')

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def web_server() -> Iterator[JsonServer]:
    server = JsonServer()
    try:
        yield server
    finally:
        server.close()


def web(url: str, path: str = "$", timeout: int = 5) -> dict[str, Any]:
    return {"web": {"url": url, "jsonPath": path, "timeoutSeconds": timeout}}


def test_web_value_at_json_path(web_server: JsonServer) -> None:
    web_server.document = {"data": {"errorRate": 0.002, "checks": [{"name": "db", "ok": True},
                                                                   {"name": "cache", "ok": False}]}}
    health = f"{web_server.url}/health"
    rate = metric("result < 0.01", **web(health, "$.data.errorRate"))
    provider = provider_for(rate)
    assert isinstance(provider, WebProvider)
    m = provider.measure(rate, now())
    assert (m.phase, m.value) == ("successful", 0.002), m
    web_server.document["data"]["errorRate"] = 0.5
    assert provider.measure(rate, now()).phase == "failed"
    db = metric("result == true", **web(health, "$.data.checks[?(@.name == 'db')].ok"))
    assert provider.measure(db, now()).phase == "successful"
    every = metric("result.all(c, c.ok)", "result.exists(c, c.name == 'db' && !c.ok)", **web(health, "$.data.checks"))
    assert provider.measure(every, now()).phase == "inconclusive"
    oks = metric("size(result) == 2 && result[0] && !result[1]", **web(health, "$.data.checks[*].ok"))
    assert provider.measure(oks, now()).phase == "successful"
    whole = metric("result.data.errorRate > 0.1", **web(health))
    assert provider.measure(whole, now()).phase == "successful"


def test_web_basic_auth_from_the_url_is_sent_and_not_reported(web_server: JsonServer) -> None:
    port = web_server.url.rsplit(":", 1)[1]
    ok = metric("result == true", **web(f"http://reader:s3cret@127.0.0.1:{port}/private?token=abc", "$.ok"))
    assert WebProvider().measure(ok, now()).phase == "successful"
    wrong = metric("result == true", **web(f"http://reader:wrong@127.0.0.1:{port}/private?token=abc", "$.ok"))
    m = WebProvider().measure(wrong, now())
    assert m.phase == "error" and "HTTP 401" in m.message, m.message
    assert "wrong" not in m.message and "token" not in m.message and "reader" not in m.message


def test_web_errors(web_server: JsonServer) -> None:
    provider = WebProvider()
    web_server.document = {"data": {}}
    cases = {
        f"{web_server.url}/health": ("$.data.errorRate", "matches nothing"),
        f"{web_server.url}/text": ("$", "not JSON"),
        f"{web_server.url}/down": ("$", "HTTP 503"),
        f"http://127.0.0.1:{free_port()}/": ("$", "failed"),
    }
    for url, (path, says) in cases.items():
        m = provider.measure(metric("result < 1.0", **web(url, path)), now())
        assert m.phase == "error" and says in m.message, (url, m)
    m = provider.measure(metric("result < 1.0", **web(f"{web_server.url}/health", "$.[")), now())
    assert m.phase == "error" and "not valid JSONPath" in m.message, m


def test_web_never_blocks_past_its_timeout(web_server: JsonServer) -> None:
    started = time.monotonic()
    m = WebProvider().measure(metric("result < 1.0", **web(f"{web_server.url}/trickle", timeout=1)), now())
    elapsed = time.monotonic() - started
    assert m.phase == "error" and "within 1s" in m.message, m
    assert elapsed < 3, f"a 1s timeout blocked for {elapsed:.1f}s"

