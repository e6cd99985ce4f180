"""boto3 clients per region and endpoint, with retries that back off with jitter."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from ..metrics import AWS_CALLS

# "standard" retries throttling and 5xx with exponential backoff and full jitter.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_lock = threading.Lock()


def _count(event_name: str, **_kwargs: Any) -> None:
    # event_name is "before-send.<service>.<Operation>": every HTTP request, retries included
    service, _sep, operation = event_name.removeprefix("before-send.").partition(".")
    AWS_CALLS.labels(service, operation).inc()


@lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint: str | None) -> Any:
    with _lock:  # creating clients from one session is not thread-safe
        session: Any = boto3.session.Session()  # `service` is any name: the typed overloads do not apply
        made = session.client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG)
        made.meta.events.register("before-send", _count)
        return made


def client(service: str, region: str, endpoint: str | None = None) -> Any:
    """A shared, thread-safe client. Without an endpoint, AWS_ENDPOINT_URL (if set) applies."""
    return _client(service, region, endpoint)
