"""The migration gate's I/O: what a revision's migrations are, running them when the rollout engine asks
(`RunMigrations`), and the outcomes it observes (`MigrationOutcome`).

A ConfigMap source runs in a small thread pool of its own, so a pass never waits for the database: the pass
that asks starts the run, the run wakes the environment when it ends, and the next pass reports the outcome.
Each statement is bounded by AENV_MIGRATION_TIMEOUT_SECONDS (PostgreSQL's statement_timeout, the advisory lock's
wait included). A Job source is created once and its outcome read each pass; the Job's activeDeadlineSeconds
bounds it. In tier prod a database snapshot is taken before any pending migration runs (snapshot.py): a ConfigMap
source's run takes it before `up`; for a Job source it is taken in the pool as well, and the pass it wakes creates
the Job. A snapshot that fails is the outcome: no migration runs.
Outcomes live in memory only: after a restart the engine asks again, and `up` applies only what is pending.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..api.spec import EnvironmentSpec, Workload
from ..failures import describe_failure
from ..naming import EnvironmentRef
from ..plan import connection
from ..rollouts.engine import MigrationOutcome, RunMigrations
from . import job as jobs
from . import snapshot
from .plan import latest
from .source import Migration, SourceError, parse

TIMEOUT_SECONDS = float(os.environ.get("AENV_MIGRATION_TIMEOUT_SECONDS", "600"))
_POOL = ThreadPoolExecutor(max_workers=int(os.environ.get("AENV_MIGRATION_WORKERS", "4")),
                           thread_name_prefix="aenv-migrate")
log = logging.getLogger("aenv.migrations")

Key = tuple[str, str, str, int]  # revision, direction, source, attempt
Snapshot = Callable[[EnvironmentRef, EnvironmentSpec, str], None]
Outcome = MigrationOutcome | None  # a run's: None when it has none of its own (a Job source's snapshot taken)


def take_snapshot(env: EnvironmentRef, spec: EnvironmentSpec, revision: str) -> None:
    snapshot.take(env, spec, revision, TIMEOUT_SECONDS)


@dataclass
class Runs:
    """One environment's runs: in flight, or finished with their outcome (the last few)."""

    futures: dict[Key, Future[Outcome]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def outcomes(self) -> list[MigrationOutcome]:
        with self.lock:
            return [out for f in self.futures.values() if f.done() and (out := f.result()) is not None]

    def start(self, key: Key, run: Callable[[], Outcome], done: Callable[[], None]) -> Future[Outcome]:
        """The run of `key`: started now, or the one started before."""
        with self.lock:
            if key in self.futures:
                return self.futures[key]
            # A revision's earlier outcomes no longer serve once it is asked for something new.
            for old in [k for k, f in self.futures.items() if k[0] == key[0] and f.done()]:
                del self.futures[old]
            future = _POOL.submit(run)
            self.futures[key] = future
        future.add_done_callback(lambda _: done())
        return future


_RUNS: dict[str, Runs] = {}
_RUNS_LOCK = threading.Lock()


def runs(env: EnvironmentRef) -> Runs:
    with _RUNS_LOCK:
        return _RUNS.setdefault(env.uid, Runs())


def forget(uid: str) -> None:
    with _RUNS_LOCK:
        _RUNS.pop(uid, None)


def gated(spec: EnvironmentSpec, workload: Workload) -> bool:
    """A ConfigMap source gates every workload's rollouts; a Job source the rollouts of the workload it runs in."""
    m = spec.database.migrations if spec.database is not None else None
    return m is not None and (m.config_map is not None or (m.job is not None and m.job.workload == workload.name))


def checksum(data: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()[:12]


class Gate:
    """One pass's view of an environment's migrations: the ConfigMap read at most once. `snapshot` is taken in
    tier prod only; `runner` makes a ConfigMap source's runner of a URL (migrations.runner.Runner)."""

    def __init__(self, env: EnvironmentRef, spec: EnvironmentSpec, outputs: Mapping[str, Mapping[str, Any]],
                 core: client.CoreV1Api, batch: client.BatchV1Api, wake: Callable[[], None],
                 snapshot: Snapshot = take_snapshot, runner: Callable[[str], Any] | None = None) -> None:
        self.env, self.spec, self.outputs, self.core, self.batch, self.wake = env, spec, outputs, core, batch, wake
        self.snapshot = snapshot if spec.tier == "prod" else None
        self.runner = runner
        self._data: Mapping[str, str] | bool | None = False  # False: not read yet; None: not in the cluster

    @property
    def _source(self) -> Any:
        assert self.spec.database is not None and self.spec.database.migrations is not None
        return self.spec.database.migrations

    def _config_map(self) -> Mapping[str, str] | None:
        if self._data is False:
            name = self._source.config_map.name
            try:
                self._data = self.core.read_namespaced_config_map(name, self.env.namespace).data or {}
            except ApiException as e:
                if e.status != 404:
                    raise
                self._data = None
        return self._data if isinstance(self._data, Mapping) else None

    def identity(self, workload: Workload) -> str | None:
        """What the workload's revision brings, as the engine records it (None: not gated)."""
        if not gated(self.spec, workload):
            return None
        if self._source.job is not None:
            return f"job/{self._job()['metadata']['name']}"
        data = self._config_map()
        return f"configMap/{self._source.config_map.name}@{checksum(data) if data is not None else 'missing'}"

    def _job(self) -> dict[str, Any]:
        manifest = jobs.job(self.env, self.spec, self._source.job)
        manifest["spec"]["activeDeadlineSeconds"] = int(TIMEOUT_SECONDS)
        return manifest

    def outcomes(self, workload: Workload, revision: str | None, attempt: int = 1) -> list[MigrationOutcome]:
        if revision is None or not gated(self.spec, workload):
            return []
        if self._source.job is not None:  # a failed snapshot's outcome, or the Job's
            return runs(self.env).outcomes() + self._job_outcome(revision, attempt)
        return runs(self.env).outcomes()

    def run(self, action: RunMigrations) -> None:
        """Start what the engine asks for (once per revision, direction and source)."""
        if self._source.job is not None:
            if action.direction == "up":
                self._create_job(action)
            return
        url = connection.connection_data(self.spec, self.outputs).get("DATABASE_URL")
        if url is None:
            log.info("%s: migrations of %s wait for the database", self.env.key, action.revision)
            return
        data = self._config_map()
        runs(self.env).start((action.revision, action.direction, action.source, action.attempt),
                             lambda: _guarded(action, lambda: self._run(action, url, data)), self.wake)

    def _snapshot(self, action: RunMigrations, before: int | None = None) -> MigrationOutcome | None:
        """The snapshot before `action`'s migrations (tier prod): None once taken, else the failed outcome."""
        if self.snapshot is None:
            return None
        try:
            self.snapshot(self.env, self.spec, action.revision)
        except Exception as e:  # noqa: BLE001 - AWS or the cluster refused, or it never became available
            name = snapshot.snapshot_name(self.env, self.spec, action.revision)[1]
            why = str(e) if isinstance(e, snapshot.SnapshotFailed) else f"snapshot {name}: {describe_failure(e)}"
            return _failed(action, f"{why}; no migration ran", before)
        return None

    def _run(self, action: RunMigrations, url: str, data: Mapping[str, str] | None) -> MigrationOutcome:
        from .runner import Runner, redact

        name = self._source.config_map.name
        if data is None:
            return _failed(action, f"the ConfigMap {self.env.namespace}/{name} is not in the cluster")
        try:
            source = parse(data, f"ConfigMap {self.env.namespace}/{name}")
        except SourceError as e:
            return _failed(action, str(e))
        runner = (self.runner or Runner)(_bounded(url))
        try:
            before = _version(runner, source)
            if action.direction == "down":
                result = runner.down(source, action.to_version or 0)
            else:
                if before < latest(source) and (failed := self._snapshot(action, before)) is not None:
                    return failed
                result = runner.up(source)
        except Exception as e:  # noqa: BLE001 - the connection, the lock, AWS: the outcome says so
            return _failed(action, redact(f"{type(e).__name__}: {e}".strip(), url), before=None)
        after = _version(runner, source)
        message = "; ".join(result.lines())
        return MigrationOutcome(action.revision, action.direction, result.ok, redact(message, url), before, after,
                                action.attempt)

    def _create_job(self, action: RunMigrations) -> None:
        """The Job; in tier prod once the snapshot is taken (in the pool: the pass it wakes creates the Job)."""
        if self.snapshot is not None:
            key = (action.revision, action.direction, action.source, action.attempt)
            taken = runs(self.env).start(key, lambda: _guarded(action, lambda: self._snapshot(action)), self.wake)
            if not taken.done() or taken.result() is not None:
                return
        try:
            self.batch.create_namespaced_job(self.env.namespace, self._job())  # type: ignore[arg-type]
        except ApiException as e:
            if e.status != 409:
                raise

    def _job_outcome(self, revision: str, attempt: int) -> list[MigrationOutcome]:
        """The Job's outcome, whichever attempt asks: a failed Job runs again only once deleted."""
        name = self._job()["metadata"]["name"]
        try:
            found = self.batch.read_namespaced_job(name, self.env.namespace)
        except ApiException as e:
            if e.status == 404:
                return []
            raise
        done = jobs.outcome(found.to_dict().get("status"))
        if done.state == "running":
            return []
        message = f"Job {name} {done.state}" + (f": {done.message}" if done.message else "")
        if done.state == "failed":
            message += f" (kubectl logs job/{name})"
        return [MigrationOutcome(revision, "up", done.state == "succeeded", message, attempt=attempt)]


def _guarded(action: RunMigrations, run: Callable[[], Outcome]) -> Outcome:
    """A run that raised still ends in an outcome: the gate must not wait forever."""
    try:
        return run()
    except Exception as e:
        log.exception("migrations of %s failed", action.revision)
        return _failed(action, describe_failure(e))


def _failed(action: RunMigrations, message: str, before: int | None = None) -> MigrationOutcome:
    return MigrationOutcome(action.revision, action.direction, False, message, before, before, action.attempt)


def _bounded(url: str) -> str:
    """`url` with every statement (the advisory lock's wait too) bounded by TIMEOUT_SECONDS."""
    option = quote(f"-c statement_timeout={int(TIMEOUT_SECONDS * 1000)}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


def _version(runner: Any, source: list[Migration]) -> int:
    """The database's latest applied version (0: none)."""
    applied = [int(r.migration.split("_", 1)[0]) for r in runner.status(source) if r.state != "pending"]
    return max(applied, default=0)
