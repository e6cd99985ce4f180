"""One describe per interval serves every caller, failures included."""

import pytest

from aenv.aws.listing import Listing


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_fetch_per_interval_and_writes_seen_at_once() -> None:
    clock, fetched = Clock(), []
    listing: Listing[int] = Listing(lambda: fetched.append(1) or {"a": 1}, ttl=30, clock=clock)
    assert [listing.get("a"), listing.get("b"), listing.get("a")] == [1, None, 1]
    listing.put("b", 2)
    assert listing.get("b") == 2 and len(fetched) == 1
    clock.now = 30
    assert listing.get("b") is None and len(fetched) == 2  # the new describe is the truth again
    listing.expire()
    listing.get("a")
    assert len(fetched) == 3


def test_a_failed_describe_is_not_repeated_by_every_caller() -> None:
    clock, calls = Clock(), []

    def fetch() -> dict[str, int]:
        calls.append(1)
        raise RuntimeError("throttled")

    listing: Listing[int] = Listing(fetch, ttl=30, clock=clock)
    for _ in range(5):
        with pytest.raises(RuntimeError, match="throttled"):
            listing.get("a")
    assert len(calls) == 1
    clock.now = 5  # an error is kept for a few seconds only, not the whole interval
    with pytest.raises(RuntimeError):
        listing.get("a")
    assert len(calls) == 2
