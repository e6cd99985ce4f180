"""Batch observation: one paginated describe per service and interval, shared by every environment.

Idle cost must not grow with resources per environment: a component observes through a Listing,
which holds the result of one describe of all of aenv's resources of a kind and refreshes it at most
once per interval. Writes by this process refresh just the entry they touched.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from .errors import error_code

T = TypeVar("T")
R = TypeVar("R")

# Drift is corrected within two intervals at worst: one for the listing to age, one for the resync.
ERROR_SECONDS = 5.0
LISTING_SECONDS = float(os.environ.get("AENV_LISTING_SECONDS", os.environ.get("AENV_RESYNC_SECONDS", "30")))


class Listing(Generic[T]):
    def __init__(self, fetch: Callable[[], dict[str, T]], ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl = LISTING_SECONDS if ttl is None else ttl
        self._clock = clock
        self._items: dict[str, T] = {}
        self._error: Exception | None = None
        self._at = float("-inf")
        self._lock = threading.Lock()

    def get(self, name: str) -> T | None:
        with self._lock:
            if self._clock() - self._at >= self._ttl:
                try:
                    self._items, self._error = self._fetch(), None
                    self._at = self._clock()
                except Exception as e:  # noqa: BLE001 - kept and raised to every caller below
                    # A describe that fails (throttled, denied, not offered by the endpoint) is not repeated by
                    # every caller: they all get the same error for a few seconds, then it is tried again.
                    self._items, self._error = {}, e
                    self._at = self._clock() - self._ttl + min(self._ttl, ERROR_SECONDS)
            if self._error is not None:
                raise self._error
            return self._items.get(name)

    def read(self, name: str, read: Callable[[T], R], gone: Collection[str]) -> tuple[T, R] | None:
        """The listed item `name` and what `read` returns for it now (what the listing does not hold); None when it
        is not listed, or is gone since the listing (`read` failed with an error code in `gone`): then forgotten."""
        item = self.get(name)
        if item is None:
            return None
        try:
            return item, read(item)
        except ClientError as e:
            if error_code(e) not in gone:
                raise
            self.forget(name)
            return None

    def put(self, name: str, item: T) -> None:
        """Record what a write returned, so the next observe sees it without a new describe."""
        with self._lock:
            if self._error is None:
                self._items[name] = item

    def forget(self, name: str) -> None:
        with self._lock:
            self._items.pop(name, None)

    def expire(self) -> None:
        """Make the next get describe again (after a write whose result is not known)."""
        with self._lock:
            self._at = float("-inf")
            self._error = None


def aenv_items(client: Any, operation: str, key: str, name: str) -> dict[str, dict[str, Any]]:
    """aenv's resources (named aenv-...) by name, from every page of a paginated describe: `operation` names the
    paginator, `key` the list in each page, `name` the name field of an item."""
    out = {}
    for page in client.get_paginator(operation).paginate():
        for item in page.get(key, []):
            if item[name].startswith("aenv-"):
                out[item[name]] = item
    return out


def expire_listings(client: Any) -> None:
    """Make every listing a component client holds describe again on its next observe: an event said one of its
    resources changed, and a listing up to an interval old would not show it."""
    inner = vars(client).get("client")  # a client the registry wrapped (component._Classifying)
    for value in [*vars(client).values(), *(vars(inner).values() if hasattr(inner, "__dict__") else ())]:
        if isinstance(value, Listing):
            value.expire()
