"""A local stack for benchmarks: the kwok control plane, moto and the operator with its metrics endpoint."""

from __future__ import annotations

import copy
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from aenv.api import GROUP, PLURAL, VERSION, crd
from aenv.local import processes
from aenv.local.controlplane import REPO, LocalCluster
from aenv.local.devenv import OIDC_ISSUER
from aenv.local.emulator import AwsEmulator, free_port

NAMESPACE = "aenv-bench"


@dataclass
class Stack:
    custom: client.CustomObjectsApi
    core: client.CoreV1Api
    metrics_url: str
    operator_pid: int
    workdir: Path
    cluster: LocalCluster
    emulator: AwsEmulator

    def create(self, count: int, template: Path) -> list[str]:
        doc = yaml.safe_load(template.read_text())
        # The emulator has only its default VPC: the example's VPC and subnets do not exist there.
        doc["spec"]["aws"].pop("vpcId", None)
        doc["spec"]["aws"].pop("subnetIds", None)
        names = [f"env-{i:03d}" for i in range(count)]
        for name in names:
            body = copy.deepcopy(doc)
            body["metadata"] = {"name": name, "namespace": NAMESPACE}
            domain = body["spec"].get("gateway", {}).get("domain")
            if domain:  # a custom domain belongs to one environment: give each its own
                domain["name"] = f"{name}.{domain['name']}"
            self.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
        return names

    def ready(self) -> int:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
        conditions = [i.get("status", {}).get("conditions", []) for i in items]
        return sum(any(c["type"] == "Ready" and c["status"] == "True" for c in cs) for cs in conditions)

    def wait_ready(self, count: int, timeout: float) -> float:
        start = time.monotonic()
        processes.wait_for(lambda: self.ready() >= count, timeout, f"{count} environments Ready", interval=1)
        return time.monotonic() - start

    def aws_requests(self) -> dict[str, float]:
        """aenv_aws_requests_total by "service.operation", read from the operator's metrics endpoint."""
        out: dict[str, float] = {}
        with urllib.request.urlopen(self.metrics_url, timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("aenv_aws_requests_total{"):
                    labels, value = line.removeprefix("aenv_aws_requests_total{").rsplit("} ", 1)
                    parts = dict(p.split("=", 1) for p in labels.split(","))
                    out[f"{parts['service'].strip(chr(34))}.{parts['operation'].strip(chr(34))}"] = float(value)
        return out

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.operator_pid)

    def rss_mb(self) -> float:
        return memory_mb(self.operator_pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS), or its peak so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so that a stopped benchmark still stops every process it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextmanager
def stack(resync_seconds: int | None = 30, extra_env: dict[str, str] | None = None, nodes: int = 2) -> Iterator[Stack]:
    """`nodes` kwok nodes: each takes 110 pods, like a real node's default. resync_seconds None leaves the operator's
    default."""
    workdir = Path(tempfile.mkdtemp(prefix="aenv-bench-"))
    cluster = LocalCluster(f"aenv-bench-{os.getpid()}", workdir / "kwok")
    emulator = AwsEmulator(workdir / "moto")
    try:
        kubeconfig = cluster.up(nodes=nodes)
        emulator.start()
        api = config.new_client_from_config(config_file=str(kubeconfig))
        cluster.apply_crd(REPO / "crds" / crd.CRD_FILE, f"{PLURAL}.{GROUP}")
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        port = free_port()
        env: dict[str, Any] = {**os.environ, **emulator.environ(), "KUBECONFIG": str(kubeconfig),
                               "PYTHONPATH": str(REPO / "operator"), "AENV_OIDC_ISSUER": OIDC_ISSUER,
                               **({} if resync_seconds is None else {"AENV_RESYNC_SECONDS": str(resync_seconds)}),
                               **(extra_env or {})}
        proc = processes.start([sys.executable, "-m", "aenv", "run", "-n", NAMESPACE, "--metrics-port", str(port)],
                               workdir / "operator.pid", workdir / "operator.log", env=env)
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        processes.wait_for(lambda: urllib.request.urlopen(metrics_url, timeout=2).status == 200, 60,
                           "the operator's metrics endpoint")
        yield Stack(client.CustomObjectsApi(api), core, metrics_url, proc.pid, workdir, cluster, emulator)
    finally:
        processes.stop(workdir / "operator.pid")
        emulator.stop()
        try:
            cluster.down()
        except (RuntimeError, ApiException) as e:
            print(f"cleanup: {e}", file=sys.stderr)
