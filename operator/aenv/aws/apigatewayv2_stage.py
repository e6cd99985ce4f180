"""The stage of a WebSocket API (kind apigatewayv2.stage): auto-deployed, with default route throttling.

Desired.name is "<api name>/<stage name>": a stage is found by its API, which deletion finds by name.
Desired params: api_id, api_endpoint, throttling_rate_limit, throttling_burst_limit. Outputs: api_id, name, url (the
workloads' GATEWAY_URL) and connections (what the workloads' role may post to: see `connections`).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .apigatewayv2_api import arn, list_apis, not_found, pick, websocket_url
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import tags_drifted

KIND = "apigatewayv2.stage"
THROTTLING = {"throttling_rate_limit": "ThrottlingRateLimit", "throttling_burst_limit": "ThrottlingBurstLimit"}


def connections(api_id: str, stage: str) -> str:
    """The resource part of the execute-api ARN that PostToConnection (and GetConnection, DeleteConnection) to any
    connection of the stage is authorized on: the workloads' role is granted execute-api:ManageConnections on it."""
    return f"{api_id}/{stage}/POST/@connections/*"


def _settings(desired: Desired) -> dict[str, Any]:
    return {"AutoDeploy": True, "DefaultRouteSettings": {
        "ThrottlingRateLimit": float(desired.params["throttling_rate_limit"]),
        "ThrottlingBurstLimit": int(desired.params["throttling_burst_limit"]),
    }}


class WebSocketStages(Classified):
    """One GetStage per stage and interval. The API listing (GetApis) is read only when deleting, when the
    desired has no params to say which API the stage is in."""

    def __init__(self, target: AwsTarget) -> None:
        self.api = session.client("apigatewayv2", target.region, target.endpoint)
        self.region = target.region
        self.apis = Listing(lambda: list_apis(self.api))

    def _api(self, desired: Desired) -> tuple[str, str] | None:
        """The stage's API: its id and WebSocket endpoint."""
        if desired.params:
            return desired.params["api_id"], desired.params["api_endpoint"]
        found = pick(self.apis.get(desired.name.rsplit("/", 1)[0]), desired)
        return (found["ApiId"], websocket_url(found["ApiEndpoint"])) if found else None

    def observe(self, desired: Desired) -> Observation:
        stage_name = desired.name.rsplit("/", 1)[1]
        try:
            api = self._api(desired)
            if api is None:
                return Observation.absent()
            stage = self.api.get_stage(ApiId=api[0], StageName=stage_name)
        except ClientError as e:
            if not_found(e):
                return Observation.absent()
            raise
        tags = stage.get("Tags", {})
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params:
            if stage.get("AutoDeploy") is not True:
                diff["auto_deploy"] = (stage.get("AutoDeploy"), True)
            route = stage.get("DefaultRouteSettings", {})
            for param, field in THROTTLING.items():
                if route.get(field) is None or float(route[field]) != float(desired.params[param]):
                    diff[param] = (route.get(field), desired.params[param])
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff,
            outputs={"api_id": api[0], "name": stage_name, "url": f"{api[1]}/{stage_name}",
                     "connections": connections(api[0], stage_name)},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state="deployed",
        )

    def create(self, desired: Desired) -> Observation:
        try:
            self.api.create_stage(ApiId=desired.params["api_id"], StageName=desired.name.rsplit("/", 1)[1],
                                  Tags=dict(desired.tags), **_settings(desired))
        except ClientError as e:
            if error_code(e) != "ConflictException":  # made since the observe: observe what is there
                raise
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        api_id, stage_name = observed.outputs["api_id"], observed.outputs["name"]
        if set(observed.diff) - {"tags"}:
            self.api.update_stage(ApiId=api_id, StageName=stage_name, **_settings(desired))
        if "tags" in observed.diff:
            resource = arn(self.region, f"/apis/{api_id}/stages/{stage_name}")
            self.api.untag_resource(ResourceArn=resource, TagKeys=[TAG_RELEASED])
            self.api.tag_resource(ResourceArn=resource, Tags=dict(desired.tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        api_id, stage_name = observed.outputs["api_id"], observed.outputs["name"]
        if policy == "Retain":
            self.api.tag_resource(ResourceArn=arn(self.region, f"/apis/{api_id}/stages/{stage_name}"),
                       Tags={TAG_RELEASED: "true"})
            return
        try:  # Snapshot: a stage keeps no data at rest
            self.api.delete_stage(ApiId=api_id, StageName=stage_name)
        except ClientError as e:
            if not not_found(e):
                raise
