"""A faulty AWS (throttling, 5xx, dropped connections on 20% of the requests, at random): every environment
converges, nothing is duplicated or left behind, and the requests made are at most 3x the fault-free run's.
A few environments here; benchmarks/reliability.py runs the full count (reliability_cases/faults.py)."""

from __future__ import annotations

import os

from aenv.local.emulator import AwsEmulator

from .aws_inventory import duplicates, inventory, kms_aliases, orphans
from .faults import RandomFaults, fault_proxy
from .kube import Kube
from .reliability_faults import compare, spec

SEED = int(os.environ.get("AENV_FAULT_SEED", "15"))
RATE = 0.2
BOUND = 3.0  # requests with faults / requests without


def test_a_faulty_aws_converges_within_three_times_the_requests(kube: Kube, namespace: str,
                                                                emulator: AwsEmulator) -> None:
    base, faulty = compare(kube, emulator, namespace, environments=4, rate=RATE, seed=SEED)
    print(f"fault-free: {base}\nfaulty: {faulty}")
    assert base.held, str(base)
    assert faulty.held, str(faulty)
    assert sum(faulty.injected.values()) > 0 and not base.injected
    assert faulty.requests <= BOUND * base.requests, f"{faulty.requests} requests against {base.requests} fault-free"


CREATES = ("CreateKey", "CreateRole", "CreateQueue", "CreateTopic", "Subscribe", "CreateAlias")


def test_a_create_whose_answer_is_lost_makes_nothing_twice(kube: Kube, namespace: str,
                                                           emulator: AwsEmulator) -> None:
    """AWS did the create, the connection closed before its answer came: the SDK's retry and aenv's next pass
    must find what was made. CreateKey makes a new key on every call, so aenv asks for it once: a repeated one made a
    second key, left live for ever; and an alias whose answer was lost named the key just made, which aenv then
    scheduled for deletion and made a third."""
    lost = RandomFaults(1.0, SEED, kinds=("drop-after",), operations=CREATES, times=1)
    with fault_proxy(emulator.url, random_faults=lost) as proxy:
        try:
            kube.create_env(namespace, "lost", spec(proxy.url, 0))
            env = kube.wait_condition(namespace, "lost", "Ready", timeout=90)
            assert set(lost.failed) == set(CREATES), lost.failed
            made = inventory(emulator, namespace)
            assert duplicates(made) == []
            assert orphans(made, {f"{namespace}/lost": env}, kms_aliases(emulator)) == []
            assert proxy.calls["CreateKey"] == 1 and proxy.calls["ScheduleKeyDeletion"] == 0, proxy.calls
        finally:  # through the proxy, the environment's endpoint, while it still runs
            kube.delete_all_environments(namespace, timeout=90)
    assert inventory(emulator, namespace) == []
