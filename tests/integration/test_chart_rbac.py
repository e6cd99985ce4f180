"""The chart's RBAC is enough and no more, proven by running: the rendered ServiceAccount, (Cluster)Roles and
bindings are applied to the real control plane, the operator runs with a kubeconfig holding only a token of that
ServiceAccount (TokenRequest) and leader election on, and an environment in mode boto3 (queues and a workload)
goes through create -> Ready -> a rollout to a new image -> delete, while an environment with a ttl of seconds
expires and the operator deletes it. Once cluster-wide (ClusterRole), once namespaced (watchNamespaces: a Role in
that namespace only, `aenv run -n <namespace>`). The operator's log shows no refused request. The Gateway API
router, which the lifecycle does not reach, writes an HTTPRoute's weights with the same token."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, utils
from kubernetes.client.exceptions import ApiException

from aenv.local.emulator import AwsEmulator
from aenv.rollouts.traffic import GatewayApiRouter, WorkloadTraffic

from ..chart import RBAC_KINDS, render
from .conftest import Operator
from .gateway import WORKLOAD, create_route, gateway_routing, get_route, httproute_crd_installed, weights
from .kube import Kube

pytestmark = pytest.mark.integration

PREFIX = "aenv-rbac-"
APPLIED = ("ServiceAccount", *RBAC_KINDS, "ClusterRoleBinding", "RoleBinding")
REFUSED = ("Forbidden", "Not enough permissions", "HTTP 403", "(403)")


@dataclass
class Install:
    """The chart's RBAC applied under a fresh release; what it made, to remove it afterwards."""

    kube: Kube
    release: str = field(default_factory=lambda: f"aenv-rbac-{uuid.uuid4().hex[:6]}")
    made: list[dict[str, Any]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"{self.release}-system"

    def create_namespace(self, name: str) -> None:
        self.kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        self.made.append({"kind": "Namespace", "metadata": {"name": name}})

    def apply(self, tmp: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
        objects = [o for o in render(values, release=self.release, namespace=self.namespace, tmp=tmp)
                   if o["kind"] in APPLIED]
        for obj in objects:
            utils.create_from_dict(self.kube.api, obj, namespace=obj["metadata"].get("namespace"))
            self.made.append(obj)
        return objects

    def token_kubeconfig(self, admin: Path, tmp: Path) -> Path:
        """A kubeconfig with the API server, its CA and a token of the chart's ServiceAccount, nothing else."""
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                     expiration_seconds=3600))
        token = self.kube.core.create_namespaced_service_account_token(self.release, self.namespace, request)
        cluster = yaml.safe_load(admin.read_text())["clusters"][0]["cluster"]
        ca = {k: v for k, v in cluster.items() if k.startswith("certificate-authority")}
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "sa",
                  "clusters": [{"name": "c", "cluster": {"server": cluster["server"], **ca}}],
                  "users": [{"name": "sa", "user": {"token": token.status.token}}],
                  "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}]}
        path = tmp / "sa.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        return path

    def remove(self) -> None:
        for obj in reversed(self.made):
            kind, meta = obj["kind"], obj["metadata"]
            try:
                if kind == "Namespace":
                    self.kube.core.delete_namespace(meta["name"])
                elif kind == "ClusterRole":
                    client.RbacAuthorizationV1Api(self.kube.api).delete_cluster_role(meta["name"])
                elif kind == "ClusterRoleBinding":
                    client.RbacAuthorizationV1Api(self.kube.api).delete_cluster_role_binding(meta["name"])
            except ApiException as e:
                if e.status != 404:
                    raise
            # namespaced objects go with their namespace


@pytest.fixture
def install(kube: Kube) -> Iterator[Install]:
    made = Install(kube)
    made.create_namespace(made.namespace)
    try:
        yield made
    finally:
        made.remove()


def spec(image: str) -> dict[str, Any]:
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"},
            "queues": [{"name": "events", "deadLetter": {"maxReceiveCount": 3}}],
            "workloads": [{"name": "web", "image": image, "replicas": 2, "uses": ["events"]}]}


def expiring() -> dict[str, Any]:
    """Created first, so that it expires while the other environment goes through its lifecycle."""
    return {"tier": "dev", "aws": {"region": "us-east-1", "mode": "boto3"}, "ttl": "5s",
            "queues": [{"name": "jobs"}], "deletionPolicy": "Delete"}


def refusals(operator: Operator) -> list[str]:
    return [line for line in operator.log_text().splitlines() if any(r in line for r in REFUSED)]


def wait_until(operator: Operator, check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Poll `check`; fail at once, naming the request, when the operator's log shows a refused one."""
    deadline = time.monotonic() + timeout
    while not check():
        refused = refusals(operator)
        assert not refused, "requests refused:\n" + "\n".join(refused[:10])
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.2)


