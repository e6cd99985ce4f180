"""`aenv backup ENV [--drill]` and `aenv restore ENV --from BACKUP --to NEW-ENV`: requests to the operator, which
runs pg_dump and pg_restore (annotations, as the rollout commands are), then the outcome read from the status."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, config

from ..api import GROUP, PLURAL, VERSION
from .schedule import BACKUP_ANNOTATION, DRILL_ANNOTATION, RESTORE_ANNOTATION

POLL_SECONDS = 1.0


def _api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config())  # type: ignore[no-untyped-call]


def _get(api: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    env: dict[str, Any] = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)  # type: ignore[assignment]
    return env


def _condition(env: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    return next((c for c in env.get("status", {}).get("conditions", []) if c["type"] == type_), {})


def _wait(api: client.CustomObjectsApi, namespace: str, name: str, answered: Callable[[dict[str, Any]], bool],
          timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        env = _get(api, namespace, name)
        if answered(env):
            return env
        if time.monotonic() > deadline:
            raise SystemExit(f"{namespace}/{name}: no answer from the operator within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def _annotate(api: client.CustomObjectsApi, namespace: str, name: str, key: str, value: str) -> None:
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name,
                                       {"metadata": {"annotations": {key: value}}})


def backup(namespace: str, name: str, drill: bool, timeout: float) -> int:
    """A backup now (or, with drill, a restore drill of the latest backup); 0 when it succeeded."""
    api, request = _api(), uuid.uuid4().hex[:12]
    _get(api, namespace, name)  # a missing environment fails here, before anything is written
    annotation, field, condition = ((DRILL_ANNOTATION, "drillRequest", "RestoreDrillSucceeded") if drill
                                    else (BACKUP_ANNOTATION, "backupRequest", "LastBackupSucceeded"))
    _annotate(api, namespace, name, annotation, request)
    env = _wait(api, namespace, name, lambda e: e.get("status", {}).get("backups", {}).get(field) == request,
                timeout)
    result = _condition(env, condition)
    print(f"{namespace}/{name}: {result.get('reason', '-')}: {result.get('message', '')}")
    return 0 if result.get("status") == "True" else 1


def restore(namespace: str, source: str, backup_key: str, target: str, timeout: float) -> int:
    """Restore a backup of `source` (an object key, or "latest") into the database of `target`, which must exist
    and be Ready; 0 when it succeeded."""
    if backup_key != "latest" and not backup_key.endswith(".dump"):
        raise SystemExit(f"--from {backup_key}: give a backup (<environment>/<timestamp>.dump, as status.backups "
                         "lists, or latest); restoring from an RDS snapshot is not supported yet")
    api, request = _api(), uuid.uuid4().hex[:12]
    _get(api, namespace, source)
    if _condition(_get(api, namespace, target), "Ready").get("status") != "True":
        raise SystemExit(f"{namespace}/{target} is not Ready: create it and wait until it is before restoring into it")
    value = {"request": request, "from": f"{namespace}/{source}", "key": None if backup_key == "latest" else backup_key}
    _annotate(api, namespace, target, RESTORE_ANNOTATION, json.dumps(value, separators=(",", ":")))
    env = _wait(api, namespace, target,
                lambda e: (e.get("status", {}).get("backups", {}).get("restore") or {}).get("request") == request,
                timeout)
    record = env["status"]["backups"]["restore"]
    print(f"{namespace}/{target}: {record['outcome']}: {record.get('message', '')} ({record['seconds']:.1f} s)")
    return 0 if record["outcome"] == "Succeeded" else 1
