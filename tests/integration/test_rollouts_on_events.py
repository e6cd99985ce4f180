"""Rollouts step on events: with the resync and the rollout safety poll ten minutes away, a canary still follows
its ReplicaSet's ready pods step by step, each traffic update following the readiness change that met its gate
within seconds. And what the operator keeps of an environment goes with it."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for
from aenv.rollouts.engine import routed_canary_replicas

from .conftest import Operator, fresh_namespace
from .kube import Kube
from .test_rollouts import (
    ENV,
    Timeline,
    canary,
    deploy,
    env_spec,
    split,
    start_rollout,
    wait_phase,
)
from .test_traffic_routers import create_ingress

pytestmark = pytest.mark.integration

POLL_SECONDS = 600.0  # the resync and the safety poll of this module's operator: neither can be what steps
STEP_SECONDS = 5.0  # the deadline from a gate met to the traffic object carrying the step's weight
REPLICAS = 4
WEIGHTS = (25, 100)


@pytest.fixture(scope="module")
def unpolled_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                      emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("unpolled-operator"), kubeconfig, emulator, prefix="aenv-events-",
                  resync=POLL_SECONDS, env={"AENV_ROLLOUT_SAFETY_SECONDS": str(POLL_SECONDS),
                                            "AENV_ROLLOUT_SECONDS": str(POLL_SECONDS)}) as op:
        yield op


@pytest.fixture
def unpolled_namespace(kube: Kube, emulator: AwsEmulator, unpolled_operator: Operator) -> Iterator[str]:
    emulator.reset()
    yield from fresh_namespace(kube, unpolled_operator)


def test_a_canary_step_follows_its_replica_set_becoming_ready(kube: Kube, unpolled_namespace: str) -> None:
    namespace = unpolled_namespace
    create_ingress(kube, namespace, "web-ingress", action="web")
    policy = canary(*({"setWeight": w} for w in WEIGHTS), trafficRouting={"alb": {"ingress": "web-ingress"}})
    deploy(kube, namespace, env_spec(policy, replicas=REPLICAS))  # the first revision's pods, also on events

    with Timeline(kube, namespace, ingress="web-ingress") as timeline:
        _, new = start_rollout(kube, namespace, "example/web:2")
        wait_phase(kube, namespace, "Healthy", stableRevision=new, timeout=60)
    seen = timeline.seen("rs", "ingress")

    for weight in WEIGHTS:
        gate = next((s for s in seen if s.kind == "rs"
                     and s.value.get(new, (0, 0))[1] >= routed_canary_replicas(REPLICAS, weight)), None)
        assert gate is not None, f"the canary never had the ready pods of weight {weight}: {seen}"
        routed = next((s for s in seen if s.kind == "ingress" and s.value == split(weight)), None)
        assert routed is not None, f"the Ingress never carried weight {weight}: {[s.value for s in seen]}"
        assert routed.version > gate.version, f"weight {weight} was routed before its gate was met"
        assert routed.at - gate.at < STEP_SECONDS, (
            f"weight {weight}: {routed.at - gate.at:.1f} s from the canary's ready pods to the Ingress")


def remembered(operator: Operator) -> float:
    """aenv_environments_remembered, read from the operator's metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=10) as r:
        line = next(x for x in r.read().decode().splitlines() if x.startswith("aenv_environments_remembered "))
    return float(line.split()[1])


def test_a_deleted_environment_leaves_no_memory_in_the_operator(kube: Kube, unpolled_namespace: str,
                                                               unpolled_operator: Operator) -> None:
    deploy(kube, unpolled_namespace, env_spec(canary({"setWeight": 100}), replicas=1))
    assert remembered(unpolled_operator) == 1
    kube.delete_env(unpolled_namespace, ENV)
    wait_for(lambda: kube.env_gone(unpolled_namespace, ENV), 60, "the environment to be deleted", interval=0.2)
    wait_for(lambda: remembered(unpolled_operator) == 0, 10, "the operator to forget it", interval=0.2)
