"""Settings from the connection Secret aenv gives every workload.

aenv mounts the Secret twice: as environment variables (envFrom) and as files under /var/run/aenv/connection.
The files are preferred because the kubelet refreshes them when a credential rotates, while the environment keeps
the value the container started with. The names are aenv's: CACHE_URL, DATABASE_URL, JWT_SECRET,
QUEUE_<NAME>_URL, TOPIC_<NAME>_ARN, AWS_REGION, ... (README, "The connection Secret").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

MOUNT = Path("/var/run/aenv/connection")


class MissingSetting(RuntimeError):
    """A variable the workload needs is in neither the mounted Secret nor the environment."""


def env_key(*parts: str) -> str:
    """aenv's variable name for a queue or topic: QUEUE_<NAME>_URL from ("QUEUE", name, "URL")."""
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p).upper() for p in parts)


class Connection:
    """Reads a setting from the mounted Secret's file, else from the environment."""

    def __init__(self, environ: Mapping[str, str] | None = None, mount: Path = MOUNT) -> None:
        self._environ = os.environ if environ is None else environ
        self._mount = mount

    def get(self, name: str, default: str | None = None) -> str | None:
        path = self._mount / name
        try:
            return path.read_text().strip()
        except OSError:
            return self._environ.get(name, default)

    def require(self, name: str, why: str) -> str:
        value = self.get(name)
        if not value:
            raise MissingSetting(f"{name} is not set ({why}); aenv puts it in the connection Secret")
        return value

    def number(self, name: str, default: float) -> float:
        """A tunable of the workload itself (not from the Secret): a number in the container's environment."""
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise MissingSetting(f"{name}={raw!r} is not a number") from None

    def queue_url(self, queue: str) -> str:
        return self.require(env_key("QUEUE", queue, "URL"), f"the URL of queue {queue}")

    def topic_arn(self, topic: str) -> str | None:
        return self.get(env_key("TOPIC", topic, "ARN"))
