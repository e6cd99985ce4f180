"""Secrets never leak: environments with every credential aenv generates (cache token, database master password and
login, JWT key, API keys) become Ready on a local control plane, moto and the operator; both rotatable credentials
are rotated; then every value, old and new, is looked for in the namespace's Events, statuses and annotations (pod
templates' included), the operator's log and its metric labels (tests/integration/reliability_secrets.py)."""

from __future__ import annotations

from harness import NAMESPACE, stack
from kubernetes import config
from tests.integration.kube import Kube
from tests.integration.reliability_secrets import create_and_rotate, scan_now

from reliability_cases import Row

ENVIRONMENTS = {True: 1, False: 5}  # quick: the test's count


def measure(quick: bool) -> list[Row]:
    count = ENVIRONMENTS[quick]
    with stack() as s:
        kube = Kube(config.new_client_from_config(config_file=str(s.cluster.kubeconfig)))
        rotated = create_and_rotate(kube, s.emulator, NAMESPACE, [f"leaks-{i}" for i in range(count)])
        port = int(s.metrics_url.rsplit(":", 1)[1].split("/", 1)[0])
        scan = scan_now(kube, s.emulator, NAMESPACE, s.workdir / "operator.log", port, rotated)
    where = "logs, Events, statuses, annotations, metric labels"
    return [
        Row(f"credential values looked for ({count} environments, {rotated} secrets rotated)",
            f">= {8 * count}", str(scan.credentials), scan.credentials >= 8 * count),
        Row(f"credential values found in {where}", "0", str(len(scan.leaks)), not scan.leaks),
    ]
