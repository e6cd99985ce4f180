"""What aenv remembers of the objects it wrote, and how a reported change is judged: no server needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aenv.api.rollout_state import RolloutState
from aenv.failures import describe_failure
from aenv.kube import owned
from aenv.kube.apply import Written, key_of
from aenv.memory import Memories
from aenv.rollouts import engine
from aenv.rollouts.traffic.replica_ratio import ReplicaRatioRouter


def obj(name: str, owner: str = "uid-1", generation: int | None = None, rv: str = "1",
        kind: str = "Service") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "resourceVersion": rv,
                            "ownerReferences": [{"uid": owner, "controller": True}]}
    if generation is not None:
        meta["generation"] = generation
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_an_object_unchanged_since_aenv_wrote_it_is_not_written_again() -> None:
    written, svc = Written(), obj("web")
    written.remember(key_of(svc), "d1", svc)
    assert written.unchanged(key_of(svc), "d1")
    assert not written.unchanged(key_of(svc), "d2")  # the manifest changed
    assert not written.observed(svc, deleted=False)  # the watch reports aenv's own write
    assert written.unchanged(key_of(svc), "d1")


def test_a_deletion_forgets_the_object() -> None:
    written, svc = Written(), obj("web")
    written.remember(key_of(svc), "d1", svc)
    assert written.observed(svc, deleted=True)
    assert not written.unchanged(key_of(svc), "d1")


def test_an_edit_by_someone_else_forgets_the_object() -> None:
    written = Written()
    written.remember(key_of(obj("web")), "d1", obj("web", rv="1"))
    assert written.observed(obj("web", rv="2"), deleted=False)
    assert not written.unchanged(key_of(obj("web")), "d1")
    assert not written.observed(obj("web", rv="3"), deleted=False)  # forgotten: the next pass writes it


def test_status_updates_do_not_count_for_kinds_with_a_generation() -> None:
    written, rs = Written(), obj("web-abc", generation=3, rv="10", kind="ReplicaSet")
    written.remember(key_of(rs), "d1", rs)
    assert not written.observed(obj("web-abc", generation=3, rv="11", kind="ReplicaSet"), deleted=False)
    assert written.observed(obj("web-abc", generation=4, rv="12", kind="ReplicaSet"), deleted=False)


def test_a_deleted_object_aenv_has_not_written_since_it_started_still_counts() -> None:
    assert Written().observed(obj("never-written"), deleted=True)
    assert not Written().observed(obj("never-written"), deleted=False)


def test_a_change_wakes_the_environment_that_owns_the_object_and_no_other() -> None:
    memories = Memories()
    mine, other = memories("uid-1"), memories("uid-2")
    svc = obj("web", owner="uid-1")
    mine.written.remember(key_of(svc), "d1", svc)
    kind = next(k for k in owned.OWNED if k.kind == "Service")
    assert owned.changed(memories, kind, obj("web", owner="uid-1", rv="2"), deleted=False) == [mine]
    assert owned.changed(memories, kind, obj("gone", owner="uid-2"), deleted=True) == [other]
    assert owned.changed(memories, kind, obj("web", owner="uid-3"), deleted=True) == []  # not an environment here


def test_a_change_to_a_routing_object_wakes_every_environment_routed_through_it() -> None:
    memories = Memories()
    owned.route_through(memories("uid-1"), {("Ingress", "ns", "public")})
    owned.route_through(memories("uid-2"), {("Ingress", "ns", "public")})
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "public", "namespace": "ns", "resourceVersion": "5"}}
    kind = next(k for k in owned.ROUTES if k.kind == "Ingress")
    assert {m.uid for m in owned.changed(memories, kind, ingress, deleted=False)} == {"uid-1", "uid-2"}
    memories.forget("uid-1")
    assert [m.uid for m in owned.changed(memories, kind, ingress, deleted=True)] == ["uid-2"]
    other = {**ingress, "metadata": {**ingress["metadata"], "name": "internal"}}
    assert owned.changed(memories, kind, other, deleted=False) == []


def test_an_environment_no_longer_routed_through_an_object_is_not_woken_by_it() -> None:
    memories = Memories()
    memory = memories("uid-1")
    owned.route_through(memory, {("Ingress", "ns", "public")})
    owned.route_through(memory, {("HTTPRoute", "ns", "web")})  # the spec moved to the Gateway API
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "public", "namespace": "ns", "resourceVersion": "6"}}
    kind = next(k for k in owned.ROUTES if k.kind == "Ingress")
    assert owned.changed(memories, kind, ingress, deleted=False) == []
    assert memory.routes == {("HTTPRoute", "ns", "web")}


def test_a_replica_set_status_change_wakes_its_environment_only_while_a_rollout_is_in_progress() -> None:
    memories = Memories()
    memory = memories("uid-1")
    rs = obj("web-abc", generation=2, rv="10", kind="ReplicaSet")
    memory.written.remember(key_of(rs), "d1", rs)
    kind = next(k for k in owned.OWNED if k.kind == "ReplicaSet")
    def counted(rv: str, ready: int, generation_seen: int = 1) -> dict[str, Any]:  # the same spec, new status
        return {**obj("web-abc", generation=2, rv=rv, kind="ReplicaSet"),
                "status": {"replicas": 2, "readyReplicas": ready, "observedGeneration": generation_seen}}

    assert owned.changed(memories, kind, counted("11", 1), deleted=False) == []  # steady: pods come and go unseen
    memory.rolling = True
    assert owned.changed(memories, kind, counted("12", 2), deleted=False) == [memory]
    assert owned.changed(memories, kind, counted("13", 2, 2), deleted=False) == []  # the same pod counts
    assert memory.written.unchanged(key_of(rs), "d1")  # a status change is not an edit: nothing to write again
    assert owned.changed(memories, kind, counted("14", 2), deleted=True) == [memory]  # gone: the gate changed
    service = next(k for k in owned.OWNED if k.kind == "Service")
    assert owned.changed(memories, service, obj("web", rv="3"), deleted=False) == []  # not a gate's object


def test_the_routers_of_removed_workloads_are_dropped() -> None:
    memory = Memories()("uid-1")
    memory.routers = {"web": ReplicaRatioRouter(), "old": ReplicaRatioRouter()}
    memory.routings = {"web": None, "old": None}
    memory.keep_workloads({"web"})
    assert set(memory.routers) == set(memory.routings) == {"web"}


def test_the_next_pass_is_scheduled_when_a_rollout_has_work_due() -> None:
    memory = Memories()("uid-1")
    assert memory.seconds_to_requeue() is None
    memory.schedule(datetime.now(UTC) + timedelta(seconds=30))
    due = memory.seconds_to_requeue()
    assert due is not None and 29 < due <= 30
    memory.schedule(datetime.now(UTC) - timedelta(seconds=5))
    assert memory.seconds_to_requeue() == 0


class Refused(Exception):
    """Shaped like the Kubernetes client's ApiException."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"({status})")
        self.status, self.body, self.reason = status, body, "Unprocessable Entity"


