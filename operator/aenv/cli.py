"""The aenv command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

if TYPE_CHECKING:
    from . import leader
    from .api import EnvironmentSpec
    from .reconcile import Environment


def _run(args: argparse.Namespace) -> int:
    from .allocator import TRIM_SECONDS, limit_arenas, trim_every

    limit_arenas()  # before kopf, the watches and the metrics server start their threads
    # `kill -USR1 <pid>` writes every thread's stack to stderr: where a pass that never ends is waiting.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    trim_every(TRIM_SECONDS, threading.Event())
    import kopf

    from . import handlers  # registers the handlers
    from .kube.namespace_listing import include_initial_listing

    include_initial_listing()
    if args.namespace and not any(set(n) & set("*?[!") for n in args.namespace):
        handlers.namespaces = list(args.namespace)

    from .logs import configure

    configure(args.verbose, args.log_format)
    if args.metrics_port:
        from .metrics import serve

        serve(args.metrics_port, args.metrics_address)
    # kopf waits on a thread-based stop flag in an executor thread that outlives a stop by signal: an asyncio
    # Event on kopf's own loop, set from the Lease thread through the loop, leaves nothing behind.
    loop = asyncio.new_event_loop()
    stop, ready = asyncio.Event(), threading.Event()
    elector = _elector(args) if args.leader_elect else None
    if args.health_port:
        from . import health

        health.serve(args.health_address, args.health_port,
                     live=lambda: elector is None or elector.healthy(),
                     ready=lambda: (ready.is_set() and handlers.watching()) if elector is None
                     or elector.leading.is_set() else elector.healthy())
    if elector is not None:
        standby_stop = threading.Event()
        with _stop_on_signals(standby_stop):  # a standby ends on SIGTERM; kopf handles the signals once it runs
            if not elector.acquire(standby_stop):
                return 0
        elector.keep(on_lost=lambda: _step_down(loop, stop, elector.timing))

        @kopf.on.cleanup(id="end-stop-flag")
        async def end_stop_flag(**_: object) -> None:
            stop.set()  # stopped by a signal: kopf would wait 5 s for its waiter on this flag before exiting
    try:
        kopf.run(loop=loop, clusterwide=not args.namespace, namespaces=args.namespace or (), standalone=True,
                 liveness_endpoint=args.liveness, stop_flag=stop if elector is not None else None,
                 ready_flag=ready)
    finally:
        loop.close()
        if elector is not None:
            elector.release()
    return 1 if elector is not None and elector.lost.is_set() else 0


def _elector(args: argparse.Namespace) -> leader.Elector:
    from . import leader
    from .kube.client import api

    namespace = args.lease_namespace or _own_namespace()
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    timing = leader.Timing(args.lease_duration, args.lease_renew, min(1.0, args.lease_renew))
    return leader.Elector(api(), namespace, args.lease_name, identity, timing)


def _own_namespace() -> str:
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    return path.read_text().strip() if path.exists() else "default"


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _step_down(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, timing: leader.Timing) -> None:
    """The Lease is lost: stop kopf, and exit outright if it is still running when a standby could take over."""
    loop.call_soon_threadsafe(stop.set)
    threading.Timer(max(0.5, timing.duration - timing.deadline - 0.5), os._exit, args=(1,)).start()


def _crd(args: argparse.Namespace) -> int:
    from .api import crd, quota

    text = quota.render_quota_crd() if args.quota else crd.render()
    for output in args.output or ():
        Path(output).write_text(text)
    if not args.output:
        sys.stdout.write(text)
    return 0


def _admission_policy(args: argparse.Namespace) -> int:
    from .quota import policy

    text = policy.render()
    for output in args.output or ():
        Path(output).write_text(text)
    if not args.output:
        sys.stdout.write(text)
    return 0


def _iam_policy(args: argparse.Namespace) -> int:
    from . import iam_policy

    sys.stdout.write(iam_policy.render(args.partition, args.account))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .api import EnvironmentSpec, effective

    doc = yaml.safe_load(Path(args.file).read_text())
    meta = doc.get("metadata", {})
    namespace, name = meta.get("namespace", "default"), meta.get("name", "unnamed")
    try:
        spec = effective(EnvironmentSpec.model_validate(doc.get("spec", {})))
    except ValidationError as e:
        for err in e.errors():
            print(f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", file=sys.stderr)
        return 1
    print(f"{namespace}/{name}: tier {spec.tier}, mode {spec.aws.mode}, region {spec.aws.region}, "
          f"deletionPolicy {spec.deletion_policy}")
    plan = _plan_ack if spec.aws.mode == "ack" else _plan_boto3
    code = plan(args, namespace, name, doc["spec"], spec)
    print("\n".join(_cost_delta(namespace, name, spec, live=not (args.offline or args.no_cluster))))
    return code


def _plan_boto3(args: argparse.Namespace, namespace: str, name: str, raw: Mapping[str, Any],
                spec: EnvironmentSpec) -> int:
    from .plan.environment import desired_resources, requested

    if args.offline:
        env = _planned(namespace, name, raw, live=False)
        for d in desired_resources(env.ref, spec, requested(spec)):
            print(f"  {d.kind:28} {d.name}")
        return 0
    from . import preview

    env = _planned(namespace, name, raw, live=not args.no_cluster)
    changes = preview.preview(env, spec, cluster=not args.no_cluster)
    for c in changes:
        print(c.line())
    counts = {a: sum(c.action == a for c in changes) for a in ("create", "update", "delete", "conflict")}
    print(f"Plan: {counts['create']} to create, {counts['update']} to change, {counts['delete']} to delete, "
          f"{counts['conflict']} in conflict. Nothing was changed.")
    return 0


def _cost_delta(namespace: str, name: str, spec: EnvironmentSpec, live: bool) -> list[str]:
    """The monthly cost before (the environment in the cluster, when read and there) and after the change."""
    from . import preview
    from .api import EnvironmentSpec, effective
    from .cost import delta, estimate

    current = preview.live(namespace, name) if live else None
    try:
        before = estimate.estimate(effective(EnvironmentSpec.model_validate(current["spec"]))) if current else None
    except ValidationError:
        before = None
    return delta.lines(before, estimate.estimate(spec))


def _plan_ack(args: argparse.Namespace, namespace: str, name: str, raw: Mapping[str, Any],
              spec: EnvironmentSpec) -> int:
    """Mode ack: the ACK objects the pass would write. They live in the cluster, so --no-cluster reads nothing."""
    from . import preview_ack

    if args.offline or args.no_cluster:
        changes = preview_ack.offline(_planned(namespace, name, raw, live=False), spec)
        print("\n".join(preview_ack.render(changes)))
        created = sum(c.action == "create" for c in changes)
        print(f"Offline: {created} ACK objects a first pass would create; the cluster was not read.")
        return 0
    changes, secrets = preview_ack.preview(_planned(namespace, name, raw, live=True), spec)
    print("\n".join(preview_ack.render(changes, secrets)))
    print(preview_ack.summary(changes))
    return 0


def _planned(namespace: str, name: str, raw: Mapping[str, Any], live: bool) -> Environment:
    """The environment the file describes, with the uid and status of the one in the cluster if `live` finds it."""
    from . import preview
    from .reconcile import Environment

    current = (preview.live(namespace, name) if live else None) or {}
    m = current.get("metadata", {})
    return Environment(namespace, name, m.get("uid", "<new>"), int(m.get("generation", 0)), raw,
                       current.get("status", {}))


def _command(args: argparse.Namespace) -> int:
    from . import commands

    namespace = args.namespace or commands.default_namespace()
    kind = "promoteFull" if args.command == "promote" and args.full else args.command
    revision = getattr(args, "to_revision", None)
    for w in commands.send(namespace, args.name, kind, args.workload, revision):
        print(f"{namespace}/{args.name} {w}: {kind} sent")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from . import commands

    namespace = args.namespace or commands.default_namespace()
    asked = commands.rotate(namespace, args.name, "cache" if args.cache else "database")
    print(f"{namespace}/{args.name}: rotation of the {'cache AUTH token' if args.cache else 'database login'} "
          f"asked at {asked}")
    return 0


def _extend(args: argparse.Namespace) -> int:
    from . import commands

    namespace = args.namespace or commands.default_namespace()
    request = commands.extend(namespace, args.name, args.by)
    print(f"{namespace}/{args.name}: extension by {args.by} asked ({request}); the Event ExpiryExtended or "
          f"ExtensionRefused answers it")
    return 0


def _status(args: argparse.Namespace) -> int:
    from . import commands

    with contextlib.suppress(KeyboardInterrupt):  # the live view ends when the user interrupts it
        commands.print_status(args.namespace or commands.default_namespace(), args.name, args.watch)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from . import commands
    from .migrations import cli

    return cli.migrate(args.action, args.namespace or commands.default_namespace(), args.name, args.to, args.timeout)


def _backup(args: argparse.Namespace) -> int:
    from . import commands
    from .backups import cli

    return cli.backup(args.namespace or commands.default_namespace(), args.name, args.drill, args.timeout)


def _restore(args: argparse.Namespace) -> int:
    from . import commands
    from .backups import cli

    return cli.restore(args.namespace or commands.default_namespace(), args.name, args.source, args.to, args.timeout)


def _dev(args: argparse.Namespace) -> int:
    from .local import devenv

    if args.action == "up":
        devenv.up(Path(args.example), timeout=args.timeout)
    else:
        devenv.down()
    return 0


def parser(prog: str = "aenv") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Real-time analytics environments on AWS and EKS.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator against the current kubeconfig")
    run.add_argument("-n", "--namespace", action="append", help="watch only these namespaces (repeatable)")
    run.add_argument("--liveness", default=None, help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port")
    run.add_argument("--metrics-address", default="127.0.0.1", help="address for the metrics server")
    run.add_argument("--health-port", type=int, default=0, help="serve /healthz and /readyz on this port")
    run.add_argument("--health-address", default="127.0.0.1", help="address for /healthz and /readyz")
    run.add_argument("--leader-elect", action="store_true",
                     help="reconcile only while holding a coordination.k8s.io Lease (several replicas)")
    run.add_argument("--lease-name", default="aenv", help="the Lease's name (default: aenv)")
    run.add_argument("--lease-namespace", help="the Lease's namespace (default: the pod's own)")
    run.add_argument("--lease-duration", type=float, default=10.0,
                     help="seconds after the last renewal when a standby takes the Lease over (default: 10)")
    run.add_argument("--lease-renew", type=float, default=2.0, help="seconds between renewals (default: 2)")
    run.add_argument("--log-format", choices=["text", "json"], default="text", help="log lines as text or JSON")
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=_run)

    crd = sub.add_parser("crd", help="print the CustomResourceDefinition generated from the models")
    crd.add_argument("-o", "--output", action="append", help="write to this file instead of stdout (repeatable)")
    crd.add_argument("--quota", action="store_true", help="the AnalyticsEnvironmentQuota CRD instead")
    crd.set_defaults(func=_crd)

    admission = sub.add_parser("admission-policy", help="print the ValidatingAdmissionPolicy and binding that hold "
                               "environments to their namespace's AnalyticsEnvironmentQuota")
    admission.add_argument("-o", "--output", action="append", help="write to this file instead of stdout (repeatable)")
    admission.set_defaults(func=_admission_policy)

    policy = sub.add_parser("iam-policy", help="print the IAM policy the operator needs in mode boto3 (for IRSA)")
    policy.add_argument("--account", default="*", help="the AWS account id in the ARNs (default: any)")
    policy.add_argument("--partition", default="aws", help="aws, aws-cn or aws-us-gov (default: aws)")
    policy.set_defaults(func=_iam_policy)

    plan = sub.add_parser("plan", help="what applying an environment file would create, change or delete; "
                                       "changes nothing")
    plan.add_argument("-f", "--file", required=True)
    plan.add_argument("--offline", action="store_true", help="list the resources without looking at AWS or the cluster")
    plan.add_argument("--no-cluster", action="store_true", help="look at AWS only, not at the cluster")
    plan.set_defaults(func=_plan)

    for name, text in (("promote", "skip the current pause or step (--full: every remaining step)"),
                       ("abort", "stop the rollout: all traffic back to the stable revision"),
                       ("retry", "start an aborted rollout again from its first step"),
                       ("undo", "roll back to an earlier revision")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("name", help="the AnalyticsEnvironment")
        cmd.add_argument("-n", "--namespace")
        cmd.add_argument("-w", "--workload", help="which workload (needed when several are rolling out)")
        if name == "promote":
            cmd.add_argument("--full", action="store_true", help="skip every remaining step and pause")
        if name == "undo":
            cmd.add_argument("--to-revision", type=int, help="the history number (default: the previous one)")
        cmd.set_defaults(func=_command)

    rotate = sub.add_parser("rotate", help="a new credential now, the old one kept valid meanwhile")
    rotate.add_argument("name", help="the AnalyticsEnvironment")
    rotate.add_argument("-n", "--namespace")
    store = rotate.add_mutually_exclusive_group(required=True)
    store.add_argument("--cache", action="store_true", help="the cache's AUTH token (ElastiCache ROTATE, then SET once "
                       "no ready pod holds the old one)")
    store.add_argument("--database", action="store_true", help="the workloads' database login (the other of two login "
                       "roles; the old one loses LOGIN once no ready pod holds it)")
    rotate.set_defaults(func=_rotate)

    extend = sub.add_parser("extend", help="push the environment's expiry (spec.ttl, spec.expiresAt) later, within "
                                           "the platform's maximum")
    extend.add_argument("name", help="the AnalyticsEnvironment")
    extend.add_argument("-n", "--namespace")
    extend.add_argument("--by", required=True, metavar="DURATION", help="how much later: 24h, 90m, 1h30m")
    extend.set_defaults(func=_extend)

    status = sub.add_parser("status", help="the environment and its rollouts: steps, weights, analysis")
    status.add_argument("name")
    status.add_argument("-n", "--namespace")
    status.add_argument("-w", "--watch", action="store_true", help="a live view, until interrupted")
    status.set_defaults(func=_status)

    migrate = sub.add_parser("migrate", help="the environment's database migrations: status, up, down")
    migrate.add_argument("action", choices=["status", "up", "down"])
    migrate.add_argument("name", help="the AnalyticsEnvironment")
    migrate.add_argument("-n", "--namespace")
    migrate.add_argument("--to", type=int, metavar="VERSION",
                         help="up: apply up to and including VERSION; down: revert every migration above VERSION "
                              "(default: the latest applied only; 0 reverts all)")
    migrate.add_argument("--timeout", type=float, default=600,
                         help="a Job source: seconds to wait for the Job's outcome (default: 600)")
    migrate.set_defaults(func=_migrate)

    backup = sub.add_parser("backup", help="a logical backup of the environment's database to its bucket, now")
    backup.add_argument("name", help="the AnalyticsEnvironment")
    backup.add_argument("-n", "--namespace")
    backup.add_argument("--drill", action="store_true",
                        help="instead: the restore drill, now (the latest backup restored and checked)")
    backup.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the outcome")
    backup.set_defaults(func=_backup)

    restore = sub.add_parser("restore", help="restore a backup of an environment into another one's database, or "
                                             "create a new environment from an RDS snapshot of its database")
    restore.add_argument("name", help="the AnalyticsEnvironment whose backup is restored, or whose spec the new "
                                      "environment takes")
    restore.add_argument("-n", "--namespace")
    restore.add_argument("--from", dest="source", required=True, metavar="BACKUP|SNAPSHOT",
                         help="<environment>/<timestamp>.dump (status.backups.lastBackup.key), latest, or an RDS DB "
                              "snapshot identifier (aws rds describe-db-snapshots)")
    restore.add_argument("--to", required=True, metavar="NEW-ENV",
                         help="a backup: an existing, Ready environment; a snapshot: one that does not exist yet")
    restore.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the outcome")
    restore.set_defaults(func=_restore)

    dev = sub.add_parser("dev", help="the local environment: control plane, AWS emulator, operator")
    dev.add_argument("action", choices=["up", "down"])
    dev.add_argument("--example", default="examples/env-staging.yaml")
    dev.add_argument("--timeout", type=int, default=180)
    dev.set_defaults(func=_dev)
    return p


def main(argv: list[str] | None = None, prog: str = "aenv") -> int:
    args = parser(prog).parse_args(argv)
    result: int = args.func(args)
    return result


def plugin(argv: list[str] | None = None) -> int:
    """`kubectl aenv ...`: kubectl runs the executable kubectl-aenv with the arguments that follow `aenv`."""
    return main(argv, prog="kubectl aenv")
