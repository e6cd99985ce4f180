"""The workloads: observe their ReplicaSets, Services, traffic and analysis; let the rollout engine decide;
apply its actions. The decisions are the engine's (rollouts/engine/); this module only does the I/O."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..api.rollout import Canary, Rollout, Step, TrafficRouting
from ..api.rollout_state import RolloutState
from ..api.spec import EnvironmentSpec, Workload
from ..api.status import WorkloadStatus
from ..failures import describe_failure
from ..memory import EnvironmentMemory, RouteKey
from ..migrations import gate as migrations
from ..naming import EnvironmentRef
from ..plan import connection
from ..plan import workloads as plan
from ..plan.conditions import ComponentResult, Transition
from ..rollouts import engine
from ..rollouts.analysis import provider_for
from ..rollouts.traffic import TrafficRouter, WorkloadTraffic, router_for
from ..rollouts.traffic.base import TrafficRoutingError
from . import apply, observed, owned
from .client import api
from .observed import SetView

# Without a rollout policy a new revision replaces the old one in one step, once its pods are ready.
DEFAULT_POLICY = Rollout(strategy="canary", canary=Canary(steps=[Step(set_weight=100)]))
COMMAND_ANNOTATION = "rollouts.aenv.dev/"
# A rollout steps when what its gate waits for changes: the watches on its ReplicaSets and traffic objects wake
# it (kube/owned.py), and the engine names when a pause, a measurement or a deadline falls due. Two polls remain:
# the safety poll of any rollout in progress (a watch event lost in a reconnect costs at most this), and the
# quicker one of a router whose weights only AWS can confirm (an ALB checked through ELBv2 announces nothing).
SAFETY_POLL_SECONDS = float(os.environ.get("AENV_ROLLOUT_SAFETY_SECONDS", "60"))
ROLLOUT_POLL_SECONDS = float(os.environ.get("AENV_ROLLOUT_SECONDS", "2"))
MIN_REQUEUE_SECONDS = 0.5


@dataclass
class Result:
    statuses: list[WorkloadStatus] = field(default_factory=list)
    events: list[Transition] = field(default_factory=list)
    requeue_at: datetime | None = None  # the next pass is due then (see memory.EnvironmentMemory.schedule)
    component: ComponentResult = field(
        default_factory=lambda: ComponentResult("workloads", "ready", "RolloutsHealthy", "every workload is healthy"))

    def due(self, at: datetime | None) -> None:
        if at is not None and (self.requeue_at is None or at < self.requeue_at):
            self.requeue_at = at


def commands(annotations: Mapping[str, str]) -> dict[str, list[engine.Command]]:
    """`rollouts.aenv.dev/<workload>: <kind>:<id>[:<revision>]`, as `aenv promote|abort|retry|undo` writes it."""
    out: dict[str, list[engine.Command]] = defaultdict(list)
    for key, value in annotations.items():
        if not key.startswith(COMMAND_ANNOTATION):
            continue
        kind, _, rest = value.partition(":")
        ident, _, revision = rest.partition(":")
        if kind in ("promote", "promoteFull", "abort", "retry", "undo") and ident:
            out[key.removeprefix(COMMAND_ANNOTATION)].append(engine.Command(
                kind=kind, id=ident, revision=int(revision) if revision.isdigit() else None))  # type: ignore[arg-type]
    return out


@dataclass
class _Observed:
    """The environment's ReplicaSets and Services for one pass: from the watches' view (kube/observed.py) when
    it is served, else one list of each."""

    replica_sets: dict[str, dict[str, SetView]]  # workload -> revision -> its ReplicaSet
    selectors: dict[str, str | None]  # Service name -> the revision it selects (None: all)

    @classmethod
    def read(cls, env: EnvironmentRef) -> _Observed:
        sets: dict[str, dict[str, SetView]] = defaultdict(dict)
        for view in _replica_sets(env).values():
            sets[view.workload][view.revision] = view
        selectors = observed.objects.services(env.namespace, env.label)
        if selectors is None:
            listed: Any = client.CoreV1Api(api()).list_namespaced_service(
                env.namespace, label_selector=f"{plan.LABEL_ENV}={env.label}", _preload_content=False)
            selectors = {item["metadata"]["name"]: observed.selected_revision(item)
                         for item in json.loads(listed.data).get("items") or []}
        return cls(sets, selectors)


def _replica_sets(env: EnvironmentRef) -> dict[str, SetView]:
    held = observed.objects.replica_sets(env.namespace, env.label)
    if held is not None:
        return held
    listed: Any = client.AppsV1Api(api()).list_namespaced_replica_set(
        env.namespace, label_selector=f"{plan.LABEL_ENV}={env.label}", _preload_content=False)
    return {item["metadata"]["name"]: view for item in json.loads(listed.data).get("items") or []
            if (view := observed.set_view(item)) is not None}


def credentials_in_use(env: EnvironmentRef) -> list[dict[str, str]]:
    """The credential versions (plan/connection.credential_versions) of every ReplicaSet of the environment with
    ready pods: a previous credential is revoked only when none of them holds it."""
    return [connection.parse_credentials_stamp(v.credentials) for v in _replica_sets(env).values() if v.ready > 0]


def reconcile(env: EnvironmentRef, spec: EnvironmentSpec, previous: Sequence[WorkloadStatus],
              annotations: Mapping[str, str], memory: EnvironmentMemory, now: datetime) -> Result:
    outputs = memory.outputs or {}
    apply.apply(plan.service_account_object(env, outputs.get("iam/role", {}).get("arn")), memory.written)
    observed = _Observed.read(env)
    gate = _gate(env, spec, memory)
    before = {s.name: s.rollout for s in previous}
    wanted = commands(annotations)
    result = Result()
    problems: list[str] = []
    busy: list[str] = []
    routes: set[RouteKey] = set()
    memory.keep_workloads({w.name for w in spec.workloads})
    memory.rolling = True  # until this pass knows: pods that get ready while it reads must still wake the next
    for w in spec.workloads:
        policy = w.rollout or spec.rollout or DEFAULT_POLICY
        routes |= _routes(env, policy)
        try:
            state = _one(env, spec, w, policy, before.get(w.name) or RolloutState(), observed,
                         wanted.get(w.name, []), now, result, memory, gate)
        except (TrafficRoutingError, ApiException) as e:
            problems.append(f"{w.name}: {e if isinstance(e, TrafficRoutingError) else describe_failure(e)}")
            state = before.get(w.name) or RolloutState()
        result.statuses.append(WorkloadStatus(
            name=w.name, stable=state.stable_revision, canary=state.canary_revision,
            step=state.step if state.in_progress else None, weight=state.weight, phase=state.phase, rollout=state))
        if state.phase in ("Aborted", "Degraded"):
            problems.append(f"{w.name}: {state.phase}: {state.message}")
        elif state.phase != "Healthy" or state.stable_revision is None:
            busy.append(f"{w.name}: {state.phase} (step {state.step}, weight {state.weight}%)")
        if state.phase != "Healthy" or state.stable_revision is None or state.retiring:
            result.due(now + timedelta(seconds=SAFETY_POLL_SECONDS))
    owned.route_through(memory, routes)
    memory.rolling = result.requeue_at is not None
    if problems:
        result.component = ComponentResult("workloads", "failed", "RolloutFailed", "; ".join(problems))
    elif busy:
        result.component = ComponentResult("workloads", "progressing", "RolloutInProgress", "; ".join(busy))
    return result


def _gate(env: EnvironmentRef, spec: EnvironmentSpec, memory: EnvironmentMemory) -> migrations.Gate | None:
    if spec.database is None or spec.database.migrations is None:
        return None
    return migrations.Gate(env, spec, memory.outputs or {}, client.CoreV1Api(api()), client.BatchV1Api(api()),
                           memory.wake)


def _one(env: EnvironmentRef, spec: EnvironmentSpec, w: Workload, policy: Rollout, state: RolloutState,
         observed: _Observed, cmds: list[engine.Command], now: datetime, result: Result,
         memory: EnvironmentMemory, gate: migrations.Gate | None) -> RolloutState:
    template = plan.pod_template(env, spec, w, connection.credential_versions(memory.outputs or {}))
    revision = plan.revision(template)
    sets = observed.replica_sets.get(w.name, {})
    routing = policy.canary.traffic_routing if policy.canary is not None else None
    router = _router(memory, w.name, routing)
    traffic = WorkloadTraffic(env.namespace, w.name, routing, service_port=80,
                              ready_stable=_ready(sets.get(state.stable_revision or "")),
                              ready_canary=_ready(sets.get(state.canary_revision or "")))
    _ensure_services(env, w, policy, state, memory.written)
    applied = router.applied_weight(traffic) if policy.strategy == "canary" else None
    if applied != state.weight and router.polled:  # no event will say when AWS has the weights: ask again soon
        result.due(now + timedelta(seconds=ROLLOUT_POLL_SECONDS))
    measurements = []
    for request in engine.due_measurements(state, policy, now):
        m = provider_for(request.metric, region=spec.aws.region).measure(request.metric, now)
        measurements.append(engine.RunMeasurement(run=request.run, metric=request.metric.name, verdict=m.phase,
                                                  at=now, value=m.value if isinstance(m.value, float) else None))
    obs = engine.Observations(
        desired_revision=revision, replicas=w.replicas,
        replica_sets={rev: engine.ReplicaSetObservation(replicas=rs.replicas, ready=rs.ready)
                      for rev, rs in sets.items()},
        traffic_applied_weight=applied,
        active_service=observed.selectors.get(w.name), preview_service=observed.selectors.get(f"{w.name}-preview"),
        measurements=measurements, commands=cmds,
        migrations=gate.identity(w) if gate is not None else None,
        migration_outcomes=gate.outcomes(w, state.migration.revision, state.migration.attempt)
        if gate is not None and state.migration is not None else ())
    decision = engine.step(state, policy, obs, now)
    for action in decision.actions:
        if isinstance(action, engine.RunMigrations):
            if gate is not None:
                gate.run(action)
            continue
        _act(env, w, action, template, revision, sets, router, traffic, result, memory.written)
    if decision.requeue_at is not None:  # never sooner than a moment from now: a gate that stays due cannot spin
        result.due(max(decision.requeue_at, now + timedelta(seconds=MIN_REQUEUE_SECONDS)))
    return decision.state


def _router(memory: EnvironmentMemory, workload: str, routing: TrafficRouting | None) -> TrafficRouter:
    """The workload's router, kept between passes with what it caches (the ALB's load balancers), and made
    again only when the routing changes."""
    kept, made_for = memory.routers.get(workload), memory.routings.get(workload)
    if kept is None or made_for != routing:
        kept = memory.routers[workload] = router_for(routing, api())
        memory.routings[workload] = routing
    return kept


def _routes(env: EnvironmentRef, policy: Rollout) -> set[RouteKey]:
    """The traffic objects a workload routes through: a change to one wakes the environment, so weights edited
    by hand are put back and a weight written is confirmed at once."""
    routing = policy.canary.traffic_routing if policy.canary is not None else None
    if routing is not None and routing.alb is not None:
        return {("Ingress", env.namespace, routing.alb.ingress)}
    if routing is not None and routing.gateway_api is not None:
        return {("HTTPRoute", env.namespace, routing.gateway_api.http_route)}
    return set()


def _ready(rs: SetView | None) -> int:
    return rs.ready if rs is not None else 0


def _ensure_services(env: EnvironmentRef, w: Workload, policy: Rollout, state: RolloutState,
                     written: apply.Written) -> None:
    """Apply the workload's Services as the last decision left them: free when unchanged (kube/apply.py), and
    a Service deleted or edited by hand comes back. The engine's actions move their selectors."""
    for suffix, rev in engine.service_revisions(state, policy.strategy).items():
        if rev is not None or suffix == "":
            apply.apply(plan.service(env, w, suffix, rev), written)


