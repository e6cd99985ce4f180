"""What aenv writes in the cluster heals: each owned kind deleted or edited by hand is put back within seconds,
through the watches on those objects rather than the resync; names up to the longest the CRD admits work end
to end; a failure no one foresaw still reaches the status and an Event."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aenv.local.emulator import AwsEmulator, free_port
from aenv.local.processes import wait_for
from aenv.naming import ENVIRONMENT_NAME_MAX, EnvironmentRef
from aenv.plan import connection, iam
from aenv.plan.workloads import LABEL_REVISION, LABEL_WORKLOAD
from aenv.rollouts.traffic import WorkloadTraffic
from aenv.rollouts.traffic.alb import annotation_key

from .conftest import Operator, fresh_namespace
from .kube import Kube, rejected
from .test_traffic_routers import (
    GATEWAY_GROUP,
    GATEWAY_VERSION,
    HTTPROUTES,
    create_ingress,
    get_route,
    httproute_crd,
    weights,
)

pytestmark = pytest.mark.integration
__all__ = ["httproute_crd"]  # the HTTPRoute CRD fixture

HEAL_SECONDS = 10.0  # the promise: restored within 10 s of a hand-made deletion or edit
SLOW_RESYNC = 600.0  # the healing tests' operator: a resync this rare cannot be what heals
WORKLOAD = "web"


@pytest.fixture(scope="module")
def slow_operator(tmp_path_factory: pytest.TempPathFactory, kubeconfig: Path, kube: Kube,
                  emulator: AwsEmulator) -> Iterator[Operator]:
    with Operator(tmp_path_factory.mktemp("slow-operator"), kubeconfig, emulator, prefix="aenv-heal-",
                  resync=SLOW_RESYNC) as op:
        yield op


@pytest.fixture
def quiet_namespace(kube: Kube, slow_operator: Operator) -> Iterator[str]:
    """A namespace served by the slow-resyncing operator."""
    yield from fresh_namespace(kube, slow_operator)


def spec(rollout: dict[str, Any] | None = None, workload: str = WORKLOAD, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tier": "dev", "aws": {"region": "us-east-1"}, "deletionPolicy": "Delete",
                            "workloads": [{"name": workload, "image": "example/web:1", "replicas": 2}], **extra}
    if rollout is not None:
        body["rollout"] = rollout
    return body


def ready(kube: Kube, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    kube.create_env(namespace, name, body)
    return kube.wait_condition(namespace, name, "Ready", timeout=90)


def restored(what: str, check: Callable[[], bool]) -> float:
    """Seconds until check() holds, failing past HEAL_SECONDS (well under the resync's period in CI, 30 s)."""
    began = time.monotonic()
    wait_for(check, HEAL_SECONDS, f"{what} to be restored", interval=0.02)
    elapsed = time.monotonic() - began
    print(f"restored {what} in {elapsed:.2f} s")
    return elapsed


def exists(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def test_owned_objects_come_back_after_deletion_and_edits(kube: Kube, quiet_namespace: str) -> None:
    namespace = quiet_namespace
    env = ready(kube, namespace, "defi", spec())
    uid = env["metadata"]["uid"]
    ref = EnvironmentRef(namespace, "defi", uid)
    core, apps = kube.core, kube.apps
    secret_name, account = connection.secret_name(ref), iam.service_account(ref)

    def secret() -> Any:
        return exists(lambda: core.read_namespaced_secret(secret_name, namespace))

    def service() -> Any:
        return exists(lambda: core.read_namespaced_service(WORKLOAD, namespace))

    def replica_set() -> Any:
        sets = apps.list_namespaced_replica_set(namespace, label_selector=f"{LABEL_WORKLOAD}={WORKLOAD}").items
        return sets[0] if sets else None

    original = secret()
    core.delete_namespaced_secret(secret_name, namespace)
    restored("the connection Secret", lambda: (s := secret()) is not None and s.metadata.uid != original.metadata.uid
             and s.data == original.data)

    edited = core.patch_namespaced_secret(secret_name, namespace, {"data": {"AWS_REGION": "ZXUtd2VzdC0x"}})
    assert edited.data != original.data  # AWS_REGION: eu-west-1
    restored("an edited connection Secret", lambda: (s := secret()).data == original.data
             and s.metadata.resource_version != edited.metadata.resource_version)

    core.delete_namespaced_service_account(account, namespace)
    restored("the workloads' ServiceAccount",
             lambda: exists(lambda: core.read_namespaced_service_account(account, namespace)) is not None)

    selector = service().spec.selector
    core.delete_namespaced_service(WORKLOAD, namespace)
    restored("the workload's Service", lambda: (s := service()) is not None and s.spec.selector == selector)

    core.patch_namespaced_service(WORKLOAD, namespace, {"spec": {"selector": {"app": "someone-else"}}})
    restored("an edited Service selector", lambda: service().spec.selector == selector)

    stable = replica_set()
    apps.patch_namespaced_replica_set_scale(stable.metadata.name, namespace, {"spec": {"replicas": 0}})
    restored("a ReplicaSet scaled by hand", lambda: replica_set().spec.replicas == 2)

    apps.delete_namespaced_replica_set(stable.metadata.name, namespace)
    restored("a deleted ReplicaSet", lambda: (rs := replica_set()) is not None
             and rs.metadata.uid != stable.metadata.uid
             and rs.metadata.labels[LABEL_REVISION] == stable.metadata.labels[LABEL_REVISION])

    env = kube.wait_condition(namespace, "defi", "Ready")
    assert env["status"]["connectionSecret"] == secret_name


def routed(kube: Kube, namespace: str, routing: dict[str, Any]) -> None:
    ready(kube, namespace, "rt", spec({"strategy": "canary", "canary": {
        "steps": [{"setWeight": 50}, {"setWeight": 100}], "trafficRouting": routing}}))


def test_the_alb_actions_annotation_is_put_back(kube: Kube, quiet_namespace: str) -> None:
    namespace = quiet_namespace
    create_ingress(kube, namespace, "web-ingress", action=WORKLOAD)
    routed(kube, namespace, {"alb": {"ingress": "web-ingress"}})
    networking = client.NetworkingV1Api(kube.api)
    key = annotation_key(WorkloadTraffic(namespace, WORKLOAD))

    def annotation() -> str | None:
        value: str | None = (networking.read_namespaced_ingress("web-ingress", namespace).metadata.annotations
                             or {}).get(key)
        return value

    wait_for(lambda: annotation() is not None, 30, "the actions annotation")
    written = annotation()
    networking.patch_namespaced_ingress("web-ingress", namespace, {"metadata": {"annotations": {key: None}}})
    restored("a deleted ALB actions annotation", lambda: annotation() == written)
    assert written is not None and '"Weight":0' in written and '"Weight":100' in written, written
    half = written.replace('"Weight":0', '"Weight":50').replace('"Weight":100', '"Weight":50')
    networking.patch_namespaced_ingress("web-ingress", namespace, {"metadata": {"annotations": {key: half}}})
    restored("edited ALB weights", lambda: annotation() == written)


def test_httproute_weights_are_put_back(kube: Kube, quiet_namespace: str, httproute_crd: None) -> None:
    namespace = quiet_namespace
    body = {"apiVersion": f"{GATEWAY_GROUP}/{GATEWAY_VERSION}", "kind": "HTTPRoute", "metadata": {"name": "web"},
            "spec": {"parentRefs": [{"name": "public"}], "rules": [
                {"backendRefs": [{"name": f"{WORKLOAD}-stable", "port": 80},
                                 {"name": f"{WORKLOAD}-canary", "port": 80, "weight": 0}]}]}}
    kube.custom.create_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, body)
    routed(kube, namespace, {"gatewayAPI": {"httpRoute": "web"}})
    wanted = weights(get_route(kube, namespace, "web"))
    assert wanted[f"{WORKLOAD}-canary"] == 0 and wanted[f"{WORKLOAD}-stable"] > 0, wanted
    route = get_route(kube, namespace, "web")
    for ref in route["spec"]["rules"][0]["backendRefs"]:
        ref["weight"] = 50
    kube.custom.replace_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, "web", route)
    restored("edited HTTPRoute weights", lambda: share(weights(get_route(kube, namespace, "web"))) == 0)


