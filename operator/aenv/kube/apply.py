"""Server-side apply of the objects aenv owns, and what aenv last wrote to each of them.

An idle pass sends no write: an object whose manifest has not changed since aenv wrote it is skipped. What aenv
remembers (one `Written` per environment) is trusted only while the cluster agrees with it: the watch on owned
objects (kube/owned.py) reports every change through `Written.observed()`, and a deletion or a change that aenv
did not make forgets the object, so the next pass writes it again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kubernetes.dynamic import DynamicClient

from .client import api

FIELD_MANAGER = "aenv"
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


@dataclass(frozen=True)
class _Record:
    digest: str  # of the manifest aenv wrote
    version: str  # the object's version after the write: its generation when it has one, else resourceVersion


class Written:
    """What aenv last wrote of one environment's objects. A watch thread reports changes while a pass writes."""

    def __init__(self) -> None:
        self._records: dict[Key, _Record] = {}
        self._lock = threading.Lock()

    def unchanged(self, key: Key, digest: str) -> bool:
        """aenv wrote exactly this and the cluster has not changed it since."""
        with self._lock:
            held = self._records.get(key)
            return held is not None and held.digest == digest

    def remember(self, key: Key, digest: str, written: Mapping[str, Any]) -> None:
        """Record what aenv wrote (`written`: the object, or its metadata, as the API server returned it)."""
        with self._lock:
            self._records[key] = _Record(digest, version_of(written))

    def forget(self, key: Key) -> None:
        """The object is gone or about to change: the next apply must be sent."""
        with self._lock:
            self._records.pop(key, None)

    def observed(self, obj: Mapping[str, Any], deleted: bool) -> bool:
        """The cluster reports obj (from a watch or a listing). True when it differs from what aenv wrote —
        deleted, or changed by someone else — and then it is forgotten. An object aenv has not written since it
        started counts only when deleted: the next pass writes it anyway."""
        key = key_of(obj)
        with self._lock:
            held = self._records.get(key)
            if held is None:
                return deleted
            if not deleted and held.version == version_of(obj):
                return False
            del self._records[key]
            return True

    def recorded(self, api_version: str, kind: str) -> set[Key]:
        """The objects of one kind written: a watch that lost events compares them with a fresh listing."""
        with self._lock:
            return {k for k in self._records if k[:2] == (api_version, kind)}


@lru_cache(maxsize=1)
def dynamic() -> DynamicClient:
    return DynamicClient(api())  # type: ignore[no-untyped-call]


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"]


def version_of(obj: Mapping[str, Any]) -> str:
    """What changes when someone changes the object: status updates (a ReplicaSet's ready count) bump the
    resourceVersion but not the generation, so kinds with a generation are compared by it."""
    meta = obj.get("metadata") or {}
    if meta.get("generation"):
        return f"g{meta['generation']}"
    return f"r{meta.get('resourceVersion', '')}"


def owner_of(obj: Mapping[str, Any]) -> str:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    controllers = [r for r in refs if r.get("controller")] or refs
    return str(controllers[0]["uid"]) if controllers else ""


def digest_of(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def apply(obj: dict[str, Any], written: Written) -> bool:
    """Apply obj with aenv as field manager unless `written` says it is already so; True when a request was sent."""
    digest, key = digest_of(obj), key_of(obj)
    if written.unchanged(key, digest):
        return False
    resource = dynamic().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    result = resource.server_side_apply(body=obj, name=key[3], namespace=key[2] or None,
                                        field_manager=FIELD_MANAGER, force_conflicts=True)
    written.remember(key, digest, result.to_dict())
    return True
