"""CloudWatch dashboards (kind cloudwatch.dashboard): one per environment, with cache, queue and gateway widgets.

CloudWatch cannot tag a dashboard, so ownership lives in the dashboard itself: its first widget is a text widget
naming the environment and its uid (and, under Retain, saying it was released). A dashboard without that widget
is not aenv's. Drift is any difference between the parsed bodies; put_dashboard replaces the whole body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_UID
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .listing import Listing

KIND = "cloudwatch.dashboard"
_OWNER = re.compile(r"\(environment (\S+), uid (\S+)\)")
_WIDTH, _HEIGHT = 12, 6
_MISSING = {"ResourceNotFound", "ResourceNotFoundException"}


def _marker(environment: str, uid: str, released: bool = False) -> dict[str, Any]:
    who = f"(environment {environment}, uid {uid})"
    text = (f"Released by aenv {who}: no longer managed." if released else
            f"Managed by aenv {who}. Edits here are reverted: change the AnalyticsEnvironment instead.")
    return {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
            "properties": {"markdown": f"# {environment}\n{text}"}}


def owner(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(environment, uid) from the ownership widget, or (None, None)."""
    widgets = body.get("widgets")
    first = widgets[0] if isinstance(widgets, list) and widgets else {}
    properties = first.get("properties") if isinstance(first, dict) else None
    markdown = properties.get("markdown") if isinstance(properties, dict) else None
    found = _OWNER.search(markdown) if isinstance(markdown, str) else None
    return (found.group(1), found.group(2)) if found else (None, None)


def _graph(title: str, region: str, metrics: list[list[Any]], stat: str,
           threshold: tuple[str, float] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": title, "region": region, "view": "timeSeries", "stat": stat,
                                  "period": 60, "metrics": metrics}
    if threshold:
        properties["annotations"] = {"horizontal": [{"label": threshold[0], "value": threshold[1]}]}
    return {"type": "metric", "width": _WIDTH, "height": _HEIGHT, "properties": properties}


