"""The WebSocket API in mode ack (kind apigatewayv2.api): an apigatewayv2 API CR, an Integration CR and a Route CR
per route key.

As in mode boto3 the integration and the routes are part of the API's desired resource: the API is ready when all
of them are, and the set of routes is what matters (a Route CR of the API that the plan no longer wants is deleted).
The Integration and the Routes refer to the API through apiRef, each Route to the Integration through targetRef
(ACK makes it "integrations/<id>"). They have no tags (nor in AWS); they are named after the API:
`<api>-integration`, `<api>-route-<key>`. Outputs are mode boto3's: the API's id and its wss:// endpoint.

A route cannot lose its target in place (UpdateRoute cannot remove it): its CR is deleted and written again once
gone. Deletion deletes (or retains) the routes and the integration with the API, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.apigatewayv2_api import MANAGED, websocket_url
from ..aws.component import AwsTarget
from ..naming import EnvironmentRef
from ..plan.gateway import REQUEST_PARAMETERS
from ..plan.types import Desired, Observation
from .resource import (
    MANAGED_SELECTOR,
    AckClient,
    AckKind,
    environment_of_object,
    object_name,
    reference,
)

KIND = "apigatewayv2.api"
API = AckKind("apigatewayv2", "API")
INTEGRATION = AckKind("apigatewayv2", "Integration")
ROUTE = AckKind("apigatewayv2", "Route")


def api_object(api: str) -> str:
    """The API CR's name for the API's AWS name (the Stage and the ApiMapping refer to it too)."""
    return object_name(api)


def integration_object(api: str) -> str:
    return object_name(f"{api}-integration")


def route_object(api: str, route_key: str) -> str:
    """The Route CR's name: a key like $connect gets a hash, so that it never meets a key "connect"."""
    return object_name(f"{api}-route-{route_key}")


def status_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


class WebSocketIntegrations(AckClient):
    """The API's HTTP_PROXY integration. Its desired resource is the API's."""

    KIND = INTEGRATION
    TAG_FIELD = None

    def name_of(self, desired: Desired) -> str:
        return integration_object(desired.name)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {"apiRef": reference(api_object(desired.name)), "integrationType": "HTTP_PROXY",
                "integrationMethod": "POST", "integrationURI": desired.params["integration_uri"],
                "connectionType": "INTERNET", "description": MANAGED, "requestParameters": dict(REQUEST_PARAMETERS)}

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        return None if status_of(obj).get("integrationID") else "synced, but without an integration id yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": status_of(obj).get("integrationID")}


class WebSocketRoutes(AckClient):
    """One route of the API. Its desired resource is the API's with params {route_key, integration}: see `route`."""

    KIND = ROUTE
    TAG_FIELD = None

    @staticmethod
    def route(api: Desired, route_key: str) -> Desired:
        return replace(api, params={"route_key": route_key, "integration": bool(api.params["integration_uri"])})

    def name_of(self, desired: Desired) -> str:
        return route_object(desired.name, desired.params["route_key"])

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        spec: dict[str, Any] = {"apiRef": reference(api_object(desired.name)),
                                "routeKey": desired.params["route_key"]}
        if desired.params["integration"]:
            spec["targetRef"] = reference(integration_object(desired.name))
        return spec

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        return None if status_of(obj).get("routeID") else "synced, but without a route id yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": status_of(obj).get("routeID")}

    def of_api(self, api: str, namespace: str | None) -> list[dict[str, Any]]:
        """The Route CRs aenv wrote for the API `api` (its AWS name), in `namespace` or (a deletion) anywhere."""
        resource = self.cluster.served()
        if resource is None:
            return []
        scope = {"namespace": namespace} if namespace else {}
        items = resource.get(label_selector=MANAGED_SELECTOR, **scope).items
        found = [item.to_dict() for item in items]
        name = api_object(api)
        return [r for r in found if ((r.get("spec") or {}).get("apiRef") or {}).get("from", {}).get("name") == name]


