"""Deterministic AWS names and tags, derived from the environment's namespace, name and component."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .api.spec import ENVIRONMENT_NAME_MAX as ENVIRONMENT_NAME_MAX  # the names that get here are this long at most

TAG_ENVIRONMENT = "aenv.dev/environment"
TAG_UID = "aenv.dev/uid"
TAG_COMPONENT = "aenv.dev/component"
TAG_RELEASED = "aenv.dev/released"

LABEL_VALUE_MAX = 63
OBJECT_NAME_MAX = 253  # a DNS subdomain: Secrets, ServiceAccounts, ReplicaSets


@dataclass(frozen=True)
class EnvironmentRef:
    """Who an AWS resource belongs to."""

    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        """The environment's name as a label value: selectors find its objects by it."""
        return shortened(self.name, LABEL_VALUE_MAX)

    def object_name(self, prefix: str = "", suffix: str = "", max_length: int = OBJECT_NAME_MAX) -> str:
        """`<prefix><name><suffix>` for a Kubernetes object, shortened to the kind's limit."""
        return shortened(prefix + self.name, max_length, suffix)

    def tags(self, component: str) -> dict[str, str]:
        return {TAG_ENVIRONMENT: self.key, TAG_UID: self.uid, TAG_COMPONENT: component}


def shortened(full: str, max_length: int, suffix: str = "") -> str:
    """`full + suffix`, or when too long, `full` cut and followed by a stable hash of it, then the suffix.

    The hash covers the whole of `full`, so two names never collide after shortening; the suffix (".fifo",
    "-dlq", "-connection") is kept whole because it carries meaning.
    """
    room = max_length - len(suffix)
    if len(full) <= room:
        return full + suffix
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return full[: room - len(digest) - 1].rstrip("-") + "-" + digest + suffix


def aws_name(env: EnvironmentRef, component: str, *, max_length: int, suffix: str = "",
             invalid: str = r"[^a-zA-Z0-9-]") -> str:
    """`aenv-<namespace>-<name>-<component><suffix>`, shortened with a stable hash when too long."""
    return shortened(re.sub(invalid, "-", f"aenv-{env.namespace}-{env.name}-{component}"), max_length, suffix)


def retagged(before: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The tags a resource holds once aenv tagged it as wanted and took off the released mark."""
    return {k: v for k, v in {**before, **wanted}.items() if k != TAG_RELEASED}
