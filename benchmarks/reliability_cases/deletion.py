"""Mass deletion: environments of every tier and deletionPolicy deleted at once, and what AWS holds afterwards
judged against each policy's promise (tests/integration/reliability_deletion.py runs the scenario)."""

from __future__ import annotations

from harness import NAMESPACE, stack
from kubernetes import config
from tests.integration.kube import Kube
from tests.integration.reliability_deletion import run

from reliability_cases import Row


def measure(quick: bool) -> list[Row]:
    count = 9 if quick else 50
    with stack(resync_seconds=10) as s:
        kube = Kube(config.new_client_from_config(config_file=str(s.cluster.kubeconfig)))
        r = run(kube, s.emulator, NAMESPACE, count, timeout=900)
    mix = ", ".join(f"{r.count(p)} {p}" for p in ("Delete", "Snapshot", "Retain"))
    return [
        Row(f"environments deleted at once ({mix}; {r.databases} with a database)", f"{count} gone",
            f"{len(r.environments)} gone in {r.delete_seconds:.0f} s", len(r.environments) == count),
        Row("orphaned AWS resources (left, not promised by the policy)", "0", _listed(r.orphans), not r.orphans),
        Row("final DB snapshots left (Snapshot, and prod under Delete)",
            f"{r.snapshots - len(r.extra_snapshots) + len(r.missing_snapshots)} promised",
            f"{r.snapshots} ({len(r.missing_snapshots)} missing, {len(r.extra_snapshots)} extra)",
            not r.missing_snapshots and not r.extra_snapshots),
        Row("prod databases deleted without a final snapshot", "0", _listed(r.prod_without_snapshot),
            not r.prod_without_snapshot),
        Row("Retain: resources lost or kept without aenv.dev/released=true", "0", _listed(r.retained_unreleased),
            not r.retained_unreleased),
    ]


def _listed(found: list[str]) -> str:
    return str(len(found)) if not found else f"{len(found)}: {'; '.join(found[:3])}{' ...' if len(found) > 3 else ''}"
