"""Control-plane restarts during reconciles, shared by test_reliability_restarts.py (small counts) and the
benchmark case benchmarks/reliability_cases/restarts.py (the issue's counts).

A control plane of its own (other tests' clusters are never restarted), its own emulator and operator. A canary
rollout is paused at a step and environments are being created when kube-apiserver is restarted, then etcd (same
flags, ports and data). The figures: how long each outage lasted, how soon after the API came back the operator
wrote the status of a change made at that moment, whether the rollout kept its step (and went on from it when
promoted), and whether anything was made or said twice (KMS keys, queues, topics per environment; Events).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aenv.local.processes import wait_for
from aenv.naming import TAG_UID

from .kube import Kube
from .own_stack import Stack, own_stack

PREFIX = "aenv-restarts-"
ROLLOUT_ENV = "rt"
PROBE_ENV = "probe"
WORKLOAD = "web"
REPLICAS = 4
STEPS = ({"setWeight": 25}, {"pause": {}}, {"setWeight": 100})
COMPONENTS = ("kube-apiserver", "etcd")
DEADLINE = 120.0


@dataclass(frozen=True)
class Restart:
    component: str
    outage_seconds: float  # from the stop until the API server answered /readyz again
    resume_seconds: float  # from then until the operator wrote the status of a spec change made at that moment
    converge_seconds: float  # from then until every environment created just before the stop was Ready


@dataclass
class Result:
    restarts: list[Restart] = field(default_factory=list)
    environments: int = 0  # created during the restarts
    converged: int = 0  # of them, Ready afterwards
    rollout_before: tuple[Any, ...] = ()  # (step, weight, phase, pausedAt) before the restarts
    rollout_after: tuple[Any, ...] = ()  # and after both
    rollout_seen: list[tuple[int, int]] = field(default_factory=list)  # every (step, weight) polled meanwhile
    replica_sets_kept: bool = False  # the ReplicaSets' sizes were the same after the restarts
    completed_from_step: bool = False  # promoted afterwards, it finished without going back to an earlier step
    duplicates: dict[str, int] = field(default_factory=dict)  # "<env>: <what>" -> how many more than one
    repeated_events: dict[str, int] = field(default_factory=dict)  # "<env>: <reason> <message>" -> extra copies

    @property
    def rollout_kept(self) -> bool:
        return (self.rollout_after == self.rollout_before
                and all(seen == self.rollout_before[:2] for seen in self.rollout_seen))


@contextmanager
def restartable_stack(workdir: Path) -> Iterator[Stack]:
    """A control plane of its own (one kwok node), an emulator and an operator serving one namespace."""
    with own_stack(workdir, PREFIX) as stack:
        yield stack


def small_spec(*queues: str) -> dict[str, Any]:
    """Queues (each with its dead-letter queue) and a topic feeding the first: each under the environment's KMS key,
    the resource AWS would let aenv make twice (keys have no unique name)."""
    return {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
            "queues": [{"name": q} for q in queues], "topics": [{"name": "alerts", "subscribers": [queues[0]]}]}


def rollout_spec(image: str) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
            "workloads": [{"name": WORKLOAD, "image": image, "replicas": REPLICAS}],
            "rollout": {"strategy": "canary", "canary": {"steps": list(STEPS)}}}


def rollout_state(env: dict[str, Any]) -> dict[str, Any]:
    found = next((w for w in env.get("status", {}).get("workloads", []) if w["name"] == WORKLOAD), {})
    state: dict[str, Any] = found.get("rollout") or {}
    return state


def replica_sets(kube: Kube, namespace: str) -> dict[str, int]:
    return {rs.metadata.name: rs.spec.replicas or 0 for rs in kube.apps.list_namespaced_replica_set(namespace).items}


def ready(kube: Kube, namespace: str, name: str, generation: int | None = None) -> bool:
    env = kube.get_env(namespace, name)
    c = kube.condition(env, "Ready")
    want = generation if generation is not None else env["metadata"]["generation"]
    return bool(c and c["status"] == "True" and env.get("status", {}).get("observedGeneration", 0) >= want)


class Poller:
    """Records the rollout's (step, weight) every 0.2 s in a thread; reads that fail (the API is down) are skipped."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.seen: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                state = rollout_state(self.kube.get_env(self.namespace, ROLLOUT_ENV))
            except Exception:  # noqa: BLE001 - the API server is restarting
                continue
            self.seen.append((state.get("step", 0), state.get("weight", 0)))

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def promote(stack: Stack) -> None:
    """The real `aenv promote`, as a user runs it."""
    subprocess.run([sys.executable, "-m", "aenv", "promote", ROLLOUT_ENV, "-n", stack.namespace],
                   env=stack.operator.env, capture_output=True, text=True, timeout=60, check=True)


