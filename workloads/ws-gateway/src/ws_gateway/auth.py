"""JWT authentication at the WebSocket handshake. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import parse_qs, urlsplit

import jwt

ALGORITHMS = ["HS256"]  # the connection Secret's JWT_SECRET is a shared key
LEEWAY_SECONDS = 30


class Unauthorized(Exception):
    """The handshake carries no valid token; the message says why, never the token."""


@dataclass(frozen=True)
class Principal:
    subject: str
    channels: tuple[str, ...] = ("*",)  # glob patterns of the channels the token may subscribe to

    def may_subscribe(self, channel: str) -> bool:
        return any(fnmatchcase(channel, pattern) for pattern in self.channels)


def token_of(path: str, headers: Mapping[str, str]) -> str | None:
    """The bearer token of a handshake: the Authorization header, else the `token` query parameter (browsers
    cannot set headers on a WebSocket)."""
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    tokens = parse_qs(urlsplit(path).query).get("token")
    return tokens[0] if tokens else None


def verify(token: str | None, secret: str) -> Principal:
    if not token:
        raise Unauthorized("no token: send Authorization: Bearer <jwt> or ?token=<jwt>")
    try:
        claims = jwt.decode(token, secret, algorithms=ALGORITHMS, options={"require": ["exp", "sub"]},
                            leeway=LEEWAY_SECONDS)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.InvalidTokenError as e:
        raise Unauthorized(f"invalid token: {e}") from None
    channels = claims.get("channels", ["*"])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise Unauthorized("invalid token: the channels claim must be a list of strings")
    return Principal(str(claims["sub"]), tuple(channels))
