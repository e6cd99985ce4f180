"""`aenv migrate status|up|down`: the environment's migrations, from the cluster, against its database."""

from __future__ import annotations

import sys

from .cluster import Cluster, Target, Unavailable
from .source import SourceError


def migrate(action: str, namespace: str, name: str, to: int | None, timeout: float) -> int:
    try:
        cluster = Cluster()
        target = cluster.target(namespace, name)
        assert target.spec.database and target.spec.database.migrations
        if target.spec.database.migrations.job is not None:
            return _job(cluster, target, action, timeout)
        return _config_map(cluster, target, action, to)
    except (Unavailable, SourceError, ConnectionError) as e:
        print(f"aenv migrate: {e}", file=sys.stderr)
        return 1


def _config_map(cluster: Cluster, target: Target, action: str, to: int | None) -> int:
    import psycopg

    from .runner import Runner, redact

    assert target.spec.database and target.spec.database.migrations and target.spec.database.migrations.config_map
    cm = target.spec.database.migrations.config_map.name
    source = cluster.config_map_source(target.env, cm)
    runner = Runner(cluster.database_url(target.env))
    print(f"{target.env.key}: {len(source)} migrations in ConfigMap {cm}")
    try:
        if action == "status":
            for row in runner.status(source):
                at = row.applied_at.isoformat(timespec="seconds") if row.applied_at else "-"
                print(f"  {row.migration:40} {row.state:8} {at}")
            return 0
        result = runner.up(source, to) if action == "up" else runner.down(source, to)
    except psycopg.Error as e:  # outside a migration: the lock, schema_migrations
        print(f"aenv migrate: {redact(str(e).strip(), runner.url)}", file=sys.stderr)
        return 1
    for line in result.lines():
        print(f"  {line}")
    return 0 if result.ok else 1


def _job(cluster: Cluster, target: Target, action: str, timeout: float) -> int:
    assert target.spec.database and target.spec.database.migrations and target.spec.database.migrations.job
    source = target.spec.database.migrations.job
    print(f"{target.env.key}: migrations run by workload {source.workload}'s image: {' '.join(source.command)}")
    if action == "down":
        print("aenv migrate: a Job source has no down migrations aenv can run: revert with the image's own tool",
              file=sys.stderr)
        return 1
    if action == "up":
        name, done = cluster.run_job(target, timeout)
        print(f"  Job {name}: {done.state}" + (f": {done.message}" if done.message else ""))
        return 0 if done.state == "succeeded" else 1
    name, last = cluster.job_outcome(target)
    print(f"  Job {name}: " + ("not run for this image and command" if last is None else
                               last.state + (f": {last.message}" if last.message else "")))
    return 0
