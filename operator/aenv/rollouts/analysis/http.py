"""HTTP GET of a JSON document with one deadline for the whole exchange (stdlib only).

urllib's timeout bounds each socket operation, not the request: a server that trickles its reply byte by
byte would hold a caller for many times the timeout. Here a watchdog shuts the socket down when the deadline
passes, which ends any read blocked on it at once, so sending and reading never outlast the timeout.
Connecting is bounded by the timeout too (name resolution is the system resolver's and is not).
Redirects are not followed; replies over MAX_BYTES are refused.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import MeasurementError

MAX_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def redact(url: str) -> str:
    """The URL as it may appear in a message or a status: no credentials, no query string (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def get_json(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """(HTTP status, parsed JSON body) of GET url, all within `timeout` seconds. Raises MeasurementError for a
    bad URL, a network problem, the deadline, or a body that is not JSON (the status is in the message)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MeasurementError(f"{redact(url)!r} is not an http:// or https:// URL")
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    where = redact(url)
    expired = threading.Event()
    watchdog: threading.Timer | None = None
    try:
        conn.connect()
        sock = conn.sock
        assert sock is not None

        def expire() -> None:
            expired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
        watchdog.daemon = True
        watchdog.start()
        sent = {"Accept": "application/json", "User-Agent": "aenv", **(headers or {})}
        if parts.username is not None:  # https://user:password@host/...: HTTP basic authentication
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            sent["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        conn.request("GET", target, headers=sent)
        response = conn.getresponse()
        body = bytearray()
        while chunk := response.read1(_CHUNK):
            body += chunk
            if len(body) > MAX_BYTES:
                raise MeasurementError(f"the reply from {where} is larger than {MAX_BYTES} bytes")
    except (OSError, http.client.HTTPException) as e:
        if expired.is_set() or isinstance(e, TimeoutError):
            raise MeasurementError(f"no complete reply from {where} within {timeout:g}s") from None
        raise MeasurementError(f"GET {where} failed: {type(e).__name__}: {e}") from None
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()
    if expired.is_set():  # the shutdown may read as a clean end of a truncated body
        raise MeasurementError(f"no complete reply from {where} within {timeout:g}s")
    text = body.decode("utf-8", errors="replace")
    try:
        return response.status, json.loads(text)
    except ValueError:
        raise MeasurementError(f"{where} answered HTTP {response.status} with a body that is not JSON: "
                               f"{_shorten(text)!r}") from None
