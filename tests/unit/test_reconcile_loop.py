"""The generic reconcile loop (act, _aws, _retire, implemented) over an in-memory cloud: no server, no AWS.

FakeCloud implements the ResourceClient interface honestly: it holds resources by kind and name with their
tags and parameters, and reports them the way every aenv client does (owner tags, drift, readiness)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from aenv import aws, reconcile
from aenv.api import EnvironmentSpec, effective
from aenv.api.spec import DeletionPolicy
from aenv.api.status import ManagedResource
from aenv.aws import session
from aenv.aws.component import AwsTarget, Classified, Registry, ResourceClient
from aenv.aws.errors import AwsError, TransientError
from aenv.dataplane import logins
from aenv.memory import Memories
from aenv.naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan.environment import desired_resources, requested
from aenv.plan.types import Desired, Observation, Ref

NAMESPACE, NAME, UID = "analytics", "defi", "uid-1"
ENV = EnvironmentRef(NAMESPACE, NAME, UID)
TARGET = AwsTarget("us-east-1")

QUEUES_AND_TOPICS: dict[str, Any] = {
    "tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
    "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 5}}],
    "topics": [{"name": "alerts", "subscribers": ["events"]}],
}
EXAMPLE = Path(__file__).parents[2] / "examples" / "env-prod.yaml"
KINDS = ("kms.key", "sqs.queue", "sns.topic", "sqs.queue_policy", "sns.subscription")


@dataclass
class Held:
    tags: dict[str, str]
    params: dict[str, Any]
    outputs: dict[str, Any]
    ready: bool = True


@dataclass
class FakeCloud:
    """Resources by (kind, name). `fail` maps (kind, name or "*", method) to the exception that call raises;
    `pending` names resources that exist but are not ready yet."""

    held: dict[tuple[str, str], Held] = field(default_factory=dict)
    fail: dict[tuple[str, str, str], Callable[[], Exception]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def registry(self, kinds: tuple[str, ...] = KINDS) -> Registry:
        return Registry({kind: (lambda _target, kind=kind: FakeClient(self, kind)) for kind in kinds})

    def put(self, kind: str, name: str, env: EnvironmentRef, component: str = "queues", **params: Any) -> None:
        self.held[(kind, name)] = Held(tags=env.tags(component), params=dict(params), outputs=_outputs(kind, name))


# Kinds AWS does not tag take their owner from the resource they belong to, as the real clients do.
PARENTS: dict[str, Callable[[str, Held], tuple[str, str]]] = {
    "sqs.queue_policy": lambda name, _held: ("sqs.queue", name),
    "sns.subscription": lambda _name, held: ("sns.topic", str(held.params["topic_arn"]).rsplit(":", 1)[1]),
}


def _outputs(kind: str, name: str) -> dict[str, Any]:
    return {"id": f"id-{name}", "arn": f"arn:aws:{kind}:{name}", "url": f"https://{kind}/{name}", "name": name}


class FakeClient:
    def __init__(self, cloud: FakeCloud, kind: str) -> None:
        self.cloud, self.kind = cloud, kind

    def _enter(self, method: str, desired: Desired) -> None:
        self.cloud.calls.append((method, self.kind, desired.name))
        for who in (desired.name, "*"):
            if (self.kind, who, method) in self.cloud.fail:
                raise self.cloud.fail[(self.kind, who, method)]()

    def observe(self, desired: Desired) -> Observation:
        self._enter("observe", desired)
        held = self.cloud.held.get((self.kind, desired.name))
        if held is None:
            return Observation.absent()
        tags = held.tags
        if self.kind in PARENTS:
            parent = self.cloud.held.get(PARENTS[self.kind](desired.name, held))
            tags = parent.tags if parent is not None else {}
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params and held.params != dict(desired.params):
            diff["params"] = (held.params, dict(desired.params))
        if any(tags.get(k) != v for k, v in desired.tags.items()) or TAG_RELEASED in tags:
            diff["tags"] = (dict(tags), dict(desired.tags))
        ready = held.ready and desired.name not in self.cloud.pending
        return Observation(exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=held.outputs,
                           owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
                           state="available" if ready else "creating")

    def create(self, desired: Desired) -> Observation:
        self._enter("create", desired)
        self.cloud.held[(self.kind, desired.name)] = Held(dict(desired.tags), dict(desired.params),
                                                          _outputs(self.kind, desired.name))
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        self._enter("update", desired)
        held = self.cloud.held[(self.kind, desired.name)]
        held.params = dict(desired.params)
        held.tags = {k: v for k, v in {**held.tags, **desired.tags}.items() if k != TAG_RELEASED}
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        self._enter("delete", desired)
        if policy == "Retain":
            self.cloud.held[(self.kind, desired.name)].tags[TAG_RELEASED] = "true"
        else:
            del self.cloud.held[(self.kind, desired.name)]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    fake = FakeCloud()
    monkeypatch.setitem(reconcile.MODES, "boto3", fake.registry())
    yield fake


def environment(spec: Mapping[str, Any] = QUEUES_AND_TOPICS, resources: list[ManagedResource] | None = None
                ) -> reconcile.Environment:
    status = {"resources": [r.model_dump(by_alias=True) for r in resources or []]}
    return reconcile.Environment(NAMESPACE, NAME, UID, 1, spec, status)


def aws_pass(env: reconcile.Environment) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]], bool, list[str]]:
    """One AWS pass: the results by component, the outputs, whether to retry, and the inventory's keys."""
    status, results, outputs, retry = reconcile._aws(env, env.spec())
    return {r.component: r for r in results}, outputs, retry, [r.key for r in status.resources]


