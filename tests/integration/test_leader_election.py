"""Two replicas of the operator on the real control plane, electing a leader through a coordination.k8s.io Lease:
exactly one reconciles; after kill -9 of the leader the other takes over within 15 s, after SIGTERM within 2 s,
and the new leader carries on with the environment (a rollout to a new image)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aenv.local import processes
from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .conftest import Operator, fresh_namespace
from .kube import Kube

pytestmark = pytest.mark.integration

PREFIX = "aenv-lead-"
LEASE_NAMESPACE = "default"
KILL_TAKEOVER = 15.0
TERM_TAKEOVER = 2.0
HANDLED = "Handler 'reconcile-"  # kopf's log line for every handler it ran


class Replicas:
    def __init__(self, tmp: Path, kubeconfig: Path, emulator: AwsEmulator) -> None:
        self.lease = f"aenv-test-{uuid.uuid4().hex[:8]}"
        args = ["-n", f"{PREFIX}*", "--leader-elect", "--lease-name", self.lease,
                "--lease-namespace", LEASE_NAMESPACE, "--lease-duration", "10", "--lease-renew", "2"]
        self.ops = {name: Operator(tmp / name, kubeconfig, emulator, prefix=PREFIX, args=args,
                                   env={"POD_NAME": name}) for name in ("a", "b")}
        for name in self.ops:
            (tmp / name).mkdir()

    def holder(self, kube: Kube) -> str | None:
        try:
            lease: Any = client.CoordinationV1Api(kube.api).read_namespaced_lease(self.lease, LEASE_NAMESPACE)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        holder: str | None = lease.spec.holder_identity
        return holder

    def wait_holder(self, kube: Kube, want: str, timeout: float) -> float:
        """Seconds until `want` holds the Lease, polled every 50 ms."""
        start = time.monotonic()
        wait_for(lambda: self.holder(kube) == want, timeout, f"{want} to hold the Lease", interval=0.05)
        return time.monotonic() - start


@pytest.fixture
def replicas(tmp_path: Path, kubeconfig: Path, kube: Kube, emulator: AwsEmulator) -> Iterator[Replicas]:
    r = Replicas(tmp_path, kubeconfig, emulator)
    r.ops["a"].start()
    try:
        wait_for(lambda: r.holder(kube) == "a", 30, "the first replica to lead")
        r.ops["b"].start()
        yield r
    finally:
        for op in r.ops.values():
            op.stop()
        client.CoordinationV1Api(kube.api).delete_namespaced_lease(r.lease, LEASE_NAMESPACE)


def spec(image: str) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
            "workloads": [{"name": "web", "image": image, "replicas": 2}]}


def wait_rollout(kube: Kube, namespace: str, previous: str | None = None) -> str:
    """Wait until the environment is Ready on a stable revision other than `previous`; that revision."""
    seen: dict[str, str] = {}

    def done() -> bool:
        env = kube.get_env(namespace, "lead")
        status = env.get("status", {})
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        current = status.get("observedGeneration") == env["metadata"]["generation"]
        workload = (status.get("workloads") or [{}])[0]
        if ready and current and workload.get("phase") == "Healthy" and workload.get("stable") not in (None, previous):
            seen["stable"] = workload["stable"]
            return True
        return False

    wait_for(done, 60, f"the environment Ready and Healthy on a revision other than {previous}")
    return seen["stable"]


def test_one_leader_reconciles_and_the_other_takes_over(kube: Kube, replicas: Replicas, tmp_path: Path) -> None:
    a, b = replicas.ops["a"], replicas.ops["b"]
    namespace_gen = fresh_namespace(kube, a)
    namespace = next(namespace_gen)
    try:
        kube.create_env(namespace, "lead", spec("example/web:1"))
        first = wait_rollout(kube, namespace)
        assert HANDLED in a.log_text()
        assert HANDLED not in b.log_text(), "the standby reconciled"
        assert "leading" not in b.log_text()

        # kill -9: b takes over once the Lease expires.
        pid = processes.read_pid(a.pidfile)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        killed = replicas.wait_holder(kube, "b", KILL_TAKEOVER + 5)
        processes.stop(a.pidfile)
        a.start()  # back as a standby
        kube.patch_spec(namespace, "lead", spec("example/web:2"))
        second = wait_rollout(kube, namespace, first)

        # SIGTERM: b releases the Lease, a takes it at its next read.
        pid = processes.read_pid(b.pidfile)
        assert pid is not None
        os.killpg(pid, signal.SIGTERM)
        termed = replicas.wait_holder(kube, "a", TERM_TAKEOVER + 5)
        print(f"takeover after kill -9: {killed:.1f} s; after SIGTERM: {termed:.1f} s")
        assert killed < KILL_TAKEOVER, f"takeover after kill -9 took {killed:.1f} s"
        assert termed < TERM_TAKEOVER, f"takeover after SIGTERM took {termed:.1f} s"
        assert "released the Lease" in b.log_text()
        kube.patch_spec(namespace, "lead", spec("example/web:3"))
        wait_rollout(kube, namespace, second)
    finally:
        namespace_gen.close()
