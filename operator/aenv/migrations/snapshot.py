"""In tier prod, a snapshot of the environment's database before a revision's migrations run, named after the
revision, and waited for until it is available (bounded). Mode boto3 calls RDS; mode ack writes an rds
DBSnapshot custom resource and waits for ACK to report it available."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..ack.resource import DELETION_POLICY, MANAGED, AckKind, object_name
from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef
from ..plan import database

DB_SNAPSHOT = AckKind("rds", "DBSnapshot")
POLL_SECONDS = 15.0


class SnapshotFailed(Exception):
    """The snapshot could not be taken: the migrations do not run."""


def snapshot_name(env: EnvironmentRef, spec: EnvironmentSpec, revision: str) -> tuple[str, str]:
    """(the instance, its snapshot before `revision`'s migrations)."""
    instance = database.plan(env, spec)[0].name
    return instance, f"{instance}-pre-migrate-{revision}"


def take(env: EnvironmentRef, spec: EnvironmentSpec, revision: str, timeout: float, rds: Any = None,
         custom: client.CustomObjectsApi | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
    """Take the snapshot (once: an existing one of that name serves) and wait until it is available."""
    instance, name = snapshot_name(env, spec, revision)
    deadline = time.monotonic() + timeout
    if spec.aws.mode == "ack":
        status = _ack(env, spec, instance, name, custom or client.CustomObjectsApi())
    else:
        status = _boto3(env, spec, instance, name, rds)
    while True:
        state = status()
        if state == "available":
            return name
        if state in ("failed", "deleted", "deleting", "incompatible-restore"):
            raise SnapshotFailed(f"snapshot {name} is {state}")
        if time.monotonic() >= deadline:
            raise SnapshotFailed(f"snapshot {name} is not available after {int(timeout)}s (still {state})")
        sleep(POLL_SECONDS)


def _boto3(env: EnvironmentRef, spec: EnvironmentSpec, instance: str, name: str,
           rds: Any) -> Callable[[], str]:
    from ..aws import session

    rds = rds or session.client("rds", spec.aws.region, spec.aws.endpoint)
    with contextlib.suppress(rds.exceptions.DBSnapshotAlreadyExistsFault):
        rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=instance,
                               Tags=[{"Key": k, "Value": v} for k, v in env.tags("database").items()])
    return lambda: str(rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"])


def _ack(env: EnvironmentRef, spec: EnvironmentSpec, instance: str, name: str,
         custom: client.CustomObjectsApi) -> Callable[[], str]:
    kind, cr = DB_SNAPSHOT, object_name(name)
    body = {"apiVersion": kind.api_version, "kind": kind.kind,
            # Not owned by the environment and retained by ACK: the snapshot outlives both.
            "metadata": {"name": cr, "namespace": env.namespace, "labels": dict(MANAGED),
                         "annotations": {DELETION_POLICY: "retain"}},
            "spec": {"dbSnapshotIdentifier": name, "dbInstanceIdentifier": instance,
                     "tags": [{"key": k, "value": v} for k, v in env.tags("database").items()]}}
    plural = "dbsnapshots"
    try:
        custom.create_namespaced_custom_object(kind.group, kind.version, env.namespace, plural, body)
    except ApiException as e:
        if e.status == 404:
            raise SnapshotFailed(f"the cluster does not serve {kind.kind}: install the ACK rds-controller") from None
        if e.status != 409:
            raise

    def status() -> str:
        got: Any = custom.get_namespaced_custom_object(kind.group, kind.version, env.namespace, plural, cr)
        return str((got.get("status") or {}).get("status") or "creating")

    return status
