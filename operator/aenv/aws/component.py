"""The one interface every AWS component implements, the same for boto3 and (later) ACK.

Crossplane's managed-resource client is the model: observe, then create, update or delete. Calls are
idempotent and never wait for AWS: a resource still being created is an observation, not a sleep.
"""

from __future__ import annotations

from collections.abc import Callable
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
