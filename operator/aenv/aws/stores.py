"""What the two data stores (ElastiCache replication groups and RDS instances) share: the tag that records the
secret version last applied, final snapshot names, engine versions, KMS key ids, and "busy" as a wait."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from typing import Any, Literal

from botocore.exceptions import ClientError

from .errors import classify, error_code

TAG_SECRET_VERSION = "aenv.dev/secret-version"  # the secret's version last applied to the cache or database
# The version before it, while it is still accepted (rotated in beside it, not yet revoked)
TAG_SECRET_PREVIOUS = "aenv.dev/secret-previous"


class Busy(Exception):
    """The resource is creating or being changed: the step waits for a later pass."""


def call_unless_busy(client: Any, busy: Collection[str], method: str, **kwargs: Any) -> Any:
    """client.method(**kwargs); Busy when AWS answers with one of the `busy` codes, else classified."""
    try:
        return getattr(client, method)(**kwargs)
    except ClientError as e:
        if error_code(e) in busy:
            raise Busy(error_code(e)) from e
        raise classify(e) from e


def final_snapshot_name(resource_id: str, uid: str | None) -> str:
    """Deterministic, so a retried delete asks for the same snapshot; the uid keeps incarnations apart."""
    return f"{resource_id}-final-{hashlib.sha256((uid or '').encode()).hexdigest()[:8]}"


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def version_change(observed: str, desired: str) -> Literal["major", "minor", "downgrade"] | None:
    """What going from the observed to the desired engine version takes. A newer minor version than asked is
    kept (AWS applies minor upgrades itself); an older major version is a downgrade, which AWS cannot do."""
    have, want = _version(observed), _version(desired)
    if have[:1] != want[:1]:
        return "major" if have[:1] < want[:1] else "downgrade"
    return "minor" if have[: len(want)] < want else None


def same_key(observed: str, desired: str) -> bool:
    """A KMS key id or ARN against an ARN."""
    return observed == desired or observed.rsplit("/", 1)[-1] == desired.rsplit("/", 1)[-1]
