"""A rotation asked for with `aenv rotate`: the value made for it is stamped later than the request (both kept to the
second), so a request in the same second as the value before it still counts, and is answered once."""

from __future__ import annotations

from datetime import UTC, datetime

from aenv.aws.secretsmanager_secret import _requested, _stamp
from aenv.plan.types import Desired

NOW = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def secret(asked: str | None) -> Desired:
    params = {"value": "cache-auth"} | ({"rotate_requested_at": asked} if asked else {})
    return Desired(kind="secretsmanager.secret", key="secret/cache-auth", component="secrets", name="s",
                   params=params)


def test_a_value_made_in_the_second_of_the_request_is_stamped_after_it() -> None:
    asked = secret("2026-12-01T10:00:00Z")
    requested = _requested(asked)
    assert requested == NOW
    stamped = _stamp(asked, NOW)
    assert stamped > requested  # the next pass sees the request answered: no second rotation


def test_without_a_request_or_long_after_it_the_stamp_is_now() -> None:
    assert _stamp(secret(None), NOW) == NOW
    assert _stamp(secret("2026-11-30T10:00:00Z"), NOW) == NOW
    assert _requested(secret("not a time")) is None