def created(cloud: FakeCloud) -> list[str]:
    return [name for method, _kind, name in cloud.calls if method == "create"]


# --- act: observe, then create, update, adopt or report a conflict ------------------------------------------------

def desired(name: str = "aenv-analytics-defi-events", env: EnvironmentRef = ENV, **params: Any) -> Desired:
    return Desired(kind="sqs.queue", key="queue/events", component="queues", name=name, params=params,
                   tags=env.tags("queues"))


@pytest.mark.parametrize(("held_by", "held_params", "calls", "conflict"), [
    (None, None, ["observe", "create", "observe"], None),  # absent: created
    (ENV, {"visibility": 30}, ["observe"], None),  # ours and up to date: nothing to do
    (ENV, {"visibility": 10}, ["observe", "update", "observe"], None),  # ours, drifted: updated
    (EnvironmentRef(NAMESPACE, NAME, "uid-0"), {"visibility": 30}, ["observe", "update", "observe"], None),  # adopt
    (EnvironmentRef("other", "env", "uid-9"), {"visibility": 30}, ["observe"], "belongs to other/env"),
])
def test_act_decides_from_what_it_observes(held_by: EnvironmentRef | None, held_params: dict[str, Any] | None,
                                           calls: list[str], conflict: str | None) -> None:
    cloud = FakeCloud()
    d = desired(visibility=30)
    if held_by is not None:
        cloud.put("sqs.queue", d.name, held_by, **(held_params or {}))
    client: ResourceClient = FakeClient(cloud, "sqs.queue")
    observed, message = reconcile.act(ENV, d, client)
    assert [c[0] for c in cloud.calls] == calls
    if conflict is None:
        assert message is None and observed.exists and observed.up_to_date and observed.owner == UID
    else:
        assert message is not None and conflict in message
        assert cloud.held[("sqs.queue", d.name)].tags[TAG_UID] == "uid-9"  # another's resource is left alone


def test_a_create_that_finds_another_owner_is_a_conflict() -> None:
    """Someone took the name between the observe and the create: what the create reports must be ours."""
    cloud = FakeCloud()

    class Racing(FakeClient):
        def create(self, desired: Desired) -> Observation:
            cloud.put(self.kind, desired.name, EnvironmentRef("other", "env", "uid-9"))
            return self.observe(desired)

    _, message = reconcile.act(ENV, desired(), Racing(cloud, "sqs.queue"))
    assert message is not None and "belongs to other/env" in message


# --- one pass: ordering, waits on Ref, readiness --------------------------------------------------------------------

