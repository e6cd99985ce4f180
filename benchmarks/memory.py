"""The operator's resident memory as environments are added: N environments, each with two queues (one with a
dead-letter queue), a topic that feeds one of them, and one single-replica workload (on kwok nodes), with AWS
in the emulator.

The operator's RSS is read before the first environment, then after each batch is Ready and one resync of all of
them has run (idle memory, not a burst of creates); it prints RSS per count, the growth per environment over the
last batches, and what that growth projects at 1,000 environments when fewer were run.

    PYTHONPATH=operator:benchmarks ~/.cache/aenv/venv/bin/python benchmarks/memory.py  # 1,000 environments
    PYTHONPATH=operator:benchmarks ~/.cache/aenv/venv/bin/python benchmarks/memory.py --short  # 100, in a few minutes

Target: <= 250 MB at 1,000 environments. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness import NAMESPACE, Stack, stack

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local import processes

TARGET_MB, AT = 250.0, 1000
RESYNC_SECONDS = 30
RESYNCS = 'aenv_reconciles_total{kind="reconcile"'


def environment(i: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
        "metadata": {"name": f"env-{i:04d}", "namespace": NAMESPACE},
        "spec": {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
                 "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 5}}, {"name": "alerts"}],
                 "topics": [{"name": "notices", "subscribers": ["alerts"]}],
                 "workloads": [{"name": "processor", "image": "example/processor:1", "replicas": 1,
                                "uses": ["events", "notices"]}]},
    }


def metric(s: Stack, prefix: str) -> float:
    """The sum of the operator's samples whose line starts with `prefix`."""
    with urllib.request.urlopen(s.metrics_url, timeout=10) as r:
        return sum(float(line.rsplit(" ", 1)[1]) for line in r.read().decode().splitlines() if line.startswith(prefix))


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settled(s: Stack, count: int, timeout: float) -> float:
    """Wait for `count` environments Ready and one resync of all of them; the operator's RSS then."""
    s.wait_ready(count, timeout)
    passes = metric(s, RESYNCS)
    processes.wait_for(lambda: metric(s, RESYNCS) >= passes + count, RESYNC_SECONDS * 3 + count * 0.5,
                       "a resync of every environment", interval=1)
    return s.rss_mb()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--environments", type=int, default=AT)
    p.add_argument("--short", action="store_true", help="100 environments")
    p.add_argument("--batches", type=int, default=4, help="RSS is read after each of these many equal batches")
    p.add_argument("--timeout", type=int, default=3600)
    args = p.parse_args()
    total = 100 if args.short else args.environments

    with stack(resync_seconds=RESYNC_SECONDS, nodes=total // 100 + 2) as s:
        figures = [(0, s.rss_mb())]
        print(f"0 environments: RSS {figures[0][1]:.0f} MB", flush=True)
        made = 0
        t0 = time.monotonic()
        for batch in range(1, args.batches + 1):
            upto = total * batch // args.batches
            for i in range(made, upto):
                s.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, environment(i))
            made = upto
            figures.append((made, settled(s, made, args.timeout)))
            print(f"{made} environments: RSS {figures[-1][1]:.0f} MB ({time.monotonic() - t0:.0f} s)", flush=True)
        (n0, m0), (n1, m1) = figures[-2] if len(figures) > 2 else figures[0], figures[-1]
        per = (m1 - m0) / max(1, n1 - n0)
        peak = peak_mb(s.operator_pid)
        print(f"RSS at {n1} environments: {m1:.0f} MB (peak {peak:.0f} MB); {per * 1024:.0f} KB per environment "
              f"from {n0} to {n1}")
        if n1 < AT:
            print(f"projected at {AT}: {m1 + per * (AT - n1):.0f} MB, linear from the last batch "
                  f"(target <= {TARGET_MB:.0f} MB)")
        else:
            print(f"target at {AT}: <= {TARGET_MB:.0f} MB")


if __name__ == "__main__":
    main()
