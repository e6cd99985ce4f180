"""spec + tier -> the AWS resources an environment needs. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef
from . import backups, cache, database, encryption, gateway, iam, logins, monitoring, network, queues, secrets, topics
from .types import Desired

Planner = Callable[[EnvironmentRef, EnvironmentSpec], list[Desired]]


@dataclass(frozen=True)
class Component:
    """A part of the environment with its own condition (<Name>Ready)."""

    name: str
    needed: Callable[[EnvironmentSpec], bool]
    plan: Planner | None = None  # None: aenv does not build it in AWS
    in_cluster: bool = False  # built in the cluster (kube/), not in AWS


def _section(name: str) -> Callable[[EnvironmentSpec], bool]:
    return lambda spec: bool(getattr(spec, name))


# In dependency order: a resource may refer (plan.types.Ref) only to resources of components before it.
# Output keys other components refer to: "network/sg/<role>", "network/subnets/<service>", "kms/key",
# "secret/<name>", "queue/<name>[/dead-letter]", "topic/<name>", "gateway/api", "iam/role".
COMPONENTS: tuple[Component, ...] = (
    Component("network", lambda s: bool(s.cache or s.database), network.plan),
    Component("encryption", lambda s: bool(s.cache or s.database or s.queues or s.topics or s.secrets),
              encryption.plan),
    Component("secrets", lambda s: bool(s.secrets or s.cache or s.database), secrets.plan),
    Component("cache", _section("cache"), cache.plan),
    Component("database", _section("database"), lambda env, spec: [*database.plan(env, spec),
                                                                    *logins.plan(env, spec)]),
    Component("backups", _section("database"), backups.plan),
    Component("queues", _section("queues"), queues.plan),
    Component("topics", _section("topics"), topics.plan),
    Component("gateway", _section("gateway"), gateway.plan),
    Component("monitoring", _section("monitoring"), monitoring.plan),
    Component("iam", _section("workloads"), iam.plan),
    Component("workloads", _section("workloads"), in_cluster=True),
)
BY_NAME = {c.name: c for c in COMPONENTS}


def requested(spec: EnvironmentSpec) -> list[str]:
    """The components this spec needs, in dependency order: its sections and what they rest on."""
    return [c.name for c in COMPONENTS if c.needed(spec)]


def desired_resources(env: EnvironmentRef, spec: EnvironmentSpec, components: list[str]) -> list[Desired]:
    """The resources of the given components, each after the resources it refers to."""
    return [d for c in components if (p := BY_NAME[c].plan) is not None for d in p(env, spec)]
