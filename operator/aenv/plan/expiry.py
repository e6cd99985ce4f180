"""When an environment expires, the warnings before, and `aenv extend` requests. Pure: every time is an argument.

spec.ttl counts from the environment's creation, spec.expiresAt is a time; `aenv extend ENV --by 24h` (the
annotation aenv.dev/extend: `<duration>:<request id>`) pushes either, as long as all extensions together stay within
the platform's maximum (AENV_MAX_EXPIRY_EXTENSION). Each warning is sent once per expiry time: the status records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..api.duration import format_duration, parse_duration
from ..api.spec import EnvironmentSpec
from ..api.status import ExpiryStatus
from .conditions import Transition

EXTEND_ANNOTATION = "aenv.dev/extend"
WARNINGS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))  # the leads before expiry
EXPIRED = "Expired"
EXPIRES_SOON = "ExpiresSoon"
EXTENDED = "ExpiryExtended"
EXTENSION_REFUSED = "ExtensionRefused"


@dataclass(frozen=True)
class Expiry:
    expires_at: datetime | None  # None: the environment does not expire
    status: ExpiryStatus | None
    events: list[Transition] = field(default_factory=list)
    expired: bool = False
    wake_at: datetime | None = None  # the next moment something is due: a warning, or the expiry itself


def format_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def decide(spec: EnvironmentSpec, created: datetime, previous_at: str | None, previous: ExpiryStatus | None,
           request: str | None, now: datetime, max_extension: timedelta) -> Expiry:
    """`previous_at` and `previous` are the status's expiresAt and expiry; `request` the extend annotation."""
    base = created + parse_duration(spec.ttl) if spec.ttl else spec.expires_at
    if base is None:
        refused = _refuse(request, previous, "the environment has no spec.ttl or spec.expiresAt to extend")
        return Expiry(None, refused[0], refused[1]) if refused else Expiry(None, None)
    status = previous or ExpiryStatus()
    events: list[Transition] = []
    if request and request != status.extend_request:
        status, event = _extend(status, request, base, max_extension)
        events.append(event)
    expires_at = base + timedelta(seconds=status.extended_seconds)
    stamp = format_time(expires_at)
    if previous_at != stamp:  # a new expiry time (first pass, an extension, a spec change): warn afresh
        status = status.model_copy(update={"warned": []})
    left = expires_at - now
    if left <= timedelta(0):
        events.append(Transition(True, EXPIRED, f"expired at {stamp}: deleting the environment per its "
                                                f"deletionPolicy"))
        return Expiry(expires_at, status, events, expired=True)
    due = [label for label, lead in WARNINGS if left <= lead and label not in status.warned]
    if due:  # only the nearest warning when several are due at once (a short ttl)
        events.append(Transition(True, EXPIRES_SOON, f"expires at {stamp} (in {format_duration(left)}), then it is "
                                                     f"deleted per its deletionPolicy; `aenv extend` pushes it"))
        status = status.model_copy(update={"warned": [*status.warned, *due]})
    upcoming = [expires_at - lead for label, lead in WARNINGS if label not in status.warned and expires_at - lead > now]
    return Expiry(expires_at, status, events, wake_at=min([*upcoming, expires_at]))


def _extend(status: ExpiryStatus, request: str, base: datetime,
            max_extension: timedelta) -> tuple[ExpiryStatus, Transition]:
    handled = status.model_copy(update={"extend_request": request})
    by_text, _, ident = request.partition(":")
    try:
        by = parse_duration(by_text)
    except ValueError:
        by = timedelta(0)
    if not ident or by <= timedelta(0):
        return handled, Transition(True, EXTENSION_REFUSED, f"{EXTEND_ANNOTATION}: {request!r} is not "
                                                            "<duration>:<request id> (24h:1733000000)")
    total = timedelta(seconds=status.extended_seconds) + by
    current = format_time(base + timedelta(seconds=status.extended_seconds))
    if total > max_extension:
        used = format_duration(timedelta(seconds=status.extended_seconds))
        return handled, Transition(True, EXTENSION_REFUSED, (
            f"extension by {by_text} refused: the platform allows at most {format_duration(max_extension)} in all "
            f"(AENV_MAX_EXPIRY_EXTENSION), {used} used; the environment still expires at {current}"))
    extended = handled.model_copy(update={"extended_seconds": int(total.total_seconds())})
    return extended, Transition(False, EXTENDED, f"extended by {by_text}: expires at {format_time(base + total)}")


def _refuse(request: str | None, previous: ExpiryStatus | None,
            why: str) -> tuple[ExpiryStatus, list[Transition]] | None:
    if not request or (previous is not None and previous.extend_request == request):
        return None
    handled = (previous or ExpiryStatus()).model_copy(update={"extend_request": request})
    return handled, [Transition(True, EXTENSION_REFUSED, f"extension refused: {why}")]
