"""What aenv remembers of the objects it wrote, and how a reported change is judged: no server needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aenv.api.rollout_state import RolloutState
from aenv.kube import apply, owned
from aenv.reconcile import describe_failure
from aenv.rollouts import engine


def obj(name: str, owner: str = "uid-1", generation: int | None = None, rv: str = "1",
        kind: str = "Service") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "resourceVersion": rv,
                            "ownerReferences": [{"uid": owner, "controller": True}]}
    if generation is not None:
        meta["generation"] = generation
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    yield
    apply.forget_owner("uid-1")
    apply.forget_owner("uid-2")
    owned.forget_owner("uid-1")
    owned.forget_owner("uid-2")


def test_an_object_unchanged_since_aenv_wrote_it_is_not_written_again() -> None:
    svc = obj("web")
    apply.remember(apply.key_of(svc), "d1", svc)
    assert apply.unchanged(apply.key_of(svc), "d1")
    assert not apply.unchanged(apply.key_of(svc), "d2")  # the manifest changed
    assert apply.observed(svc, deleted=False) is None  # the watch reports aenv's own write
    assert apply.unchanged(apply.key_of(svc), "d1")


def test_a_deletion_forgets_the_object_and_names_its_environment() -> None:
    svc = obj("web")
    apply.remember(apply.key_of(svc), "d1", svc)
    assert apply.observed(svc, deleted=True) == "uid-1"
    assert not apply.unchanged(apply.key_of(svc), "d1")


def test_an_edit_by_someone_else_forgets_the_object() -> None:
    svc = obj("web", rv="1")
    apply.remember(apply.key_of(svc), "d1", svc)
    assert apply.observed(obj("web", rv="2"), deleted=False) == "uid-1"
    assert not apply.unchanged(apply.key_of(svc), "d1")
    assert apply.observed(obj("web", rv="3"), deleted=False) is None  # forgotten: the next pass writes it


def test_status_updates_do_not_count_for_kinds_with_a_generation() -> None:
    rs = obj("web-abc", generation=3, rv="10", kind="ReplicaSet")
    apply.remember(apply.key_of(rs), "d1", rs)
    assert apply.observed(obj("web-abc", generation=3, rv="11", kind="ReplicaSet"), deleted=False) is None
    assert apply.observed(obj("web-abc", generation=4, rv="12", kind="ReplicaSet"), deleted=False) == "uid-1"


def test_a_deleted_object_aenv_has_not_written_since_it_started_still_wakes_its_owner() -> None:
    assert apply.observed(obj("never-written", owner="uid-2"), deleted=True) == "uid-2"
    assert apply.observed(obj("never-written", owner="uid-2"), deleted=False) is None


def test_nothing_of_an_environment_outlives_it() -> None:
    a, b = obj("a", owner="uid-1"), obj("b", owner="uid-2")
    apply.remember(apply.key_of(a), "d", a)
    apply.remember(apply.key_of(b), "d", b)
    apply.forget_owner("uid-1")
    assert set(apply.recorded("v1", "Service")) == {apply.key_of(b)}


def test_a_change_to_a_routing_object_wakes_every_environment_routed_through_it() -> None:
    owned.route_through("uid-1", "Ingress", "ns", "public")
    owned.route_through("uid-2", "Ingress", "ns", "public")
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "public", "namespace": "ns", "resourceVersion": "5"}}
    kind = next(k for k in owned.ROUTES if k.kind == "Ingress")
    assert owned.changed(kind, ingress, deleted=False) == {"uid-1", "uid-2"}
    owned.forget_owner("uid-1")
    assert owned.changed(kind, ingress, deleted=True) == {"uid-2"}
    other = {**ingress, "metadata": {**ingress["metadata"], "name": "internal"}}
    assert owned.changed(kind, other, deleted=False) == set()


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
