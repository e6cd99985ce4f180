"""boto3 clients per service, region and endpoint, made from one shared session, with retries that back off with
jitter.

One session, not one per client: each boto3 session keeps its own loader, which parses the endpoint table and
every service model it is asked for again (about 7 MB a client, measured: 16 clients from 16 sessions take 165 MB,
from one session 57 MB). Clients are thread-safe once made; making them from one session is not, hence the lock.

The session's loader keeps the models it parsed as plain dicts (botocore builds OrderedDicts, twice the size, though
a dict keeps its order) and without the documentation of operations and shapes, which only docstrings read: the
14 clients the operator makes hold 28 MB instead of 48 MB.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import JSONFileLoader, Loader

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


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


class _PlainFiles(JSONFileLoader):
    def load_file(self, file_path: str) -> Any:
        return _plain(super().load_file(file_path))


class _LeanLoader(Loader):
    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        if type_name == "service-2":  # the cached model itself: what botocore keeps
            model.pop("documentation", None)
            for entry in (*model.get("operations", {}).values(), *model.get("shapes", {}).values()):
                entry.pop("documentation", None)
                for member in entry.get("members", {}).values():
                    member.pop("documentation", None)
        return model


@lru_cache(maxsize=1)
def _session() -> Any:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LeanLoader(file_loader=_PlainFiles()))
    return boto3.session.Session(botocore_session=core)


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
