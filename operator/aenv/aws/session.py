"""boto3 clients per service, region and endpoint, made from one shared session, with retries that back off with
jitter.

One session, not one per client: each boto3 session keeps its own loader, which parses the endpoint table and
every service model it is asked for again (about 7 MB a client, measured: 16 clients from 16 sessions take 165 MB,
from one session 57 MB). Clients are thread-safe once made; making them from one session is not, hence the lock.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from ..metrics import AWS_CALLS

# "standard" retries throttling and 5xx with exponential backoff and full jitter. One client serves every worker
# thread at once: its pool keeps a connection for each (botocore's default of 10 closed the ones past it).
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30,
                 max_pool_connections=32)
# For a call that is not idempotent (KMS CreateKey makes a new key each time): the SDK must not repeat one whose
# answer was lost, or AWS makes two. It fails instead, and aenv's next pass finds what it made by its tags.
_ONCE = _CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
_lock = threading.Lock()


def _count(event_name: str, **_kwargs: Any) -> None:
    # event_name is "before-send.<service>.<Operation>": every HTTP request, retries included
    service, _sep, operation = event_name.removeprefix("before-send.").partition(".")
    AWS_CALLS.labels(service, operation).inc()


@lru_cache(maxsize=1)
def _session() -> Any:
    return boto3.session.Session()


def make(service: str, region: str, endpoint: str | None, config: Config) -> Any:
    """A new client from the shared session, counting its requests in aenv_aws_requests_total."""
    with _lock:
        made = _session().client(service, region_name=region, endpoint_url=endpoint, config=config)
    made.meta.events.register("before-send", _count)
    return made


@lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint: str | None) -> Any:
    return make(service, region, endpoint, _CONFIG)


def client(service: str, region: str, endpoint: str | None = None) -> Any:
    """A shared, thread-safe client. Without an endpoint, AWS_ENDPOINT_URL (if set) applies."""
    return _client(service, region, endpoint)


@lru_cache(maxsize=64)
def _once(service: str, region: str, endpoint: str | None) -> Any:
    return make(service, region, endpoint, _ONCE)


def client_once(service: str, region: str, endpoint: str | None = None) -> Any:
    """A shared client whose calls the SDK never repeats: for calls that make something anew each time."""
    return _once(service, region, endpoint)
