"""The watches' compact view of aenv's ReplicaSets and Services (kube/observed.py)."""

from __future__ import annotations

from typing import Any

from aenv.kube.observed import REPLICA_SET, SERVICE, ObservedObjects, SetView, set_view
from aenv.plan import connection
from aenv.plan import workloads as plan


def replica_set(name: str, revision: str, ready: int, namespace: str = "team-a", env: str = "defi",
                replicas: int = 4) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": {
        plan.LABEL_ENV: env, plan.LABEL_WORKLOAD: "api", plan.LABEL_REVISION: revision}},
        "spec": {"replicas": replicas, "template": {"metadata": {"annotations": {
            connection.CREDENTIALS_ANNOTATION: "db=2"}}}},
        "status": {"readyReplicas": ready} if ready else {}}


def service(name: str, revision: str | None, namespace: str = "team-a") -> dict[str, Any]:
    selector = {plan.LABEL_WORKLOAD: "api", **({plan.LABEL_REVISION: revision} if revision else {})}
    return {"metadata": {"name": name, "namespace": namespace, "labels": {plan.LABEL_ENV: "defi"}},
            "spec": {"selector": selector}}


def test_a_replica_set_view_holds_counts_and_the_credentials_stamp() -> None:
    assert set_view(replica_set("api-abc", "abc", 3)) == SetView("api", "abc", 4, 3, "db=2")
    assert set_view(replica_set("api-abc", "abc", 0)).ready == 0  # type: ignore[union-attr]
    assert set_view({"metadata": {"name": "x", "labels": {plan.LABEL_ENV: "defi"}}}) is None  # no revision


def test_nothing_is_served_before_a_listing_or_after_a_broken_watch() -> None:
    objects = ObservedObjects()
    objects.put(REPLICA_SET, replica_set("api-abc", "abc", 1), deleted=False)
    assert objects.replica_sets("team-a", "defi") is None  # a pass must list for itself
    objects.listed(REPLICA_SET, None, [replica_set("api-abc", "abc", 2)])
    assert objects.replica_sets("team-a", "defi") == {"api-abc": SetView("api", "abc", 4, 2, "db=2")}
    assert objects.replica_sets("team-b", "defi") == {}  # a watch on every namespace vouches for all of them
    assert objects.services("team-a", "defi") is None  # another kind, another watch
    objects.lost(REPLICA_SET, None)
    assert objects.replica_sets("team-a", "defi") is None


def test_events_update_and_delete_and_a_listing_replaces_only_its_namespace() -> None:
    objects = ObservedObjects()
    objects.listed(SERVICE, "team-a", [service("api", "abc"), service("api-canary", "def")])
    objects.listed(SERVICE, "team-b", [service("api", None, namespace="team-b")])
    objects.put(SERVICE, service("api", "def"), deleted=False)
    objects.put(SERVICE, service("api-canary", "def"), deleted=True)
    assert objects.services("team-a", "defi") == {"api": "def"}
    assert objects.services("team-c", "defi") is None  # only named namespaces are watched
    objects.listed(SERVICE, "team-a", [])
    assert objects.services("team-a", "defi") == {}
    assert objects.services("team-b", "defi") == {"api": None}


def test_a_deleted_replica_set_leaves_no_entry_behind() -> None:
    objects = ObservedObjects()
    objects.listed(REPLICA_SET, "team-a", [replica_set("api-abc", "abc", 4)])
    objects.put(REPLICA_SET, replica_set("api-abc", "abc", 4), deleted=True)
    assert objects.replica_sets("team-a", "defi") == {}
    assert not objects._sets  # an environment gone holds no memory