def test_a_pass_creates_in_dependency_order_and_resolves_every_ref(cloud: FakeCloud) -> None:
    by_component, outputs, retry, inventory = aws_pass(environment())
    order = created(cloud)
    spec = environment().spec()
    names = {d.key: d.name for d in desired_resources(ENV, spec, requested(spec))}
    assert order.index(names["kms/key"]) < order.index(names["queue/events/dead-letter"])
    assert order.index(names["queue/events/dead-letter"]) < order.index(names["queue/events"])
    assert order.index(names["topic/alerts"]) < order.index(names["topic/alerts/subscription/events"])
    assert not retry and {r.state for r in by_component.values()} == {"ready"}
    assert set(inventory) == set(names) == set(outputs)
    # Every Ref was replaced by the output it names.
    queue = cloud.held[("sqs.queue", names["queue/events"])]
    assert queue.params["kms_key_id"] == outputs["kms/key"]["id"]
    assert queue.params["dead_letter_arn"] == outputs["queue/events/dead-letter"]["arn"]
    assert not any(isinstance(v, Ref) for held in cloud.held.values() for v in held.params.values())


def test_a_ref_to_a_resource_without_outputs_waits_and_the_pass_retries(cloud: FakeCloud) -> None:
    spec = effective(EnvironmentSpec.model_validate(QUEUES_AND_TOPICS))
    key_name = next(d.name for d in desired_resources(ENV, spec, ["encryption"]))
    cloud.pending.add(key_name)  # the key exists but is still being made: it has no outputs yet
    by_component, outputs, retry, inventory = aws_pass(environment())
    assert retry and "kms/key" in inventory and "kms/key" not in outputs
    assert created(cloud) == [key_name]  # nothing that refers to the key was attempted
    assert by_component["encryption"].state == "progressing" and "creating" in by_component["encryption"].message
    assert by_component["queues"].state == "progressing"
    assert "queue/events waits for kms/key" in by_component["queues"].message
    cloud.pending.clear()
    by_component, _, retry, _ = aws_pass(environment())
    assert not retry and {r.state for r in by_component.values()} == {"ready"}


# --- errors: conflicts, AwsError, transient errors ------------------------------------------------------------------

def _throttled() -> Exception:
    return ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "CreateTopic")


@pytest.mark.parametrize(("failure", "state", "reason"), [
    (lambda: AwsError("AccessDenied", "not allowed"), "failed", "AccessDenied"),
    (lambda: TransientError("Throttling (HTTP 400): Rate exceeded"), "progressing", "Provisioning"),
    # What a client lets escape is classified by the registry's client: any client, not only aenv's own.
    (_throttled, "progressing", "Provisioning"),
    (lambda: EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com/"), "progressing",
     "Provisioning"),
    (lambda: ClientError({"Error": {"Code": "InvalidParameter", "Message": "bad"}}, "CreateTopic"), "failed",
     "InvalidParameter"),
])
def test_an_error_in_one_resource_is_that_component_s_condition_and_the_pass_goes_on(
        cloud: FakeCloud, failure: Callable[[], Exception], state: str, reason: str) -> None:
    cloud.fail[("sns.topic", "*", "create")] = failure
    by_component, outputs, retried, _ = aws_pass(environment())
    assert by_component["topics"].state == state and by_component["topics"].reason == reason
    assert retried  # the subscription waits for the topic's outputs
    assert by_component["encryption"].state == "ready" and by_component["queues"].state == "ready"
    assert "queue/events" in outputs and "topic/alerts" not in outputs
    assert not any(name.endswith("subscription") for name in created(cloud) if "alerts" in name)


def test_a_resource_that_cannot_be_read_keeps_the_outputs_of_the_pass_before(cloud: FakeCloud) -> None:
    """A passing fault takes nothing out of the connection Secret; a resource no longer wanted leaves it."""
    env = environment()
    _, before, _, _ = aws_pass(env)
    cloud.fail[("sqs.queue", "*", "observe")] = _throttled
    _, results, outputs, retry = reconcile._aws(env, env.spec(), {**before, "queue/gone": {"url": "u"}})
    assert retry and {r.component: r for r in results}["queues"].state == "progressing"
    assert outputs["queue/events"] == before["queue/events"] and "queue/gone" not in outputs


