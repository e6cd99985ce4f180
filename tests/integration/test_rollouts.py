"""Rollouts end to end on the real control plane: an environment with one workload, a new image, and the
operator moving it through canary steps, analysis, pauses, blue-green promotion, crashes and deadlines.

No mocks: kwok nodes make the pods Running/Ready, the operator runs as its own process, commands go through
the real `aenv` CLI, analysis asks a real HTTP server, and routers write real Ingress/HTTPRoute objects.
The environments hold workloads only: in AWS that is the workloads' IAM role, made in the emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local.processes import wait_for
from aenv.plan.workloads import LABEL_REVISION, LABEL_WORKLOAD
from aenv.rollouts.engine import ratio_replicas, routed_canary_replicas
from aenv.rollouts.traffic import WorkloadTraffic
from aenv.rollouts.traffic.alb import annotation_key

from .conftest import Operator
from .kube import Kube
from .test_traffic_routers import (
    GATEWAY_GROUP,
    GATEWAY_VERSION,
    HTTPROUTES,
    create_ingress,
    get_route,
    httproute_crd,
    weights,
)

pytestmark = pytest.mark.integration

__all__ = ["httproute_crd"]  # the HTTPRoute CRD fixture, shared with the router tests

ENV = "rt"
WORKLOAD = "web"
TIMEOUT = 90.0


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def workload(image: str = "example/web:1", replicas: int = 10, **extra: Any) -> dict[str, Any]:
    return {"name": WORKLOAD, "image": image, "replicas": replicas, **extra}


def env_spec(rollout: dict[str, Any], **workload_fields: Any) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
            "workloads": [workload(**workload_fields)], "rollout": rollout}


def canary(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"strategy": "canary", "canary": {"steps": list(steps), **extra}}


def status_of(env: dict[str, Any]) -> dict[str, Any]:
    """status.workloads[] of the workload (empty until the operator wrote it)."""
    found: dict[str, Any] = next((w for w in env.get("status", {}).get("workloads", []) if w["name"] == WORKLOAD), {})
    return found


def rollout_of(env: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = status_of(env).get("rollout") or {}
    return state


def wait_env(kube: Kube, namespace: str, check: Callable[[dict[str, Any]], bool], what: str,
             timeout: float = TIMEOUT) -> dict[str, Any]:
    """Poll the environment until check(env) holds; on timeout fail with the last rollout state."""
    seen: dict[str, Any] = {}

    def ok() -> bool:
        seen["env"] = kube.get_env(namespace, ENV)
        return check(seen["env"])

    try:
        wait_for(ok, timeout, what, interval=0.1)
    except TimeoutError as e:
        env = seen.get("env", {})
        raise AssertionError(f"{e}; rollout: {rollout_of(env)}; conditions: "
                             f"{env.get('status', {}).get('conditions')}") from None
    return seen["env"]


def wait_phase(kube: Kube, namespace: str, phase: str, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
    def check(env: dict[str, Any]) -> bool:
        r = rollout_of(env)
        return r.get("phase") == phase and all(r.get(k) == v for k, v in fields.items())

    return wait_env(kube, namespace, check, f"rollout phase {phase} {fields or ''}", timeout)


def replica_sets(kube: Kube, namespace: str) -> dict[str, tuple[int, int]]:
    """revision -> (spec.replicas, ready pods) of the workload's ReplicaSets."""
    out = {}
    for rs in kube.apps.list_namespaced_replica_set(namespace, label_selector=f"{LABEL_WORKLOAD}={WORKLOAD}").items:
        out[rs.metadata.labels[LABEL_REVISION]] = (rs.spec.replicas or 0, (rs.status and rs.status.ready_replicas) or 0)
    return out


def wait_replicas(kube: Kube, namespace: str, want: dict[str, tuple[int, int]], what: str,
                  timeout: float = TIMEOUT) -> None:
    seen: dict[str, Any] = {}

    def check() -> bool:
        seen["rs"] = replica_sets(kube, namespace)
        return all(seen["rs"].get(rev, (0, 0)) == counts for rev, counts in want.items())

    try:
        wait_for(check, timeout, what, interval=0.1)
    except TimeoutError as e:
        raise AssertionError(f"{e}; ReplicaSets (spec, ready): {seen.get('rs')}") from None


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def selector(kube: Kube, namespace: str, service: str) -> str | None:
    svc = kube.core.read_namespaced_service(service, namespace)
    rev: str | None = (svc.spec.selector or {}).get(LABEL_REVISION)
    return rev


