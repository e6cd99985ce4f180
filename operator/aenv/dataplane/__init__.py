"""Data-plane health: an authenticated Redis PING and a PostgreSQL `SELECT 1` with the credentials of the connection
Secret, so CacheReady and DatabaseReady say the stores answer, not only that AWS calls them available.

"Can reach" is decided per check:
- the endpoint does not resolve, refuses the connection or times out: not a failure (the operator may run outside
  the VPC); the component stays ready and its message says it was not checked;
- the server refuses the credentials: the component fails with reason AuthenticationFailed, the message naming the
  endpoint and user, never the secret;
- anything else once connected (TLS not trusted, no such database): the component fails with the reason of the check.
AENV_DATA_PLANE_CHECKS=off turns the checks off. TLS as the connection Secret asks (rediss://, sslmode=require),
trusting the system CAs plus AENV_DATA_PLANE_CA_FILE (PostgreSQL: with that file set, the certificate is verified
against it alone, since RDS certificates are signed by Amazon RDS's own CA).

A good or unreachable result is remembered per endpoint and credential (a digest, never the value) for
AENV_DATA_PLANE_CHECK_SECONDS; a change of either, or a failed result, is checked again at the next pass.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from ..api.spec import EnvironmentSpec
from ..plan import conditions as cond
from ..plan.types import Sensitive

TIMEOUT_SECONDS = 3.0
INTERVAL_SECONDS = 60.0
VerdictState = Literal["ok", "unreachable", "failed"]


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    ca_file: str | None = None
    timeout: float = TIMEOUT_SECONDS
    interval: float = INTERVAL_SECONDS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        enabled = environ.get("AENV_DATA_PLANE_CHECKS", "on").strip().lower() not in ("off", "0", "false", "no")
        return cls(enabled=enabled, ca_file=environ.get("AENV_DATA_PLANE_CA_FILE") or None,
                   interval=float(environ.get("AENV_DATA_PLANE_CHECK_SECONDS", INTERVAL_SECONDS)))


@dataclass(frozen=True)
class Target:
    """One store to check, with the credentials the connection Secret holds."""

    component: str  # "cache" or "database"
    host: str
    port: int
    user: str  # Redis: "default" (the AUTH token is the default user's password)
    password: Sensitive | None
    tls: bool
    database: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def fingerprint(self) -> str:
        """Endpoint and credential, digested: what a remembered result holds for."""
        raw = "\0".join([self.host, str(self.port), self.user, self.password or "", str(self.tls),
                         self.database or ""])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    state: VerdictState
    reason: str
    message: str


class Probe(Protocol):
    def __call__(self, target: Target, settings: Settings) -> Verdict: ...


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    at: float  # time.monotonic()
    verdict: Verdict


def targets(spec: EnvironmentSpec, data: Mapping[str, str]) -> list[Target]:
    """The stores the connection Secret's data leads to."""
    out = []
    if spec.cache and "CACHE_HOST" in data:
        token = data.get("CACHE_AUTH_TOKEN")
        out.append(Target("cache", data["CACHE_HOST"], int(data["CACHE_PORT"]), "default",
                          Sensitive(token) if token else None, tls=spec.cache.transit_encryption))
    if spec.database and "DATABASE_HOST" in data and "DATABASE_PASSWORD" in data:
        out.append(Target("database", data["DATABASE_HOST"], int(data["DATABASE_PORT"]), data["DATABASE_USER"],
                          Sensitive(data["DATABASE_PASSWORD"]), tls=True, database=data["DATABASE_NAME"]))
    return out


def unreachable(target: Target, why: str) -> Verdict:
    return Verdict("unreachable", "Unreachable", f"not checked: {target.endpoint} is unreachable from the operator "
                                                 f"({why})")


def refused(target: Target) -> Verdict:
    return Verdict("failed", "AuthenticationFailed",
                   f"{target.endpoint} refused the credentials of the connection Secret for user {target.user}")


def mask(text: str, target: Target) -> str:
    return text.replace(target.password, "***") if target.password else text


def check(found: Sequence[Target], probes: Mapping[str, Probe], settings: Settings,
          memory: dict[str, Remembered], clock: Callable[[], float] = time.monotonic) -> dict[str, Verdict]:
    """A verdict per component: remembered while its endpoint and credential are unchanged and it is recent,
    probed otherwise. `memory` (the environment's) is updated."""
    verdicts = {}
    for target in found:
        now, fingerprint = clock(), target.fingerprint()
        last = memory.get(target.component)
        if (last is not None and last.fingerprint == fingerprint and last.verdict.state != "failed"
                and now - last.at < settings.interval):
            verdicts[target.component] = last.verdict
            continue
        verdict = probes[target.component](target, settings)
        verdict = replace(verdict, message=mask(verdict.message, target))
        memory[target.component] = Remembered(fingerprint, now, verdict)
        verdicts[target.component] = verdict
    for gone in set(memory) - {t.component for t in found}:
        memory.pop(gone)
    return verdicts


def judged(results: Sequence[cond.ComponentResult], verdicts: Mapping[str, Verdict]) -> list[cond.ComponentResult]:
    """The results with each ready component's verdict: a failure fails it, otherwise the message says it."""
    out = []
    for r in results:
        verdict = verdicts.get(r.component)
        if verdict is None or r.state != "ready":
            out.append(r)
        elif verdict.state == "failed":
            out.append(replace(r, state="failed", reason=verdict.reason, message=verdict.message))
        else:
            out.append(replace(r, message=f"{r.message}; {verdict.message}"))
    return out


def probes() -> dict[str, Probe]:
    from . import postgres, redis_store  # the client libraries only when checks run

    return {"cache": redis_store.probe, "database": postgres.probe}
