"""Issue figures for mode boto3: the time for N environments to become Ready, and the AWS requests the
operator makes per environment per hour once they are idle.

    PYTHONPATH=operator ~/.cache/aenv/venv/bin/python benchmarks/aws_idle_and_ready.py \\
      --environments 100 --idle-seconds 300

Runs against a local control plane and moto started for the run; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from harness import stack

from aenv.local.controlplane import REPO


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--environments", type=int, default=100)
    p.add_argument("--idle-seconds", type=int, default=300, help="how long to measure the idle cost")
    p.add_argument("--resync-seconds", type=int, default=30)
    p.add_argument("--template", type=Path, default=REPO / "examples" / "env-prod.yaml")
    p.add_argument("--timeout", type=int, default=1800)
    args = p.parse_args()

    # kwok nodes take 110 pods each; env-prod.yaml runs 7 pods per environment
    with stack(args.resync_seconds, nodes=max(2, args.environments * 8 // 100 + 1)) as s:
        s.create(args.environments, args.template)
        took = s.wait_ready(args.environments, args.timeout)
        print(f"{args.environments} environments Ready in {took:.1f} s "
              f"(operator CPU {s.cpu_seconds():.1f} s, RSS {s.rss_mb():.0f} MB)")

        before = Counter(s.aws_requests())
        time.sleep(args.idle_seconds)  # the measurement window itself, not a readiness wait
        during = Counter(s.aws_requests())
        during.subtract(before)
        total = sum(during.values())
        per_env_hour = total / args.environments * 3600 / args.idle_seconds
        print(f"idle: {total:.0f} AWS requests in {args.idle_seconds} s for {args.environments} environments "
              f"= {per_env_hour:.1f} per environment per hour (resync every {args.resync_seconds} s)")
        for op, n in during.most_common():
            if n:
                print(f"  {op:55} {n / args.environments * 3600 / args.idle_seconds:8.1f} /env/h")


if __name__ == "__main__":
    main()