def deploy(kube: Kube, namespace: str, spec: dict[str, Any]) -> str:
    """Create the environment, wait for the first deployment to be Ready; the stable revision."""
    kube.create_env(namespace, ENV, spec)
    env = kube.wait_condition(namespace, ENV, "Ready", timeout=TIMEOUT)
    w = status_of(env)
    assert w["phase"] == "Healthy" and w["stable"], w
    replicas = spec["workloads"][0]["replicas"]
    assert replica_sets(kube, namespace)[w["stable"]] == (replicas, replicas)
    stable: str = w["stable"]
    return stable


def start_rollout(kube: Kube, namespace: str, image: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """Change the workload's image; the environment once the operator picked the new revision up, and it."""
    current = kube.get_env(namespace, ENV)["spec"]
    changed = {**current["workloads"][0], "image": image, **fields}
    kube.patch_spec(namespace, ENV, {"workloads": [changed]})
    env = wait_env(kube, namespace, lambda e: bool(status_of(e).get("canary")), f"a rollout of {image} to start")
    revision: str = status_of(env)["canary"]
    return env, revision


def rollout_passes(operator: Operator, namespace: str) -> int:
    """How many passes without AWS that were due (a rollout's clock) the operator's log shows for the environment."""
    return operator.log_text().count(f"{namespace}/{ENV}: cluster pass (due)")


def wait_passes(operator: Operator, namespace: str, count: int, timeout: float = 60.0) -> None:
    start = rollout_passes(operator, namespace)
    wait_for(lambda: rollout_passes(operator, namespace) >= start + count, timeout,
             f"{count} more due passes", interval=0.1)


def cli(operator: Operator, *args: str) -> str:
    """The real `aenv` command, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "aenv", *args], env=operator.env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def events(kube: Kube, namespace: str) -> list[client.CoreV1Event]:
    return kube.events(namespace, ENV)


def wait_event(kube: Kube, namespace: str, reason: str, timeout: float = TIMEOUT) -> client.CoreV1Event:
    return kube.wait_event(namespace, ENV, reason, timeout=timeout)



@dataclass(frozen=True)
class Seen:
    """One state of a watched object. `version` is its resourceVersion, etcd's revision: one counter for every
    object of the cluster, so states of different objects sort in the order they were written."""

    version: int
    at: float  # wall-clock time of arrival
    kind: str  # "rs" | "env" | "service" | "ingress" | "route"
    value: Any


class Timeline:
    """Every state the rollout passes through, from watches, so that states shorter than a poll are not missed.

    rs       {revision: (spec.replicas, ready pods)} of the workload's ReplicaSets after each event
    env      status.workloads[].rollout, when it changed
    service  (Service name, the revision it selects) of the workload's Services
    ingress  {Service: weight} of the ALB action annotation     (ingress=<name>)
    route    {backendRef: weight} of the HTTPRoute's first rule  (route=<name>)
    """

    def __init__(self, kube: Kube, namespace: str, ingress: str | None = None, route: str | None = None) -> None:
        self.kube, self.namespace = kube, namespace
        self._seen: list[Seen] = []
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        networking = client.NetworkingV1Api(kube.api)
        by_label = {"label_selector": f"{LABEL_WORKLOAD}={WORKLOAD}"}
        sources: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, str]]] = [
            ("rs", kube.apps.list_namespaced_replica_set, (namespace,), by_label),
            ("service", kube.core.list_namespaced_service, (namespace,), by_label),
            ("env", kube.custom.list_namespaced_custom_object, (GROUP, VERSION, namespace, PLURAL),
             {"field_selector": f"metadata.name={ENV}"}),
        ]
        if ingress is not None:
            sources.append(("ingress", networking.list_namespaced_ingress, (namespace,),
                            {"field_selector": f"metadata.name={ingress}"}))
        if route is not None:
            sources.append(("route", kube.custom.list_namespaced_custom_object,
                            (GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES),
                            {"field_selector": f"metadata.name={route}"}))
        self._threads = [threading.Thread(target=self._watch, args=source, daemon=True) for source in sources]

    def __enter__(self) -> Timeline:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        assert not self._errors, f"a watch failed: {self._errors}"

    def _watch(self, kind: str, call: Callable[..., Any], args: tuple[Any, ...], selector: dict[str, str]) -> None:
        """List, then watch from the list's resourceVersion (events then come in the order they were written)."""
        replica_sets: dict[str, tuple[int, int]] = {}
        last: Any = None

        def record(event: str, obj: Any, version: int, emit: bool = True) -> None:
            nonlocal last
            meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
            if kind == "rs":
                rev = meta.labels[LABEL_REVISION]
                if event == "DELETED":
                    replica_sets.pop(rev, None)
                else:
                    replica_sets[rev] = (obj.spec.replicas or 0, (obj.status and obj.status.ready_replicas) or 0)
                value: Any = dict(replica_sets)
            elif kind == "service":
                value = (meta.name, (obj.spec.selector or {}).get(LABEL_REVISION))
            elif kind == "env":
                value = rollout_of(obj)
            elif kind == "ingress":
                value = alb_weights(obj)
            else:
                value = weights(obj) if obj["spec"]["rules"] else {}
            if emit and (kind == "service" or value != last):
                last = value
                with self._lock:
                    self._seen.append(Seen(version, time.time(), kind, value))

        def version_of(obj: Any) -> str:
            meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
            return str(meta["resourceVersion"] if isinstance(obj, dict) else meta.resource_version)

        try:
            version: str | None = None
            while not self._stop.is_set():
                if version is None:  # the current state, as of one resourceVersion
                    listed = call(*args, **selector)
                    version = version_of(listed)
                    items = listed["items"] if isinstance(listed, dict) else listed.items
                    for i, item in enumerate(items):  # ReplicaSets: one snapshot of them all
                        record("ADDED", item, int(version), emit=kind != "rs" or i == len(items) - 1)
                try:
                    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                        call, *args, timeout_seconds=1, resource_version=version, **selector)
                    for event in stream:
                        if event["type"] == "BOOKMARK":
                            continue
                        version = version_of(event["object"])
                        record(event["type"], event["object"], int(version))
                        if self._stop.is_set():
                            return
                except ApiException as e:
                    if e.status != 410:
                        raise
                    version = None  # too old: list again
        except BaseException as e:  # noqa: BLE001 - reported by __exit__
            self._errors.append(e)

    def seen(self, *kinds: str) -> list[Seen]:
        with self._lock:
            return sorted((s for s in self._seen if not kinds or s.kind in kinds), key=lambda s: s.version)

    def values(self, kind: str) -> list[Any]:
        return [s.value for s in self.seen(kind)]


