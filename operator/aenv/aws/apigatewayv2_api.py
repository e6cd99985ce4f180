"""API Gateway v2 WebSocket APIs (kind apigatewayv2.api), with their integration and routes.

The integration and the routes are part of the API's configuration: they have no name or tags of their own,
they live and die with the API (DeleteApi removes them), and the set of routes is what matters (a route made
by hand is drift, and removed). Desired params: route_selection_expression, routes (route keys), and
integration_uri (the HTTP_PROXY backend; None: routes without an integration). The integration passes the
connection id and the route key as headers (plan.gateway.REQUEST_PARAMETERS).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.gateway import REQUEST_PARAMETERS
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import tags_drifted

KIND = "apigatewayv2.api"
MANAGED = "managed by aenv"  # the Description that marks aenv's integration among any made by hand
NOT_FOUND = "NotFoundException"


def arn(region: str, path: str) -> str:
    """The ARN of an API Gateway resource, e.g. path "/apis/a1b2c3"."""
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:apigateway:{region}::{path}"


def not_found(error: ClientError) -> bool:
    return error_code(error) == NOT_FOUND


def list_apis(client: Any) -> dict[str, list[dict[str, Any]]]:
    """aenv's APIs by name. API names are not unique, so each name has a list."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("get_apis").paginate():
        for item in page.get("Items", []):
            if item["Name"].startswith("aenv-"):
                out.setdefault(item["Name"], []).append(item)
    return out


def pick(apis: list[dict[str, Any]] | None, desired: Desired) -> dict[str, Any] | None:
    """Of the APIs with the desired name: this incarnation's, else one not released, else any aenv one."""
    uid = desired.tags.get(TAG_UID)

    def rank(api: dict[str, Any]) -> tuple[bool, bool, bool]:
        tags = api.get("Tags", {})
        return uid is not None and tags.get(TAG_UID) == uid, TAG_RELEASED not in tags, TAG_ENVIRONMENT in tags

    return max(apis, key=rank) if apis else None


def _stale(integration: dict[str, Any] | None, uri: str | None) -> bool:
    """Whether aenv's integration (None: there is none) differs from an HTTP_PROXY integration to uri with
    REQUEST_PARAMETERS."""
    if integration is None:
        return uri is not None
    return (integration.get("IntegrationUri") != uri or integration.get("IntegrationType") != "HTTP_PROXY"
            or (integration.get("RequestParameters") or {}) != REQUEST_PARAMETERS)


def websocket_url(endpoint: str) -> str:
    """AWS gives a WebSocket API's endpoint as wss://...; moto gives https://."""
    return "wss://" + endpoint.split("://", 1)[-1]


