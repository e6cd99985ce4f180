"""Tags of every aenv resource of a service in one paginated call (the Resource Groups Tagging API)."""

from __future__ import annotations

from typing import Any

from ..naming import TAG_ENVIRONMENT
from .listing import Listing


def tags_by_arn(tagging: Any, resource_type: str) -> Listing[dict[str, str]]:
    """A Listing of ARN -> tags for the resources of one type ("sqs", "sns", ...) that aenv tagged."""

    def fetch() -> dict[str, dict[str, str]]:
        out = {}
        for page in tagging.get_paginator("get_resources").paginate(
                ResourceTypeFilters=[resource_type], TagFilters=[{"Key": TAG_ENVIRONMENT}]):
            for item in page.get("ResourceTagMappingList", []):
                out[item["ResourceARN"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
        return out

    return Listing(fetch)
