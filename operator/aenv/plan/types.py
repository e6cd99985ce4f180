"""The values plan/ works with: what should exist, what was observed, what to do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal


class Sensitive(str):
    """A credential or token. It still works as a string for API calls, but never shows in a repr,
    so it cannot leak through a log line, an exception or a dataclass printed for debugging."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Sensitive('***')"


@dataclass(frozen=True)
class Ref:
    """A parameter whose value is an output of another desired resource (an ARN, an endpoint)."""

    key: str
    output: str


@dataclass(frozen=True)
class Desired:
    """One AWS resource the environment needs, with parameters that may refer to other resources."""

    kind: str  # which client handles it, e.g. "sqs.queue"
    key: str  # stable within the environment, e.g. "queue/events"
    component: str  # the spec section it serves, e.g. "queues"
    name: str  # the AWS name
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.params.values() if isinstance(v, Ref))

    def resolve(self, outputs: Mapping[str, Mapping[str, Any]]) -> Desired | None:
        """The resource with every Ref replaced by its value, or None while a dependency has no outputs."""
        params = {}
        for k, v in self.params.items():
            if isinstance(v, Ref):
                if v.output not in outputs.get(v.key, {}):
                    return None
                v = outputs[v.key][v.output]
            params[k] = v
        return replace(self, params=params)


@dataclass(frozen=True)
class Observation:
    """What the AWS side holds for one desired resource (Crossplane's observe, in small)."""

    exists: bool
    up_to_date: bool = False
    ready: bool = False  # exists and usable (not still creating)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (observed, desired)
    owner: str | None = None  # the aenv.dev/uid tag found on it, if any
    owner_environment: str | None = None  # the aenv.dev/environment tag found on it, if any
    immutable: tuple[str, ...] = ()  # fields that differ and cannot change in place
    state: str = ""

    @classmethod
    def absent(cls) -> Observation:
        return cls(exists=False)


ActionKind = Literal["create", "update", "adopt", "none", "wait", "conflict"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    message: str = ""
