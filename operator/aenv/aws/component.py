"""The one interface every AWS component implements, the same for boto3 and (later) ACK.

Crossplane's managed-resource client is the model: observe, then create, update or delete. Calls are
idempotent and never wait for AWS: a resource still being created is an observation, not a sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..api.spec import DeletionPolicy
from ..plan.types import Desired, Observation


@dataclass(frozen=True)
class AwsTarget:
    """Where an environment's resources live."""

    region: str
    endpoint: str | None = None


class ResourceClient(Protocol):
    def observe(self, desired: Desired) -> Observation:
        """Look the resource up by its deterministic name; report tags, outputs and drift."""
        ...

    def create(self, desired: Desired) -> Observation: ...

    def update(self, desired: Desired, observed: Observation) -> Observation:
        """Bring what exists in line with desired: the fields in observed.diff, and the tags."""
        ...

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Delete, snapshot then delete, or mark as released (Retain). Confirmed by a later observe."""
        ...


ClientFactory = Callable[[AwsTarget], ResourceClient]


class Registry:
    """The clients of one mode, by kind. One instance per kind and target, shared by every environment,
    so that a client's listings (batch observation) serve them all."""

    def __init__(self, factories: Mapping[str, ClientFactory]) -> None:
        self._factories = dict(factories)
        self._instances: dict[tuple[str, AwsTarget], ResourceClient] = {}
        self._lock = threading.Lock()

    def __contains__(self, kind: object) -> bool:
        return kind in self._factories

    def get(self, kind: str, target: AwsTarget) -> ResourceClient:
        with self._lock:
            key = (kind, target)
            if key not in self._instances:
                self._instances[key] = self._factories[kind](target)
            return self._instances[key]
