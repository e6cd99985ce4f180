"""observe -> plan -> act -> status, for one environment. The loop is generic over components."""

from __future__ import annotations

import logging
import os
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import urllib3
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from . import ack, aws, dataplane
from .api import EnvironmentSpec, EnvironmentStatus, effective
from .api.duration import parse_duration
from .api.spec import DeletionPolicy
from .api.status import Condition, ManagedResource, QueueStatus, WorkloadStatus
from .aws.component import AwsTarget, Registry
from .aws.errors import AwsError, TransientError
from .aws.listing import expire_listings
from .cost import estimate as cost
from .dataplane import logins
from .drift import watch as drift
from .drift.health import CONDITION as DRIFT_CONDITION
from .failures import describe_failure
from .kube import apply, connection_secret, workloads
from .memory import EnvironmentMemory
from .naming import EnvironmentRef
from .plan import conditions as cond
from .plan import connection, expiry, notifications
from .plan import secrets as secrets_plan
from .plan.actions import decide
from .plan.deletion import policy_for
from .plan.environment import BY_NAME, desired_resources, requested
from .plan.types import Desired, Observation

# Clients per aws.mode. ACK mode writes ACK resources (a kind missing from ack.CLIENTS is not built yet).
MODES: dict[str, Registry] = {"boto3": aws.CLIENTS, "ack": ack.CLIENTS}

PROGRESS_RETRY_SECONDS = 10.0
API_RETRY_SECONDS = 2.0  # the Kubernetes API server did not answer: it is restarting, or etcd is
T = TypeVar("T")
SECRET_MIN_LENGTH = 6  # shorter values (a port, a user name) are not credentials and would mask too much
log = logging.getLogger("aenv.reconcile")


@dataclass(frozen=True)
class Outcome:
    status: dict[str, Any]  # the whole new status, wire form
    changed: bool  # whether it differs from the status the resource holds
    transitions: list[cond.Transition]
    retry_after: float | None = None  # AWS work is left that should not wait for the resync timer
    requeue_at: datetime | None = None  # a pass without AWS is due then (a rollout's next step)
    done: bool = True  # deletion: every resource is gone or retained
    expired: bool = False  # the environment is to delete itself (spec.ttl, spec.expiresAt)


@dataclass
class _Progress:
    """What one pass learned, per component."""

    env: EnvironmentRef
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # component -> (reason, message)
    waiting: dict[str, list[str]] = field(default_factory=dict)  # component -> what it waits for
    transient: bool = False

    def wait(self, component: str, what: str) -> None:
        self.waiting.setdefault(component, []).append(what)

    def fail(self, component: str, reason: str, message: str) -> None:
        self.failures.setdefault(component, (reason, message))

    def attempt(self, component: str, name: str, call: Callable[[], T]) -> T | None:
        """call(), with AWS's refusal recorded: an error a user must fix fails the component, a transient one
        makes it wait for the retry. None when the call did not complete."""
        try:
            return call()
        except AwsError as e:
            self.fail(component, e.code, f"{name}: {e}")
        except TransientError as e:
            self.transient = True
            self.wait(component, f"{name}: AWS is busy, retrying ({e})")
        return None

    def result(self, component: str, built: bool, deleting: bool = False) -> cond.ComponentResult:
        if not built:
            return cond.ComponentResult(component, "not-implemented", "NotImplemented",
                                        f"aenv does not provision {component} yet; not counted toward Ready")
        if component in self.failures:
            reason, message = self.failures[component]
            return cond.ComponentResult(component, "failed", reason, message)
        if deleting:
            if component in self.waiting:
                return cond.ComponentResult(component, "deleting", "Deleting", "; ".join(self.waiting[component]))
            return cond.ComponentResult(component, "deleting", "Deleted", "deleted or retained per deletionPolicy")
        if component in self.waiting:
            return cond.ComponentResult(component, "progressing", "Provisioning", "; ".join(self.waiting[component]))
        return cond.ComponentResult(component, "ready", "Provisioned", f"{component} provisioned")


class Environment:
    """One AnalyticsEnvironment as read from the API server."""

    def __init__(self, namespace: str, name: str, uid: str, generation: int,
                 spec: Mapping[str, Any], status: Mapping[str, Any],
                 annotations: Mapping[str, str] | None = None, created: str | None = None) -> None:
        self.ref = EnvironmentRef(namespace, name, uid)
        self.generation = generation
        self.created = created  # metadata.creationTimestamp (RFC 3339); None for one that is not created yet
        self.annotations = dict(annotations or {})
        self.raw_spec = dict(spec)
        self.raw_status = {k: v for k, v in status.items() if k in _STATUS_FIELDS}
        self.status = EnvironmentStatus.model_validate(self.raw_status)

    def spec(self) -> EnvironmentSpec:
        return effective(EnvironmentSpec.model_validate(self.raw_spec))


