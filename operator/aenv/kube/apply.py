"""Server-side apply of the objects aenv owns, and what aenv last wrote to each of them.

An idle pass sends no write: an object whose manifest has not changed since aenv wrote it is skipped. What aenv
remembers is trusted only while the cluster agrees with it: the watch on owned objects (kube/owned.py) reports
every change through `observed()`, and a deletion or a change that aenv did not make forgets the object, so
the next pass writes it again.
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
class _Written:
    digest: str  # of the manifest aenv wrote
    owner: str  # the environment's uid
    version: str  # the object's version after the write: its generation when it has one, else resourceVersion


_written: dict[Key, _Written] = {}
_lock = threading.Lock()


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


def unchanged(key: Key, digest: str) -> bool:
    """aenv wrote exactly this and the cluster has not changed it since."""
    with _lock:
        held = _written.get(key)
        return held is not None and held.digest == digest


def remember(key: Key, digest: str, written: Mapping[str, Any]) -> None:
    """Record what aenv wrote (`written`: the object as the API server returned it)."""
    with _lock:
        _written[key] = _Written(digest, owner_of(written), version_of(written))


def apply(obj: dict[str, Any]) -> bool:
    """Apply obj with aenv as field manager; True when a request was sent."""
    digest, key = digest_of(obj), key_of(obj)
    if unchanged(key, digest):
        return False
    resource = dynamic().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    result = resource.server_side_apply(body=obj, name=key[3], namespace=key[2] or None,
                                        field_manager=FIELD_MANAGER, force_conflicts=True)
    remember(key, digest, result.to_dict())
    return True


def forget(api_version: str, kind: str, namespace: str, name: str) -> None:
    """The object is gone or about to change: the next apply must be sent."""
    with _lock:
        _written.pop((api_version, kind, namespace, name), None)


def forget_owner(owner: str) -> None:
    """The environment is gone: nothing of it is remembered."""
    with _lock:
        for key in [k for k, w in _written.items() if w.owner == owner]:
            del _written[key]


def observed(obj: Mapping[str, Any], deleted: bool) -> str | None:
    """The cluster reports obj (from a watch or a listing). When it differs from what aenv wrote — deleted, or
    changed by someone else — it is forgotten and the uid of its environment is returned, to be woken. An
    object aenv has not written since it started is judged only when deleted: the next pass writes it anyway."""
    key = key_of(obj)
    with _lock:
        held = _written.get(key)
        if held is None:
            return (owner_of(obj) or None) if deleted else None
        if not deleted and held.version == version_of(obj):
            return None
        del _written[key]
        return held.owner


def recorded(api_version: str, kind: str) -> dict[Key, str]:
    """The objects of one kind aenv has written, with the version it saw: a watch that lost events compares
    them with a fresh listing."""
    with _lock:
        return {k: w.version for k, w in _written.items() if k[:2] == (api_version, kind)}
