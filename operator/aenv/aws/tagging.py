"""Tags of every aenv resource of a service in one paginated call (the Resource Groups Tagging API)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, retagged
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


def tags_or_ask(listing: Listing[dict[str, str]], arn: str, ask: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The tags of `arn` from the batch listing; when the listing lacks them (untagged, tagged since it was
    made, or an endpoint without the tagging API), from the resource's own call, remembered in the listing."""
    try:
        tags = listing.get(arn)
    except Exception:  # noqa: BLE001 - the tagging API is optional: the resource's own call answers instead
        tags = None
    if tags is None:
        tags = ask()
        listing.put(arn, tags)
    return tags


def tags_drifted(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a resource's tags need aenv to retag it: a wanted tag missing or different, or the released mark."""
    return any(tags.get(k) != v for k, v in wanted.items()) or TAG_RELEASED in tags


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags in the Key/Value list form most services take."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def retag_by_arn(client: Any, arn_field: str, arn: str, tags: Listing[dict[str, str]], before: Mapping[str, str],
                 wanted: Mapping[str, str]) -> None:
    """Retag a resource of a service that tags by ARN with TagResource/UntagResource (SNS: arn_field
    "ResourceArn", CloudWatch: "ResourceARN"): off with the released mark, on with the wanted tags, and remember."""
    client.untag_resource(**{arn_field: arn}, TagKeys=[TAG_RELEASED])
    client.tag_resource(**{arn_field: arn}, Tags=tag_list(wanted))
    tags.put(arn, retagged(before, wanted))


def release_by_arn(client: Any, arn_field: str, arn: str, tags: Listing[dict[str, str]]) -> None:
    """Mark a retained resource released (aenv no longer manages it), likewise by ARN, and forget its tags."""
    client.tag_resource(**{arn_field: arn}, Tags=tag_list({TAG_RELEASED: "true"}))
    tags.forget(arn)
