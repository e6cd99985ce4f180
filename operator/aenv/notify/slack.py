"""Slack incoming webhooks: {"text": ...}."""

from __future__ import annotations

from typing import Any

from .channel import Notification


def text(n: Notification) -> str:
    """One line: `[<namespace>/<name>] <type> (<reason>): <message>`."""
    r = n.record
    return f"[{n.namespace}/{n.name}] {r.type} ({r.reason}): {r.message}".rstrip(": ")


class Slack:
    kind = "slack"

    def payload(self, n: Notification) -> dict[str, Any]:
        return {"text": text(n)}
