"""Deterministic AWS names and tags, derived from the environment's namespace, name and component."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

TAG_ENVIRONMENT = "aenv.dev/environment"
TAG_UID = "aenv.dev/uid"
TAG_COMPONENT = "aenv.dev/component"
TAG_RELEASED = "aenv.dev/released"


@dataclass(frozen=True)
class EnvironmentRef:
    """Who an AWS resource belongs to."""

    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def tags(self, component: str) -> dict[str, str]:
        return {TAG_ENVIRONMENT: self.key, TAG_UID: self.uid, TAG_COMPONENT: component}


def aws_name(env: EnvironmentRef, component: str, *, max_length: int, suffix: str = "",
             invalid: str = r"[^a-zA-Z0-9-]") -> str:
    """`aenv-<namespace>-<name>-<component><suffix>`, shortened with a stable hash when too long.

    The hash covers the full name, so two environments never collide after shortening; the suffix
    (".fifo", "-dlq") is kept whole because services give it meaning.
    """
    full = re.sub(invalid, "-", f"aenv-{env.namespace}-{env.name}-{component}")
    room = max_length - len(suffix)
    if len(full) <= room:
        return full + suffix
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return full[: room - len(digest) - 1].rstrip("-") + "-" + digest + suffix


def retagged(before: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The tags a resource holds once aenv tagged it as wanted and took off the released mark."""
    return {k: v for k, v in {**before, **wanted}.items() if k != TAG_RELEASED}