def stable_after(kube: Kube, operator: Operator, namespace: str, previous: str | None) -> str:
    """Wait until the environment is Ready at its generation on a Healthy stable revision other than `previous`."""
    seen: dict[str, str] = {}

    def done() -> bool:
        env = kube.get_env(namespace, "rbac")
        status = env.get("status", {})
        c = kube.condition(env, "Ready")
        workload = (status.get("workloads") or [{}])[0]
        if c is None or c["status"] != "True" or status.get("observedGeneration") != env["metadata"]["generation"]:
            return False
        if workload.get("phase") != "Healthy" or workload.get("stable") in (None, previous):
            return False
        seen["stable"] = workload["stable"]
        return True

    wait_until(operator, done, f"{namespace}/rbac Ready on a revision other than {previous}")
    return seen["stable"]


def lifecycle(kube: Kube, sqs: Any, operator: Operator, namespace: str) -> None:
    kube.create_env(namespace, "ttl", expiring())
    kube.create_env(namespace, "rbac", spec("example/web:1"))
    first = stable_after(kube, operator, namespace, None)
    assert sqs.list_queues(QueueNamePrefix=f"aenv-{namespace}-rbac-").get("QueueUrls")
    kube.patch_spec(namespace, "rbac", {"workloads": [{**spec("")["workloads"][0], "image": "example/web:2"}]})
    stable_after(kube, operator, namespace, first)
    kube.delete_env(namespace, "rbac")
    wait_until(operator, lambda: kube.env_gone(namespace, "rbac"), f"{namespace}/rbac to be deleted")
    assert not sqs.list_queues(QueueNamePrefix=f"aenv-{namespace}-rbac-").get("QueueUrls")
    wait_until(operator, lambda: kube.env_gone(namespace, "ttl"), f"{namespace}/ttl to expire and be deleted",
               timeout=30)
    assert "Expired" in [e.reason for e in kube.events(namespace, "ttl")]
    assert not sqs.list_queues(QueueNamePrefix=f"aenv-{namespace}-ttl-").get("QueueUrls")
    assert "leading: holds the Lease" in operator.log_text()
    assert not refusals(operator)


def operator_for(install: Install, tmp: Path, kubeconfig: Path, emulator: AwsEmulator, *watch: str) -> Operator:
    state = tmp / "operator"
    state.mkdir()
    lease = ["--leader-elect", f"--lease-name={install.release}", f"--lease-namespace={install.namespace}"]
    namespaces = [f"--namespace={n}" for n in watch] or ["--namespace", f"{PREFIX}*"]
    return Operator(state, install.token_kubeconfig(kubeconfig, tmp), emulator, prefix=PREFIX,
                    args=[*namespaces, *lease], env={"POD_NAME": f"{install.release}-0"})


def test_cluster_wide_rbac_is_enough(kube: Kube, kubeconfig: Path, emulator: AwsEmulator, install: Install,
                                     tmp_path: Path, sqs: Any) -> None:
    emulator.reset()
    objects = install.apply(tmp_path, {})
    assert [o["kind"] for o in objects].count("ClusterRole") == 1
    watched = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    install.create_namespace(watched)
    with operator_for(install, tmp_path, kubeconfig, emulator) as op:
        lifecycle(kube, sqs, op, watched)


def test_namespaced_rbac_is_enough(kube: Kube, kubeconfig: Path, emulator: AwsEmulator, install: Install,
                                   tmp_path: Path, sqs: Any) -> None:
    emulator.reset()
    watched = f"{PREFIX}ns-{uuid.uuid4().hex[:8]}"
    install.create_namespace(watched)
    objects = install.apply(tmp_path, {"watchNamespaces": [watched]})
    assert not [o for o in objects if o["kind"].startswith("Cluster")]
    assert {o["metadata"]["namespace"] for o in objects if o["kind"] == "Role"} == {watched, install.namespace}
    with operator_for(install, tmp_path, kubeconfig, emulator, watched) as op:
        lifecycle(kube, sqs, op, watched)


def test_the_gateway_router_writes_with_the_chart_rbac(kube: Kube, kubeconfig: Path, install: Install,
                                                       tmp_path: Path) -> None:
    watched = f"{PREFIX}gw-{uuid.uuid4().hex[:8]}"
    install.create_namespace(watched)
    install.apply(tmp_path, {"watchNamespaces": [watched]})
    api = config.new_client_from_config(config_file=str(install.token_kubeconfig(kubeconfig, tmp_path)))
    with httproute_crd_installed(kube):
        create_route(kube, watched)
        traffic = WorkloadTraffic(watched, WORKLOAD, gateway_routing())
        router = GatewayApiRouter(api)
        router.set_weight(traffic, 30)
        assert weights(get_route(kube, watched)) == {f"{WORKLOAD}-stable": 70, f"{WORKLOAD}-canary": 30}
        assert router.applied_weight(traffic) == 30
