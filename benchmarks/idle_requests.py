"""Idle AWS requests per environment per hour with drift on events: N environments of a small spec (a queue with
its dead-letter queue, a topic it subscribes to), Ready, then left alone while CloudTrail events arrive.

    PYTHONPATH=operator ~/.cache/aenv/venv/bin/python benchmarks/idle_requests.py  # 100 environments, ~10 minutes
    # ~3 minutes
    PYTHONPATH=operator ~/.cache/aenv/venv/bin/python benchmarks/idle_requests.py --environments 20 --sweep-seconds 60
    # with alarms, a dashboard and a webhook
    PYTHONPATH=operator ~/.cache/aenv/venv/bin/python benchmarks/idle_requests.py --monitoring

An hour's sweep is compressed: the operator sweeps every --sweep-seconds, its batch listings live for the same
fraction of their default (30 s of 3600 s), and the figure for the default hourly sweep is the measured cost of one
sweep per environment plus an hour of the event queue's long polls (which do not depend on the sweep). moto has no
CloudTrail: the run sends one CloudTrail-shaped event through aenv's rule, as a trail would, so that the operator
finds events arriving. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
import yaml
from harness import NAMESPACE, stack
from kubernetes import client

from aenv.drift.events import DETAIL_TYPE
from aenv.drift.settings import DEFAULT_CHANNEL, DEFAULT_SWEEP_SECONDS
from aenv.local.emulator import CREDENTIALS, REGION
from aenv.local.processes import wait_for

LISTING_DEFAULT_SECONDS = 30.0
CHANNEL_OPERATIONS = {"sqs.ReceiveMessage", "sqs.DeleteMessageBatch"}  # the event queue's polls: per operator
SPEC = {"tier": "dev", "aws": {"region": REGION},
        "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 5}}],
        "topics": [{"name": "alerts", "subscribers": ["events"]}]}
# --monitoring: the alarms, a dashboard, and a webhook target, which has the alarms' state changes notified
MONITORING = {"dashboard": True, "notificationTargets": [
    {"name": "audit", "webhook": {"secretKeyRef": {"name": "hooks", "key": "url"}}}]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--environments", type=int, default=100)
    p.add_argument("--sweep-seconds", type=float, default=120.0, help="the compressed sweep interval")
    p.add_argument("--sweeps", type=int, default=2, help="how many sweep intervals to measure")
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--monitoring", action="store_true", help="environments with alarms, a dashboard and a webhook")
    args = p.parse_args()

    compress = args.sweep_seconds / DEFAULT_SWEEP_SECONDS
    env = {"AENV_SWEEP_SECONDS": str(args.sweep_seconds), "AENV_SWEEP_FALLBACK_SECONDS": str(args.sweep_seconds),
           "AENV_LISTING_SECONDS": str(max(0.5, LISTING_DEFAULT_SECONDS * compress))}
    template = Path(tempfile.mkdtemp(prefix="aenv-idle-")) / "env.yaml"
    template.write_text(yaml.safe_dump({"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
                                        "metadata": {"name": "t"},
                                        "spec": {**SPEC, "monitoring": MONITORING} if args.monitoring else SPEC}))
    with stack(int(args.sweep_seconds), extra_env=env, nodes=2) as s:
        if args.monitoring:  # nothing listens there: a failed delivery costs no AWS request
            s.core.create_namespaced_secret(NAMESPACE, client.V1Secret(
                metadata=client.V1ObjectMeta(name="hooks"), string_data={"url": "http://127.0.0.1:9/hook"}))
        s.create(args.environments, template)
        took = s.wait_ready(args.environments, args.timeout)
        print(f"{args.environments} environments Ready in {took:.1f} s")
        events = boto3.client("events", region_name=REGION, endpoint_url=_moto_url(s.workdir),
                              **{k.lower(): v for k, v in CREDENTIALS.items() if k.startswith("AWS_")})
        wait_for(lambda: DEFAULT_CHANNEL in [r["Name"] for r in events.list_rules().get("Rules", [])], 60,
                 "aenv's EventBridge rule")
        events.put_events(Entries=[{"Source": "aws.sqs", "DetailType": DETAIL_TYPE, "Detail": json.dumps({
            "eventName": "TagQueue", "requestParameters": {"queueUrl": "https://sqs/1/not-aenvs"}})}])
        time.sleep(args.sweep_seconds)  # settling: the passes that followed Ready end within one sweep
        before = Counter(s.aws_requests())
        window = args.sweep_seconds * args.sweeps
        time.sleep(window)  # the measurement window itself, not a readiness wait
        during = Counter(s.aws_requests())
        during.subtract(before)

    n = args.environments
    channel = sum(v for k, v in during.items() if k in CHANNEL_OPERATIONS)
    sweep = sum(v for k, v in during.items() if k not in CHANNEL_OPERATIONS)
    per_sweep = sweep / n / args.sweeps
    channel_hour = channel * 3600 / window / n
    print(f"idle, measured: {sweep + channel:.0f} AWS requests in {window:.0f} s for {n} environments, sweeping "
          f"every {args.sweep_seconds:g} s")
    print(f"  per environment: {per_sweep:.2f} requests a sweep; the event queue's polls {channel_hour:.2f} an hour")
    print(f"idle AWS requests per environment per hour (hourly sweep): {per_sweep + channel_hour:.1f}")
    for op, v in during.most_common():
        if v:
            print(f"  {op:45} {v / n / args.sweeps if op not in CHANNEL_OPERATIONS else v * 3600 / window / n:8.2f}"
                  f" {'/env/sweep' if op not in CHANNEL_OPERATIONS else '/env/h'}")


def _moto_url(workdir: Path) -> str:
    return f"http://127.0.0.1:{(workdir / 'moto' / 'moto.port').read_text().strip()}"


if __name__ == "__main__":
    main()
