"""Traffic routers against the real control plane (and moto's ELBv2): the ALB Ingress annotation, the Gateway
API HTTPRoute, and the replica ratio. No mocks: objects are written and read back through the API server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from kubernetes import client

from aenv.api.rollout import TrafficRouting
from aenv.local.emulator import AwsEmulator
from aenv.rollouts.traffic import (
    AlbRouter,
    GatewayApiRouter,
    ReplicaRatioRouter,
    TrafficRoutingError,
    WorkloadTraffic,
    router_for,
)
from aenv.rollouts.traffic.alb import annotation_key

from .gateway import (
    GATEWAY_GROUP,
    GATEWAY_VERSION,
    HTTPROUTES,
    WORKLOAD,
    create_route,
    gateway_routing,
    get_route,
    httproute_crd_installed,
    weights,
)
from .kube import Kube

pytestmark = pytest.mark.integration



# ---------------------------------------------------------------------------------------------------------------
# Replica ratio (no router)
# ---------------------------------------------------------------------------------------------------------------


def test_replica_ratio_follows_ready_pods() -> None:
    router = router_for(None, client.ApiClient())
    assert isinstance(router, ReplicaRatioRouter)
    traffic = WorkloadTraffic("ns", WORKLOAD, ready_stable=6, ready_canary=4)
    router.set_weight(traffic, 41)  # writes nothing: the replica counts carry the weight
    assert router.applied_weight(traffic) == 40
    assert router.applied_weight(WorkloadTraffic("ns", WORKLOAD, ready_stable=9, ready_canary=1)) == 10
    assert router.applied_weight(WorkloadTraffic("ns", WORKLOAD, ready_stable=0, ready_canary=3)) == 100
    assert router.applied_weight(WorkloadTraffic("ns", WORKLOAD, ready_stable=2, ready_canary=1)) == 33
    assert router.applied_weight(WorkloadTraffic("ns", WORKLOAD)) is None  # nothing ready: nothing to say
    with pytest.raises(ValueError, match="0 to 100"):
        router.set_weight(traffic, 101)


# ---------------------------------------------------------------------------------------------------------------
# ALB (AWS Load Balancer Controller Ingress annotation)
# ---------------------------------------------------------------------------------------------------------------


def alb_routing(ingress: str = "web", stickiness: int | None = None, port: int = 80) -> TrafficRouting:
    alb: dict[str, Any] = {"ingress": ingress, "servicePort": port}
    if stickiness is not None:
        alb["stickinessSeconds"] = stickiness
    return TrafficRouting.model_validate({"alb": alb})


def create_ingress(kube: Kube, namespace: str, name: str = "web", action: str = WORKLOAD) -> client.V1Ingress:
    backend = client.V1IngressBackend(service=client.V1IngressServiceBackend(
        name=action, port=client.V1ServiceBackendPort(name="use-annotation")))
    body = client.V1Ingress(
        metadata=client.V1ObjectMeta(name=name, annotations={"alb.ingress.kubernetes.io/scheme": "internal"}),
        spec=client.V1IngressSpec(ingress_class_name="alb", rules=[client.V1IngressRule(
            http=client.V1HTTPIngressRuleValue(paths=[
                client.V1HTTPIngressPath(path="/", path_type="Prefix", backend=backend)]))]))
    made: client.V1Ingress = client.NetworkingV1Api(kube.api).create_namespaced_ingress(namespace, body)
    return made


def read_ingress(kube: Kube, namespace: str, name: str = "web") -> client.V1Ingress:
    found: client.V1Ingress = client.NetworkingV1Api(kube.api).read_namespaced_ingress(name, namespace)
    return found


def expected_action(weight: int, port: str = "80", stickiness: int | None = None) -> dict[str, Any]:
    forward: dict[str, Any] = {"TargetGroups": [
        {"ServiceName": f"{WORKLOAD}-canary", "ServicePort": port, "Weight": weight},
        {"ServiceName": f"{WORKLOAD}-stable", "ServicePort": port, "Weight": 100 - weight},
    ]}
    if stickiness is not None:
        forward["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": stickiness}
    return {"Type": "forward", "ForwardConfig": forward}


def test_alb_annotation_carries_each_weight(kube: Kube, namespace: str) -> None:
    create_ingress(kube, namespace)
    routing = alb_routing()
    router = router_for(routing, kube.api, elbv2=None)
    assert isinstance(router, AlbRouter)
    traffic = WorkloadTraffic(namespace, WORKLOAD, routing)
    assert router.applied_weight(traffic) is None  # no action annotation yet
    for weight in (10, 50, 100):
        router.set_weight(traffic, weight)
        ingress = read_ingress(kube, namespace)
        written = ingress.metadata.annotations[f"alb.ingress.kubernetes.io/actions.{WORKLOAD}"]
        assert json.loads(written) == expected_action(weight)
        assert list(json.loads(written)) == ["Type", "ForwardConfig"]
        assert ingress.metadata.annotations["alb.ingress.kubernetes.io/scheme"] == "internal"  # others kept
        assert router.applied_weight(traffic) == weight
        assert router.last_verified_by == "annotation"  # no load balancer in the Ingress status


def test_alb_stickiness_port_and_idempotence(kube: Kube, namespace: str) -> None:
    create_ingress(kube, namespace)
    routing = alb_routing(stickiness=600, port=8080)
    router = AlbRouter(kube.api, elbv2=None)
    traffic = WorkloadTraffic(namespace, WORKLOAD, routing)
    router.set_weight(traffic, 25)
    first = read_ingress(kube, namespace)
    assert json.loads(first.metadata.annotations[annotation_key(traffic)]) == expected_action(25, "8080", 600)
    assert router.applied_weight(traffic) == 25
    router.set_weight(traffic, 25)  # already so: nothing is written
    assert read_ingress(kube, namespace).metadata.resource_version == first.metadata.resource_version
    # the explicit service port of the workload wins over trafficRouting.alb.servicePort
    explicit = WorkloadTraffic(namespace, WORKLOAD, routing, service_port=9000)
    router.set_weight(explicit, 25)
    written = json.loads(read_ingress(kube, namespace).metadata.annotations[annotation_key(traffic)])
    assert written == expected_action(25, "9000", 600)
    assert router.applied_weight(traffic) is None  # the annotation no longer splits on port 8080
    assert router.applied_weight(explicit) == 25


def test_alb_errors_a_user_can_fix(kube: Kube, namespace: str) -> None:
    router = AlbRouter(kube.api, elbv2=None)
    missing = WorkloadTraffic(namespace, WORKLOAD, alb_routing("absent"))
    with pytest.raises(TrafficRoutingError, match="does not exist"):
        router.set_weight(missing, 10)
    assert router.applied_weight(missing) is None
    create_ingress(kube, namespace, "other", action="something-else")
    unrouted = WorkloadTraffic(namespace, WORKLOAD, alb_routing("other"))
    with pytest.raises(TrafficRoutingError, match="use-annotation"):
        router.set_weight(unrouted, 10)
    assert router.applied_weight(unrouted) is None


@pytest.fixture
def elbv2(emulator: AwsEmulator) -> Any:
    emulator.reset()
    return boto3.client("elbv2", region_name="us-east-1", endpoint_url=emulator.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def make_alb(emulator: AwsEmulator, elbv2: Any, namespace: str, ingress: str, weight: int) -> dict[str, str]:
    """An ALB as the AWS Load Balancer Controller would leave it: target groups tagged with their resource id,
    a listener, and a rule forwarding `weight` to the canary. Returns DNS name and rule ARN."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=emulator.url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    lb = elbv2.create_load_balancer(Name="k8s-aenv-web", Subnets=subnets, Type="application",
                                    Scheme="internal")["LoadBalancers"][0]
    groups = {}
    for service in (f"{WORKLOAD}-canary", f"{WORKLOAD}-stable", "unrelated"):
        tg = elbv2.create_target_group(
            Name=f"k8s-{service}"[:32], Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
            Tags=[{"Key": "ingress.k8s.aws/resource", "Value": f"{namespace}/{ingress}-{service}:80"},
                  {"Key": "elbv2.k8s.aws/cluster", "Value": "test"}])["TargetGroups"][0]
        groups[service] = tg["TargetGroupArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["unrelated"]}])["Listeners"][0]
    rule = elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=1,
                             Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                             Actions=[forward(groups, weight)])["Rules"][0]
    return {"dns": lb["DNSName"], "rule": rule["RuleArn"], **groups}


