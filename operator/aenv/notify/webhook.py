"""Generic webhooks: one JSON document per notification."""

from __future__ import annotations

from typing import Any

from .channel import Notification


class Webhook:
    kind = "webhook"

    def payload(self, n: Notification) -> dict[str, Any]:
        r = n.record
        return {"id": r.id, "environment": {"namespace": n.namespace, "name": n.name}, "type": r.type,
                "reason": r.reason, "message": r.message, "time": r.time}
