"""A faulty AWS: the fault proxy in front of moto fails a random, seeded share of every request (throttling, 5xx,
connections dropped before or after moto did the work). The same environments are created and deleted once through
a fault-free proxy and once through the faulty one: every environment converges (Ready, then gone), nothing is
duplicated, orphaned or left behind, and the requests made stay within a bound of the fault-free run's.

Requests are counted at the proxy, retries included: every request that left the operator for AWS.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aenv.local.emulator import AwsEmulator
from aenv.local.processes import wait_for

from .aws_inventory import duplicates, inventory, kms_aliases, orphans
from .faults import RandomFaults, fault_proxy
from .kube import Kube


@dataclass
class Run:
    prefix: str
    environments: int
    rate: float
    seed: int
    requests_to_ready: int = 0
    requests: int = 0  # from the first create until every environment is gone
    seconds_to_ready: float = 0.0
    seconds: float = 0.0
    injected: Counter[str] = field(default_factory=Counter)
    unconverged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not (self.unconverged or self.duplicates or self.orphans or self.leftovers)

    def __str__(self) -> str:
        return (f"{self.environments} environments at fault rate {self.rate:.0%} (seed {self.seed}): "
                f"{self.requests_to_ready} requests to Ready in {self.seconds_to_ready:.1f} s, {self.requests} to "
                f"gone in {self.seconds:.1f} s; injected {dict(self.injected)}; unconverged {self.unconverged}, "
                f"duplicates {self.duplicates}, orphans {self.orphans}, left after deletion {self.leftovers}")


def spec(endpoint: str, index: int) -> dict[str, Any]:
    """Queues with a dead-letter queue and a topic subscribed to one, under a KMS key; every other environment
    runs a workload too (an IAM role)."""
    out: dict[str, Any] = {"tier": "dev", "aws": {"region": "us-east-1", "endpoint": endpoint},
                           "deletionPolicy": "Delete",
                           "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}}, {"name": "trades"}],
                           "topics": [{"name": "alerts", "subscribers": ["events"]}]}
    if index % 2 == 0:
        out["workloads"] = [{"name": "web", "image": "example/web:1", "replicas": 2}]
    return out


def not_ready(kube: Kube, namespace: str, names: list[str]) -> list[str]:
    out = []
    for name in names:
        env = kube.get_env(namespace, name)
        ready = kube.condition(env, "Ready")
        if ready is None or ready["status"] != "True":
            out.append(f"{name}: {ready['reason'] if ready else 'no Ready condition'}")
    return out


def run(kube: Kube, emulator: AwsEmulator, namespace: str, prefix: str, environments: int, rate: float, seed: int,
        timeout: float = 180.0) -> Run:
    """Create `environments` environments named <prefix>-eNN through a proxy failing `rate` of the requests, wait
    until all are Ready, check AWS, delete them and wait until they are gone."""
    result = Run(prefix, environments, rate, seed)
    names = [f"{prefix}-e{i:02d}" for i in range(environments)]
    with fault_proxy(emulator.url, random_faults=RandomFaults(rate, seed)) as proxy:
        started = time.monotonic()
        try:
            for i, name in enumerate(names):
                kube.create_env(namespace, name, spec(proxy.url, i))
            try:
                wait_for(lambda: not not_ready(kube, namespace, names), timeout, "every environment Ready",
                         interval=0.5)
            except TimeoutError:
                result.unconverged = not_ready(kube, namespace, names)
            result.requests_to_ready, result.seconds_to_ready = proxy.requests, time.monotonic() - started
            made = inventory(emulator, namespace)
            items = kube.custom.list_namespaced_custom_object("aenv.dev", "v1alpha1", namespace,
                                                              "analyticsenvironments")
            envs = {f"{namespace}/{i['metadata']['name']}": i for i in items["items"]}
            result.duplicates, result.orphans = duplicates(made), orphans(made, envs, kms_aliases(emulator))
        finally:  # through the proxy, the environments' endpoint, while it still runs
            for name in names:
                if not kube.env_gone(namespace, name):
                    kube.delete_env(namespace, name)
            try:
                wait_for(lambda: all(kube.env_gone(namespace, n) for n in names), timeout,
                         "every environment gone", interval=0.5)
            except TimeoutError:
                result.unconverged += [f"{n}: not deleted" for n in names if not kube.env_gone(namespace, n)]
        result.requests, result.seconds = proxy.requests, time.monotonic() - started
        result.injected = Counter(proxy.random_faults.injected if proxy.random_faults else {})
    result.leftovers = [str(m) for m in inventory(emulator, namespace)]
    return result


def compare(kube: Kube, emulator: AwsEmulator, namespace: str, environments: int, rate: float,
            seed: int) -> tuple[Run, Run]:
    """The same environments fault-free, then with faults."""
    base = run(kube, emulator, namespace, "calm", environments, 0.0, seed)
    faulty = run(kube, emulator, namespace, "faulty", environments, rate, seed)
    return base, faulty