def run(stack: Stack, environments: int, outage_seconds: float = 3.0) -> Result:
    """Restart kube-apiserver, then etcd, each while `environments // 2` new environments are being created and
    the canary rollout waits at its pause step."""
    kube, ns, result = stack.kube, stack.namespace, Result()
    kube.create_env(ns, ROLLOUT_ENV, rollout_spec("example/web:1"))
    kube.create_env(ns, PROBE_ENV, small_spec("events"))
    wait_for(lambda: ready(kube, ns, ROLLOUT_ENV) and ready(kube, ns, PROBE_ENV), DEADLINE, "the first two Ready")
    kube.patch_spec(ns, ROLLOUT_ENV, {"workloads": [{"name": WORKLOAD, "image": "example/web:2",
                                                     "replicas": REPLICAS}]})
    wait_for(lambda: rollout_state(kube.get_env(ns, ROLLOUT_ENV)).get("phase") == "Paused", DEADLINE,
             "the rollout to pause at its step")
    before = rollout_state(kube.get_env(ns, ROLLOUT_ENV))
    result.rollout_before = (before["step"], before["weight"], before["phase"], before.get("pausedAt"))
    shape = replica_sets(kube, ns)

    names: list[str] = []
    with Poller(kube, ns) as poller:
        for round_, component in enumerate(COMPONENTS, start=1):
            made = [f"{component.split('-')[-1]}-{i}" for i in range(environments // len(COMPONENTS))]
            for name in made:
                kube.create_env(ns, name, small_spec("events", "audit"))
            names += made
            outage = stack.cluster.restart_component(component, outage_seconds)
            back = time.monotonic()
            generation = kube.patch_spec(ns, PROBE_ENV, small_spec("events", f"probe{round_}"))["metadata"][
                "generation"]
            wait_for(lambda g=generation: ready(kube, ns, PROBE_ENV, g), DEADLINE,
                     f"the operator to write the probe's status after restarting {component}", interval=0.05)
            resumed = time.monotonic() - back
            wait_for(lambda m=made: all(ready(kube, ns, n) for n in m), DEADLINE,
                     f"the environments created during the {component} restart to be Ready", interval=0.1)
            result.restarts.append(Restart(component, outage, resumed, time.monotonic() - back))
        result.rollout_seen = list(poller.seen)
    after = rollout_state(kube.get_env(ns, ROLLOUT_ENV))
    result.rollout_after = (after["step"], after["weight"], after["phase"], after.get("pausedAt"))
    result.replica_sets_kept = replica_sets(kube, ns) == shape
    result.environments = len(names)
    result.converged = sum(ready(kube, ns, n) for n in names)

    with Poller(kube, ns) as poller:
        promote(stack)
        wait_for(lambda: rollout_state(kube.get_env(ns, ROLLOUT_ENV)).get("phase") == "Healthy", DEADLINE,
                 "the promoted rollout to finish")
    step = result.rollout_before[0]
    result.completed_from_step = all(s >= step for s, _ in poller.seen if s) and bool(poller.seen)

    result.duplicates = duplicates(stack, [PROBE_ENV, *names])
    result.repeated_events = repeated_events(kube, ns, [ROLLOUT_ENV, PROBE_ENV, *names])
    return result


def duplicates(stack: Stack, names: list[str]) -> dict[str, int]:
    """Per environment, the KMS keys beyond one, and queues and topics beyond what its spec names."""
    kube, ns = stack.kube, stack.namespace
    kms, sqs, sns = (stack.emulator.client(s) for s in ("kms", "sqs", "sns"))
    keys: Counter[str] = Counter()
    for key in kms.list_keys()["Keys"]:
        if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "Enabled":
            continue
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
        keys[tags.get(TAG_UID, "")] += 1
    queues = sqs.list_queues(MaxResults=1000).get("QueueUrls", [])
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    out: dict[str, int] = {}
    for name in names:
        env = kube.get_env(ns, name)
        uid, prefix = env["metadata"]["uid"], f"aenv-{ns}-{name}-"
        wanted_queues = 2 * len(env["spec"]["queues"])  # each with its dead-letter queue
        found = {"kms keys": keys[uid] - 1,
                 "queues": sum(u.rsplit("/", 1)[-1].startswith(prefix) for u in queues) - wanted_queues,
                 "topics": sum(t.rsplit(":", 1)[-1].startswith(prefix) for t in topics) - 1}
        out.update({f"{name}: {what}": extra for what, extra in found.items() if extra})
    return out


def repeated_events(kube: Kube, namespace: str, names: list[str]) -> dict[str, int]:
    """Events posted twice: the same reason and message about the same environment's condition right after
    each other (a condition that really went back and forth says something else in between)."""
    out: Counter[str] = Counter()
    for name in names:
        last: dict[str, str] = {}  # the condition's type -> what its last Event said
        for e in sorted(kube.events(namespace, name), key=lambda e: int(e.metadata.resource_version)):
            said, subject = f"{e.reason} {e.message}", (e.message or "").split("=", 1)[0]
            if last.get(subject) == said or (e.count or 1) > 1:
                out[f"{name}: {said}"] += max(1, (e.count or 1) - 1)
            last[subject] = said
    return dict(out)
