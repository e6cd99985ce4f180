"""`aenv promote | abort | retry | undo | rotate | extend | status`: commands are annotations on the resource, so plain
kubectl can give them too:  kubectl annotate aenv NAME --overwrite rollouts.aenv.dev/WORKLOAD=promote:$(date +%s)
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config, watch

from .api import GROUP, PLURAL, VERSION
from .api.duration import parse_duration
from .kube.workloads import COMMAND_ANNOTATION
from .plan.expiry import EXTEND_ANNOTATION
from .plan.secrets import ROTATABLE, ROTATE_ANNOTATION


def _api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config())  # type: ignore[no-untyped-call]


def default_namespace() -> str:
    try:
        _, current = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
        return str(current.get("context", {}).get("namespace") or "default")
    except (config.ConfigException, FileNotFoundError):
        return "default"


def _workloads_for(env: Mapping[str, Any], workload: str | None, kind: str) -> list[str]:
    statuses = env.get("status", {}).get("workloads", [])
    names = [w["name"] for w in env.get("spec", {}).get("workloads", [])]
    if workload:
        if workload not in names:
            raise SystemExit(f"{env['metadata']['name']} has no workload {workload} (it has: {', '.join(names)})")
        return [workload]
    rolling = [w["name"] for w in statuses if (w.get("rollout") or {}).get("phase", "Healthy") != "Healthy"]
    if kind == "undo":
        rolling = names
    if len(rolling) == 1:
        return rolling
    if not rolling:
        raise SystemExit("no rollout is in progress: name the workload with --workload")
    raise SystemExit(f"several workloads are rolling out ({', '.join(rolling)}): name one with --workload")


def send(namespace: str, name: str, kind: str, workload: str | None, revision: int | None = None) -> list[str]:
    """Write the command annotation for each affected workload; returns the workloads."""
    api = _api()
    env = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    targets = _workloads_for(env, workload, kind)  # type: ignore[arg-type]
    value = f"{kind}:{uuid.uuid4().hex[:12]}" + (f":{revision}" if revision is not None else "")
    patch = {"metadata": {"annotations": {f"{COMMAND_ANNOTATION}{w}": value for w in targets}}}
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return targets


def rotate(namespace: str, name: str, what: str, now: datetime | None = None) -> str:
    """Ask for a new credential of `what` (see plan/secrets.py); returns the time written."""
    if what not in ROTATABLE:
        raise SystemExit(f"aenv rotates only {', '.join(ROTATABLE)} on request so far")
    asked = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"metadata": {"annotations": {ROTATE_ANNOTATION + what: asked}}}
    _api().patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return asked


def extend(namespace: str, name: str, by: str) -> str:
    """Ask to push the environment's expiry by `by` (72h, 90m); returns the request written. The operator answers
    with an Event: ExpiryExtended, or ExtensionRefused past the platform's maximum."""
    try:
        if parse_duration(by).total_seconds() <= 0:
            raise ValueError(f"{by!r} is no time at all")
    except ValueError as e:
        raise SystemExit(f"--by: {e}") from None
    request = f"{by}:{uuid.uuid4().hex[:12]}"
    patch = {"metadata": {"annotations": {EXTEND_ANNOTATION: request}}}
    _api().patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return request


def render(env: Mapping[str, Any]) -> str:
    status = env.get("status", {})
    ready: Mapping[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    lines = [f"{env['metadata']['namespace']}/{env['metadata']['name']}  phase {status.get('phase', '-')}  "
             f"Ready {ready.get('status', '-')}: {ready.get('message', '')}"
             + (f"  expires {status['expiresAt']}" if status.get("expiresAt") else ""),
             f"{'WORKLOAD':20} {'STRATEGY':10} {'PHASE':12} {'STEP':6} {'WEIGHT':7} {'STABLE':11} {'CANARY':11} "
             "MESSAGE"]
    for w in status.get("workloads", []):
        r = w.get("rollout") or {}
        step = str(r.get("step", 0) + 1) if w.get("canary") else "-"  # 1-based, as the messages count
        lines.append(f"{w['name']:20} {r.get('strategy') or '-':10} {r.get('phase', '-'):12} {step:6} "
                     f"{str(r.get('weight', 0)) + '%':7} {w.get('stable') or '-':11} {w.get('canary') or '-':11} "
                     f"{r.get('message', '')}")
        for run in r.get("runs", []):
            metrics = ", ".join(f"{m['name']} {m.get('successful', 0)} ok / {m.get('failed', 0)} failed / "
                                f"{m.get('inconclusive', 0)} inconclusive / {m.get('error', 0)} errors"
                                for m in run.get("metrics", []))
            lines.append(f"  analysis {run['name']} ({run['kind']}) {run.get('phase', '')}: {metrics}")
    return "\n".join(lines)


def watch_status(namespace: str, name: str, follow: bool) -> Iterator[str]:
    api = _api()
    yield render(api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))  # type: ignore[arg-type]
    if not follow:
        return
    last = ""
    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
        api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, field_selector=f"metadata.name={name}")
    for event in stream:
        text = render(event["object"])
        if text != last:
            last = text
            yield text
        if event["type"] == "DELETED":
            return


def print_status(namespace: str, name: str, follow: bool) -> None:
    for text in watch_status(namespace, name, follow):
        if follow:
            sys.stdout.write("\x1b[2J\x1b[H")  # a live view: redraw in place
        print(text, flush=True)
