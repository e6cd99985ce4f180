"""aenv side by side with Argo Rollouts on one local control plane: the same N canaries (setWeight 10/50/100, no
pauses, weighted by replica ratio) as Argo Rollout objects and as aenv workloads, one AnalyticsEnvironment per
canary (as Argo has one Rollout per canary: each controller reconciles N objects with one canary each). Both
controllers run throughout; the image of all N canaries changes, Argo's first and then aenv's, and for each the
script prints the completion time (image change -> every canary Healthy at its last step), the controller's CPU
seconds over that rollout, and its peak RSS (VmHWM from /proc, over the whole run), with the ratios aenv / Argo.

    AENV_CONTROL_PLANE_BIN=$(cat ~/.cache/aenv/control-plane-bin) PYTHONPATH=operator:benchmarks \\
      ~/.cache/aenv/venv/bin/python benchmarks/peers_rollouts.py --count 100

Argo Rollouts comes from hack/build-argo-rollouts.sh (built on first use, into the cache). Prints figures, asserts
nothing; stops every process it started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canary_rollouts import WEIGHTS, rolled_out
from harness import NAMESPACE, Stack, cpu_seconds, exit_on_sigterm, memory_mb, stack
from kubernetes import client

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local import processes
from aenv.local.ack import crd_names
from aenv.local.controlplane import REPO
from aenv.local.emulator import free_port

BUILD_SCRIPT = REPO / "hack" / "build-argo-rollouts.sh"
ARGO_NAMESPACE = "argo-bench"
ARGO = ("argoproj.io", "v1alpha1", "rollouts")


def argo_rollouts_dir() -> Path:
    """The directory holding rollouts-controller and crds/: $AENV_ARGO_ROLLOUTS_DIR, or the build script's."""
    given = os.environ.get("AENV_ARGO_ROLLOUTS_DIR")
    if given:
        return Path(given)
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def argo_rollout(i: int, replicas: int, image: str) -> dict[str, Any]:
    name = f"r{i:03d}"
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image}]}},
                 "strategy": {"canary": {"steps": [{"setWeight": w} for w in WEIGHTS]}}},
    }


def aenv_environment(i: int, replicas: int, image: str) -> dict[str, Any]:
    """The same canary as an aenv workload: no traffic router, so weighted by replica ratio like Argo's."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
        "metadata": {"name": f"env-{i:03d}", "namespace": NAMESPACE},
        "spec": {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
                 "workloads": [{"name": f"w{i:03d}", "image": image, "replicas": replicas}],
                 "rollout": {"strategy": "canary", "canary": {"steps": [{"setWeight": w} for w in WEIGHTS]}}},
    }


def argo_healthy(custom: client.CustomObjectsApi, first: dict[str, str] | None = None) -> dict[str, str]:
    """Rollouts Healthy at their last step, by name -> stable pod hash; with `first`, only those whose stable pod
    hash is no longer the first one."""
    done = {}
    for r in custom.list_namespaced_custom_object(*ARGO[:2], ARGO_NAMESPACE, ARGO[2])["items"]:
        st = r.get("status") or {}
        stable = st.get("stableRS")
        if (st.get("phase") == "Healthy" and st.get("currentStepIndex") == len(WEIGHTS)
                and stable and stable == st.get("currentPodHash")
                and (first is None or stable != first.get(r["metadata"]["name"]))):
            done[r["metadata"]["name"]] = stable
    return done


@dataclass
class Figures:
    seconds: float
    cpu: float
    peak_mb: float = 0.0


def rollout(pid: int, change: Callable[[int], None], done: Callable[[], int], count: int, timeout: float,
            what: str) -> Figures:
    """Change every canary's image, wait until all are done; the time from the first change and the CPU used."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    for i in range(count):
        change(i)
    processes.wait_for(lambda: done() >= count, timeout, what, interval=0.2)
    return Figures(time.monotonic() - t0, cpu_seconds(pid) - cpu0)