def share(split: dict[str, int]) -> float:
    """The canary's share of the traffic."""
    return split[f"{WORKLOAD}-canary"] / (split[f"{WORKLOAD}-canary"] + split[f"{WORKLOAD}-stable"])


def test_the_longest_names_work_end_to_end(kube: Kube, namespace: str) -> None:
    name = "e" * (ENVIRONMENT_NAME_MAX - 2) + ".x"
    workload = "w" * 40
    env = ready(kube, namespace, name, spec(workload=workload, queues=[{"name": "q" * 40}]))
    ref = EnvironmentRef(namespace, name, env["metadata"]["uid"])
    assert env["status"]["connectionSecret"] == connection.secret_name(ref)
    assert kube.core.read_namespaced_secret(connection.secret_name(ref), namespace).metadata.labels
    sets = kube.apps.list_namespaced_replica_set(namespace, label_selector=f"aenv.dev/environment={ref.label}").items
    assert len(sets) == 1 and sets[0].status.ready_replicas == 2
    for suffix in ("", "-stable", "-canary"):
        assert kube.core.read_namespaced_service(workload + suffix, namespace)
    kube.core.read_namespaced_service_account(iam.service_account(ref), namespace)

    message = rejected(lambda: kube.create_env(namespace, "e" * (ENVIRONMENT_NAME_MAX + 1), spec()))
    assert "metadata.name" in message and str(ENVIRONMENT_NAME_MAX) in message