def test_a_failure_is_described_in_one_line_without_secrets() -> None:
    refused = Refused(422, '{"kind":"Status","message":"Secret \\"x\\" is invalid: metadata.labels: Invalid value"}')
    assert describe_failure(refused) == 'the Kubernetes API answered 422: Secret "x" is invalid: metadata.labels: ' \
                                        "Invalid value"
    assert describe_failure(KeyError("s3cr3t-token"), ["s3cr3t-token"]) == "KeyError: '***'"
    assert len(describe_failure(RuntimeError("x" * 5000))) == 1024
    assert describe_failure(Refused(500, "not json")) == "the Kubernetes API answered 500: Unprocessable Entity"


def test_services_follow_the_engine_in_every_state() -> None:
    steady = RolloutState(stable_revision="a", desired_revision="a")
    assert engine.service_revisions(steady, "canary") == {"": None, "stable": "a", "canary": "a"}
    canary = RolloutState(stable_revision="a", desired_revision="b")
    assert engine.service_revisions(canary, "canary") == {"": None, "stable": "a", "canary": "b"}
    blue_green = RolloutState(strategy="blueGreen", stable_revision="a", desired_revision="b", active_revision="a")
    assert engine.service_revisions(blue_green, "blueGreen") == {"": "a", "preview": "a"}  # preview not ready


def test_the_watches_are_ready_once_each_is_established_or_its_kind_is_not_served() -> None:
    watcher = owned.Watcher(Memories(), namespaces=["team-a", "team-b"])
    assert len(watcher.threads) == len(owned.OWNED + owned.ROUTES) * 2  # one per kind and namespace
    assert not watcher.ready()  # nothing listed yet
    for key in watcher.states:
        watcher.states[key] = "unserved" if key[0] == "HTTPRoute" else "watching"
    assert watcher.ready()
    watcher.states[("Secret", "team-b")] = "failing"
    assert not watcher.ready()


def test_a_refusal_by_the_kubernetes_client_is_one_line_without_headers() -> None:
    from kubernetes.client.exceptions import ApiException

    refused = ApiException(status=422, reason="Unprocessable Entity")
    refused.body = json.dumps({"kind": "Status", "message": 'Service "api" is invalid: spec.ports: Required value'})
    refused.headers = {"Audit-Id": "0e1f", "Content-Type": "application/json"}
    assert "\n" in str(refused) and "Audit-Id" in str(refused)  # what a condition used to carry
    assert describe_failure(refused) == \
        'the Kubernetes API answered 422: Service "api" is invalid: spec.ports: Required value'
