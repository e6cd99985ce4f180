"""aenv side by side with the ACK controllers on one local control plane and one moto: N copies of
examples/env-prod.yaml to Ready in mode boto3 (aenv calls AWS) and then N more in mode ack (aenv writes ACK
resources, the ACK controllers call AWS), and the AWS requests each side makes per environment per hour once idle:
aenv for its mode-boto3 environments, the ACK controllers for the mode-ack ones at their default resync (10 hours)
and again, restarted, at a 60 s resync.

Requests are counted at moto, from its access log (one line per HTTP request it answers). The ACK controllers reach
moto through a counting proxy (tests/integration/faults.py's, with no faults); aenv calls moto directly, so its count
is the log's lines in the window less the requests the proxy relayed in it (aenv's own aenv_aws_requests_total is
printed beside it). aenv's drift sweep is at its default: moto emits no CloudTrail events, so aenv observes every
environment whole at its fallback sweep interval.

    AENV_CONTROL_PLANE_BIN=$(cat ~/.cache/aenv/control-plane-bin) AENV_ACK_BIN=$(cat ~/.cache/aenv/ack-bin) \\
      PYTHONPATH=operator:benchmarks:. ~/.cache/aenv/venv/bin/python benchmarks/peers_ack.py --count 50

Prints figures, asserts nothing; stops every process it started.
"""

from __future__ import annotations

import argparse
import copy
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from harness import NAMESPACE, Stack, exit_on_sigterm, stack
from tests.integration.faults import FaultProxy, fault_proxy

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local import ack, controlplane, processes
from aenv.local.controlplane import REPO

ACK_DEFAULT_RESYNC_SECONDS = 36000  # the controllers' own default (--reconcile-default-resync-seconds)
SETTLE_SECONDS = 30  # after a restart, the controllers' first pass over every resource is not idle cost
REQUEST_LINE = re.compile(rb'"[A-Z]+ \S+ HTTP/1\.[01]" \d{3} ')


def environments(template: Path, mode: str, count: int) -> list[dict[str, Any]]:
    doc = yaml.safe_load(template.read_text())
    out = []
    for i in range(count):
        body = copy.deepcopy(doc)
        name = f"{mode}-{i:03d}"
        body["metadata"] = {"name": name, "namespace": NAMESPACE}
        body["spec"]["aws"]["mode"] = mode
        domain = body["spec"].get("gateway", {}).get("domain")
        if domain:  # a custom domain belongs to one environment: give each its own
            domain["name"] = f"{name}.{domain['name']}"
        out.append(body)
    return out


def ready_names(s: Stack) -> set[str]:
    items = s.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
    return {i["metadata"]["name"] for i in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in i.get("status", {}).get("conditions", []))}


def to_ready(s: Stack, bodies: list[dict[str, Any]], timeout: float) -> float:
    names = {b["metadata"]["name"] for b in bodies}
    start = time.monotonic()
    for body in bodies:
        s.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    processes.wait_for(lambda: names <= ready_names(s), timeout, f"{len(names)} environments Ready", interval=1)
    return time.monotonic() - start


def idle(s: Stack, proxy: FaultProxy, seconds: float) -> tuple[int, Counter[str], Counter[str]]:
    """Over `seconds` of idling: the requests moto answered, those the proxy relayed (by operation), and those
    aenv counted itself (by service.operation)."""
    log = s.emulator.logfile
    offset, relayed, own = log.stat().st_size, forwarded(proxy), Counter(s.aws_requests())
    time.sleep(seconds)  # the measurement window itself, not a readiness wait
    with log.open("rb") as f:
        f.seek(offset)
        answered = sum(1 for line in f if REQUEST_LINE.search(line))
    return answered, forwarded(proxy) - relayed, Counter(s.aws_requests()) - own


def forwarded(proxy: FaultProxy) -> Counter[str]:
    with proxy.lock:  # its handler threads add operations as they come
        return Counter(proxy.forwarded)


def per_env_hour(counts: Counter[str], count: int, seconds: float) -> float:
    return sum(counts.values()) / count * 3600 / seconds


def top(counts: Counter[str], count: int, seconds: float, n: int = 4) -> str:
    """The most frequent operations, per environment per hour (REST and CBOR calls have no operation name here)."""
    return ", ".join(f"{op or '(REST/CBOR)'} {c / count * 3600 / seconds:.0f}" for op, c in counts.most_common(n))


def main() -> None:
    exit_on_sigterm()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=50, help="environments per mode")
    p.add_argument("--idle-seconds", type=int, default=300, help="each idle measurement window")
    p.add_argument("--template", type=Path, default=REPO / "examples" / "env-prod.yaml")
    p.add_argument("--timeout", type=int, default=1800, help="seconds each wait may take")
    args = p.parse_args()
    ack_bin = ack.binaries()

    # kwok nodes take 110 pods each; env-prod.yaml runs 7 pods per environment, in each mode
    with stack(resync_seconds=None, nodes=max(2, args.count * 2 * 8 // 100 + 1)) as s, \
            fault_proxy(s.emulator.url) as ack_proxy:
        ack.install_crds(controlplane.binaries() / "kubectl", s.cluster.kubeconfig, ack.crd_files(ack_bin))
        controllers = ack.AckControllers(ack_bin, s.workdir / "ack", s.cluster.kubeconfig, ack_proxy.url,
                                         resync_seconds=ACK_DEFAULT_RESYNC_SECONDS)
        try:
            controllers.start()
            boto3_ready = to_ready(s, environments(args.template, "boto3", args.count), args.timeout)
            print(f"{args.count} environments Ready in mode boto3: {boto3_ready:.1f} s", flush=True)
            ack_ready = to_ready(s, environments(args.template, "ack", args.count), args.timeout)
            print(f"{args.count} environments Ready in mode ack: {ack_ready:.1f} s", flush=True)

            answered, ack_default, own = idle(s, ack_proxy, args.idle_seconds)
            controllers.stop()
            controllers = ack.AckControllers(ack_bin, s.workdir / "ack-60", s.cluster.kubeconfig, ack_proxy.url,
                                             resync_seconds=60)
            controllers.start()
            time.sleep(SETTLE_SECONDS)  # let the restart's first pass end; not a readiness wait
            _, ack_60, _ = idle(s, ack_proxy, args.idle_seconds)
        finally:
            controllers.stop()

    n, w = args.count, args.idle_seconds
    aenv_idle = Counter({"": answered - sum(ack_default.values())})
    print(f"\n{n} copies of {args.template.name} per mode; idle AWS requests per environment per hour, counted at "
          f"moto over {w} s:")
    rows = [("aenv, mode boto3", aenv_idle, ""),
            ("  (aenv's own count)", own, top(own, n, w)),
            ("ACK controllers, default resync (10 h)", ack_default, top(ack_default, n, w)),
            ("ACK controllers, 60 s resync", ack_60, top(ack_60, n, w))]
    for label, counts, detail in rows:
        print(f"  {label:40} {per_env_hour(counts, n, w):9.1f}   {detail}")
    print(f"  {'to Ready, mode ack / mode boto3':40} {ack_ready / boto3_ready:9.2f}")
    base = max(per_env_hour(aenv_idle, n, w), 1e-9)
    print(f"  {'ACK default resync / aenv, idle':40} {per_env_hour(ack_default, n, w) / base:9.2f}")
    print(f"  {'ACK 60 s resync / aenv, idle':40} {per_env_hour(ack_60, n, w) / base:9.2f}")


if __name__ == "__main__":
    main()