def test_a_failure_no_one_foresaw_reaches_the_status_and_an_event(kube: Kube, namespace: str) -> None:
    # A quota of no Secrets: the API server refuses the connection Secret (403), which aenv has no rule for.
    quota = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="no-secrets"),
                                   spec=client.V1ResourceQuotaSpec(hard={"count/secrets": "0"}))
    kube.core.create_namespaced_resource_quota(namespace, quota)
    wait_for(lambda: (kube.core.read_namespaced_resource_quota("no-secrets", namespace).status or
                      client.V1ResourceQuotaStatus()).hard is not None, 30, "the quota to be enforced")
    kube.create_env(namespace, "defi", spec())
    env = kube.wait_condition(namespace, "defi", "Ready", status="False", reason="ReconcileError")
    ready_condition = kube.condition(env, "Ready")
    assert ready_condition is not None and "403" in ready_condition["message"], ready_condition
    assert env["status"]["phase"] == "Failed"
    event = kube.wait_event(namespace, "defi", "ReconcileError")
    assert event.type == "Warning" and "403" in event.message

    kube.core.delete_namespaced_resource_quota("no-secrets", namespace)
    kube.wait_condition(namespace, "defi", "Ready", timeout=90)


def test_readyz_waits_for_the_watches_of_the_namespaces_served(tmp_path: Path, kubeconfig: Path, kube: Kube,
                                                               emulator: AwsEmulator) -> None:
    """An operator serving exactly named namespaces watches inside them, and says so on /readyz."""
    port = free_port()
    names = ["aenv-ready-a", "aenv-ready-b"]
    args = [a for n in names for a in ("-n", n)] + ["--health-port", str(port)]
    with Operator(tmp_path, kubeconfig, emulator, prefix="aenv-ready-", args=args) as op:

        def answers(path: str) -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                    return int(r.status)
            except urllib.error.HTTPError as e:
                return int(e.code)

        wait_for(lambda: answers("/readyz") == 200, 60, "/readyz to answer 200", interval=0.1)
        assert answers("/healthz") == 200
        assert op.running()
