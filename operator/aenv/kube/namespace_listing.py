"""A namespace created while the operator starts is served like any other.

With namespace patterns (`aenv run -n 'team-*'`), kopf lists the namespaces once, then starts a watch whose own
initial listing it ignores. A namespace created between the two listings is in neither: kopf never watches it, and
its environments get no status until the operator restarts. Here the watch's initial listing counts as well; a
namespace seen twice is added once.
"""

from __future__ import annotations

from typing import Any

from kopf._core.reactor import observation

_kopf_process = observation.process_discovered_namespace_event


async def _process_including_listing(*, raw_event: Any, namespaces: Any, insights: Any, **kwargs: Any) -> None:
    if raw_event["type"] is not None:
        await _kopf_process(raw_event=raw_event, namespaces=namespaces, insights=insights, **kwargs)
        return
    async with insights.revised:
        observation.revise_namespaces(raw_bodies=[raw_event["object"]], insights=insights, namespaces=namespaces)
        insights.revised.notify_all()


def include_initial_listing() -> None:
    """Make kopf's namespace watch act on its initial listing (idempotent)."""
    observation.process_discovered_namespace_event = _process_including_listing
