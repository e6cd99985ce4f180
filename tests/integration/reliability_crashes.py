"""Crashes at random moments: environments are created, changed and deleted while the operator is killed with
SIGKILL at random times and started again. After each trial every environment converges (Ready at its last
generation, or gone once deleted) with no duplicate and no orphan in AWS, and no rollout jumped a step or a weight.

Seeded: a trial's environments, changes, deletions and kill times come from `seed` and the trial's number, and a
failure names the seed, so `run_trials(..., seed=<it>)` replays the same plan (the operator's own timing varies).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .aws_inventory import duplicates, inventory, kms_aliases, orphans
from .kube import Kube
from .rollout_recorder import RolloutRecorder, jumps

STEPS: list[dict[str, Any]] = [{"setWeight": 25}, {"pause": {"duration": "1s"}}, {"setWeight": 50},
                               {"pause": {"duration": "1s"}}, {"setWeight": 100}]
KILL_GAP = (1.5, 5.0)  # seconds between one start and the next kill: within startup, handling, AWS calls, status
ACTION_GAP = (0.5, 4.0)  # seconds between creating, changing and deleting


class Restartable(Protocol):
    """What a trial needs of the operator: tests/integration/conftest.py's Operator is one."""

    def kill(self) -> None: ...
    def start(self) -> None: ...
    def running(self) -> bool: ...


@dataclass
class Trial:
    seed: int
    number: int
    environments: int
    kills: int = 0
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    converge_seconds: float = 0.0
    unconverged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # AWS resources left once every environment was deleted
    jumps: list[str] = field(default_factory=list)
    rollouts: int = 0  # rollouts seen in progress
    watch_gaps: int = 0

    @property
    def held(self) -> bool:
        return not (self.unconverged or self.duplicates or self.orphans or self.leftovers or self.jumps)

    def __str__(self) -> str:
        return (f"seed {self.seed} trial {self.number}: {self.environments} environments, {self.kills} kills, "
                f"changed {self.changed}, deleted {self.deleted}; unconverged {self.unconverged}, duplicates "
                f"{self.duplicates}, orphans {self.orphans}, left after deletion {self.leftovers}, jumps {self.jumps}")


def spec(index: int) -> dict[str, Any]:
    """Queues with a dead-letter queue, a topic subscribed to one (a KMS key encrypts them); every other
    environment also runs a canary workload (an IAM role in AWS)."""
    out: dict[str, Any] = {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
                           "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}}, {"name": "trades"}],
                           "topics": [{"name": "alerts", "subscribers": ["events"]}]}
    if index % 2 == 0:
        out["workloads"] = [{"name": "web", "image": "example/web:1", "replicas": 4}]
        out["rollout"] = {"strategy": "canary", "canary": {"steps": STEPS}}
    return out


def changed(body: dict[str, Any]) -> dict[str, Any]:
    """One more queue; a new image for the workload, which starts a rollout."""
    out = {**body, "queues": [*body["queues"], {"name": "extra"}]}
    if "workloads" in body:
        out["workloads"] = [{**body["workloads"][0], "image": "example/web:2"}]
    return out


class Killer:
    """Kills the operator (SIGKILL) at random moments and starts it again at once, until stopped."""

    def __init__(self, operator: Restartable, rng: random.Random) -> None:
        self.operator, self.rng = operator, rng
        self.kills = 0
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.rng.uniform(*KILL_GAP)):
                self.operator.kill()
                self.kills += 1
                self.operator.start()
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self._errors.append(e)

    def start(self) -> None:
        self._thread.start()

    def stop(self, at_least: int) -> None:
        wait_for(lambda: self.kills >= at_least or bool(self._errors), 120, f"{at_least} kills")
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._errors, f"killing and starting the operator failed: {self._errors}"


