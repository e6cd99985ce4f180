"""AWS faults: 20 environments created and deleted through the fault proxy in front of moto, once fault-free and
once with 20% of the requests failed at random (throttling, 500, 503, connections dropped before or after moto did
the work; tests/integration/reliability_faults.py). Quick: the test's 4 environments. Seeded (AENV_FAULT_SEED)."""

from __future__ import annotations

import os
import sys

from tests.integration.reliability_faults import Run, compare

from reliability_cases import Row
from reliability_cases.crashes import operated

SEED = int(os.environ.get("AENV_FAULT_SEED", "15"))
RATE = 0.2
BOUND = 3.0


def measure(quick: bool) -> list[Row]:
    environments = 4 if quick else 20
    with operated() as (kube, emulator, _operator, namespace):
        base, faulty = compare(kube, emulator, namespace, environments, RATE, SEED)
    print(f"fault-free: {base}\nfaulty: {faulty}", file=sys.stderr, flush=True)
    return rows(base, faulty)


def rows(base: Run, faulty: Run) -> list[Row]:
    n = faulty.environments
    converged = n - len({u.split(":", 1)[0] for u in faulty.unconverged})
    injected = sum(faulty.injected.values())
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(faulty.injected.items()))
    ratio = faulty.requests / base.requests if base.requests else float("inf")
    wrong = len(faulty.duplicates) + len(faulty.orphans) + len(faulty.leftovers)
    return [
        Row(f"requests failed by the fault proxy ({n} environments)", f"{RATE:.0%}",
            f"{injected / max(faulty.requests, 1):.0%} ({injected} of {faulty.requests}: {kinds})", True),
        Row(f"environments Ready, then deleted, through {RATE:.0%} faults", f"{n}/{n}", f"{converged}/{n} "
            f"(Ready in {faulty.seconds_to_ready:.1f} s, gone after {faulty.seconds:.1f} s; fault-free "
            f"{base.seconds_to_ready:.1f} s and {base.seconds:.1f} s)", converged == n and base.held),
        Row("AWS requests with faults / fault-free (create to Ready to gone)", f"<= {BOUND:.0f}x",
            f"{ratio:.2f}x ({faulty.requests} / {base.requests}; to Ready {faulty.requests_to_ready} / "
            f"{base.requests_to_ready})", ratio <= BOUND),
        Row("duplicate, orphaned or leftover AWS resources under faults", "0", str(wrong), wrong == 0),
    ]
