"""A Gateway API HTTPRoute to route a workload's traffic through, for the router's tests and the chart's RBAC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.rest import ApiException

from aenv.api.rollout import TrafficRouting

from .kube import Kube

MANIFESTS = Path(__file__).parent / "manifests"
WORKLOAD = "ws-gateway"
GATEWAY_GROUP, GATEWAY_VERSION, HTTPROUTES = "gateway.networking.k8s.io", "v1", "httproutes"


@contextmanager
def httproute_crd_installed(kube: Kube) -> Iterator[None]:
    """The minimal HTTPRoute CRD, unless the cluster already has Gateway API's (then it is used, untouched)."""
    body = yaml.safe_load((MANIFESTS / "httproute-crd.yaml").read_text())
    name = body["metadata"]["name"]
    try:
        kube.ext.read_custom_resource_definition(name)
        installed_here = False
    except ApiException as e:
        if e.status != 404:
            raise
        kube.apply_crd(body)
        installed_here = True
    try:
        yield
    finally:
        if installed_here:
            kube.ext.delete_custom_resource_definition(name)


def create_route(kube: Kube, namespace: str, name: str = "web") -> dict[str, Any]:
    body = {
        "apiVersion": f"{GATEWAY_GROUP}/{GATEWAY_VERSION}", "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "hostnames": ["ws.example.com"],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "backendRefs": [{"name": f"{WORKLOAD}-stable", "port": 80},
                                 {"name": f"{WORKLOAD}-canary", "port": 80, "weight": 0}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                 "backendRefs": [{"name": "admin", "port": 8080}]},
            ],
        },
    }
    made: dict[str, Any] = kube.custom.create_namespaced_custom_object(
        GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, body)
    return made


def get_route(kube: Kube, namespace: str, name: str = "web") -> dict[str, Any]:
    found: dict[str, Any] = kube.custom.get_namespaced_custom_object(
        GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, name)
    return found


def weights(route: dict[str, Any]) -> dict[str, int]:
    return {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]}


def gateway_routing(route: str = "web") -> TrafficRouting:
    return TrafficRouting.model_validate({"gatewayAPI": {"httpRoute": route}})
