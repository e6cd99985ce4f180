"""The gateway's frames: JSON text, routed by "action" as the API's route selection expression asks. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aenv_workload.keys import valid_channel

ROUTES = ("subscribe", "unsubscribe", "ping")
MAX_FRAME_BYTES = 64 * 1024


class BadRequest(Exception):
    """A frame the gateway cannot route; the client gets an error frame and stays connected."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    action: str
    channel: str | None = None
    id: str | None = None  # echoed in the reply, so a client can match replies to requests


def parse(frame: str | bytes) -> Request:
    if isinstance(frame, bytes):
        raise BadRequest("binary frames are not accepted: send JSON text")
    try:
        body = json.loads(frame)
    except ValueError:
        raise BadRequest("not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("a frame is a JSON object with an action")
    request_id = body.get("id")
    request_id = None if request_id is None else str(request_id)
    action = body.get("action")
    if action not in ROUTES:
        raise BadRequest(f"unknown action {action!r}: one of {', '.join(ROUTES)}", request_id)
    channel = body.get("channel")
    if action in ("subscribe", "unsubscribe"):
        if not isinstance(channel, str) or not valid_channel(channel):
            raise BadRequest("channel: 1-128 letters, digits, '.', '_', ':' or '-'", request_id)
        return Request(action, channel, request_id)
    return Request(action, None, request_id)


def reply(kind: str, request_id: str | None = None, **fields: Any) -> str:
    body: dict[str, Any] = {"type": kind, **fields}
    if request_id is not None:
        body["id"] = request_id
    return json.dumps(body, separators=(",", ":"))


def event(channel: str, data: str) -> str:
    """An update frame around the processor's JSON payload, as published (no re-encoding of the data)."""
    return f'{{"type":"event","channel":{json.dumps(channel)},"data":{data}}}'


def update(channel: str, data: str) -> tuple[str, Any]:
    """The update frame of a message from Redis, and its publishedAt (None when the message is not the processor's
    JSON: then it is passed on as a string)."""
    try:
        published = json.loads(data).get("publishedAt")
    except (ValueError, AttributeError):
        data, published = json.dumps(data), None
    return event(channel, data), published
