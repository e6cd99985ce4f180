"""Control-plane restarts: kube-apiserver, then etcd, restarted while environments are being created and a canary
rollout waits at its step (tests/integration/reliability_restarts.py runs the scenario)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.integration.reliability_restarts import restartable_stack, run

from reliability_cases import Row

RESUME_SECONDS = 10.0


def measure(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="aenv-restarts-") as workdir, restartable_stack(Path(workdir)) as stack:
        result = run(stack, environments=4 if quick else 20)
    rows = []
    for r in result.restarts:
        rows += [Row(f"{r.component} restart: API unavailable (stop to /readyz ok)", "measured",
                     f"{r.outage_seconds:.1f} s", True),
                 Row(f"{r.component} restart: operator's first write after the API came back",
                     f"<= {RESUME_SECONDS:.0f} s", f"{r.resume_seconds:.1f} s", r.resume_seconds <= RESUME_SECONDS),
                 Row(f"{r.component} restart: environments being created Ready after the API came back",
                     f"<= {RESUME_SECONDS:.0f} s", f"{r.converge_seconds:.1f} s", r.converge_seconds <= RESUME_SECONDS)]
    step, weight = result.rollout_before[:2]
    duplicates = sum(result.duplicates.values())
    repeated = sum(result.repeated_events.values())
    return [*rows,
            Row("environments created during the restarts that converged", f"{result.environments}",
                f"{result.converged}", result.converged == result.environments),
            Row("paused canary kept its step through both restarts", f"step {step}, weight {weight}",
                "kept" if result.rollout_kept and result.replica_sets_kept else
                f"{result.rollout_after[:2]}, seen {sorted(set(result.rollout_seen))}",
                result.rollout_kept and result.replica_sets_kept),
            Row("promoted afterwards, the canary went on from its step", "yes",
                "yes" if result.completed_from_step else "no", result.completed_from_step),
            Row("duplicate AWS resources (KMS keys, queues, topics) after the restarts", "0", str(duplicates),
                duplicates == 0),
            Row("Events posted twice", "0", str(repeated), repeated == 0)]
