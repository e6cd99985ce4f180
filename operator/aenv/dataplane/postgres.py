"""The database's check: log in with the connection Secret's user and password over TLS and run SELECT 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

from . import Settings, Target, Verdict, refused, unreachable

AUTHENTICATION_STATES = {"28P01", "28000"}  # invalid_password, invalid_authorization_specification
UNREACHABLE_MARKERS = ("could not translate host name", "failed to resolve host", "connection refused",
                       "timeout expired", "no route to host", "network is unreachable", "could not connect to server")
TLS_MARKERS = ("ssl", "certificate")


def connect_args(settings: Settings) -> dict[str, Any]:
    """TLS as the connection Secret asks (sslmode=require), verified against AENV_DATA_PLANE_CA_FILE when set."""
    tls: dict[str, Any] = ({"sslmode": "verify-full", "sslrootcert": settings.ca_file} if settings.ca_file
                           else {"sslmode": "require"})
    return {**tls, "connect_timeout": max(1, round(settings.timeout))}


def probe(target: Target, settings: Settings) -> Verdict:
    import psycopg  # 10 MB resident: loaded with the first database an operator checks

    try:
        with psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                             dbname=target.database, **connect_args(settings)) as conn:
            row = conn.execute("SELECT 1").fetchone()
    except psycopg.Error as e:
        return classify(target, e)
    if row != (1,):
        return Verdict("failed", "CheckFailed", f"SELECT 1 at {target.endpoint} answered {row}")
    return Verdict("ok", "Checked", f"SELECT 1 answered at {target.endpoint} as {target.user}")


def classify(target: Target, error: psycopg.Error) -> Verdict:
    text = " ".join(str(error).split())
    lowered = text.lower()
    if error.sqlstate in AUTHENTICATION_STATES or "password authentication failed" in lowered:
        return refused(target)
    if any(m in lowered for m in UNREACHABLE_MARKERS):
        return unreachable(target, text)
    if any(m in lowered for m in TLS_MARKERS):
        return Verdict("failed", "TLSFailed", f"TLS with {target.endpoint} failed: {text}")
    return Verdict("failed", "CheckFailed", f"SELECT 1 at {target.endpoint} as {target.user}: {text}")
