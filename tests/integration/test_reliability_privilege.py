"""Least privilege, checked by the API server itself: the chart's operator pod, aenv's workload pods and its
migration Job's pod are admitted by Pod Security admission at `restricted` with no warning; the chart's RBAC and
the IAM policy hold no grant wider than they must (the rules are unit-tested in tests/unit/test_chart.py and
test_iam_policy.py; here the same check the benchmark prints)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from aenv.api import EnvironmentSpec
from aenv.local.processes import wait_for
from aenv.migrations.job import job
from aenv.naming import EnvironmentRef

from ..chart import of_kind, render
from .conftest import Operator
from .kube import Kube
from .reliability_privilege import (
    create_with_warnings,
    iam_unscoped,
    label_restricted,
    pod_admission,
    rbac_wildcards,
    restricted_namespace,
)

pytestmark = pytest.mark.integration

PRIVILEGED = {"containers": [{"name": "root", "image": "busybox", "securityContext": {"privileged": True}}]}


@pytest.fixture
def restricted(kube: Kube) -> Iterator[str]:
    name = restricted_namespace(kube, "aenv-psa-")
    try:
        yield name
    finally:
        kube.core.delete_namespace(name)


def test_the_chart_grants_no_wildcard_and_the_iam_policy_nothing_unscoped(tmp_path: Path) -> None:
    assert not rbac_wildcards(render()), rbac_wildcards(render())
    assert not rbac_wildcards(render(sets=("watchNamespaces={team-a}",)))
    assert not iam_unscoped(), iam_unscoped()


def test_the_operator_pod_is_admitted_under_restricted(kube: Kube, restricted: str) -> None:
    # Pod Security admission is on: a privileged pod is refused in this namespace.
    refused = pod_admission(kube, restricted, PRIVILEGED, "a privileged pod")
    assert refused and "violates PodSecurity" in refused[0], refused
    objects = render(namespace=restricted)
    (sa,) = of_kind(objects, "ServiceAccount")
    kube.core.create_namespaced_service_account(restricted, sa)
    (deployment,) = of_kind(objects, "Deployment")
    assert pod_admission(kube, restricted, deployment["spec"]["template"]["spec"], "the operator pod") == []
    assert create_with_warnings(kube, restricted, deployment) == []
    name, replicas = deployment["metadata"]["name"], deployment["spec"]["replicas"]

    def pods_made() -> bool:  # enforce: the ReplicaSet's pods exist only if admitted
        return len(kube.core.list_namespaced_pod(restricted, label_selector="app.kubernetes.io/name=aenv").items) \
            >= replicas

    wait_for(pods_made, 60, f"the {replicas} pods of {restricted}/{name}")


def spec(image: str) -> dict[str, object]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
            "queues": [{"name": "events"}],
            "workloads": [{"name": "web", "image": image, "replicas": 2, "uses": ["events"]}]}


def test_environment_pods_and_the_migration_job_are_admitted_under_restricted(
        kube: Kube, namespace: str, operator: Operator) -> None:
    label_restricted(kube, namespace)
    kube.create_env(namespace, "psa", spec("example/web:1"))
    env = kube.wait_condition(namespace, "psa", "Ready", timeout=90)
    assert env["status"]["workloads"][0]["phase"] == "Healthy"  # its pods were admitted and got ready
    (rs,) = client.AppsV1Api(kube.api).list_namespaced_replica_set(
        namespace, label_selector="aenv.dev/workload=web").items
    template = kube.api.sanitize_for_serialization(rs.spec.template)
    assert pod_admission(kube, namespace, template["spec"], "a workload pod") == []
    with_job = EnvironmentSpec.model_validate({**spec("example/web:1"), "database": {
        "migrations": {"job": {"workload": "web", "command": ["migrate", "up"]}}}})
    assert with_job.database and with_job.database.migrations and with_job.database.migrations.job
    migration = job(EnvironmentRef(namespace, "psa", env["metadata"]["uid"]), with_job,
                    with_job.database.migrations.job)
    assert pod_admission(kube, namespace, migration["spec"]["template"]["spec"], "the migration Job's pod") == []
