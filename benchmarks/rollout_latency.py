"""How fast rollouts follow events: N canaries behind the ALB router on the local control plane (kwok nodes).

1. gate met -> traffic updated: each canary goes through setWeight 10/50/100 (no pauses); from the moment its
   ReplicaSet had the ready pods a weight needs (the gate) to the Ingress' weighted action carrying that weight.
2. abort -> stable 100%: each canary is rolled out again and holds at setWeight 50 (an indefinite pause); then
   every one is aborted at once, as `aenv abort` does it (an annotation); from each annotation written to its
   Ingress sending 100% to stable.

    PYTHONPATH=operator:benchmarks ~/.cache/aenv/venv/bin/python benchmarks/rollout_latency.py  # 50 canaries
    # 10 canaries, ~2 minutes
    PYTHONPATH=operator:benchmarks ~/.cache/aenv/venv/bin/python benchmarks/rollout_latency.py --short

Prints p50/p95/max of both delays next to their targets (p95 <= 0.3 s; abort <= 1 s). Asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid

from canary_rollouts import WEIGHTS, Recorder, environment, ingress, roll_out
from harness import NAMESPACE, Stack, stack
from kubernetes import client

from aenv.api import GROUP, PLURAL, VERSION
from aenv.kube.workloads import COMMAND_ANNOTATION
from aenv.local import processes

GATE_TARGET, ABORT_TARGET = 0.3, 1.0
HOLD_WEIGHT = 50


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


def figures(name: str, delays: list[float], target: float, what: str) -> str:
    if not delays:
        return f"{name}: no samples"
    return (f"{name}: p50 {statistics.median(delays) * 1000:.0f} ms, p95 {percentile(delays, 0.95) * 1000:.0f} ms, "
            f"max {max(delays) * 1000:.0f} ms over {len(delays)} {what} (target p95 <= {target * 1000:.0f} ms)")


def held(s: Stack, count: int) -> int:
    """Environments whose rollout holds at the pause after setWeight HOLD_WEIGHT."""
    n = 0
    for item in s.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]:
        ws = item.get("status", {}).get("workloads", [])
        n += bool(ws) and all((w.get("rollout") or {}).get("phase") == "Paused"
                              and (w.get("rollout") or {}).get("weight") == HOLD_WEIGHT for w in ws)
    return n


def abort_to_stable(s: Stack, count: int, replicas: int, timeout: float) -> list[float]:
    steps = [{"setWeight": HOLD_WEIGHT}, {"pause": {}}, {"setWeight": 100}]
    for i in range(count):
        w = f"w{i:03d}"
        s.custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, f"env-{i:03d}", {"spec": {
            "workloads": [{"name": w, "image": "example/api:3", "replicas": replicas}],
            "rollout": {"strategy": "canary", "canary": {
                "steps": steps, "trafficRouting": {"alb": {"ingress": f"{w}-ingress"}}}}}})
    processes.wait_for(lambda: held(s, count) >= count, timeout, f"{count} canaries to hold at {HOLD_WEIGHT}%",
                       interval=0.5)
    recorder = Recorder(s.custom.api_client, replicas)  # its Ingress watch: when each first carried a weight
    recorder.start()  # every Ingress is at 50% now: only an abort brings the canary's weight to 0
    since: dict[str, float] = {}
    for i in range(count):
        w = f"w{i:03d}"
        since[w] = time.monotonic()
        s.custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, f"env-{i:03d}", {
            "metadata": {"annotations": {f"{COMMAND_ANNOTATION}{w}": f"abort:{uuid.uuid4().hex[:12]}"}}})

    def stable() -> dict[str, float]:
        with recorder.lock:
            return {w: at for (w, weight), at in recorder.update.items() if weight == 0}

    processes.wait_for(lambda: len(stable()) >= count, timeout, f"{count} Ingresses back to stable", interval=0.1)
    recorder.stop.set()
    return [at - since[w] for w, at in stable().items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--canaries", type=int, default=50)
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--short", action="store_true", help="10 canaries: the figures in about two minutes")
    p.add_argument("--timeout", type=int, default=900)
    args = p.parse_args()
    count = 10 if args.short else args.canaries

    with stack(nodes=max(2, count * args.replicas * 2 // 100 + 1)) as s:
        net = client.NetworkingV1Api(s.custom.api_client)
        for i in range(count):
            net.create_namespaced_ingress(NAMESPACE, ingress(i))
            s.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL,
                                                     environment(i, args.replicas, "example/api:1"))
        s.wait_ready(count, args.timeout)
        t0, cpu0 = time.monotonic(), s.cpu_seconds()
        gates = roll_out(s, count, args.replicas, "example/api:2", args.timeout)
        took, cpu = time.monotonic() - t0, s.cpu_seconds() - cpu0
        aborts = abort_to_stable(s, count, args.replicas, args.timeout)
        print(f"{count} canaries ({'/'.join(map(str, WEIGHTS))}, {args.replicas} replicas, ALB router): completed "
              f"in {took:.1f} s, operator CPU {cpu:.1f} s, RSS {s.rss_mb():.0f} MB")
        print(figures("gate met -> traffic object updated", gates, GATE_TARGET, "steps"))
        print(figures("abort -> 100% to stable", aborts, ABORT_TARGET, "aborts"))


if __name__ == "__main__":
    main()
