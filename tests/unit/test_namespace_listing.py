"""A namespace that shows only in the initial listing of kopf's namespace watch is served."""

from __future__ import annotations

import asyncio
from typing import Any

from kopf._cogs.structs import references
from kopf._core.reactor import observation

from aenv.kube.namespace_listing import include_initial_listing

PATTERNS = ["team-*"]


def namespace(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **metadata}}


def process(event_type: str | None, body: dict[str, Any], insights: references.Insights) -> None:
    asyncio.run(observation.process_discovered_namespace_event(
        raw_event={"type": event_type, "object": body}, namespaces=PATTERNS, insights=insights))


def test_the_watch_listing_adds_matching_namespaces_only() -> None:
    include_initial_listing()
    insights = references.Insights()
    process(None, namespace("team-a"), insights)
    process(None, namespace("other"), insights)
    process(None, namespace("team-a"), insights)
    assert insights.namespaces == {"team-a"}


def test_events_after_the_listing_are_kopfs_own() -> None:
    include_initial_listing()
    insights = references.Insights()
    process("ADDED", namespace("team-b"), insights)
    assert insights.namespaces == {"team-b"}
    process("DELETED", namespace("team-b", deletionTimestamp="2026-12-02T00:00:00Z"), insights)
    assert insights.namespaces == set()