class WebSocketApis(AckClient):
    KIND = API
    ADOPTED_BY = (("apiID", "status.apiID"),)  # API names are not unique: a retained API is adopted by its id

    def __init__(self, target: AwsTarget) -> None:
        super().__init__(target)
        self.integrations = WebSocketIntegrations(target)
        self.routes = WebSocketRoutes(target)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {"name": desired.name, "protocolType": "WEBSOCKET",
                "routeSelectionExpression": desired.params["route_selection_expression"],
                "tags": dict(desired.tags)}

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = status_of(obj)
        return None if status.get("apiID") and status.get("apiEndpoint") else "synced, but without an API id yet"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        status = status_of(obj)
        return {"id": status.get("apiID"), "endpoint": websocket_url(str(status.get("apiEndpoint")))}

    def _namespace(self, desired: Desired, api: Mapping[str, Any] | None) -> str | None:
        env = self.environment(desired)
        if env is not None:
            return env.namespace
        namespace = ((api or {}).get("metadata") or {}).get("namespace")
        return str(namespace) if namespace else None

    def observe(self, desired: Desired) -> Observation:
        api = self.find(desired)
        observed = self.observation(desired, api) if api is not None else Observation.absent()
        routes = self.routes.of_api(desired.name, self._namespace(desired, api))
        if not desired.params:  # a deletion: the API is there while any of its parts is
            return observed if observed.exists else self._leftover(desired, routes)
        if not observed.exists:
            return observed
        return self.with_parts(desired, observed, self.integrations.find(desired), routes)

    def _leftover(self, desired: Desired, routes: list[dict[str, Any]]) -> Observation:
        parts = [*routes, *filter(None, [self.integrations.find(desired)])]
        owner = next((o for o in map(environment_of_object, parts) if o is not None), None)
        if owner is None:
            return Observation.absent()
        return Observation(exists=True, owner=owner.uid, owner_environment=owner.key,
                           state=f"{len(parts)} of its routes and integration being deleted")

    def with_parts(self, desired: Desired, api: Observation, integration: Mapping[str, Any] | None,
                   routes: list[dict[str, Any]]) -> Observation:
        """The API's observation with its Integration CR and Route CRs: up to date when each is and no other route
        is left, ready when all are ready."""
        diff, waiting = dict(api.diff), [] if api.ready else [api.state]
        if desired.params["integration_uri"]:
            seen = (self.integrations.observation(desired, integration) if integration is not None
                    else Observation.absent())
            if not seen.exists or not seen.up_to_date:
                diff["integration"] = (dict(seen.diff) or None, desired.params["integration_uri"])
            if not seen.ready:
                waiting.append(f"integration {seen.state or 'missing'}")
        elif integration is not None:
            diff["integration"] = (integration["spec"].get("integrationURI"), None)
        by_key = {(r.get("spec") or {}).get("routeKey"): r for r in routes}
        for key in desired.params["routes"]:
            route = self.routes.route(desired, key)
            obj = by_key.get(key)
            seen = self.routes.observation(route, obj) if obj is not None else Observation.absent()
            if not seen.exists or not seen.up_to_date:
                diff[f"route {key}"] = (dict(seen.diff) or None, key)
            if not seen.ready:
                waiting.append(f"route {key} {seen.state or 'missing'}")
        extra = sorted(str(k) for k in set(by_key) - set(desired.params["routes"]))
        if extra:
            diff["routes"] = (sorted(map(str, by_key)), list(desired.params["routes"]))
        ready = not waiting
        return Observation(
            exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=api.outputs if ready else {},
            owner=api.owner, owner_environment=api.owner_environment,
            state="available" if ready else "; ".join(waiting),
        )

    def create(self, desired: Desired) -> Observation:
        api = self.cluster.apply(self.adopting(self.manifest(desired)))
        namespace = api["metadata"]["namespace"]
        integration = self.integrations.find(desired)
        if desired.params["integration_uri"]:
            self.integrations.cluster.apply(self.integrations.manifest(desired))
        elif integration is not None:
            self.integrations.remove(integration, "Delete")
        writes, deletes = self.route_changes(desired, self.routes.of_api(desired.name, namespace))
        for obj in deletes:
            self.routes.remove(obj, "Delete")
        for route in writes:
            self.routes.cluster.apply(self.routes.manifest(route))
        return self.observe(desired)

    def route_changes(self, desired: Desired, routes: list[dict[str, Any]],
                      ) -> tuple[list[Desired], list[dict[str, Any]]]:
        """The routes to write and the Route CRs to delete: those the plan no longer wants, and those that must
        lose their target (written again once gone). A CR being deleted is left to finish."""
        by_key = {(r.get("spec") or {}).get("routeKey"): r for r in routes}
        deletes = [r for key, r in by_key.items() if key not in desired.params["routes"] and not deleting(r)]
        writes = []
        for key in desired.params["routes"]:
            route, obj = self.routes.route(desired, key), by_key.get(key)
            if obj is not None and deleting(obj):
                continue
            if obj is not None and (obj.get("spec") or {}).get("targetRef") and not route.params["integration"]:
                deletes.append(obj)
                continue
            writes.append(route)
        return writes, deletes

    def update(self, desired: Desired, observed: Observation) -> Observation:
        return self.create(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """The routes first, then the integration they target, then the API they all refer to (ACK cannot delete a
        CR whose references no longer resolve); a later pass goes on while a part is still there. What ACK keeps
        (Retain) it does not touch in AWS: every part is let go at once."""
        api = self.find(desired)
        routes = self.routes.of_api(desired.name, self._namespace(desired, api))
        for route in routes:
            self.routes.remove(route, policy)
        keep = self.deletion_policy(policy) == "retain"
        if routes and not keep:
            return
        integration = self.integrations.find(desired)
        if integration is not None:
            self.integrations.remove(integration, policy)
            if not keep:
                return
        super().delete(desired, observed, policy)