def body(desired: Desired) -> dict[str, Any]:
    """The dashboard: cache per node, queues (main and dead-letter), the WebSocket API, two graphs a row."""
    p = desired.params
    region = p["region"]
    graphs = []
    if "replication_group_id" in p:
        nodes = [f"{p['replication_group_id']}-{i:03d}" for i in range(1, p["cache_nodes"] + 1)]

        def per_node(metric: str) -> list[list[Any]]:
            return [["AWS/ElastiCache", metric, "CacheClusterId", node] for node in nodes]

        graphs += [
            _graph("Cache engine CPU %", region, per_node("EngineCPUUtilization"), "Average", ("P1", 90)),
            _graph("Cache memory %", region, per_node("DatabaseMemoryUsagePercentage"), "Average", ("P2", 90)),
            _graph("Cache hit rate %", region, per_node("CacheHitRate"), "Average", ("P3", 80)),
            _graph("Cache connections", region, per_node("CurrConnections"), "Maximum"),
        ]
    queues = {k: str(v).rsplit(":", 1)[-1] for k, v in sorted(p.items()) if k.startswith("queue/")}
    main = [name for key, name in queues.items() if not key.endswith("/dead-letter")]
    dead = [name for key, name in queues.items() if key.endswith("/dead-letter")]
    if main:
        graphs += [
            _graph("Queue depth", region, [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]
                                           for q in main], "Maximum", ("P2", 1000)),
            _graph("Oldest message (s)", region, [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q]
                                                  for q in main], "Maximum", ("P3", 600)),
        ]
    if dead:
        graphs.append(_graph("Dead-letter messages", region, [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] for q in dead], "Maximum", ("P1", 10)))
    if "gateway_api_id" in p:
        api = p["gateway_api_id"]
        graphs += [
            _graph("WebSocket connects and messages", region, [
                ["AWS/ApiGateway", m, "ApiId", api] for m in ("ConnectCount", "MessageCount")], "Sum"),
            _graph("WebSocket errors", region, [
                ["AWS/ApiGateway", m, "ApiId", api] for m in ("ClientError", "ExecutionError", "IntegrationError")],
                "Sum"),
            _graph("WebSocket integration latency (ms)", region, [
                ["AWS/ApiGateway", "IntegrationLatency", "ApiId", api]], "p99"),
        ]
    for i, graph in enumerate(graphs):
        graph["x"], graph["y"] = (i % 2) * _WIDTH, 2 + (i // 2) * _HEIGHT
    return {"widgets": [_marker(desired.tags[TAG_ENVIRONMENT], desired.tags[TAG_UID]), *graphs]}


class CloudWatchDashboards(Classified):
    """One paginated ListDashboards (prefix aenv-) per interval; GetDashboard only for a dashboard whose
    LastModified changed since its body was last read."""

    def __init__(self, target: AwsTarget) -> None:
        self.cw = session.client("cloudwatch", target.region, target.endpoint)
        self.dashboards = Listing(self._list)
        self._bodies: dict[str, tuple[Any, dict[str, Any]]] = {}  # name -> (LastModified, parsed body)

    def _list(self) -> dict[str, dict[str, Any]]:
        out = {}
        for page in self.cw.get_paginator("list_dashboards").paginate(DashboardNamePrefix="aenv-"):
            for entry in page.get("DashboardEntries", []):
                out[entry["DashboardName"]] = entry
        return out

    def _entry(self, name: str) -> dict[str, Any] | None:
        return self.dashboards.get(name)

    def _body(self, entry: Mapping[str, Any]) -> dict[str, Any] | None:
        name, modified = entry["DashboardName"], entry.get("LastModified")
        cached = self._bodies.get(name)
        if cached is not None and modified is not None and cached[0] == modified:
            return cached[1]
        try:
            got = self.cw.get_dashboard(DashboardName=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in _MISSING:
                self.dashboards.forget(name)
                return None
            raise
        try:
            parsed = json.loads(got["DashboardBody"])
        except ValueError:
            parsed = {}
        parsed = parsed if isinstance(parsed, dict) else {}
        self._bodies[name] = (modified, parsed)
        return parsed

    def observe(self, desired: Desired) -> Observation:
        entry = self._entry(desired.name)
        found = self._body(entry) if entry is not None else None
        if entry is None or found is None:
            return Observation.absent()
        environment, uid = owner(found)
        diff: dict[str, tuple[Any, Any]] = {}
        if desired.params and found != (want := body(desired)):
            diff["body"] = (found, want)
        return Observation(
            exists=True, ready=True, up_to_date=not diff, diff=diff, state="available",
            outputs={"name": desired.name, "arn": entry.get("DashboardArn", "")},
            owner=uid, owner_environment=environment,
        )

    def _put(self, name: str, content: Mapping[str, Any]) -> None:
        self.cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(content, separators=(",", ":")))
        self._bodies.pop(name, None)
        self.dashboards.expire()  # put_dashboard returns neither ARN nor LastModified: list again

    def create(self, desired: Desired) -> Observation:
        if self._exists(desired.name):  # made since the listing, perhaps by someone else: never overwrite it here
            self.dashboards.expire()
        else:
            self._put(desired.name, body(desired))
        return self.observe(desired)

    def _exists(self, name: str) -> bool:
        try:
            self.cw.get_dashboard(DashboardName=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def update(self, desired: Desired, observed: Observation) -> Observation:
        self._put(desired.name, body(desired))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        if policy == "Retain":
            entry = self._entry(desired.name)
            found = (self._body(entry) if entry is not None else None) or {}
            widgets = found.get("widgets")
            kept = widgets[1:] if isinstance(widgets, list) else []
            marker = _marker(observed.owner_environment or "", observed.owner or "", released=True)
            self._put(desired.name, {**found, "widgets": [marker, *kept]})
        else:  # Snapshot: a dashboard holds no data to keep
            self.cw.delete_dashboards(DashboardNames=[desired.name])
            self._bodies.pop(desired.name, None)
            self.dashboards.forget(desired.name)
