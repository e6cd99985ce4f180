"""Slack incoming webhooks: {"text": ...}."""

from __future__ import annotations

from typing import Any

from .channel import Notification


class Slack:
    kind = "slack"

    def payload(self, n: Notification) -> dict[str, Any]:
        r = n.record
        return {"text": f"[{n.namespace}/{n.name}] {r.type} ({r.reason}): {r.message}".rstrip(": ")}
