"""Crashes: the operator killed with SIGKILL at random moments while environments are created, changed and
deleted (tests/integration/reliability_crashes.py): 20 trials of 20 environments, at least 5 kills each (quick: the
test's 2 trials of 6 environments, 3 kills each). After each trial and a restart: converged, no duplicate, no
orphan, no rollout jump. Seeded (AENV_CRASH_SEED): a failing trial is printed with its seed."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.conftest import NAMESPACE_PREFIX, Operator
from tests.integration.kube import Kube
from tests.integration.own_stack import own_stack
from tests.integration.reliability_crashes import Trial, run_trials

from aenv.local.emulator import AwsEmulator
from reliability_cases import Row

SEED = int(os.environ.get("AENV_CRASH_SEED", "15"))
RESYNC_SECONDS = 10  # 20 environments observed whole every 2 s (the tests' resync) would keep 2 cores busy


@contextmanager
def operated(resync: float = RESYNC_SECONDS) -> Iterator[tuple[Kube, AwsEmulator, Operator, str]]:
    """A local control plane, moto, and `aenv run` as its own process serving one fresh namespace."""
    with own_stack(Path(tempfile.mkdtemp(prefix="aenv-reliability-")), NAMESPACE_PREFIX, nodes=2,
                   resync=resync) as s:
        yield s.kube, s.emulator, s.operator, s.namespace


def measure(quick: bool) -> list[Row]:
    trials, environments, kills = (2, 6, 3) if quick else (20, 20, 5)
    with operated() as (kube, emulator, operator, namespace):
        results = run_trials(kube, emulator, operator, namespace, SEED, trials, environments, kills,
                             report=lambda t: print(t, file=sys.stderr, flush=True))
    return rows(results, trials, environments)


def rows(results: list[Trial], trials: int, environments: int) -> list[Row]:
    total = trials * environments
    converged = total - sum(len(t.unconverged) for t in results)
    duplicates = sum(len(t.duplicates) for t in results)
    orphans = sum(len(t.orphans) + len(t.leftovers) for t in results)
    jumps, rollouts = sum(len(t.jumps) for t in results), sum(t.rollouts for t in results)
    kills = sum(t.kills for t in results)
    slowest = max((t.converge_seconds for t in results), default=0.0)
    where = f"{trials} crash trials x {environments} environments, {kills} SIGKILLs"
    return [
        Row(f"environments converged after {where}", f"{total}/{total}", f"{converged}/{total}", converged == total),
        Row("duplicate AWS resources after the crash trials", "0", str(duplicates), duplicates == 0),
        Row("orphaned AWS resources after the crash trials (and their deletion)", "0", str(orphans), orphans == 0),
        Row("rollouts that jumped a step or a weight across the crashes", "0",
            f"{jumps} of {rollouts} rollouts", jumps == 0),
        Row("slowest convergence after a trial's last restart", "reported", f"{slowest:.1f} s", True),
    ]
