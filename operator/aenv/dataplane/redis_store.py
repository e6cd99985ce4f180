"""The cache's check: AUTH with the connection Secret's token (when it holds one) and PING."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import Settings, Target, Verdict, refused, unreachable

TLS_MARKERS = ("ssl", "certificate", "tls")


def probe(target: Target, settings: Settings) -> Verdict:
    tls: dict[str, Any] = {"ssl": True, "ssl_ca_certs": settings.ca_file} if target.tls else {}
    client = redis.Redis(host=target.host, port=target.port, password=target.password,
                         socket_connect_timeout=settings.timeout, socket_timeout=settings.timeout,
                         retry=Retry(NoBackoff(), 0), **tls)
    try:
        client.ping()
    except redis.AuthenticationError:
        return refused(target)
    except (redis.ConnectionError, redis.TimeoutError) as e:
        return classify(target, e)
    except redis.RedisError as e:
        return Verdict("failed", "CheckFailed", f"PING at {target.endpoint}: {type(e).__name__}: {e}")
    finally:
        client.close()
    return Verdict("ok", "Checked", f"authenticated PING answered at {target.endpoint}")


def classify(target: Target, error: Exception) -> Verdict:
    """A connection that failed: TLS refused (reachable, not trusted) or the endpoint out of reach."""
    text = str(error)
    if any(m in text.lower() for m in TLS_MARKERS):
        return Verdict("failed", "TLSFailed", f"TLS with {target.endpoint} failed: {text}")
    return unreachable(target, text)
