"""What ArgoCD sees of an environment it syncs: the operator never writes the spec and never copies ArgoCD's tracking
labels or annotations onto what it creates, and the chart's health check, run in Lua on the live objects, reads
Healthy when Ready and Suspended while a canary is paused."""

from __future__ import annotations

from typing import Any

import pytest

from aenv.api import GROUP, PLURAL, VERSION
from aenv.local.processes import wait_for
from aenv.plan.workloads import LABEL_WORKLOAD, MANAGED

from ..unit.test_argocd_health import health
from .kube import Kube

pytestmark = pytest.mark.integration

NAME = "synced"
TRACKING = {"labels": {"app.kubernetes.io/instance": "team-apps", "argocd.argoproj.io/instance": "team-apps"},
            "annotations": {"argocd.argoproj.io/tracking-id": f"team-apps:{GROUP}/AnalyticsEnvironment:ns/{NAME}",
                            "argocd.argoproj.io/sync-wave": "1"}}


def spec(image: str) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
            "queues": [{"name": "events"}],
            "workloads": [{"name": "web", "image": image, "replicas": 2, "uses": ["events"]}],
            "rollout": {"strategy": "canary", "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}


def children(kube: Kube, namespace: str) -> list[Any]:
    """What aenv made in the namespace: the connection Secret, the ServiceAccount, Services and ReplicaSets."""
    managed = ",".join(f"{k}={v}" for k, v in MANAGED.items())
    return [*kube.core.list_namespaced_secret(namespace).items,
            *kube.core.list_namespaced_service_account(namespace, label_selector=managed).items,
            *kube.core.list_namespaced_service(namespace, label_selector=LABEL_WORKLOAD).items,
            *kube.apps.list_namespaced_replica_set(namespace, label_selector=LABEL_WORKLOAD).items]


def test_argocd_sees_no_spec_writes_no_copied_tracking_and_the_right_health(kube: Kube, namespace: str) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AnalyticsEnvironment",
            "metadata": {"name": NAME, "namespace": namespace, **TRACKING}, "spec": spec("example/web:1")}
    kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body, field_manager="argocd")
    status, message = health(kube.wait_condition(namespace, NAME, "Ready"))
    assert status == "Healthy", message

    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, NAME,
                                               {"spec": spec("example/web:2")}, field_manager="argocd")

    def paused() -> bool:
        return health(kube.get_env(namespace, NAME))[0] == "Suspended"

    wait_for(paused, 60, "the health check to read the paused canary as Suspended")
    env = kube.get_env(namespace, NAME)
    assert "paused at step" in health(env)[1]

    assert env["spec"] == spec("example/web:2"), "the spec changed"
    for entry in env["metadata"].get("managedFields", []):
        if entry["manager"] != "argocd" and entry.get("subresource") != "status":
            assert "f:spec" not in entry.get("fieldsV1", {}), f"{entry['manager']} wrote the spec"
    objects = children(kube, namespace)
    assert len(objects) >= 4, [o.metadata.name for o in objects]
    for obj in objects:
        meta = obj.metadata
        for key in TRACKING["labels"]:
            assert key not in (meta.labels or {}), f"{type(obj).__name__} {meta.name} carries the label {key}"
        for key in TRACKING["annotations"]:
            assert key not in (meta.annotations or {}), f"{type(obj).__name__} {meta.name} carries {key}"
