"""Server-side apply of the objects aenv owns, skipped when aenv already applied the same manifest.

An idle resync then sends no write to the API server; drift (a ReplicaSet scaled by hand) is caught by
the read that observes the object, which forgets the cached digest so the next apply goes through.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from typing import Any

from kubernetes.dynamic import DynamicClient

from .client import api

FIELD_MANAGER = "aenv"
_applied: dict[tuple[str, str, str, str], str] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def dynamic() -> DynamicClient:
    return DynamicClient(api())  # type: ignore[no-untyped-call]


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def apply(obj: dict[str, Any]) -> bool:
    """Apply obj with aenv as field manager; True when a request was sent."""
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    key = _key(obj)
    with _lock:
        if _applied.get(key) == digest:
            return False
    resource = dynamic().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    resource.server_side_apply(body=obj, name=key[3], namespace=key[2] or None, field_manager=FIELD_MANAGER,
                               force_conflicts=True)
    with _lock:
        _applied[key] = digest
    return True


def forget(api_version: str, kind: str, namespace: str, name: str) -> None:
    """The object changed behind aenv's back (or is gone): the next apply must be sent."""
    with _lock:
        _applied.pop((api_version, kind, namespace, name), None)