class WebSocketApis(Classified):
    """One paginated GetApis per interval for every environment (it carries the tags: the tagging API does not
    cover API Gateway v2); GetIntegrations and GetRoutes once per API and interval."""

    def __init__(self, target: AwsTarget) -> None:
        self.api = session.client("apigatewayv2", target.region, target.endpoint)
        self.region = target.region
        self.apis = Listing(lambda: list_apis(self.api))

    def _all(self, method: str, api_id: str) -> list[dict[str, Any]]:
        return [i for page in self.api.get_paginator(method).paginate(ApiId=api_id) for i in page.get("Items", [])]

    def _routing(self, api_id: str) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        """aenv's integration (if any) and the routes by key."""
        ours = next((i for i in self._all("get_integrations", api_id) if i.get("Description") == MANAGED), None)
        return ours, {r["RouteKey"]: r for r in self._all("get_routes", api_id)}

    def observe(self, desired: Desired) -> Observation:
        try:
            found = pick(self.apis.get(desired.name), desired)
            if found is None:
                return Observation.absent()
            tags = found.get("Tags", {})
            diff: dict[str, tuple[Any, Any]] = {}
            immutable: tuple[str, ...] = ()
            if desired.params and found.get("ProtocolType") != "WEBSOCKET":
                immutable = ("protocol",)
            elif desired.params:
                diff = self._diff(found, desired, *self._routing(found["ApiId"]))
        except ClientError as e:
            if not_found(e):  # deleted since the listing
                self.apis.expire()
                return Observation.absent()
            raise
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"id": found["ApiId"], "endpoint": websocket_url(found["ApiEndpoint"])},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="available",
        )

    @staticmethod
    def _diff(found: dict[str, Any], desired: Desired, integration: dict[str, Any] | None,
              routes: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
        p, tags = desired.params, found.get("Tags", {})
        diff: dict[str, tuple[Any, Any]] = {}
        expression = found.get("RouteSelectionExpression")
        if expression != p["route_selection_expression"]:
            diff["route_selection_expression"] = (expression, p["route_selection_expression"])
        if tags_drifted(tags, desired.tags):
            diff["tags"] = (tags, dict(desired.tags))
        if _stale(integration, p["integration_uri"]):
            diff["integration"] = (integration.get("IntegrationUri") if integration else None, p["integration_uri"])
        target = f"integrations/{integration['IntegrationId']}" if integration and p["integration_uri"] else None
        got = {k: r.get("Target") for k, r in routes.items()}
        want = dict.fromkeys(p["routes"], target)
        if got != want:
            diff["routes"] = (got, want)
        return diff

    def create(self, desired: Desired) -> Observation:
        # API names are not unique, so nothing stops a second create: the lookup by name before it is the guard.
        created = self.api.create_api(Name=desired.name, ProtocolType="WEBSOCKET",
                             RouteSelectionExpression=desired.params["route_selection_expression"],
                             Tags=dict(desired.tags))
        known = [a for a in self.apis.get(desired.name) or [] if a["ApiId"] != created["ApiId"]]
        self.apis.put(desired.name, [*known, created])
        self._route(created["ApiId"], desired)
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        api_id = observed.outputs["id"]
        resource = arn(self.region, f"/apis/{api_id}")
        if "route_selection_expression" in observed.diff:
            self.api.update_api(ApiId=api_id,
                       RouteSelectionExpression=desired.params["route_selection_expression"])
        if "tags" in observed.diff:
            self.api.untag_resource(ResourceArn=resource, TagKeys=[TAG_RELEASED])
            self.api.tag_resource(ResourceArn=resource, Tags=dict(desired.tags))
        if "route_selection_expression" in observed.diff or "tags" in observed.diff:
            self.apis.expire()
        if "integration" in observed.diff or "routes" in observed.diff:
            self._route(api_id, desired)
        return self.observe(desired)

    def _route(self, api_id: str, desired: Desired) -> None:
        """Make the integration and the routes what desired says, whatever they are now."""
        integration, routes = self._routing(api_id)
        uri, target = desired.params["integration_uri"], None
        if uri:
            settings = {"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST", "IntegrationUri": uri,
                        "ConnectionType": "INTERNET", "Description": MANAGED,
                        "RequestParameters": REQUEST_PARAMETERS}
            if integration is None:
                integration = self.api.create_integration(ApiId=api_id, **settings)
            elif _stale(integration, uri):
                self.api.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], **settings)
            target = f"integrations/{integration['IntegrationId']}"
        want = desired.params["routes"]
        for key, route in routes.items():
            if key in want and route.get("Target") == target:
                continue
            if key in want and target is not None:
                self.api.update_route(ApiId=api_id, RouteId=route["RouteId"], Target=target)
                continue
            # Made by hand, or to lose its target (which UpdateRoute cannot remove): delete, re-create below if wanted.
            self.api.delete_route(ApiId=api_id, RouteId=route["RouteId"])
        for key in want:
            if key not in routes or (routes[key].get("Target") != target and target is None):
                self.api.create_route(ApiId=api_id, RouteKey=key, **({"Target": target} if target else {}))
        if integration is not None and not uri:  # no route refers to it any more
            self.api.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        api_id = observed.outputs["id"]
        if policy == "Retain":
            self.api.tag_resource(ResourceArn=arn(self.region, f"/apis/{api_id}"), Tags={TAG_RELEASED: "true"})
        else:  # Snapshot: an API keeps no data at rest. Its integrations, routes and stages go with it.
            try:
                self.api.delete_api(ApiId=api_id)
            except ClientError as e:
                if not not_found(e):
                    raise
        self.apis.expire()