def start_argo(s: Stack, bin_dir: Path, timeout: float) -> int:
    for f in sorted((bin_dir / "crds").glob("*.yaml")):  # too large for client-side apply: applied server-side
        s.cluster.apply_crd(f, crd_names([f])[0])
    s.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ARGO_NAMESPACE)))
    healthz, metrics = free_port(), free_port()
    proc = processes.start(
        [str(bin_dir / "rollouts-controller"), "--kubeconfig", str(s.cluster.kubeconfig), "--leader-elect=false",
         "--healthzPort", str(healthz), "--metricsPort", str(metrics), "--namespaced", "--namespace", ARGO_NAMESPACE],
        s.workdir / "argo-rollouts.pid", s.workdir / "argo-rollouts.log")
    processes.wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{healthz}/healthz", timeout=2).status == 200,
                       timeout, f"Argo Rollouts' health endpoint (log: {s.workdir / 'argo-rollouts.log'})")
    return proc.pid


def main() -> None:
    exit_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=100, help="canaries per controller")
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--timeout", type=int, default=900, help="seconds each wait may take")
    args = p.parse_args()
    bin_dir = argo_rollouts_dir()

    # Per canary: the aenv copy and the Argo copy, each up to replicas stable + replicas canary pods (110 per node).
    with stack(nodes=max(2, args.count * args.replicas * 4 // 100 + 1)) as s:
        try:
            argo_pid = start_argo(s, bin_dir, args.timeout)
            custom = s.custom
            for i in range(args.count):
                custom.create_namespaced_custom_object(*ARGO[:2], ARGO_NAMESPACE, ARGO[2],
                                                       argo_rollout(i, args.replicas, "example/api:1"))
                custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL,
                                                       aenv_environment(i, args.replicas, "example/api:1"))
            processes.wait_for(lambda: len(argo_healthy(custom)) >= args.count, args.timeout,
                               f"{args.count} Argo Rollouts Healthy")
            s.wait_ready(args.count, args.timeout)
            argo_first = argo_healthy(custom)
            aenv_first = {item["metadata"]["name"]: item["status"]["workloads"][0]["stable"]
                          for item in custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]}

            def argo_change(i: int) -> None:
                custom.patch_namespaced_custom_object(*ARGO[:2], ARGO_NAMESPACE, ARGO[2], f"r{i:03d}", {"spec": {
                    "template": {"spec": {"containers": [{"name": "app", "image": "example/api:2"}]}}}})

            def aenv_change(i: int) -> None:
                custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, f"env-{i:03d}", {"spec": {
                    "workloads": [{"name": f"w{i:03d}", "image": "example/api:2", "replicas": args.replicas}]}})

            argo = rollout(argo_pid, argo_change, lambda: len(argo_healthy(custom, argo_first)), args.count,
                           args.timeout, f"{args.count} Argo Rollouts to complete")
            ours = rollout(s.operator_pid, aenv_change, lambda: rolled_out(s, aenv_first), args.count,
                           args.timeout, f"{args.count} aenv rollouts to complete")
            argo.peak_mb, ours.peak_mb = memory_mb(argo_pid, "VmHWM"), memory_mb(s.operator_pid, "VmHWM")
        finally:
            processes.stop(s.workdir / "argo-rollouts.pid")

    steps = "/".join(map(str, WEIGHTS))
    print(f"{args.count} canaries (setWeight {steps}, no pauses, replica ratio, {args.replicas} replicas), "
          f"image change -> all Healthy at the last step:")
    print(f"  {'':14} {'completion s':>12} {'CPU s':>8} {'peak RSS MB':>12}")
    for name, f in (("Argo Rollouts", argo), ("aenv", ours)):
        print(f"  {name:14} {f.seconds:12.1f} {f.cpu:8.1f} {f.peak_mb:12.0f}")
    print(f"  {'aenv / Argo':14} {ours.seconds / argo.seconds:12.2f} {ours.cpu / max(argo.cpu, 0.01):8.2f} "
          f"{ours.peak_mb / argo.peak_mb:12.2f}")


if __name__ == "__main__":
    main()
