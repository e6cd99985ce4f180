"""The operator killed (SIGKILL) at random moments while environments are created, changed and deleted: every
environment converges, nothing is duplicated or orphaned in AWS, no rollout jumps. A few small trials here;
benchmarks/reliability.py runs the full count (reliability_cases/crashes.py)."""

from __future__ import annotations

import os

from aenv.local.emulator import AwsEmulator

from .conftest import Operator
from .kube import Kube
from .reliability_crashes import run_trials

SEED = int(os.environ.get("AENV_CRASH_SEED", "15"))  # a failure prints its seed: set this to replay it


def test_random_crashes_leave_no_duplicate_orphan_or_jump(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                          operator: Operator) -> None:
    trials = run_trials(kube, emulator, operator, namespace, seed=SEED, trials=2, environments=6, kills=3)
    for t in trials:
        assert t.held, str(t)
        assert t.kills >= 3
    assert sum(t.rollouts for t in trials) > 0, "the changed environments' rollouts were recorded"