def converged(kube: Kube, namespace: str, names: list[str], deleted: list[str]) -> list[str]:
    """The environments not (yet) where they should be: kept ones Ready at their generation with every workload
    Healthy on its image's revision, deleted ones gone."""
    out = []
    for name in names:
        if name in deleted:
            if not kube.env_gone(namespace, name):
                out.append(f"{name}: not deleted")
            continue
        env = kube.get_env(namespace, name)
        status = env.get("status", {})
        ready, generation = kube.condition(env, "Ready"), env["metadata"]["generation"]
        if ready is None or ready["status"] != "True" or status.get("observedGeneration") != generation:
            out.append(f"{name}: not Ready at generation {env['metadata']['generation']} ({ready})")
        elif any(w.get("phase") != "Healthy" or w.get("canary") for w in status.get("workloads", [])):
            out.append(f"{name}: a workload is not Healthy: {status.get('workloads')}")
    return out


def deployed(kube: Kube, namespace: str, name: str) -> bool:
    return all(w.get("stable") for w in kube.get_env(namespace, name).get("status", {}).get("workloads", [{}]))


def trial(kube: Kube, emulator: AwsEmulator, operator: Restartable, namespace: str, seed: int, number: int,
          environments: int, kills: int, timeout: float = 240.0) -> Trial:
    rng = random.Random(seed * 1000 + number)
    result = Trial(seed, number, environments)
    bodies = {f"t{number}-e{i:02d}": spec(i) for i in range(environments)}
    names = list(bodies)
    result.changed = sorted(rng.sample(names, k=max(1, environments // 2)))
    result.deleted = sorted(rng.sample(names, k=max(1, environments // 3)))
    killer = Killer(operator, random.Random(rng.random()))
    with RolloutRecorder(kube, namespace) as recorder:
        killer.start()
        for name, body in bodies.items():
            kube.create_env(namespace, name, body)
        time.sleep(rng.uniform(*ACTION_GAP))  # the moment of the next action is part of the random plan
        # A new image rolls out from a stable revision only once the first one is deployed.
        wait_for(lambda: all(deployed(kube, namespace, n) for n in result.changed if "workloads" in bodies[n]),
                 timeout, "the first deployment of the workloads about to change")
        for name in result.changed:
            bodies[name] = changed(bodies[name])
            kube.replace_spec(namespace, name, bodies[name])
        time.sleep(rng.uniform(*ACTION_GAP))
        for name in result.deleted:
            kube.delete_env(namespace, name)
        killer.stop(at_least=kills)
        result.kills = killer.kills
        if not operator.running():
            operator.start()
        started = time.monotonic()
        try:
            wait_for(lambda: not converged(kube, namespace, names, result.deleted), timeout,
                     "every environment to converge", interval=0.5)
        except TimeoutError:
            result.unconverged = converged(kube, namespace, names, result.deleted)
        result.converge_seconds = time.monotonic() - started
        result.rollouts, result.watch_gaps = len(recorder.states), recorder.gaps
    result.jumps = jumps(recorder.states, STEPS)
    result.duplicates, result.orphans = check_aws(kube, emulator, namespace)
    if not result.unconverged:  # the trial's environments go; so must everything they made
        delete_all(kube, namespace, names, timeout)
        result.leftovers = [str(m) for m in inventory(emulator, namespace)]
    return result


def check_aws(kube: Kube, emulator: AwsEmulator, namespace: str) -> tuple[list[str], list[str]]:
    made = inventory(emulator, namespace)
    items = kube.custom.list_namespaced_custom_object("aenv.dev", "v1alpha1", namespace, "analyticsenvironments")
    envs = {f"{namespace}/{i['metadata']['name']}": i for i in items["items"]}
    return duplicates(made), orphans(made, envs, kms_aliases(emulator))


def delete_all(kube: Kube, namespace: str, names: list[str], timeout: float) -> None:
    for name in names:
        if not kube.env_gone(namespace, name):
            kube.delete_env(namespace, name)
    for name in names:
        wait_for(lambda n=name: kube.env_gone(namespace, n), timeout, f"{namespace}/{name} to be deleted")


def run_trials(kube: Kube, emulator: AwsEmulator, operator: Restartable, namespace: str, seed: int, trials: int,
               environments: int, kills: int, report: Callable[[Trial], None] = print) -> list[Trial]:
    results = []
    for number in range(trials):
        result = trial(kube, emulator, operator, namespace, seed, number, environments, kills)
        report(result)
        results.append(result)
    return results