def test_a_resource_held_by_another_environment_is_a_conflict_left_alone(cloud: FakeCloud) -> None:
    spec = effective(EnvironmentSpec.model_validate(QUEUES_AND_TOPICS))
    topic = next(d for d in desired_resources(ENV, spec, ["topics"]) if d.kind == "sns.topic")
    other = EnvironmentRef("other", "env", "uid-9")
    cloud.put("sns.topic", topic.name, other)
    by_component, _, _, inventory = aws_pass(environment())
    assert by_component["topics"].state == "failed" and by_component["topics"].reason == "Conflict"
    assert "belongs to other/env" in by_component["topics"].message
    assert "topic/alerts" not in inventory
    assert cloud.held[("sns.topic", topic.name)].tags[TAG_UID] == "uid-9"
    assert not [c for c in cloud.calls if c[2] == topic.name and c[0] != "observe"]


# --- orphans: what left the spec is deleted per policy --------------------------------------------------------------

def orphan(cloud: FakeCloud, env: EnvironmentRef = ENV) -> ManagedResource:
    cloud.put("sqs.queue", "aenv-analytics-defi-old", env)
    return ManagedResource(kind="sqs.queue", key="queue/old", name="aenv-analytics-defi-old", component="queues")


@pytest.mark.parametrize(("policy", "remains", "released"), [
    ("Delete", False, False), ("Snapshot", False, False), ("Retain", True, True),
])
def test_a_resource_that_left_the_spec_is_retired_per_policy(cloud: FakeCloud, policy: str, remains: bool,
                                                             released: bool) -> None:
    old = orphan(cloud)
    by_component, _, _, inventory = aws_pass(environment({**QUEUES_AND_TOPICS, "deletionPolicy": policy}, [old]))
    assert "queue/old" not in inventory  # gone or retained: no longer aenv's to keep
    assert (("sqs.queue", old.name) in cloud.held) == remains
    if remains:
        assert (TAG_RELEASED in cloud.held[("sqs.queue", old.name)].tags) == released
    assert by_component["queues"].state == "ready"


def test_an_orphan_that_is_no_longer_ours_is_released_untouched(cloud: FakeCloud) -> None:
    old = orphan(cloud, EnvironmentRef("other", "env", "uid-9"))
    _, _, _, inventory = aws_pass(environment({**QUEUES_AND_TOPICS, "deletionPolicy": "Delete"}, [old]))
    assert "queue/old" not in inventory and ("sqs.queue", old.name) in cloud.held
    assert ("delete", "sqs.queue", old.name) not in cloud.calls


