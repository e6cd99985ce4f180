"""The interface every target kind implements, and the one HTTP POST they share."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from ..api.status import NotificationRecord

TIMEOUT_SECONDS = 5.0


class DeliveryError(Exception):
    """A target refused or could not be reached; the message never holds the URL."""


@dataclass(frozen=True)
class Notification:
    namespace: str
    name: str
    record: NotificationRecord


class Channel(Protocol):
    kind: str

    def payload(self, n: Notification) -> dict[str, Any]:
        """The JSON document this kind of target takes."""


def post_json(url: str, document: dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> None:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "aenv"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"HTTP {e.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryError(f"not delivered: {type(reason).__name__}: {reason}".replace(url, "***")) from None