def forward(groups: dict[str, str], weight: int) -> dict[str, Any]:
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": groups[f"{WORKLOAD}-canary"], "Weight": weight},
        {"TargetGroupArn": groups[f"{WORKLOAD}-stable"], "Weight": 100 - weight}]}}


def set_ingress_hostname(kube: Kube, namespace: str, hostname: str, name: str = "web") -> None:
    client.NetworkingV1Api(kube.api).patch_namespaced_ingress_status(
        name, namespace, {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}})


def test_alb_applied_weight_reads_the_listener_rule_from_elbv2(kube: Kube, namespace: str,
                                                             emulator: AwsEmulator, elbv2: Any) -> None:
    create_ingress(kube, namespace)
    alb = make_alb(emulator, elbv2, namespace, "web", weight=10)
    assert alb["dns"].endswith(".us-east-1.elb.amazonaws.com")
    regions: list[str] = []

    def factory(region: str) -> Any:
        regions.append(region)
        return elbv2

    routing = alb_routing()
    router = router_for(routing, kube.api, elbv2=factory)
    traffic = WorkloadTraffic(namespace, WORKLOAD, routing)
    router.set_weight(traffic, 10)
    assert router.applied_weight(traffic) == 10
    assert isinstance(router, AlbRouter) and router.last_verified_by == "annotation"  # no hostname yet
    set_ingress_hostname(kube, namespace, alb["dns"])
    assert router.applied_weight(traffic) == 10
    assert router.last_verified_by == "elbv2"
    assert regions == ["us-east-1"]  # the region comes from the load balancer's DNS name

    # The annotation says 50, but the controller has not reprogrammed the ALB yet: not applied.
    router.set_weight(traffic, 50)
    annotation = read_ingress(kube, namespace).metadata.annotations[annotation_key(traffic)]
    assert json.loads(annotation) == expected_action(50)
    assert router.applied_weight(traffic) == 10
    # The controller (here: us) updates the listener rule: now it is applied.
    elbv2.modify_rule(RuleArn=alb["rule"], Actions=[forward(alb, 50)])
    assert router.applied_weight(traffic) == 50
    assert router.last_verified_by == "elbv2"
    # A second rule that still sends everything to stable makes the ALB disagree with itself: not applied.
    listener = elbv2.describe_listeners(LoadBalancerArn=elbv2.describe_load_balancers()["LoadBalancers"][0]
                                        ["LoadBalancerArn"])["Listeners"][0]
    extra = elbv2.create_rule(ListenerArn=listener["ListenerArn"], Priority=2,
                              Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                              Actions=[forward(alb, 0)])["Rules"][0]
    assert router.applied_weight(traffic) is None
    elbv2.modify_rule(RuleArn=extra["RuleArn"], Actions=[forward(alb, 50)])
    assert router.applied_weight(traffic) == 50


