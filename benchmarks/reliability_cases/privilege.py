"""Least privilege: wildcards in the chart's RBAC (cluster-wide and namespaced), IAM grants wider than AWS allows a
policy to scope, and pods the API server's Pod Security admission refuses or warns about at `restricted` (the chart's
operator pod, an environment's workload pods, its migration Job's pod) on a local control plane
(tests/integration/reliability_privilege.py)."""

from __future__ import annotations

from harness import NAMESPACE, stack
from kubernetes import config
from tests.chart import of_kind, render
from tests.integration.kube import Kube
from tests.integration.reliability_privilege import (
    create_with_warnings,
    iam_unscoped,
    label_restricted,
    pod_admission,
    rbac_wildcards,
)

from aenv import iam_policy
from aenv.api import EnvironmentSpec
from aenv.migrations.job import job
from aenv.naming import EnvironmentRef
from reliability_cases import Row

SPEC = {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"}, "queues": [{"name": "events"}],
        "workloads": [{"name": "web", "image": "example/web:1", "replicas": 2, "uses": ["events"]}],
        "database": {"migrations": {"job": {"workload": "web", "command": ["migrate", "up"]}}}}


def measure(quick: bool) -> list[Row]:
    wildcards = rbac_wildcards(render()) + rbac_wildcards(render(sets=("watchNamespaces={team-a,team-b}",)))
    unscoped = iam_unscoped()
    with stack() as s:
        kube = Kube(config.new_client_from_config(config_file=str(s.cluster.kubeconfig)))
        label_restricted(kube, NAMESPACE)
        objects = render(namespace=NAMESPACE)
        (sa,) = of_kind(objects, "ServiceAccount")
        kube.core.create_namespaced_service_account(NAMESPACE, sa)
        (deployment,) = of_kind(objects, "Deployment")
        problems = pod_admission(kube, NAMESPACE, deployment["spec"]["template"]["spec"], "the operator pod")
        problems += [f"the operator Deployment: {w}" for w in create_with_warnings(kube, NAMESPACE, deployment)]
        kube.create_env(NAMESPACE, "psa", {k: v for k, v in SPEC.items() if k != "database"})
        uid = kube.wait_condition(NAMESPACE, "psa", "Ready", timeout=120)["metadata"]["uid"]
        for rs in kube.apps.list_namespaced_replica_set(NAMESPACE, label_selector="aenv.dev/workload=web").items:
            template = kube.api.sanitize_for_serialization(rs.spec.template)
            problems += pod_admission(kube, NAMESPACE, template["spec"], "a workload pod")
        spec = EnvironmentSpec.model_validate(SPEC)
        assert spec.database and spec.database.migrations and spec.database.migrations.job
        migration = job(EnvironmentRef(NAMESPACE, "psa", uid), spec, spec.database.migrations.job)
        problems += pod_admission(kube, NAMESPACE, migration["spec"]["template"]["spec"], "the migration Job's pod")
    for line in [*wildcards, *unscoped, *problems]:
        print(f"  privilege: {line}")
    return [
        Row("wildcards in the chart's RBAC (cluster-wide and namespaced)", "0", str(len(wildcards)), not wildcards),
        Row("IAM grants on * or non-aenv-* resources AWS lets a policy scope", "0", str(len(unscoped)), not unscoped),
        Row("IAM actions on Resource * (AWS scopes none; each listed with why)", "listed",
            str(len(iam_policy.UNSCOPED)), True),
        Row("pods refused or warned at restricted Pod Security (operator, workload, migration Job)", "0",
            str(len(problems)), not problems),
    ]
