"""AWS Load Balancer Controller: the Ingress named in trafficRouting.alb.ingress.

The Ingress routes to the workload through an action: a backend with `service.name: <workload>` and
`service.port.name: use-annotation`. aenv writes the action as the annotation
`alb.ingress.kubernetes.io/actions.<workload>`:

    {"Type":"forward","ForwardConfig":{"TargetGroups":[
        {"ServiceName":"<workload>-canary","ServicePort":"<port>","Weight":w},
        {"ServiceName":"<workload>-stable","ServicePort":"<port>","Weight":100-w}],
      "TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":s}}}     (stickiness only when set)

The annotation is written with a (strategic merge) patch of that one key: no other field of the Ingress is
touched, so a concurrent writer is never overwritten and there is no conflict to retry. The AWS Load
Balancer Controller then programs the ALB's listener rules; annotations do not bump the Ingress's
generation, so Kubernetes alone cannot say when that happened.

What applied_weight verifies, in order:
  1. the Ingress exists and has the use-annotation backend for the workload (else None: the annotation
     would have no effect), and the annotation reads back as a canary/stable split on the port;
  2. when the Ingress status carries a load balancer hostname and an ELBv2 client is configured: the ALB
     with that DNS name (describe_load_balancers), the target groups the controller made for the two
     Services (tag `ingress.k8s.aws/resource` = `<namespace>/<ingress>-<service>:<port>`), and the forward
     actions of its listeners (describe_listeners) and listener rules (describe_rules) that send to them.
     The weight reported is the one those forward actions carry: what the ALB is doing, whatever the
     annotation says. None while no forward action sends to the Services, or while actions disagree.
     If ELBv2 cannot be asked (no credentials or permission, endpoint unreachable, no ALB with that DNS
     name in the region) the read-back annotation is reported and a warning is logged; throttling and
     AWS 5xx give None (asked again at the next observation).
  3. with no hostname in the status (no load balancer yet, or no controller) or no ELBv2 client: the
     read-back annotation only.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ...aws.errors import TransientError, classify
from .base import TrafficRoutingError, WorkloadTraffic, check_weight, share

log = logging.getLogger("aenv.rollouts.traffic.alb")

ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/actions."
USE_ANNOTATION = "use-annotation"
RESOURCE_TAG = "ingress.k8s.aws/resource"
_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.elb\.amazonaws\.com(?:\.cn)?\.?$")

Elbv2Factory = Callable[[str], Any]  # region -> a boto3 elbv2 client


def annotation_key(workload: WorkloadTraffic) -> str:
    return ANNOTATION_PREFIX + workload.workload


def action(workload: WorkloadTraffic, canary_weight: int) -> dict[str, Any]:
    """The forward action for the annotation, as a dict (written as compact JSON)."""
    port = str(workload.port)
    forward: dict[str, Any] = {"TargetGroups": [
        {"ServiceName": workload.canary_service, "ServicePort": port, "Weight": canary_weight},
        {"ServiceName": workload.stable_service, "ServicePort": port, "Weight": 100 - canary_weight},
    ]}
    alb = workload.routing.alb if workload.routing is not None else None
    if alb is not None and alb.stickiness_seconds is not None:
        forward["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": alb.stickiness_seconds}
    return {"Type": "forward", "ForwardConfig": forward}


def region_of(hostname: str) -> str | None:
    """The region in an ELB DNS name: k8s-ns-web-0a1b2c-123.us-east-1.elb.amazonaws.com -> us-east-1."""
    found = _REGION.search(hostname.lower())
    return found.group(1) if found else None


class _Unverifiable(Exception):
    """ELBv2 cannot be asked about this load balancer: report the annotation instead."""


class AlbRouter:
    def __init__(self, api: client.ApiClient, elbv2: Elbv2Factory | None = None,
                 default_region: str = "us-east-1") -> None:
        """`elbv2`: builds an ELBv2 client for a region; None verifies the annotation only."""
        self.networking = client.NetworkingV1Api(api)
        self.elbv2 = elbv2
        self.default_region = default_region
        self._warned: set[str] = set()
        self._lb_arns: dict[tuple[str, str], str] = {}  # (region, DNS name) -> load balancer ARN
        self.last_verified_by: str | None = None  # "elbv2" | "annotation" | None: what the last answer rests on
        self.polled = False  # the last answer asked ELBv2: no watch event tells when the load balancer changes

    @staticmethod
    def _ingress_name(workload: WorkloadTraffic) -> str:
        if workload.routing is None or workload.routing.alb is None:
            raise ValueError(f"{workload.namespace}/{workload.workload}: no trafficRouting.alb")
        return workload.routing.alb.ingress

    def _read(self, workload: WorkloadTraffic) -> client.V1Ingress | None:
        try:
            ingress: client.V1Ingress = self.networking.read_namespaced_ingress(self._ingress_name(workload),
                                                                                workload.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return ingress

    def set_weight(self, workload: WorkloadTraffic, canary_weight: int) -> None:
        check_weight(canary_weight)
        name = self._ingress_name(workload)
        ingress = self._read(workload)
        if ingress is None:
            raise TrafficRoutingError(f"Ingress {workload.namespace}/{name} named in trafficRouting.alb "
                                      "does not exist")
        if not _has_action_backend(ingress, workload.workload):
            raise TrafficRoutingError(
                f"Ingress {workload.namespace}/{name} has no backend with service name {workload.workload} and "
                f"port name {USE_ANNOTATION}: without it the ALB ignores the weights in {annotation_key(workload)}")
        want = action(workload, canary_weight)
        current = ((ingress.metadata and ingress.metadata.annotations) or {}).get(annotation_key(workload))
        if current is not None and _parse(current) == want:
            return
        value = json.dumps(want, separators=(",", ":"))
        self.networking.patch_namespaced_ingress(name, workload.namespace,
                                                 {"metadata": {"annotations": {annotation_key(workload): value}}})

    def applied_weight(self, workload: WorkloadTraffic) -> int | None:
        self.last_verified_by = None
        self.polled = False
        ingress = self._read(workload)
        if ingress is None or not _has_action_backend(ingress, workload.workload):
            return None
        annotations = (ingress.metadata and ingress.metadata.annotations) or {}
        written = _annotation_weight(annotations.get(annotation_key(workload)), workload)
        if written is None:
            return None
        hostnames = [i.hostname for i in ((ingress.status and ingress.status.load_balancer
                                           and ingress.status.load_balancer.ingress) or []) if i.hostname]
        self.polled = bool(hostnames) and self.elbv2 is not None
        if not self.polled:
            self.last_verified_by = "annotation"
            return written
        try:
            name = self._ingress_name(workload)
            weights = {self._elb_weight(hostname, workload, name) for hostname in hostnames}
        except _Unverifiable as e:
            if str(e) not in self._warned:
                self._warned.add(str(e))
                log.warning("cannot verify ALB weights through ELBv2, trusting the Ingress annotation: %s", e)
            self.last_verified_by = "annotation"
            return written
        except TransientError as e:
            log.info("ELBv2 did not answer (%s); the ALB weights are checked again at the next observation", e)
            return None
        if len(weights) != 1:
            return None
        self.last_verified_by = "elbv2"
        (weight,) = weights
        return weight

    def _elb_weight(self, hostname: str, workload: WorkloadTraffic, ingress: str) -> int | None:
        """The canary share of the ALB's forward actions to the workload's target groups, or None."""
        assert self.elbv2 is not None
        region = region_of(hostname) or self.default_region
        try:
            elb = self.elbv2(region)
            lb_arn = self._lb_arn(elb, region, hostname)
            arns = [tg["TargetGroupArn"] for tg in _pages(elb.describe_target_groups, "TargetGroups",
                                                          LoadBalancerArn=lb_arn)]
            ids = {f"{workload.namespace}/{ingress}-{svc}:{workload.port}": svc
                   for svc in (workload.canary_service, workload.stable_service)}
            service_of: dict[str, str] = {}
            for i in range(0, len(arns), 20):  # DescribeTags takes at most 20 resources
                for described in elb.describe_tags(ResourceArns=arns[i:i + 20]).get("TagDescriptions", []):
                    tags = {t["Key"]: t.get("Value", "") for t in described.get("Tags", [])}
                    if tags.get(RESOURCE_TAG) in ids:
                        service_of[described["ResourceArn"]] = ids[tags[RESOURCE_TAG]]
            shares = set()
            for listener in _pages(elb.describe_listeners, "Listeners", LoadBalancerArn=lb_arn):
                actions = list(listener.get("DefaultActions", []))
                for rule in _pages(elb.describe_rules, "Rules", ListenerArn=listener["ListenerArn"]):
                    actions.extend(rule.get("Actions", []))
                for act in actions:
                    found = _forward_share(act, service_of, workload)
                    if found is not None:
                        shares.add(found)
        except (ClientError, BotoCoreError) as e:
            if isinstance(e, ClientError) and e.response.get("Error", {}).get("Code") == "LoadBalancerNotFound":
                # deleted since it was found: look it up again at the next observation
                self._lb_arns.pop((region, hostname.lower().rstrip(".")), None)
                raise TransientError(f"load balancer {hostname} is gone") from None
            error = classify(e)
            if isinstance(error, TransientError) and isinstance(e, ClientError):
                raise error from None  # throttled or an AWS 5xx: ask again later
            raise _Unverifiable(f"ELBv2 in {region}: {error}") from None
        return shares.pop() if len(shares) == 1 else None

    def _lb_arn(self, elb: Any, region: str, hostname: str) -> str:
        """The ARN of the load balancer with this DNS name, found once by listing them and then remembered."""
        key = (region, hostname.lower().rstrip("."))
        arn = self._lb_arns.get(key)
        if arn is None:
            lb = next((lb for lb in _pages(elb.describe_load_balancers, "LoadBalancers")
                       if str(lb.get("DNSName", "")).lower().rstrip(".") == key[1]), None)
            if lb is None:
                raise _Unverifiable(f"no load balancer with DNS name {hostname} in {region}")
            if len(self._lb_arns) >= 1024:
                self._lb_arns.clear()
            arn = self._lb_arns[key] = str(lb["LoadBalancerArn"])
        return arn


def _pages(call: Callable[..., Any], key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Marker-paginated ELBv2 Describe call."""
    marker: str | None = None
    while True:
        page = call(**params, **({"Marker": marker} if marker else {}))
        yield from page.get(key, [])
        marker = page.get("NextMarker")
        if not marker:
            return