def _act(env: EnvironmentRef, w: Workload, action: engine.Action, template: dict[str, Any], revision: str,
         sets: Mapping[str, SetView], router: TrafficRouter, traffic: WorkloadTraffic, result: Result,
         written: apply.Written) -> None:
    if isinstance(action, engine.ScaleReplicaSet):
        tpl = template if action.revision == revision else _template_of(env, w, action.revision)
        if tpl is None:
            raise TrafficRoutingError(f"revision {action.revision} has no ReplicaSet left to take its template from")
        # The engine asks only when the observed count differs (drift included): always send it.
        written.forget(("apps/v1", "ReplicaSet", env.namespace, plan.replica_set_name(w.name, action.revision)))
        apply.apply(plan.replica_set(env, w, tpl, action.revision, action.replicas), written)
    elif isinstance(action, engine.SetWeight):
        apply.apply(plan.service(env, w, "stable", action.stable), written)
        apply.apply(plan.service(env, w, "canary", action.canary), written)
        router.set_weight(traffic, action.weight)
    elif isinstance(action, engine.SwitchActive):
        apply.apply(plan.service(env, w, "", action.revision), written)
    elif isinstance(action, engine.SwitchPreview):
        apply.apply(plan.service(env, w, "preview", action.revision), written)
    elif isinstance(action, engine.DeleteReplicaSet):
        name = plan.replica_set_name(w.name, action.revision)
        try:
            client.AppsV1Api(api()).delete_namespaced_replica_set(name, env.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
        written.forget(("apps/v1", "ReplicaSet", env.namespace, name))
    elif isinstance(action, engine.Emit):
        result.events.append(Transition(action.warning, action.reason, f"{w.name}: {action.message}"))


def _template_of(env: EnvironmentRef, w: Workload, revision: str) -> dict[str, Any] | None:
    """An older revision's pod template, as its ReplicaSet holds it (for undo and scale-down)."""
    try:
        rs = client.AppsV1Api(api()).read_namespaced_replica_set(plan.replica_set_name(w.name, revision),
                                                                 env.namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    if rs.spec is None:
        return None
    tpl: dict[str, Any] = api().sanitize_for_serialization(rs.spec.template)  # type: ignore[no-untyped-call]
    metadata = dict(tpl.get("metadata", {}))
    labels = dict(metadata.get("labels", {}))
    labels.pop(plan.LABEL_REVISION, None)
    return {**tpl, "metadata": {**{k: v for k, v in metadata.items() if k == "annotations"}, "labels": labels}}