def test_alb_falls_back_to_the_annotation_when_elbv2_does_not_know_the_load_balancer(
        kube: Kube, namespace: str, elbv2: Any) -> None:
    create_ingress(kube, namespace)
    routing = alb_routing()
    router = AlbRouter(kube.api, elbv2=lambda region: elbv2)
    traffic = WorkloadTraffic(namespace, WORKLOAD, routing)
    router.set_weight(traffic, 30)
    set_ingress_hostname(kube, namespace, "k8s-elsewhere-0123456789.eu-west-1.elb.amazonaws.com")
    assert router.applied_weight(traffic) == 30
    assert router.last_verified_by == "annotation"


# ---------------------------------------------------------------------------------------------------------------
# Gateway API HTTPRoute
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def httproute_crd(kube: Kube) -> Iterator[None]:
    with httproute_crd_installed(kube):
        yield


def write_parent_status(kube: Kube, namespace: str, generation: int, accepted: str = "True",
                        name: str = "web") -> None:
    """What a gateway controller does: report on the route through the status subresource."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {"parents": [{
        "parentRef": {"name": "public"}, "controllerName": "example.com/gateway-controller",
        "conditions": [
            {"type": "Accepted", "status": accepted, "observedGeneration": generation,
             "lastTransitionTime": now, "reason": "Accepted" if accepted == "True" else "NotAllowedByListeners",
             "message": "test"},
            {"type": "ResolvedRefs", "status": "True", "observedGeneration": generation,
             "lastTransitionTime": now, "reason": "ResolvedRefs", "message": "test"}],
    }]}
    kube.custom.patch_namespaced_custom_object_status(GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES,
                                                      name, {"status": status})


def test_httproute_weights_for_each_step(kube: Kube, namespace: str, httproute_crd: None) -> None:
    create_route(kube, namespace)
    routing = gateway_routing()
    router = router_for(routing, kube.api)
    assert isinstance(router, GatewayApiRouter)
    traffic = WorkloadTraffic(namespace, WORKLOAD, routing)
    assert router.applied_weight(traffic) == 0  # the CRD defaults the stable weight to 1, the canary has 0
    for weight in (10, 50, 100, 0):
        router.set_weight(traffic, weight)
        route = get_route(kube, namespace)
        assert weights(route) == {f"{WORKLOAD}-stable": 100 - weight, f"{WORKLOAD}-canary": weight}
        assert route["spec"]["rules"][1]["backendRefs"] == [
            {"group": "", "kind": "Service", "name": "admin", "port": 8080, "weight": 1}]  # untouched
        assert router.applied_weight(traffic) == weight  # no gateway controller: the read-back weights
    generation = get_route(kube, namespace)["metadata"]["generation"]
    router.set_weight(traffic, 0)  # already so: nothing written, no new generation
    assert get_route(kube, namespace)["metadata"]["generation"] == generation


def test_httproute_update_survives_a_concurrent_change(kube: Kube, namespace: str, httproute_crd: None) -> None:
    create_route(kube, namespace)

    class Racing(GatewayApiRouter):
        """Someone else changes the route between our read and our write, `races` times."""

        def __init__(self, api: client.ApiClient, races: int, who: str) -> None:
            super().__init__(api)
            self.races, self.who, self.reads, self.writes = races, who, 0, 0

        def _read(self, ns: str, name: str) -> dict[str, Any]:
            route = super()._read(ns, name)
            self.reads += 1
            if self.reads <= self.races:
                kube.custom.patch_namespaced_custom_object(
                    GATEWAY_GROUP, GATEWAY_VERSION, ns, HTTPROUTES, name,
                    {"metadata": {"labels": {"synced-by": f"{self.who}-{self.reads}"}},
                     "spec": {"hostnames": ["ws.example.com", f"{self.who}{self.reads}.example.com"]}})
            return route

        def _replace(self, ns: str, name: str, route: dict[str, Any]) -> dict[str, Any]:
            self.writes += 1
            return super()._replace(ns, name, route)

    traffic = WorkloadTraffic(namespace, WORKLOAD, gateway_routing())
    router = Racing(kube.api, races=1, who="gitops")
    router.set_weight(traffic, 20)
    assert (router.reads, router.writes) == (2, 2)  # the first write met a 409 and was redone on a fresh read
    route = get_route(kube, namespace)
    assert weights(route) == {f"{WORKLOAD}-stable": 80, f"{WORKLOAD}-canary": 20}
    assert route["metadata"]["labels"] == {"synced-by": "gitops-1"}  # the concurrent change is kept
    assert route["spec"]["hostnames"] == ["ws.example.com", "gitops1.example.com"]

    stubborn = Racing(kube.api, races=100, who="stubborn")
    with pytest.raises(TrafficRoutingError, match="gave up after 5 conflicting concurrent updates"):
        stubborn.set_weight(traffic, 40)
    assert (stubborn.reads, stubborn.writes) == (5, 5)  # bounded
    assert weights(get_route(kube, namespace)) == {f"{WORKLOAD}-stable": 80, f"{WORKLOAD}-canary": 20}


def test_httproute_applied_only_once_the_gateway_accepted_the_generation(
        kube: Kube, namespace: str, httproute_crd: None) -> None:
    create_route(kube, namespace)
    router = GatewayApiRouter(kube.api)
    traffic = WorkloadTraffic(namespace, WORKLOAD, gateway_routing())
    router.set_weight(traffic, 10)
    old = get_route(kube, namespace)["metadata"]["generation"]
    write_parent_status(kube, namespace, old)
    assert router.applied_weight(traffic) == 10

    router.set_weight(traffic, 50)
    new = get_route(kube, namespace)["metadata"]["generation"]
    assert new > old
    assert router.applied_weight(traffic) is None  # the gateway has not seen the new weights yet
    write_parent_status(kube, namespace, new, accepted="False")
    assert router.applied_weight(traffic) is None  # seen, but not accepted
    write_parent_status(kube, namespace, new)
    assert router.applied_weight(traffic) == 50
    assert get_route(kube, namespace)["status"]["parents"][0]["conditions"][0]["observedGeneration"] == new


def test_httproute_errors_a_user_can_fix(kube: Kube, namespace: str, httproute_crd: None) -> None:
    router = GatewayApiRouter(kube.api)
    with pytest.raises(TrafficRoutingError, match="does not exist"):
        router.set_weight(WorkloadTraffic(namespace, WORKLOAD, gateway_routing("absent")), 10)
    assert router.applied_weight(WorkloadTraffic(namespace, WORKLOAD, gateway_routing("absent"))) is None
    create_route(kube, namespace)
    other = WorkloadTraffic(namespace, "other-workload", gateway_routing())
    with pytest.raises(TrafficRoutingError, match="backendRefs name both other-workload-stable"):
        router.set_weight(other, 10)
    assert router.applied_weight(other) is None

