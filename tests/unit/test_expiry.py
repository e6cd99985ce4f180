"""Expiry decisions with the time as an argument: when, the warnings once each, extensions within the maximum."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aenv.api import EnvironmentSpec
from aenv.api.duration import format_duration, parse_duration
from aenv.plan.expiry import Expiry, decide

CREATED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MAX = timedelta(hours=168)


def spec(**extra: Any) -> EnvironmentSpec:
    return EnvironmentSpec.model_validate({"tier": "staging", "aws": {"region": "us-east-1"}, **extra})


def at(hours: float) -> datetime:
    return CREATED + timedelta(hours=hours)


def step(s: EnvironmentSpec, now: datetime, before: Expiry | None = None, request: str | None = None) -> Expiry:
    previous_at = before.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if before and before.expires_at else None
    return decide(s, CREATED, previous_at, before.status if before else None, request, now, MAX)


def test_durations_read_and_print_back() -> None:
    assert parse_duration("72h") == timedelta(days=3)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert format_duration(timedelta(seconds=90061)) == "25h1m1s"
    for bad in ("", "3d", "-1h", "1.5h", "h"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)


def test_no_ttl_no_expiry() -> None:
    e = step(spec(), at(1))
    assert e.expires_at is None and e.status is None and not e.events and e.wake_at is None


def test_ttl_counts_from_creation_and_wakes_for_each_warning_then_expires() -> None:
    s = spec(ttl="72h")
    first = step(s, at(0))
    assert first.expires_at == at(72) and not first.events and not first.expired
    assert first.wake_at == at(48)  # the 24 h warning is the next thing due
    warned = step(s, at(48), first)
    assert [(e.reason, e.warning) for e in warned.events] == [("ExpiresSoon", True)]
    assert "in 24h" in warned.events[0].message and warned.status is not None and warned.status.warned == ["24h"]
    assert warned.wake_at == at(71)
    again = step(s, at(50), warned)  # a later pass, or a restarted operator reading the status: not again
    assert not again.events and again.status == warned.status
    last = step(s, at(71.5), again)
    assert [e.reason for e in last.events] == ["ExpiresSoon"] and last.status and last.status.warned == ["24h", "1h"]
    assert last.wake_at == at(72)
    gone = step(s, at(72), last)
    assert gone.expired and [e.reason for e in gone.events] == ["Expired"]


def test_a_short_ttl_warns_once_with_the_nearest_warning() -> None:
    e = step(spec(ttl="5s"), at(0))
    assert [e.reason for e in e.events] == ["ExpiresSoon"] and "in 5s" in e.events[0].message
    assert e.status is not None and e.status.warned == ["24h", "1h"] and e.wake_at == CREATED + timedelta(seconds=5)


def test_expires_at_is_a_time() -> None:
    e = step(spec(expiresAt="2026-12-02T12:00:00Z"), at(1))
    assert e.expires_at == at(24) and [x.reason for x in e.events] == ["ExpiresSoon"]
    assert step(spec(expiresAt="2026-12-01T11:00:00Z"), at(0)).expired


def test_extend_pushes_expiry_and_rearms_the_warnings_once_per_request() -> None:
    s = spec(ttl="24h")
    warned = step(s, at(23.5))
    assert warned.status is not None and warned.status.warned == ["24h", "1h"]
    extended = step(s, at(23.5), warned, request="48h:a1")
    assert extended.expires_at == at(72) and extended.status is not None
    assert extended.status.extended_seconds == 48 * 3600 and extended.status.warned == []
    assert [(e.reason, e.warning) for e in extended.events] == [("ExpiryExtended", False)]
    same = step(s, at(23.6), extended, request="48h:a1")  # the same request is answered once
    assert same.expires_at == at(72) and not same.events


def test_extensions_beyond_the_maximum_are_refused_and_change_nothing() -> None:
    s = spec(ttl="24h")
    first = step(s, at(1), request="100h:a")
    refused = step(s, at(2), first, request="100h:b")
    assert refused.expires_at == first.expires_at == at(124)
    assert [(e.reason, e.warning) for e in refused.events] == [("ExtensionRefused", True)]
    assert "at most 168h" in refused.events[0].message and "100h used" in refused.events[0].message
    bad = step(s, at(2), refused, request="soon")
    assert [e.reason for e in bad.events] == ["ExtensionRefused"] and "is not <duration>:<request id>" in \
        bad.events[0].message and bad.expires_at == at(124)


def test_extending_an_environment_without_expiry_is_refused_once() -> None:
    e = step(spec(), at(1), request="24h:x")
    assert [x.reason for x in e.events] == ["ExtensionRefused"] and e.expires_at is None
    assert not step(spec(), at(2), e, request="24h:x").events


def test_the_platform_maximum_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aenv.reconcile import max_expiry_extension

    assert max_expiry_extension() == timedelta(hours=168)
    monkeypatch.setenv("AENV_MAX_EXPIRY_EXTENSION", "48h")
    assert max_expiry_extension() == timedelta(hours=48)
    monkeypatch.setenv("AENV_MAX_EXPIRY_EXTENSION", "two days")
    assert max_expiry_extension() == timedelta(0)  # a typo allows nothing rather than failing every pass
