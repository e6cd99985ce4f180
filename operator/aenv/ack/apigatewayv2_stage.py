"""The WebSocket API's stage in mode ack (kind apigatewayv2.stage): an apigatewayv2 Stage CR naming the API CR by
apiRef, auto-deployed, with the default route throttling and aenv's tags, as in mode boto3.

Desired.name is "<api name>/<stage name>". The stage is ready when ACK reports it synced and read back from AWS
(its creation date), unless its last auto-deployment failed. Outputs are mode boto3's: the API's id, the stage's
name, its URL (the API's WebSocket endpoint and the stage) and its connections' resource, from the API's outputs the
plan resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..aws.apigatewayv2_stage import connections
from ..naming import EnvironmentRef
from ..plan.types import Desired, Observation
from .apigatewayv2_api import api_object
from .resource import AckClient, AckKind, reference

KIND = "apigatewayv2.stage"


def _number(value: Any) -> int | float:
    """A whole number as an int: the API server gives 1000.0 back as 1000, which must not read as drift."""
    number = float(value)
    return int(number) if number.is_integer() else number


class WebSocketStages(AckClient):
    KIND = AckKind("apigatewayv2", "Stage")

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        api_name, stage = desired.name.rsplit("/", 1)
        p = desired.params
        return {
            "apiRef": reference(api_object(api_name)),
            "stageName": stage,
            "autoDeploy": True,
            "defaultRouteSettings": {"throttlingRateLimit": _number(p["throttling_rate_limit"]),
                                     "throttlingBurstLimit": int(p["throttling_burst_limit"])},
            "tags": dict(desired.tags),
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = obj.get("status") or {}
        if not status.get("createdDate"):
            return "synced, but not read back from AWS yet"
        message = str(status.get("lastDeploymentStatusMessage") or "")
        return f"its last deployment failed: {message}" if "fail" in message.lower() else None

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get("stageName")}

    def observation(self, desired: Desired, obj: Mapping[str, Any]) -> Observation:
        seen = super().observation(desired, obj)
        if not seen.outputs or not desired.params:
            return seen
        p, stage = desired.params, seen.outputs["name"]
        return replace(seen, outputs={"api_id": p["api_id"], "name": stage, "url": f"{p['api_endpoint']}/{stage}",
                                      "connections": connections(p["api_id"], stage)})
