"""One line that says what failed and why, for a condition or an Event: never a multi-line dump, never a secret."""

from __future__ import annotations

import json
from collections.abc import Sequence

FAILURE_MESSAGE_LIMIT = 1024


def describe_failure(error: Exception, secrets: Sequence[str] = ()) -> str:
    """One line for a condition: what failed and why, with any known secret value masked."""
    status, body = getattr(error, "status", None), getattr(error, "body", None)
    if isinstance(status, int) and isinstance(body, str | bytes):  # the Kubernetes API refused a request
        try:
            detail = json.loads(body).get("message") or getattr(error, "reason", "")
        except (ValueError, AttributeError):
            detail = getattr(error, "reason", "")
        message = f"the Kubernetes API answered {status}: {detail}"
    else:
        message = f"{type(error).__name__}: {error}"
    for secret in secrets:
        message = message.replace(secret, "***")
    return message if len(message) <= FAILURE_MESSAGE_LIMIT else message[: FAILURE_MESSAGE_LIMIT - 3] + "..."