@pytest.mark.parametrize(("failure", "state"), [
    (lambda: TransientError("still in use"), "progressing"),
    (lambda: EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/"), "progressing"),
    (lambda: AwsError("AccessDenied", "not allowed"), "failed"),
])
def test_an_orphan_that_cannot_be_deleted_yet_stays_in_the_inventory(cloud: FakeCloud,
                                                                     failure: Callable[[], Exception],
                                                                     state: str) -> None:
    old = orphan(cloud)
    cloud.fail[("sqs.queue", old.name, "delete")] = failure
    by_component, _, retry, inventory = aws_pass(environment({**QUEUES_AND_TOPICS, "deletionPolicy": "Delete"}, [old]))
    assert "queue/old" in inventory and by_component["queues"].state == state
    assert retry == (state == "progressing")


def test_retire_deletes_in_reverse_order_and_reports_only_what_is_gone() -> None:
    cloud = FakeCloud()
    resources = []
    for n in ("a", "b", "c"):
        cloud.put("sqs.queue", n, ENV)
        resources.append(ManagedResource(kind="sqs.queue", key=f"queue/{n}", name=n, component="queues"))
    resources.append(ManagedResource(kind="apigatewayv2.api", key="gateway/api", name="api", component="gateway"))
    cloud.fail[("sqs.queue", "b", "delete")] = lambda: TransientError("busy")
    progress = reconcile._Progress(ENV)
    gone = reconcile._retire(ENV, resources, cloud.registry(), TARGET, "Delete", progress)
    assert gone == {"queue/a", "queue/c"}
    assert [c[2] for c in cloud.calls if c[0] == "delete"] == ["c", "b", "a"]
    assert progress.transient and "b: AWS is busy" in progress.waiting["queues"][0]
    assert progress.failures["gateway"][0] == "NotImplemented"  # this mode has no client for the kind


def test_retire_deletes_a_resource_only_once_what_refers_to_it_is_gone() -> None:
    cloud = FakeCloud()
    resources = []
    for n in ("key", "queue", "other"):
        cloud.put("sqs.queue", n, ENV)
        resources.append(ManagedResource(kind="sqs.queue", key=f"queue/{n}", name=n, component="queues"))
    dependents = {"queue/key": {"queue/queue"}}
    cloud.fail[("sqs.queue", "queue", "delete")] = lambda: TransientError("busy")
    progress = reconcile._Progress(ENV)
    gone = reconcile._retire(ENV, resources, cloud.registry(), TARGET, "Delete", progress, dependents)
    assert gone == {"queue/other"}
    assert [c[2] for c in cloud.calls if c[0] == "delete"] == ["other", "queue"]  # not the key: its user is there
    assert any("key is deleted after queue/queue" in w for w in progress.waiting["queues"])

    del cloud.fail[("sqs.queue", "queue", "delete")]  # the next pass: the user goes, then the key in the same pass
    gone = reconcile._retire(ENV, resources[:2], cloud.registry(), TARGET, "Delete", reconcile._Progress(ENV),
                             dependents)
    assert gone == {"queue/queue", "queue/key"}


# --- the implemented() rule -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kinds", "implemented"), [
    (KINDS, {"encryption": True, "queues": True, "topics": True, "workloads": True}),
    # A component counts only when every one of its kinds has a client.
    (("kms.key", "sqs.queue", "sns.topic"), {"encryption": True, "queues": True, "topics": False, "workloads": True}),
    ((), {"encryption": False, "queues": False, "topics": False, "workloads": True}),  # mode ack today
])
def test_a_component_is_implemented_when_every_kind_it_needs_has_a_client(kinds: tuple[str, ...],
                                                                          implemented: dict[str, bool]) -> None:
    spec = effective(EnvironmentSpec.model_validate(QUEUES_AND_TOPICS))
    components = requested(spec)
    desired_list = desired_resources(ENV, spec, components)
    clients = FakeCloud().registry(kinds)
    assert {c: reconcile.implemented(c, desired_list, clients) for c in implemented} == implemented


def test_a_component_not_implemented_is_not_built_and_says_so(cloud: FakeCloud,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(reconcile.MODES, "boto3", cloud.registry(("kms.key", "sqs.queue", "sns.topic")))
    by_component, _, retry, inventory = aws_pass(environment())
    assert by_component["topics"].state == "not-implemented" and by_component["topics"].reason == "NotImplemented"
    assert by_component["queues"].state == "ready" and not retry
    assert "topic/alerts" not in inventory and not [c for c in cloud.calls if c[1] == "sns.topic"]


def test_mode_ack_builds_through_its_own_registry_and_names_what_it_lacks(cloud: FakeCloud,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(reconcile.MODES, "ack", cloud.registry(KINDS))  # the kinds mode ack builds today
    monkeypatch.setitem(reconcile.MODES, "boto3", FakeCloud().registry())  # never asked in mode ack
    spec = {**QUEUES_AND_TOPICS, "aws": {"region": "us-east-1", "mode": "ack"}, "secrets": {"apiKeys": ["partners"]}}
    by_component, outputs, _, inventory = aws_pass(environment(spec))
    assert {c: r.state for c, r in by_component.items()} == {
        "encryption": "ready", "secrets": "not-implemented", "queues": "ready", "topics": "ready"}
    assert "queue/events" in outputs and not any(k.startswith("secret/") for k in inventory)


# --- every boto3 client: a dropped connection is a TransientError, whatever the call -------------------------------

def every_kind() -> list[Desired]:
    """One lookup-only desired (as when deleting) per kind, from the example that asks for every component."""
    spec = effective(EnvironmentSpec.model_validate(yaml.safe_load(EXAMPLE.read_text())["spec"]))
    by_kind = {d.kind: d for d in desired_resources(ENV, spec, requested(spec))}
    return [Desired(kind=d.kind, key=d.key, component=d.component, name=d.name) for d in by_kind.values()]


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsTarget]:
    """An endpoint nothing listens on, and clients that try once: every call fails to connect at once."""
    monkeypatch.setattr(session, "_CONFIG", session._CONFIG.merge(
        Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1)))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session._client.cache_clear()
    yield AwsTarget("us-east-1", "http://127.0.0.1:9")
    session._client.cache_clear()