def _forward_share(act: dict[str, Any], service_of: dict[str, str], workload: WorkloadTraffic) -> int | None:
    """The canary share of one forward action, if it sends to the canary or stable target group."""
    if act.get("Type") != "forward":
        return None
    groups = (act.get("ForwardConfig") or {}).get("TargetGroups")
    if not groups and act.get("TargetGroupArn"):
        groups = [{"TargetGroupArn": act["TargetGroupArn"], "Weight": 1}]
    weights = {workload.canary_service: 0, workload.stable_service: 0}
    seen = False
    for group in groups or []:
        service = service_of.get(group.get("TargetGroupArn", ""))
        if service is not None:
            weights[service] += int(group.get("Weight", 1))
            seen = True
    return share(weights[workload.canary_service], weights[workload.stable_service]) if seen else None


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


def _annotation_weight(value: str | None, workload: WorkloadTraffic) -> int | None:
    """The canary share written in the action annotation, if it splits between our two Services on the port."""
    if value is None:
        return None
    parsed = _parse(value)
    if not isinstance(parsed, dict) or parsed.get("Type") != "forward":
        return None
    weights: dict[str, int] = {}
    for group in (parsed.get("ForwardConfig") or {}).get("TargetGroups") or []:
        if isinstance(group, dict) and str(group.get("ServicePort")) == str(workload.port):
            weight = group.get("Weight", 0)
            if not isinstance(weight, int) or isinstance(weight, bool):
                return None
            weights[str(group.get("ServiceName"))] = weight
    if workload.canary_service not in weights or workload.stable_service not in weights:
        return None
    return share(weights[workload.canary_service], weights[workload.stable_service])


def _has_action_backend(ingress: client.V1Ingress, action_name: str) -> bool:
    """Whether some backend of the Ingress is the action: service name = action, port name use-annotation."""
    spec = ingress.spec
    if spec is None:
        return False
    backends = [spec.default_backend] if spec.default_backend is not None else []
    for rule in spec.rules or []:
        backends.extend(path.backend for path in (rule.http.paths if rule.http else []) or [])
    for backend in backends:
        service = backend.service if backend is not None else None
        if service is not None and service.name == action_name and service.port is not None \
                and service.port.name == USE_ANNOTATION:
            return True
    return False
