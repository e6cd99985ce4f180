"""Gateway API: the HTTPRoute named in trafficRouting.gatewayAPI.httpRoute.

Every rule whose backendRefs name both `<workload>-stable` and `<workload>-canary` (Services in the route's
namespace) gets weight canary w / stable 100-w; the route's other rules, backendRefs and fields are left
as they are. The write is a read-modify-replace carrying the resourceVersion that was read, retried on
409 Conflict a bounded number of times, so a concurrent change by someone else (a GitOps sync, another
controller) is neither lost nor overwritten.

What applied_weight verifies:
  - the weights in the route's spec (all matching rules agree; a backendRef without weight counts as 1), and
  - when the route has parent status (a gateway controller is reconciling it): every entry of
    status.parents has condition Accepted=True with observedGeneration >= the route's current
    metadata.generation, i.e. each Gateway has taken up the spec that carries these weights (the current
    generation is the one we wrote or a later one, whose weights are the ones reported). Otherwise None.
  - when the route has no parent status at all (no gateway controller), only the read-back weights.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .base import TrafficRoutingError, WorkloadTraffic, check_weight, retry_on_conflict, share

GROUP = "gateway.networking.k8s.io"
PLURAL = "httproutes"


class GatewayApiRouter:
    polled = False  # the HTTPRoute, its status (accepted by the gateway) included, is watched

    def __init__(self, api: client.ApiClient, version: str = "v1") -> None:
        self.custom = client.CustomObjectsApi(api)
        self.version = version

    @staticmethod
    def _route_name(workload: WorkloadTraffic) -> str:
        if workload.routing is None or workload.routing.gateway_api is None:
            raise ValueError(f"{workload.namespace}/{workload.workload}: no trafficRouting.gatewayAPI")
        return workload.routing.gateway_api.http_route

    def _read(self, namespace: str, name: str) -> dict[str, Any]:
        return _object(self.custom.get_namespaced_custom_object(GROUP, self.version, namespace, PLURAL, name))

    def _replace(self, namespace: str, name: str, route: dict[str, Any]) -> dict[str, Any]:
        return _object(self.custom.replace_namespaced_custom_object(GROUP, self.version, namespace, PLURAL, name,
                                                                    route))

    def set_weight(self, workload: WorkloadTraffic, canary_weight: int) -> None:
        check_weight(canary_weight)
        name, namespace = self._route_name(workload), workload.namespace
        weights = {workload.canary_service: canary_weight, workload.stable_service: 100 - canary_weight}

        def update() -> None:
            try:
                route = self._read(namespace, name)
            except ApiException as e:
                if e.status == 404:
                    raise TrafficRoutingError(f"HTTPRoute {namespace}/{name} named in trafficRouting.gatewayAPI "
                                              "does not exist") from None
                raise
            rules = _weighted_rules(route, workload)
            if not rules:
                raise TrafficRoutingError(
                    f"HTTPRoute {namespace}/{name} has no rule whose backendRefs name both "
                    f"{workload.stable_service} and {workload.canary_service}: add one to split traffic")
            changed = False
            for rule in rules:
                for ref in rule["backendRefs"]:
                    want = weights.get(ref.get("name", "")) if _is_service_ref(ref, namespace) else None
                    if want is not None and ref.get("weight", 1) != want:
                        ref["weight"] = want
                        changed = True
            if changed:  # the route as read carries metadata.resourceVersion: a stale write is a 409
                self._replace(namespace, name, route)

        retry_on_conflict(update, f"HTTPRoute {namespace}/{name}")

    def applied_weight(self, workload: WorkloadTraffic) -> int | None:
        name, namespace = self._route_name(workload), workload.namespace
        try:
            route = self._read(namespace, name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        weights = {_rule_share(rule, workload, namespace) for rule in _weighted_rules(route, workload)}
        if len(weights) != 1:  # no such rule, or rules that disagree
            return None
        (weight,) = weights
        parents = (route.get("status") or {}).get("parents") or []
        if not parents:
            return weight  # no gateway controller reports on this route: the read-back weights are all there is
        generation = int((route.get("metadata") or {}).get("generation", 0))
        return weight if all(_accepted(parent, generation) for parent in parents) else None


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"the API server answered {type(value).__name__}, not an object")
    return value


def _is_service_ref(ref: dict[str, Any], namespace: str) -> bool:
    return (ref.get("group", "") in ("", "core") and ref.get("kind", "Service") == "Service"
            and ref.get("namespace", namespace) == namespace)


def _weighted_rules(route: dict[str, Any], workload: WorkloadTraffic) -> list[dict[str, Any]]:
    """The route's rules whose backendRefs name both the stable and the canary Service."""
    namespace = workload.namespace
    wanted = {workload.stable_service, workload.canary_service}
    found = []
    for rule in (route.get("spec") or {}).get("rules") or []:
        names = {ref.get("name") for ref in rule.get("backendRefs") or [] if _is_service_ref(ref, namespace)}
        if wanted <= names:
            found.append(rule)
    return found


def _rule_share(rule: dict[str, Any], workload: WorkloadTraffic, namespace: str) -> int | None:
    totals = {workload.stable_service: 0, workload.canary_service: 0}
    for ref in rule.get("backendRefs") or []:
        if _is_service_ref(ref, namespace) and ref.get("name") in totals:
            totals[ref["name"]] += int(ref.get("weight", 1))
    return share(totals[workload.canary_service], totals[workload.stable_service])


def _accepted(parent: dict[str, Any], generation: int) -> bool:
    for condition in parent.get("conditions") or []:
        if condition.get("type") == "Accepted":
            return bool(condition.get("status") == "True"
                        and int(condition.get("observedGeneration", 0)) >= generation)
    return False