def alb_weights(ingress: Any) -> dict[str, int]:
    """{Service: weight} of the workload's ALB action annotation ({} without one)."""
    annotations = ingress.metadata.annotations or {}
    value = annotations.get(f"alb.ingress.kubernetes.io/actions.{WORKLOAD}")
    if value is None:
        return {}
    groups = json.loads(value)["ForwardConfig"]["TargetGroups"]
    return {g["ServiceName"]: int(g["Weight"]) for g in groups}


def split(canary_weight: int) -> dict[str, int]:
    return {f"{WORKLOAD}-canary": canary_weight, f"{WORKLOAD}-stable": 100 - canary_weight}


Shape = dict[str, tuple[int, int]]


def shape_index(shapes: list[Shape], want: Shape, start: int = 0) -> int | None:
    """The first ReplicaSet snapshot from `start` on where every revision in `want` has those counts."""
    return next((i for i in range(start, len(shapes))
                 if all(shapes[i].get(r, (0, 0)) == n for r, n in want.items())), None)


class AnalysisServer:
    """A tiny metrics endpoint on 127.0.0.1 for the web analysis provider: GET / -> {"errorRate": <value>}."""

    def __init__(self, error_rate: float) -> None:
        self.error_rate = error_rate
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps({"errorRate": outer.error_rate}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def metric(self, name: str = "error-rate") -> dict[str, Any]:
        return {"name": name, "interval": "1s", "count": 2, "failureCondition": "result > 0.01",
                "web": {"url": self.url, "jsonPath": "$.errorRate", "timeoutSeconds": 5}}


@pytest.fixture
def analysis() -> Iterator[AnalysisServer]:
    server = AnalysisServer(error_rate=0.05)
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


# ---------------------------------------------------------------------------------------------------------------
# 1. Canary by replica ratio, through every step to 100%
# ---------------------------------------------------------------------------------------------------------------


def test_canary_replica_ratio_through_every_step(kube: Kube, namespace: str) -> None:
    steps = (20, 50, 100)
    old = deploy(kube, namespace, env_spec(canary(*({"setWeight": w} for w in steps))))

    with Timeline(kube, namespace) as timeline:
        _, new = start_rollout(kube, namespace, "example/web:2")
        env = wait_phase(kube, namespace, "Healthy", stableRevision=new)
        wait_replicas(kube, namespace, {new: (10, 10), old: (0, 0)}, "the old revision to be scaled to 0")
    shapes, states = timeline.values("rs"), timeline.values("env")

    # Through every step in order, each with its weight.
    rolling = [(s.get("step", 0), s.get("weight", 0)) for s in states
               if s.get("desiredRevision") == new and s.get("stableRevision") == old]
    assert list(dict(rolling).items()) == list(enumerate(steps)), rolling
    # Capacity never dipped: at least 10 ready pods at every moment (scale up first, then down).
    assert min(sum(ready for _, ready in shape.values()) for shape in shapes) >= 10, shapes
    # At the end the new revision is stable, the old ReplicaSet at 0, the environment Ready.
    w = status_of(env)
    assert (w["stable"], w.get("canary"), w["phase"], w["rollout"]["weight"]) == (new, None, "Healthy", 0)
    assert kube.condition(env, "Ready")["status"] == "True"  # type: ignore[index]
    assert kube.condition(env, "WorkloadsReady")["status"] == "True"  # type: ignore[index]
    assert env["status"]["phase"] == "Ready"
    reasons = [e.reason for e in events(kube, namespace)]
    assert "RolloutStarted" in reasons and "RolloutCompleted" in reasons, reasons
    assert selector(kube, namespace, WORKLOAD) is None  # the plain Service spreads over both revisions

    # While the rollout was at each setWeight step (between the status writes entering it and the next one),
    # the canary and stable ReplicaSets reached the engine's ratio with every pod ready.
    seen = timeline.seen("rs", "env")
    entered = [next(i for i, e in enumerate(seen) if e.kind == "env" and e.value.get("desiredRevision") == new
                    and e.value.get("stableRevision") == old and e.value.get("step") == step)
               for step in range(len(steps))] + [len(seen)]
    for step, weight in enumerate(steps):
        c, s = ratio_replicas(10, weight)
        window = [e.value for e in seen[entered[step]:entered[step + 1] if weight < 100 else len(seen)]
                  if e.kind == "rs"]
        assert shape_index(window, {new: (c, c), old: (s, s)}) is not None, (
            f"setWeight {weight}: the ReplicaSets never reached {c} canary + {s} stable during step {step + 1}; "
            f"they went {window}")


# ---------------------------------------------------------------------------------------------------------------
# 2. A failing analysis aborts; retry after it passes completes
# ---------------------------------------------------------------------------------------------------------------


def test_failing_analysis_aborts_then_retry_completes(kube: Kube, namespace: str, operator: Operator,
                                                      analysis: AnalysisServer) -> None:
    policy = canary({"setWeight": 20}, {"analysis": {"metrics": [analysis.metric()]}}, {"setWeight": 100})
    old = deploy(kube, namespace, env_spec(policy, replicas=4))

    with Timeline(kube, namespace) as timeline:
        _, new = start_rollout(kube, namespace, "example/web:2")
        env = wait_phase(kube, namespace, "Aborted")
        wait_replicas(kube, namespace, {new: (0, 0), old: (4, 4)}, "the canary at 0, the stable at full size")
    state = rollout_of(env)
    assert analysis.hits >= 1  # the provider really asked the endpoint
    assert (state["abortReason"], state["weight"], state["desiredRevision"], state["stableRevision"]) == (
        "AnalysisFailed", 0, new, old)
    assert "error-rate: 1 failed measurement(s), failureLimit 0" in state["message"], state["message"]
    run = state["runs"][0]  # the failed run stays in status to show why
    assert (run["kind"], run["phase"], run["metrics"][0]["failed"]) == ("step", "Failed", 1), run
    assert status_of(env)["phase"] == "Aborted"
    # The analysis ran at step 2 (index 1), after setWeight 20. The stable never went below its 20% share (3 of
    # 4): the abort removes the failing canary at once and grows the stable back, so only then may the total dip.
    assert any(s.get("step") == 1 and s.get("phase") == "Progressing" for s in timeline.values("env"))
    assert min(shape[old][1] for shape in timeline.values("rs") if old in shape and shape[old][0] > 0) >= 3
    # The environment says so: WorkloadsReady False with a reason, Ready False, a Warning Event.
    workloads = kube.condition(env, "WorkloadsReady")
    assert workloads is not None and workloads["status"] == "False", workloads
    assert workloads["reason"] == "RolloutFailed" and "Aborted" in workloads["message"], workloads
    assert kube.condition(env, "Ready")["status"] == "False"  # type: ignore[index]
    assert env["status"]["phase"] == "Failed"
    event = wait_event(kube, namespace, "AnalysisFailed")
    assert event.type == "Warning" and WORKLOAD in event.message, event
    assert "Aborted" in cli(operator, "status", ENV, "-n", namespace)

    # The metric recovers; `aenv retry` starts the rollout again from step 1, and this time it completes.
    analysis.error_rate = 0.001
    out = cli(operator, "retry", ENV, "-n", namespace)
    assert f"{namespace}/{ENV} {WORKLOAD}: retry sent" in out
    env = wait_phase(kube, namespace, "Healthy", stableRevision=new)
    wait_replicas(kube, namespace, {new: (4, 4), old: (0, 0)}, "the old revision to be scaled to 0")
    assert kube.wait_condition(namespace, ENV, "Ready", timeout=TIMEOUT)
    reasons = [e.reason for e in events(kube, namespace)]
    assert "RolloutRetried" in reasons and "AnalysisRunSuccessful" in reasons and "RolloutCompleted" in reasons, \
        reasons


# ---------------------------------------------------------------------------------------------------------------
# 3. An indefinite pause holds until `aenv promote`
# ---------------------------------------------------------------------------------------------------------------


def test_indefinite_pause_holds_until_promoted(kube: Kube, namespace: str, operator: Operator) -> None:
    old = deploy(kube, namespace, env_spec(canary({"setWeight": 25}, {"pause": {}}, {"setWeight": 100}),
                                           replicas=4))
    _, new = start_rollout(kube, namespace, "example/web:2")
    env = wait_phase(kube, namespace, "Paused", step=1, weight=25)
    c, s = ratio_replicas(4, 25)
    wait_replicas(kube, namespace, {new: (c, c), old: (s, s)}, "the setWeight 25 shape")
    assert rollout_of(env)["pauseReason"] == "CanaryPauseStep"
    assert wait_event(kube, namespace, "RolloutPaused").type == "Normal"

    # It holds: several passes of the rollout timer later nothing changed, not even the resource version.
    env = kube.get_env(namespace, ENV)
    version, rs_before = env["metadata"]["resourceVersion"], replica_sets(kube, namespace)
    wait_passes(operator, namespace, 4)
    later = kube.get_env(namespace, ENV)
    assert (rollout_of(later)["phase"], rollout_of(later)["step"], rollout_of(later)["weight"]) == ("Paused", 1, 25)
    assert later["metadata"]["resourceVersion"] == version, "a paused rollout rewrote its status"
    assert replica_sets(kube, namespace) == rs_before

    out = cli(operator, "promote", ENV, "-n", namespace)
    assert f"{namespace}/{ENV} {WORKLOAD}: promote sent" in out
    env = wait_phase(kube, namespace, "Healthy", stableRevision=new)
    wait_replicas(kube, namespace, {new: (4, 4), old: (0, 0)}, "the old revision to be scaled to 0")
    assert kube.condition(env, "WorkloadsReady")["status"] == "True"  # type: ignore[index]
    assert "RolloutCompleted" in [e.reason for e in events(kube, namespace)]


# ---------------------------------------------------------------------------------------------------------------
# 4. Blue-green: preview, manual promotion, a failing post-promotion analysis switches back
# ---------------------------------------------------------------------------------------------------------------


def test_blue_green_promotion_and_post_promotion_revert(kube: Kube, namespace: str, operator: Operator,
                                                        analysis: AnalysisServer) -> None:
    delay = 20
    policy = {"strategy": "blueGreen", "blueGreen": {"scaleDownDelaySeconds": delay}}
    v1 = deploy(kube, namespace, env_spec(policy, replicas=4))
    assert selector(kube, namespace, WORKLOAD) == v1

    with Timeline(kube, namespace) as timeline:
        _, v2 = start_rollout(kube, namespace, "example/web:2")
        # The preview at full size behind <w>-preview, while <w> still sends everything to the old revision.
        wait_replicas(kube, namespace, {v2: (4, 4), v1: (4, 4)}, "the preview ReplicaSet at full size")
        env = wait_phase(kube, namespace, "Paused", pauseReason="BlueGreenPause")
        assert selector(kube, namespace, f"{WORKLOAD}-preview") == v2
        assert selector(kube, namespace, WORKLOAD) == v1
        assert rollout_of(env)["activeRevision"] == v1 and status_of(env)["stable"] == v1

        cli(operator, "promote", ENV, "-n", namespace)  # autoPromotionSeconds is omitted: manual promotion
        env = wait_phase(kube, namespace, "Healthy", stableRevision=v2)
        assert selector(kube, namespace, WORKLOAD) == v2
        state = rollout_of(env)
        assert state["scaleDownRevision"] == v1, state
        scale_down_at = timestamp(state["scaleDownAt"])
        assert scale_down_at - timestamp(state["promotedAt"]) == delay, state
        # The old revision stays at full size for scaleDownDelaySeconds (an instant way back), then goes: a pass
        # is due at scaleDownAt, so the scale-down is on time and not left to the resync.
        assert replica_sets(kube, namespace)[v1] == (4, 4)
        wait_replicas(kube, namespace, {v1: (0, 0)}, "the old revision scaled down after the delay", timeout=delay + 60)
    down = next(s for s in timeline.seen("rs") if s.value.get(v1, (0, 0))[0] < 4)
    assert down.at >= scale_down_at - 1, f"revision {v1} scaled down {scale_down_at - down.at:.1f}s before its time"
    assert down.at <= scale_down_at + 5, f"revision {v1} scaled down {down.at - scale_down_at:.1f}s late"
    switched = [s.value for s in timeline.seen("service") if s.value[0] == WORKLOAD]
    assert switched[-1] == (WORKLOAD, v2) and (WORKLOAD, v1) in switched

    # A second rollout with a post-promotion analysis that fails: switched back to v2, aborted.
    with Timeline(kube, namespace) as timeline:
        _, v3 = start_rollout(kube, namespace, "example/web:3")
        kube.patch_spec(namespace, ENV, {"rollout": {"blueGreen": {
            "postPromotionAnalysis": {"metrics": [analysis.metric()]}}}})
        wait_phase(kube, namespace, "Paused", pauseReason="BlueGreenPause", desiredRevision=v3)
        assert selector(kube, namespace, f"{WORKLOAD}-preview") == v3
        assert selector(kube, namespace, WORKLOAD) == v2
        cli(operator, "promote", ENV, "-n", namespace)
        env = wait_phase(kube, namespace, "Aborted", desiredRevision=v3)
        wait_replicas(kube, namespace, {v2: (4, 4), v3: (0, 0)}, "the failed revision scaled down")
    state = rollout_of(env)
    assert state["abortReason"] == "AnalysisFailed" and "post-promotion" in state["message"], state
    assert (state["activeRevision"], state["stableRevision"]) == (v2, v2)
    assert selector(kube, namespace, WORKLOAD) == v2
    active = [s.value[1] for s in timeline.seen("service") if s.value[0] == WORKLOAD]
    assert v3 in active and active[-1] == v2, active  # promoted to v3, then switched back
    # The previous revision kept its full size all along, so the way back was a selector switch.
    assert all(shape.get(v2) == (4, 4) for shape in timeline.values("rs")), timeline.values("rs")
    assert analysis.hits >= 1
    assert wait_event(kube, namespace, "AnalysisFailed").type == "Warning"
    workloads = kube.condition(env, "WorkloadsReady")
    assert workloads is not None and (workloads["status"], workloads["reason"]) == ("False", "RolloutFailed")


# ---------------------------------------------------------------------------------------------------------------
# 5. The operator killed mid-step resumes without a weight jump
# ---------------------------------------------------------------------------------------------------------------


def test_operator_killed_mid_step_resumes_without_a_jump(kube: Kube, namespace: str, operator: Operator) -> None:
    old = deploy(kube, namespace, env_spec(canary({"setWeight": 30}, {"pause": {}}, {"setWeight": 100})))
    _, new = start_rollout(kube, namespace, "example/web:2")
    wait_phase(kube, namespace, "Paused", step=1, weight=30)
    c, s = ratio_replicas(10, 30)
    wait_replicas(kube, namespace, {new: (c, c), old: (s, s)}, "the setWeight 30 shape")
    before = rollout_of(kube.get_env(namespace, ENV))
    counts = replica_sets(kube, namespace)

    with Timeline(kube, namespace) as timeline:
        operator.kill()
        offset = len(operator.log_text())
        operator.start()
        wait_for(lambda: operator.log_text()[offset:].count(f"{namespace}/{ENV}: cluster pass (due)") >= 2, 60,
                 "two due passes of the restarted operator", interval=0.1)
        after = rollout_of(kube.get_env(namespace, ENV))
        assert (after["step"], after["weight"], after["phase"]) == (before["step"], before["weight"], "Paused")
        assert replica_sets(kube, namespace) == counts
    # Not even for a moment: no ReplicaSet was rescaled and the rollout state never moved.
    assert all(shape == counts for shape in timeline.values("rs")), timeline.values("rs")
    assert all((st["step"], st["weight"]) == (1, 30) for st in timeline.values("env")), timeline.values("env")
    assert after["pausedAt"] == before["pausedAt"]

    cli(operator, "promote", ENV, "-n", namespace)
    wait_phase(kube, namespace, "Healthy", stableRevision=new)
    wait_replicas(kube, namespace, {new: (10, 10), old: (0, 0)}, "the old revision to be scaled to 0")


# ---------------------------------------------------------------------------------------------------------------
# 6. Traffic routers: the ALB annotation and the HTTPRoute weights follow each step
# ---------------------------------------------------------------------------------------------------------------

ROUTED_STEPS: tuple[dict[str, Any], ...] = (
    {"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 100})


def routed_rollout(kube: Kube, namespace: str, operator: Operator, routing: dict[str, Any],
                   read_weights: Callable[[], dict[str, int]], timeline: Timeline) -> tuple[str, str]:
    """Deploy, roll out a new image through ROUTED_STEPS, checking the router's weights at each pause."""
    old = deploy(kube, namespace, env_spec(canary(*ROUTED_STEPS, trafficRouting=routing)))
    first = read_weights()  # the first deployment: everything on stable
    assert first[f"{WORKLOAD}-canary"] == 0 and first[f"{WORKLOAD}-stable"] > 0, first
    with timeline:
        _, new = start_rollout(kube, namespace, "example/web:2")
        for step, weight in ((1, 10), (3, 50)):
            wait_phase(kube, namespace, "Paused", step=step, weight=weight)
            canary_pods = routed_canary_replicas(10, weight)
            wait_replicas(kube, namespace, {new: (canary_pods, canary_pods), old: (10, 10)},
                          f"{canary_pods} canary pods next to a full stable at weight {weight}")
            assert read_weights() == split(weight)
            assert selector(kube, namespace, f"{WORKLOAD}-canary") == new
            assert selector(kube, namespace, f"{WORKLOAD}-stable") == old
            cli(operator, "promote", ENV, "-n", namespace)
        env = wait_phase(kube, namespace, "Healthy", stableRevision=new)
        wait_replicas(kube, namespace, {new: (10, 10), old: (0, 0)}, "the old revision to be scaled to 0")
    assert kube.condition(env, "WorkloadsReady")["status"] == "True"  # type: ignore[index]
    # Afterwards all traffic goes to the new revision, through the stable Service.
    assert read_weights() == split(0)
    assert selector(kube, namespace, f"{WORKLOAD}-stable") == new
    return old, new


def assert_full_before_scale_down(timeline: Timeline, kind: str, old: str, new: str) -> None:
    """The router carried 100% to the new revision (canary weight 100, every canary pod ready) before the old
    ReplicaSet lost a single pod, and stable/canary Services were moved to the new revision before that too."""
    seen = timeline.seen()
    down = next(i for i, s in enumerate(seen) if s.kind == "rs" and s.value.get(old, (10, 0))[0] < 10)
    full = next((i for i, s in enumerate(seen) if s.kind == kind and s.value == split(100)), None)
    assert full is not None and full < down, [(s.kind, s.value) for s in seen]
    ready = next(i for i, s in enumerate(seen) if s.kind == "rs" and s.value.get(new) == (10, 10))
    assert ready < down
    stable_moved = next(i for i, s in enumerate(seen) if s.kind == "service" and s.value == (f"{WORKLOAD}-stable", new))
    assert stable_moved < down
    weights_seen = [s.value[f"{WORKLOAD}-canary"] for s in seen if s.kind == kind and s.value]
    assert [w for i, w in enumerate(weights_seen) if i == 0 or w != weights_seen[i - 1]] == [0, 10, 50, 100, 0], \
        weights_seen


def test_alb_annotation_follows_each_step(kube: Kube, namespace: str, operator: Operator) -> None:
    create_ingress(kube, namespace, "web-ingress", action=WORKLOAD)
    networking = client.NetworkingV1Api(kube.api)

    def read() -> dict[str, int]:
        ingress = networking.read_namespaced_ingress("web-ingress", namespace)
        value = json.loads(ingress.metadata.annotations[annotation_key(traffic)])
        assert value["Type"] == "forward"
        assert {g["ServicePort"] for g in value["ForwardConfig"]["TargetGroups"]} == {"80"}
        return alb_weights(ingress)

    traffic = WorkloadTraffic(namespace, WORKLOAD)
    timeline = Timeline(kube, namespace, ingress="web-ingress")
    old, new = routed_rollout(kube, namespace, operator, {"alb": {"ingress": "web-ingress"}}, read, timeline)
    assert_full_before_scale_down(timeline, "ingress", old, new)
    ingress = networking.read_namespaced_ingress("web-ingress", namespace)
    assert ingress.metadata.annotations["alb.ingress.kubernetes.io/scheme"] == "internal"  # others untouched


def test_httproute_weights_follow_each_step(kube: Kube, namespace: str, operator: Operator,
                                            httproute_crd: None) -> None:
    body = {"apiVersion": f"{GATEWAY_GROUP}/{GATEWAY_VERSION}", "kind": "HTTPRoute", "metadata": {"name": "web"},
            "spec": {"parentRefs": [{"name": "public"}], "rules": [
                {"backendRefs": [{"name": f"{WORKLOAD}-stable", "port": 80},
                                 {"name": f"{WORKLOAD}-canary", "port": 80, "weight": 0}]}]}}
    kube.custom.create_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, body)

    def read() -> dict[str, int]:
        return weights(get_route(kube, namespace, "web"))

    timeline = Timeline(kube, namespace, route="web")
    old, new = routed_rollout(kube, namespace, operator, {"gatewayAPI": {"httpRoute": "web"}}, read, timeline)
    assert_full_before_scale_down(timeline, "route", old, new)
    route = get_route(kube, namespace, "web")
    assert len(route["spec"]["rules"]) == 1 and route["spec"]["parentRefs"] == [{"name": "public"}]


# ---------------------------------------------------------------------------------------------------------------
# 7. The progress deadline aborts a rollout whose pods never become ready
# ---------------------------------------------------------------------------------------------------------------


def test_progress_deadline_aborts_a_stuck_canary(kube: Kube, namespace: str) -> None:
    old = deploy(kube, namespace, env_spec(canary({"setWeight": 50}, {"setWeight": 100},
                                                  progressDeadlineSeconds=30), replicas=4))
    with Timeline(kube, namespace) as timeline:
        # Far more CPU than a kwok node has (32): the new pods stay Pending.
        began = time.time()
        _, new = start_rollout(kube, namespace, "example/web:2", resources={"requests": {"cpu": "500"}})
        env = wait_phase(kube, namespace, "Aborted", timeout=30 + 60)
        aborted = time.time()
        wait_replicas(kube, namespace, {new: (0, 0), old: (4, 4)}, "the stuck canary scaled to 0")
    state = rollout_of(env)
    assert state["abortReason"] == "ProgressDeadlineExceeded", state
    assert "ProgressDeadlineExceeded" in state["message"] and "no progress for 30s" in state["message"], state
    assert aborted - began >= 29, f"aborted after {aborted - began:.0f}s, before the 30s deadline"
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"{LABEL_REVISION}={new}").items
    assert all(p.status.phase == "Pending" for p in pods)
    # The stable kept its full size and every pod ready the whole time.
    assert all(shape[old] == (4, 4) for shape in timeline.values("rs")), timeline.values("rs")
    event = wait_event(kube, namespace, "ProgressDeadlineExceeded")
    assert event.type == "Warning" and "no progress for 30s" in event.message
    workloads = kube.condition(env, "WorkloadsReady")
    assert workloads is not None and (workloads["status"], workloads["reason"]) == ("False", "RolloutFailed")
    assert "ProgressDeadlineExceeded" in workloads["message"]