_STATUS_FIELDS = {f.alias or n for n, f in EnvironmentStatus.model_fields.items()}


def stored_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """A status as aenv would write it (kopf's own keys left out), to compare with an Outcome's."""
    return EnvironmentStatus.model_validate({k: v for k, v in status.items() if k in _STATUS_FIELDS}).wire()


def clients_for(spec: EnvironmentSpec) -> tuple[Registry, AwsTarget]:
    return MODES[spec.aws.mode], AwsTarget(spec.aws.region, spec.aws.endpoint)


def implemented(component: str, desired: list[Desired], clients: Registry) -> bool:
    c = BY_NAME[component]
    return c.in_cluster or (c.plan is not None and all(d.kind in clients for d in desired if d.component == component))


def act(env: EnvironmentRef, d: Desired, client: aws.ResourceClient) -> tuple[Observation, str | None]:
    """Observe, then create, update or adopt. Returns the observation and a conflict message, if any."""
    observed = client.observe(d)
    action = decide(env, d, observed)
    if action.kind == "create":
        observed = client.create(d)
        # Someone may have taken the name since the listing: what the create found must be ours.
        action = decide(env, d, observed)
    elif action.kind in ("update", "adopt"):
        observed = client.update(d, observed)
    return observed, action.message if action.kind == "conflict" else None


def _finish(env: Environment, status: EnvironmentStatus, results: list[cond.ComponentResult],
            now: str, retry: bool, deleting: bool = False, done: bool = True) -> Outcome:
    new_conditions = cond.conditions(results, env.status.conditions, env.generation, now, deleting)
    status = replace_status(status, observed_generation=env.generation, phase=cond.phase(results, deleting),
                            conditions=new_conditions)
    wire = status.wire()
    delay = PROGRESS_RETRY_SECONDS * random.uniform(0.8, 1.2) if retry else None
    return Outcome(status=wire, changed=wire != env.status.wire(), done=done, retry_after=delay,
                   transitions=cond.transitions(env.status.conditions, new_conditions))


def replace_status(status: EnvironmentStatus, **changes: Any) -> EnvironmentStatus:
    return status.model_copy(update=changes)


def _failed(env: Environment, error: Exception, now: str, memory: EnvironmentMemory, deleting: bool) -> Outcome:
    """A failure aenv did not foresee (a refusal from the API server, a bug): Ready=False with reason
    ReconcileError and a Warning Event, the other conditions as the last pass left them, and a retry."""
    if api_unavailable(error):
        # Nothing to tell the user that the status could carry (it cannot be written now, and a stale error
        # written once the API is back would be false): the status stays as it is, and the pass is retried soon.
        log.warning("%s: the Kubernetes API did not answer (%s); retrying", env.ref.key, type(error).__name__)
        return Outcome(status=env.status.wire(), changed=False, transitions=[], done=False,
                       retry_after=API_RETRY_SECONDS * random.uniform(0.8, 1.2))
    message = describe_failure(error, _secret_values(memory.outputs or {}))
    log.error("%s: the pass failed: %s\n%s", env.ref.key, message, "".join(traceback.format_tb(error.__traceback__)))
    results = cond.results_from(env.status.conditions, cond.components_of(env.status.conditions))
    results.append(cond.ComponentResult("reconcile", "failed", "ReconcileError", message, has_condition=False))
    return _finish(env, env.status, results, now, retry=True, deleting=deleting, done=False)


def api_unavailable(error: Exception) -> bool:
    """The Kubernetes API server was unreachable or answered that it cannot serve now (429, 502-504). A 500 (a
    failing admission webhook, say) is a failure to report."""
    if isinstance(error, urllib3.exceptions.HTTPError):  # refused, reset, timed out: no answer at all
        return True
    return isinstance(error, ApiException) and error.status in (0, 429, 502, 503, 504)


