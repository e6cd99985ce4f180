"""The aenv command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError


def _run(args: argparse.Namespace) -> int:
    import kopf

    from . import handlers  # registers the handlers

    if args.namespace and not any(set(n) & set("*?[!") for n in args.namespace):
        handlers.namespaces = list(args.namespace)

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.metrics_port:
        from .metrics import serve

        serve(args.metrics_port, args.metrics_address)
    kopf.run(clusterwide=not args.namespace, namespaces=args.namespace or (), standalone=True,
             liveness_endpoint=args.liveness)
    return 0


def _crd(args: argparse.Namespace) -> int:
    from .api import crd

    text = crd.render()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .api import EnvironmentSpec, effective
    from .plan.environment import desired_resources, requested
    from .reconcile import Environment

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
    if args.offline:
        env = Environment(namespace, name, "<new>", 0, doc["spec"], {})
        for d in desired_resources(env.ref, spec, requested(spec)):
            print(f"  {d.kind:28} {d.name}")
        return 0
    from . import preview

    current = preview.live(namespace, name) if not args.no_cluster else None
    m = (current or {}).get("metadata", {})
    env = Environment(namespace, name, m.get("uid", "<new>"), int(m.get("generation", 0)), doc["spec"],
                      (current or {}).get("status", {}))
    changes = preview.preview(env, spec, cluster=not args.no_cluster)
    for c in changes:
        print(c.line())
    counts = {a: sum(c.action == a for c in changes) for a in ("create", "update", "delete", "conflict")}
    print(f"Plan: {counts['create']} to create, {counts['update']} to change, {counts['delete']} to delete, "
          f"{counts['conflict']} in conflict. Nothing was changed.")
    return 0


def _command(args: argparse.Namespace) -> int:
    from . import commands

    namespace = args.namespace or commands.default_namespace()
    kind = "promoteFull" if args.command == "promote" and args.full else args.command
    revision = getattr(args, "to_revision", None)
    for w in commands.send(namespace, args.name, kind, args.workload, revision):
        print(f"{namespace}/{args.name} {w}: {kind} sent")
    return 0


def _status(args: argparse.Namespace) -> int:
    from . import commands

    with contextlib.suppress(KeyboardInterrupt):  # the live view ends when the user interrupts it
        commands.print_status(args.namespace or commands.default_namespace(), args.name, args.watch)
    return 0


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
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=_run)

    crd = sub.add_parser("crd", help="print the CustomResourceDefinition generated from the models")
    crd.add_argument("-o", "--output", help="write to this file instead of stdout")
    crd.set_defaults(func=_crd)

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

    status = sub.add_parser("status", help="the environment and its rollouts: steps, weights, analysis")
    status.add_argument("name")
    status.add_argument("-n", "--namespace")
    status.add_argument("-w", "--watch", action="store_true", help="a live view, until interrupted")
    status.set_defaults(func=_status)

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
