"""The one interface every AWS component implements, the same for boto3 and (later) ACK.

Crossplane's managed-resource client is the model: observe, then create, update or delete. Calls are
idempotent and never wait for AWS: a resource still being created is an observation, not a sleep.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..api.spec import DeletionPolicy
from ..plan.types import Desired, Observation
from .errors import classify


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
INTERFACE = ("observe", "create", "update", "delete")
F = TypeVar("F", bound=Callable[..., Any])


def _classifying(method: F) -> F:
    @functools.wraps(method)
    def classified(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as e:
            error = classify(e)
            if error is e:
                raise
            raise error from e

    return classified  # type: ignore[return-value]


class Classified:
    """The one place AWS errors are classified. Whatever escapes observe, create, update or delete of a subclass
    (a botocore error from any call, a listing's stored error, a dropped connection) leaves as TransientError
    or AwsError (errors.classify); a client handles only the codes that mean something to it (NotFound ->
    absent, InUse -> TransientError)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in INTERFACE:
            if name in vars(cls):
                setattr(cls, name, _classifying(vars(cls)[name]))


class _Classifying(Classified):
    """A client made some other way, classified the same way: what the registry hands out always is."""

    def __init__(self, client: ResourceClient) -> None:
        self.client = client

    def observe(self, desired: Desired) -> Observation:
        return self.client.observe(desired)

    def create(self, desired: Desired) -> Observation:
        return self.client.create(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        return self.client.update(desired, observed)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        self.client.delete(desired, observed, policy)


class Registry:
    """The clients of one mode, by kind. One instance per kind and target, shared by every environment,
    so that a client's listings (batch observation) serve them all."""

    def __init__(self, factories: Mapping[str, ClientFactory]) -> None:
        self._factories = dict(factories)
        self._instances: dict[tuple[str, AwsTarget], ResourceClient] = {}
        self._lock = threading.Lock()

    @property
    def factories(self) -> Mapping[str, ClientFactory]:
        return dict(self._factories)

    def __contains__(self, kind: object) -> bool:
        return kind in self._factories

    def get(self, kind: str, target: AwsTarget) -> ResourceClient:
        with self._lock:
            key = (kind, target)
            if key not in self._instances:
                made = self._factories[kind](target)
                self._instances[key] = made if isinstance(made, Classified) else _Classifying(made)
            return self._instances[key]
