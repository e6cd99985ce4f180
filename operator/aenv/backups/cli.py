"""`aenv backup ENV [--drill]` and `aenv restore ENV --from BACKUP|SNAPSHOT --to NEW-ENV`: requests to the operator,
which runs pg_dump and pg_restore (annotations, as the rollout commands are), then the outcome read from the status.

From an RDS DB snapshot, restore creates NEW-ENV itself: ENV's spec with spec.database.fromSnapshot, then waits
until it is Ready (or its database says why it cannot be made)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ..api import API_VERSION, GROUP, KIND, PLURAL, VERSION
from .schedule import BACKUP_ANNOTATION, DRILL_ANNOTATION, RESTORE_ANNOTATION

POLL_SECONDS = 1.0
# The database's reasons that no wait mends: the snapshot is missing or unusable, or the mode cannot restore.
SNAPSHOT_REFUSALS = {"DBSnapshotNotFound", "InvalidDBSnapshot", "NotImplemented"}
SNAPSHOT_HELP = ("`aws rds describe-db-snapshots --query 'DBSnapshots[].DBSnapshotIdentifier'` lists the snapshots "
                 "(aenv's own: <instance>-pre-migrate-<revision> before prod migrations, <instance>-final-<hash> when "
                 "an environment is deleted with deletionPolicy Snapshot)")


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


def is_backup(source: str) -> bool:
    """A backup's object key (<environment>/<timestamp>.dump) or latest; anything else names an RDS DB snapshot."""
    return source == "latest" or source.endswith(".dump")


def restored_environment(env: Mapping[str, Any], name: str, snapshot: str) -> dict[str, Any]:
    """A new environment `name` in env's namespace with env's spec and its database made from `snapshot`. Nothing
    of env's identity, status, labels or annotations (an ArgoCD tracking label would have ArgoCD prune it), and no
    custom domain (a domain name serves one API)."""
    spec = copy.deepcopy(dict(env["spec"]))
    spec["database"] = {**spec["database"], "fromSnapshot": snapshot}
    if "domain" in spec.get("gateway", {}):
        spec["gateway"] = {k: v for k, v in spec["gateway"].items() if k != "domain"}
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "namespace": env["metadata"]["namespace"]}, "spec": spec}


def snapshot_outcome(env: Mapping[str, Any]) -> tuple[bool, str] | None:
    """(succeeded, what to print) once the new environment is Ready at its generation or its database was refused
    for good; None while it is being made."""
    status = env.get("status") or {}
    ready, database = _condition(env, "Ready"), _condition(env, "DatabaseReady")
    if database.get("status") == "False" and database.get("reason") in SNAPSHOT_REFUSALS:
        return False, f"{database['reason']}: {database.get('message', '')}"
    if ready.get("status") == "True" and status.get("observedGeneration", 0) >= env["metadata"].get("generation", 1):
        return True, "Ready"
    return None


def restore_snapshot(namespace: str, source: str, snapshot: str, target: str, timeout: float) -> int:
    """Create `target` from `source`'s spec with its database made from the RDS DB snapshot, and wait until it is
    Ready; 0 when it is."""
    api = _api()
    try:
        env = _get(api, namespace, source)
    except ApiException as e:
        if e.status == 404:
            raise SystemExit(f"{namespace}/{source}: no such AnalyticsEnvironment") from None
        raise
    if not env["spec"].get("database"):
        raise SystemExit(f"{namespace}/{source} has no spec.database: there is no database to restore")
    if env["spec"]["aws"].get("mode") == "ack":
        raise SystemExit(f"{namespace}/{source} is in mode ack, which cannot create a database from an RDS snapshot "
                         "yet (spec.database.fromSnapshot)")
    started = time.monotonic()
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                            restored_environment(env, target, snapshot))
    except ApiException as e:
        if e.status == 409:
            raise SystemExit(f"{namespace}/{target} already exists: restoring an RDS snapshot creates the environment, "
                             "so name a new one (a backup, --from <environment>/<timestamp>.dump or latest, is "
                             "restored into an existing environment)") from None
        raise
    print(f"{namespace}/{target}: created from {source}'s spec, its database from DB snapshot {snapshot}")
    done = _wait(api, namespace, target, lambda e: snapshot_outcome(e) is not None, timeout)
    succeeded, what = snapshot_outcome(done) or (False, "")
    seconds = time.monotonic() - started
    if not succeeded:
        print(f"{namespace}/{target}: {what} ({SNAPSHOT_HELP}); delete it with `kubectl delete aenv {target} -n "
              f"{namespace}` and try again")
        return 1
    print(f"{namespace}/{target}: {what} in {seconds:.1f} s")
    return 0


def restore(namespace: str, source: str, backup_key: str, target: str, timeout: float) -> int:
    """Restore a backup of `source` (an object key, or "latest") into the database of `target`, which must exist
    and be Ready; or, given an RDS DB snapshot instead, create `target` from it. 0 when it succeeded."""
    if not is_backup(backup_key):
        return restore_snapshot(namespace, source, backup_key, target, timeout)
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
