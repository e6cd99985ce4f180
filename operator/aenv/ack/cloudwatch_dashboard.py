"""CloudWatch dashboards in mode ack (kind cloudwatch.dashboard): a cloudwatch Dashboard CR (dashboardName,
dashboardBody) per environment.

The body is mode boto3's (aws/cloudwatch_dashboard.py): CloudWatch cannot tag a dashboard, so its first widget names
the environment and uid that own it. Under Retain aenv first writes the released marker into the body, as mode
boto3 does, and deletes the CR with ACK's retain policy on a later pass, once ACK reports the CR synced.
Outputs are mode boto3's: name and arn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.cloudwatch_dashboard import _marker, body
from ..aws.errors import TransientError
from ..naming import EnvironmentRef
from ..plan.types import Desired, Observation
from .resource import AckClient, AckKind, arn, environment_of_object, manifest, readiness

KIND = "cloudwatch.dashboard"


def document(content: Mapping[str, Any]) -> str:
    return json.dumps(content, separators=(",", ":"))


def released(current: str | None, env: EnvironmentRef) -> str:
    """The body with its ownership widget replaced by the released one (mode boto3's Retain)."""
    try:
        found = json.loads(current or "{}")
    except ValueError:
        found = {}
    found = found if isinstance(found, dict) else {}
    widgets = found.get("widgets")
    kept = widgets[1:] if isinstance(widgets, list) else []
    return document({**found, "widgets": [_marker(env.key, env.uid, released=True), *kept]})


class CloudWatchDashboards(AckClient):
    KIND = AckKind("cloudwatch", "Dashboard")
    TAG_FIELD = None

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {"dashboardName": desired.name, "dashboardBody": document(body(desired))}

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": (obj.get("spec") or {}).get("dashboardName"), "arn": arn(obj)}

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        obj = self.find(desired)
        env = environment_of_object(obj) if obj is not None else None
        if policy == "Retain" and obj is not None and env is not None:
            spec = obj.get("spec") or {}
            want = released(spec.get("dashboardBody"), env)
            if spec.get("dashboardBody") != want:
                self.cluster.apply(manifest(self.KIND, obj["metadata"]["name"], env, self.region,
                                            {"dashboardName": spec.get("dashboardName", desired.name),
                                             "dashboardBody": want}))
                raise TransientError(f"{desired.name}: waiting for ACK to write the released dashboard")
            if not readiness(obj, self.KIND.controller, self.unusable(obj)).ready:
                raise TransientError(f"{desired.name}: waiting for ACK to write the released dashboard")
        super().delete(desired, observed, policy)
