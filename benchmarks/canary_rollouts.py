"""Issue figures for rollouts: N concurrent canary rollouts (three setWeight steps, no pauses) behind the ALB
router, on the local control plane. Prints the completion time, the operator's CPU seconds, and the p95 delay
from a step's gate being met (the canary's pods for that weight are ready) to the traffic object (the
Ingress' weighted action) carrying the step's weight.

    PYTHONPATH=operator:benchmarks ~/.cache/aenv/venv/bin/python benchmarks/canary_rollouts.py --rollouts 50

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import threading
import time
from typing import Any

from harness import NAMESPACE, Stack, stack
from kubernetes import client, watch

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local import processes
from aenv.rollouts.engine import routed_canary_replicas

WEIGHTS = (10, 50, 100)


def environment(i: int, replicas: int, image: str) -> dict[str, Any]:
    w = f"w{i:03d}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
        "metadata": {"name": f"env-{i:03d}", "namespace": NAMESPACE},
        "spec": {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
                 "workloads": [{"name": w, "image": image, "replicas": replicas}],
                 "rollout": {"strategy": "canary", "canary": {
                     "steps": [{"setWeight": x} for x in WEIGHTS],
                     "trafficRouting": {"alb": {"ingress": f"{w}-ingress"}}}}},
    }


def ingress(i: int) -> client.V1Ingress:
    w = f"w{i:03d}"
    backend = client.V1IngressBackend(service=client.V1IngressServiceBackend(
        name=w, port=client.V1ServiceBackendPort(name="use-annotation")))
    return client.V1Ingress(
        metadata=client.V1ObjectMeta(name=f"{w}-ingress", annotations={"kubernetes.io/ingress.class": "alb"}),
        spec=client.V1IngressSpec(rules=[client.V1IngressRule(http=client.V1HTTPIngressRuleValue(paths=[
            client.V1HTTPIngressPath(path="/", path_type="Prefix", backend=backend)]))]))


class Recorder:
    """Watches ReplicaSets and Ingresses; records when each canary had enough ready pods for a weight (the gate)
    and when the Ingress first carried that weight (the traffic update)."""

    def __init__(self, api: client.ApiClient, replicas: int) -> None:
        self.api, self.replicas = api, replicas
        self.gate: dict[tuple[str, int], float] = {}
        self.update: dict[tuple[str, int], float] = {}
        self.new_revision: dict[str, str] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _replica_sets(self) -> None:
        apps = client.AppsV1Api(self.api)
        while not self.stop.is_set():
            for ev in watch.Watch().stream(apps.list_namespaced_replica_set, NAMESPACE, timeout_seconds=5):
                rs = ev["object"]
                labels = rs.metadata.labels or {}
                w, rev = labels.get("aenv.dev/workload"), labels.get("aenv.dev/revision")
                if w is None or self.new_revision.get(w) != rev:
                    continue
                ready, now = rs.status.ready_replicas or 0, time.monotonic()
                with self.lock:
                    for weight in WEIGHTS:
                        if ready >= routed_canary_replicas(self.replicas, weight):
                            self.gate.setdefault((w, weight), now)

    def _ingresses(self) -> None:
        net = client.NetworkingV1Api(self.api)
        while not self.stop.is_set():
            for ev in watch.Watch().stream(net.list_namespaced_ingress, NAMESPACE, timeout_seconds=5):
                ing, now = ev["object"], time.monotonic()
                for key, value in (ing.metadata.annotations or {}).items():
                    if not key.startswith("alb.ingress.kubernetes.io/actions."):
                        continue
                    w = key.rsplit(".", 1)[-1]
                    groups = json.loads(value)["ForwardConfig"]["TargetGroups"]
                    weight = next(g["Weight"] for g in groups if g["ServiceName"].endswith("-canary"))
                    with self.lock:
                        self.update.setdefault((w, weight), now)

    def start(self) -> None:
        for target in (self._replica_sets, self._ingresses):
            threading.Thread(target=target, daemon=True).start()

    def delays(self) -> list[float]:
        with self.lock:
            return [self.update[k] - self.gate[k] for k in self.update if k in self.gate and k[1] in WEIGHTS]


def rolled_out(s: Stack, first: dict[str, str]) -> int:
    """Environments whose workload is Healthy on a revision other than its first one."""
    done = 0
    for item in s.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]:
        ws = item.get("status", {}).get("workloads", [])
        done += bool(ws) and all((w.get("rollout") or {}).get("phase") == "Healthy" and not w.get("canary")
                                 and w.get("stable") != first[item["metadata"]["name"]] for w in ws)
    return done


def roll_out(s: Stack, count: int, replicas: int, image: str, timeout: float) -> list[float]:
    """Give env-000.. a new image at once, wait until every rollout completed; the gate -> traffic delays."""
    first = {item["metadata"]["name"]: item["status"]["workloads"][0]["stable"]
             for item in s.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]}
    recorder = Recorder(s.custom.api_client, replicas)
    recorder.start()
    for i in range(count):
        s.custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, f"env-{i:03d}", {"spec": {
            "workloads": [{"name": f"w{i:03d}", "image": image, "replicas": replicas}]}})

    def learn() -> bool:
        for item in s.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]:
            for w in item.get("status", {}).get("workloads", []):
                rev = (w.get("rollout") or {}).get("desiredRevision")
                if rev and rev != first[item["metadata"]["name"]]:
                    recorder.new_revision[w["name"]] = rev
        return len(recorder.new_revision) >= count

    processes.wait_for(learn, timeout, "the new revisions", interval=0.05)
    processes.wait_for(lambda: rolled_out(s, first) >= count, timeout, f"{count} rollouts to complete", interval=0.5)
    recorder.stop.set()
    return recorder.delays()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rollouts", type=int, default=50)
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--timeout", type=int, default=900)
    args = p.parse_args()

    with stack(nodes=max(2, args.rollouts * args.replicas * 2 // 100 + 1)) as s:
        api = s.custom.api_client
        net = client.NetworkingV1Api(api)
        for i in range(args.rollouts):
            net.create_namespaced_ingress(NAMESPACE, ingress(i))
            s.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL,
                                                     environment(i, args.replicas, "example/api:1"))
        s.wait_ready(args.rollouts, args.timeout)
        cpu0, t0 = s.cpu_seconds(), time.monotonic()
        delays = sorted(roll_out(s, args.rollouts, args.replicas, "example/api:2", args.timeout))
        took, cpu = time.monotonic() - t0, s.cpu_seconds() - cpu0
        p95 = delays[max(0, math.ceil(0.95 * len(delays)) - 1)] if delays else float("nan")
        print(f"{args.rollouts} canary rollouts ({'/'.join(map(str, WEIGHTS))}, {args.replicas} replicas, ALB router) "
              f"completed in {took:.1f} s; operator CPU {cpu:.1f} s; RSS {s.rss_mb():.0f} MB")
        if delays:
            print(f"gate met -> traffic object updated: p50 {statistics.median(delays) * 1000:.0f} ms, "
                  f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms over {len(delays)} steps")


if __name__ == "__main__":
    main()