def test_a_dropped_connection_in_any_client_is_a_transient_error(unreachable: AwsTarget) -> None:
    lookups = every_kind()
    assert {d.kind for d in lookups} == set(aws.CLIENTS.factories)
    for d in lookups:
        client = aws.CLIENTS.factories[d.kind](unreachable)  # as made, not only as the registry hands it out
        assert isinstance(client, Classified), d.kind
        if d.kind == logins.KIND:  # in the database, not in AWS: a lookup to retire it needs no connection
            assert not client.observe(d).exists
            continue
        with pytest.raises(TransientError, match="Could not connect"):
            client.observe(d)


# --- finalize: everything goes per deletionPolicy, and the finalizer is held until AWS confirms ----------------------

@pytest.mark.parametrize(("policy", "remains"), [("Delete", False), ("Retain", True)])
def test_finalize_retires_everything_including_what_only_the_plan_knows(cloud: FakeCloud, policy: str,
                                                                       remains: bool) -> None:
    spec = {**QUEUES_AND_TOPICS, "deletionPolicy": policy}
    _, _, _, inventory = aws_pass(environment(spec))
    forgotten = "topic/alerts"  # made, but a crash kept it out of the recorded inventory
    recorded = [r for r in reconcile._aws(environment(spec), environment(spec).spec())[0].resources
                if r.key != forgotten]
    assert len(recorded) == len(inventory) - 1
    outcome = reconcile.finalize(environment(spec, recorded), "2026-01-01T00:00:00Z", Memories()(UID))
    assert outcome.done and outcome.status["phase"] == "Deleting" and not outcome.status.get("resources")
    assert len(cloud.held) == (len(inventory) if remains else 0)
    if remains:  # every resource that carries tags says it was released
        assert all(TAG_RELEASED in held.tags for held in cloud.held.values() if TAG_UID in held.tags)


def test_finalize_holds_on_while_aws_has_not_confirmed(cloud: FakeCloud) -> None:
    spec = {**QUEUES_AND_TOPICS, "deletionPolicy": "Delete"}
    recorded = reconcile._aws(environment(spec), environment(spec).spec())[0].resources
    cloud.fail[("sqs.queue", "*", "delete")] = lambda: TransientError("the queue is still in use")
    outcome = reconcile.finalize(environment(spec, list(recorded)), "2026-01-01T00:00:00Z", Memories()(UID))
    assert not outcome.done and outcome.retry_after is not None
    kept = {r["key"] for r in outcome.status["resources"]}
    assert {"queue/events", "queue/events/dead-letter"} <= kept and "topic/alerts" not in kept
    queues = next(c for c in outcome.status["conditions"] if c["type"] == "QueuesReady")
    assert queues["reason"] == "Deleting" and "AWS is busy" in queues["message"]


def test_the_first_pods_wait_for_every_component_and_later_ones_for_none() -> None:
    from aenv.api.status import WorkloadStatus
    from aenv.plan.conditions import ComponentResult

    results = [ComponentResult("cache", "ready", "Provisioned", ""), ComponentResult("secrets", "progressing", "", ""),
               ComponentResult("backups", "not-implemented", "", ""), ComponentResult("database", "failed", "", ""),
               ComponentResult("spec", "failed", "InvalidSpec", "", has_condition=False)]
    assert reconcile._first_start_waits_for([], results) == ["database", "secrets"]
    assert reconcile._first_start_waits_for([WorkloadStatus(name="api")], results) == []  # a first rollout goes on
    assert reconcile._first_start_waits_for([WorkloadStatus(name="api", stable="abc")], results) == []
    assert reconcile._first_start_waits_for([WorkloadStatus(name="api", canary="abc")], results) == []
    assert reconcile._first_start_waits_for([], results[:1]) == []