def _secret_values(outputs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [v for key, out in outputs.items() if key.startswith("secret/")
            for v in out.values() if isinstance(v, str) and len(v) >= SECRET_MIN_LENGTH]


def _invalid(env: Environment, error: ValidationError, now: str) -> Outcome:
    fields = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    result = cond.ComponentResult("spec", "failed", "InvalidSpec", fields, has_condition=False)
    return _finish(env, env.status, [result], now, retry=False)


def reconcile(env: Environment, now: str, memory: EnvironmentMemory, aws_pass: bool = True,
              only: frozenset[str] | None = None) -> Outcome:
    """One pass. Without `aws_pass` (a rollout step) AWS is not observed: its components keep their
    conditions and the outputs of the last pass serve the workloads.
    With `only` (the keys of the resources CloudTrail events named) the AWS pass observes those alone, when the
    environment was ready; else all. An expired environment does nothing but say
    so: the caller deletes it."""
    spec = _spec_or_none(env)
    expires = _expiry(env, spec, now) if spec is not None else None
    try:
        if expires is not None and expires.expired:
            outcome = Outcome(status=env.status.wire(), changed=False, transitions=[])
        else:
            outcome = _reconcile(env, now, memory, aws_pass, only)
    except Exception as e:  # noqa: BLE001 - whatever fails, the status says so within this pass
        outcome = _failed(env, e, now, memory, deleting=False)
    return _guardrails(env, spec, outcome, expires, memory, now) if spec is not None else outcome


def _spec_or_none(env: Environment) -> EnvironmentSpec | None:
    try:
        return env.spec()
    except ValidationError:
        return None


def max_expiry_extension() -> timedelta:
    """AENV_MAX_EXPIRY_EXTENSION; a value that is no duration allows no extension at all (and says so in the log)."""
    text = os.environ.get("AENV_MAX_EXPIRY_EXTENSION", "168h")
    try:
        return parse_duration(text)
    except ValueError as e:
        log.error("AENV_MAX_EXPIRY_EXTENSION: %s: no extension is allowed", e)
        return timedelta(0)


def _expiry(env: Environment, spec: EnvironmentSpec, now: str) -> expiry.Expiry:
    at = _time(now)
    return expiry.decide(spec, _time(env.created) if env.created else at, env.status.expires_at, env.status.expiry,
                         env.annotations.get(expiry.EXTEND_ANNOTATION), at, max_expiry_extension())


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _guardrails(env: Environment, spec: EnvironmentSpec, outcome: Outcome, expires: expiry.Expiry | None,
                memory: EnvironmentMemory, now: str) -> Outcome:
    """The pass's outcome with the expiry (status, Events, the wake-up it needs) and the notifications it made
    (the outbox, and the NotificationsDelivered condition from the sender's verdicts)."""
    status = EnvironmentStatus.model_validate(outcome.status)
    events = list(outcome.transitions)
    requeue_at = outcome.requeue_at
    if expires is not None:
        status = replace_status(status, expires_at=expiry.format_time(expires.expires_at) if expires.expires_at
                                else None, expiry=expires.status)
        events += expires.events
        if expires.wake_at is not None and (requeue_at is None or expires.wake_at < requeue_at):
            requeue_at = expires.wake_at
    targets = notifications.delivery_targets(spec)
    if targets:
        ready = next((c.message for c in status.conditions if c.type == "Ready"), "")
        alarms = [record for record, _ in memory.alarm_events.values()]
        outbox = notifications.record(status.notifications, env.ref.uid, status.phase, ready, events, now, alarms)
        conditions = _delivery_condition(status.conditions, targets, memory.delivery, now, env.generation)
        events += cond.transitions(env.status.conditions, [c for c in conditions if c.type == notifications.CONDITION])
        status = replace_status(status, notifications=outbox, conditions=conditions)
    else:
        status = replace_status(status, notifications=None, conditions=[
            c for c in status.conditions if c.type != notifications.CONDITION])
    wire = status.wire()
    return replace(outcome, status=wire, changed=wire != env.status.wire(), transitions=events,
                   requeue_at=requeue_at, expired=expires is not None and expires.expired)


def _delivery_condition(previous: Sequence[Condition], targets: Sequence[str],
                        delivery: Mapping[str, str | None], now: str, generation: int) -> list[Condition]:
    """NotificationsDelivered: False naming each failing target (never its URL); kept as it was while the sender
    has no verdict yet (a restarted operator)."""
    failing = [f"{t}: {delivery[t]}" for t in targets if delivery.get(t)]
    if failing:
        return cond.with_condition(previous, notifications.CONDITION, False, "DeliveryFailed", "; ".join(failing),
                                   now, generation)
    if any(t in delivery for t in targets) or not any(c.type == notifications.CONDITION for c in previous):
        return cond.with_condition(previous, notifications.CONDITION, True, "Delivered",
                                   f"notifications reach {', '.join(targets)}", now, generation)
    return list(previous)


def _reconcile(env: Environment, now: str, memory: EnvironmentMemory, aws_pass: bool,
               only: frozenset[str] | None = None) -> Outcome:
    try:
        spec = env.spec()
    except ValidationError as e:
        return _invalid(env, e, now)
    outputs: Mapping[str, Mapping[str, Any]]
    # A pass without AWS serves the workloads from the last AWS pass's outputs; after a restart there are none
    # yet, and this pass observes AWS after all.
    if aws_pass or memory.outputs is None:
        targeted = only if only and memory.outputs is not None and _settled(env, spec) else None
        status, results, outputs, retry = _aws(env, spec, memory.outputs, targeted)
        memory.outputs = outputs
    else:
        status, outputs, retry = env.status, memory.outputs, False
        results = cond.results_from(env.status.conditions, [c for c in requested(spec) if c != "workloads"])
    data = connection.connection_data(spec, outputs)
    if aws_pass:
        results = _check_data_plane(spec, data, results, memory)
    # Every pass, not only the AWS ones: a Secret deleted by hand is written again from the last outputs.
    secret, failed = _write_connection_secret(env.ref, data, memory.written)
    status = replace_status(status, connection_secret=secret, cost=cost.status_of(spec))
    if failed is not None:
        results.append(failed)
    events: list[cond.Transition] = []
    requeue_at = None
    waiting = _first_start_waits_for(env.status.workloads, results)
    if spec.workloads and waiting:
        results.append(cond.ComponentResult("workloads", "progressing", "WaitingForDependencies",
                                            f"the first pods start once {', '.join(waiting)} are ready, so that "
                                            "they start with the whole connection Secret"))
    elif spec.workloads:
        rolled = workloads.reconcile(env.ref, spec, env.status.workloads, env.annotations, memory,
                                     datetime.fromisoformat(now.replace("Z", "+00:00")))
        results.append(rolled.component)
        status = replace_status(status, workloads=rolled.statuses)
        events, requeue_at = rolled.events, rolled.requeue_at
    outcome = _with_drift_condition(env, _finish(env, status, results, now, retry=retry), now)
    return replace(outcome, transitions=[*outcome.transitions, *events], requeue_at=requeue_at)


def _settled(env: Environment, spec: EnvironmentSpec) -> bool:
    """Every AWS component was ready at the last pass: then a pass may observe only what events named."""
    results = cond.results_from(env.status.conditions, [c for c in requested(spec) if c != "workloads"])
    return all(r.state in ("ready", "not-implemented") for r in results)


def _with_drift_condition(env: Environment, outcome: Outcome, now: str) -> Outcome:
    """DriftDetection: whether CloudTrail events reach aenv for the environment's account and region, and so how
    often it is swept (drift/health.py). Not counted toward Ready; absent where aenv does not watch events."""
    verdict = drift.watches.verdict(env.raw_spec)
    if verdict is None:
        return outcome
    status = EnvironmentStatus.model_validate(outcome.status)
    conditions = cond.set_condition(status.conditions, DRIFT_CONDITION, verdict.status, verdict.reason,
                                    verdict.message, now, env.generation)
    wire = replace_status(status, conditions=conditions).wire()
    changes = cond.transitions(env.status.conditions, [c for c in conditions if c.type == DRIFT_CONDITION])
    return replace(outcome, status=wire, changed=wire != env.status.wire(),
                   transitions=[*outcome.transitions, *changes])


def _first_start_waits_for(workloads: Sequence[WorkloadStatus], results: Sequence[cond.ComponentResult]) -> list[str]:
    """Before the workloads were ever rolled out, the components still coming (or failed): pods started earlier
    would miss endpoints and credentials, and each that arrived later would roll them again. Once a pass has rolled
    them (a status per workload), never: their rollouts go on whatever the components do."""
    if workloads:
        return []
    return sorted(r.component for r in results if r.state not in ("ready", "not-implemented")
                  and r.component != "workloads" and r.has_condition)


def _aws(env: Environment, spec: EnvironmentSpec, previous: Mapping[str, Mapping[str, Any]] | None = None,
         only: frozenset[str] | None = None,
         ) -> tuple[EnvironmentStatus, list[cond.ComponentResult], dict[str, Mapping[str, Any]], bool]:
    """Observe and act on every AWS resource and retire what left the spec. A resource still wanted whose outputs
    this pass could not read (a failed call, a change in progress) keeps those of the pass before (`previous`):
    a passing fault must not take endpoints and credentials out of the connection Secret, nor roll the workloads.
    With `only`, just those resources (by key) are observed, afresh; the others keep the outputs of the pass before
    and nothing is retired."""
    clients, target = clients_for(spec)
    components = requested(spec)
    desired = secrets_plan.with_rotation_requests(desired_resources(env.ref, spec, components), env.annotations)
    if not dataplane.Settings.from_environ().enabled:  # an operator outside the VPC: the master user serves
        desired = [d for d in desired if d.kind != logins.KIND]
    if spec.cache is not None or spec.database is not None:
        desired = secrets_plan.with_credentials_in_use(desired, workloads.credentials_in_use(env.ref))
    progress = _Progress(env.ref)
    outputs: dict[str, Mapping[str, Any]] = {}
    inventory = {r.key: r for r in env.status.resources}

    for d in desired:
        if not implemented(d.component, desired, clients):
            continue
        if only is not None and d.key not in only:
            if previous and d.key in previous:  # what a later resource's parameters refer to
                outputs[d.key] = previous[d.key]
            continue
        if only is not None:
            expire_listings(clients.get(d.kind, target))
        resolved = d.resolve(outputs)
        if resolved is None:
            missing = sorted({k for k in d.depends_on if k not in outputs})
            progress.wait(d.component, f"{d.key} waits for {', '.join(missing)}")
            continue
        acted = progress.attempt(d.component, d.name, partial(act, env.ref, resolved, clients.get(d.kind, target)))
        if acted is None:
            continue
        observed, conflict = acted
        if conflict:
            progress.fail(d.component, "Conflict", conflict)
            continue
        if observed.exists:
            inventory[d.key] = ManagedResource(kind=d.kind, key=d.key, name=d.name, component=d.component)
        if observed.ready:
            outputs[d.key] = observed.outputs
        else:
            progress.wait(d.component, f"{d.name} is {observed.state or 'not ready'}")

    for d in desired:
        if d.key not in outputs and previous and d.key in previous:
            outputs[d.key] = previous[d.key]
    wanted = {d.key for d in desired}
    orphans = [r for k, r in inventory.items() if k not in wanted and only is None]
    policy: DeletionPolicy = spec.deletion_policy or "Snapshot"
    gone = _retire(env.ref, orphans, clients, target, policy, progress, tier=spec.tier)
    kept = [r for k, r in inventory.items() if k not in gone]

    results = [progress.result(c, implemented(c, desired, clients)) for c in components if c != "workloads"]
    status = replace_status(env.status, resources=kept, queues=_queue_status(spec, outputs))
    return status, results, outputs, bool(progress.waiting) or progress.transient


def _retire(env: EnvironmentRef, resources: list[ManagedResource], clients: Registry,
            target: AwsTarget, policy: DeletionPolicy, progress: _Progress,
            dependents: Mapping[str, set[str]] | None = None, tier: str | None = None) -> set[str]:
    """Delete (or release, for Retain) resources, each once those that refer to it (`dependents`, by key) are gone
    or retained: a subnet group outlives its database, a key what it encrypts (in mode ack a CR refers to the CRs
    it depends on, and ACK cannot delete a CR whose references no longer resolve). The keys AWS confirms gone or
    retained."""
    done: set[str] = set()
    present = {r.key for r in resources}
    for r in reversed(resources):
        component = r.component
        waiting = sorted(k for k in (dependents or {}).get(r.key, ()) if k in present and k not in done)
        if waiting:
            progress.wait(component, f"{r.name} is deleted after {', '.join(waiting)}")
            continue
        if r.kind not in clients:
            progress.fail(component, "NotImplemented", f"{r.name}: aenv cannot delete {r.kind} in this mode")
            continue
        client = clients.get(r.kind, target)
        # With the environment's tags, so that a client can look in its namespace only (mode ack, namespaced install)
        lookup = Desired(kind=r.kind, key=r.key, component=component, name=r.name, tags=env.tags(component))
        kept_as = policy_for(r.kind, policy, tier)

        def retire(client: aws.ResourceClient = client, lookup: Desired = lookup,
                   policy: DeletionPolicy = kept_as) -> bool:
            """True once the resource is gone, retained, or not ours."""
            observed = client.observe(lookup)
            if observed.exists and observed.owner_environment == env.key:
                client.delete(lookup, observed, policy)
                if policy != "Retain":
                    observed = client.observe(lookup)
            return not (observed.exists and observed.owner_environment == env.key and policy != "Retain")

        gone = progress.attempt(component, r.name, retire)
        if gone:
            done.add(r.key)
        elif gone is not None:
            progress.wait(component, f"{r.name} is being deleted")
    return done


def _check_data_plane(spec: EnvironmentSpec, data: Mapping[str, str], results: list[cond.ComponentResult],
                      memory: EnvironmentMemory) -> list[cond.ComponentResult]:
    """Ready stores are also checked by connecting with the connection Secret's credentials (aenv/dataplane)."""
    settings = dataplane.Settings.from_environ()
    ready = {r.component for r in results if r.state == "ready"}
    found = [t for t in dataplane.targets(spec, data) if t.component in ready]
    if not settings.enabled or not found:
        return results
    return dataplane.judged(results, dataplane.check(found, dataplane.probes(), settings, memory.data_plane))


def _write_connection_secret(env: EnvironmentRef, data: Mapping[str, str],
                             written: apply.Written) -> tuple[str | None, cond.ComponentResult | None]:
    """The Secret's name for the status, and a failed result when it cannot be written."""
    name = connection.secret_name(env)
    try:
        connection_secret.ensure(env, name, data, written)
    except connection_secret.SecretTaken as e:
        return None, cond.ComponentResult("connection", "failed", "SecretTaken", str(e))
    return name, None


def _queue_status(spec: EnvironmentSpec, outputs: Mapping[str, Mapping[str, Any]]) -> list[QueueStatus]:
    out = []
    for q in spec.queues:
        main, dlq = outputs.get(f"queue/{q.name}"), outputs.get(f"queue/{q.name}/dead-letter", {})
        if main:
            out.append(QueueStatus(name=q.name, url=main["url"], arn=main["arn"],
                                   dead_letter_url=dlq.get("url"), dead_letter_arn=dlq.get("arn")))
    return out


def finalize(env: Environment, now: str, memory: EnvironmentMemory) -> Outcome:
    """Delete everything per deletionPolicy; done once AWS confirms each resource gone or retained."""
    try:
        return _finalize(env, now)
    except Exception as e:  # noqa: BLE001 - whatever fails, the status says so within this pass
        return _failed(env, e, now, memory, deleting=True)


def _finalize(env: Environment, now: str) -> Outcome:
    try:
        spec: EnvironmentSpec | None = env.spec()
    except ValidationError:
        spec = None  # still delete what the inventory holds
    if spec is None:
        raw_aws = env.raw_spec.get("aws", {})
        target = AwsTarget(raw_aws.get("region", "us-east-1"), raw_aws.get("endpoint"))
        clients = MODES.get(raw_aws.get("mode", "boto3"), MODES["ack"])
        policy: DeletionPolicy = env.raw_spec.get("deletionPolicy", "Snapshot")  # the safe choice
        components: list[str] = []
        desired: list[Desired] = []
    else:
        clients, target = clients_for(spec)
        policy = spec.deletion_policy or "Snapshot"
        components = requested(spec)
        desired = desired_resources(env.ref, spec, components)
    recorded = {r.key: r for r in env.status.resources}
    # In the plan's order, so that retiring goes in reverse dependency order (a topic after its subscriptions),
    # and with what only the plan knows: a crash between create and status write leaves such a resource.
    inventory = {d.key: recorded.get(d.key) or ManagedResource(kind=d.kind, key=d.key, name=d.name,
                                                                component=d.component)
                 for d in desired if implemented(d.component, desired, clients)}
    inventory = {**{k: r for k, r in recorded.items() if k not in inventory}, **inventory}
    dependents: dict[str, set[str]] = {}
    for d in desired:
        for key in d.depends_on:
            dependents.setdefault(key, set()).add(d.key)
    progress = _Progress(env.ref)
    tier = spec.tier if spec is not None else env.raw_spec.get("tier")
    gone = _retire(env.ref, list(inventory.values()), clients, target, policy, progress, dependents, tier)
    kept = [r for k, r in inventory.items() if k not in gone]
    results = [progress.result(c, implemented(c, desired, clients), deleting=True) for c in components]
    status = replace_status(env.status, resources=kept, queues=env.status.queues if kept else [])
    return _finish(env, status, results, now, retry=bool(kept), deleting=True, done=not kept)
