"""The leak scanner finds a credential in any form it may take in a log, an annotation or a status, and only it."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from ..integration.leaks import Collector
from ..leak_scan import MIN_LENGTH, Index


def test_finds_a_value_as_it_is_quoted_and_inside_longer_base64() -> None:
    value = secrets.token_urlsafe(32)
    index = Index([(value, "jwt of ns/env")])
    assert list(index.find(f"msg=starting token={value}.")) == ["jwt of ns/env"]
    assert list(index.find(f"redis://:{quote(value, safe='')}@host:6379")) == ["jwt of ns/env"]
    for prefix in ("", "a", "ab", "abc"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            blob = encode(f'{prefix}{{"token": "{value}"}}'.encode()).decode()
            assert list(index.find(f"annotation: {blob}")) == ["jwt of ns/env"], (prefix, encode)


def test_finds_each_value_once_and_nothing_in_unrelated_text() -> None:
    a, b = secrets.token_hex(20), secrets.token_hex(20)
    index = Index([(a, "a"), (b, "b")])
    assert sorted(index.find(f"{a} {a} {b}")) == ["a", "b"]
    assert not list(index.find("Ready: the environment converged in 3 passes " + secrets.token_hex(20)))
    assert not list(index.find(a[: len(a) - 1]))  # a part of a value is not the value


@pytest.mark.parametrize("value", ["aenv", "x" * (MIN_LENGTH - 1)])
def test_values_too_short_to_tell_from_chance_are_not_looked_for(value: str) -> None:
    index = Index([(value, "short")])
    assert index.count == 0 and not list(index.find(f"user {value} logged in"))


def test_the_run_collector_names_the_place_and_the_source_never_the_value(tmp_path: Path) -> None:
    token, other = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    found = Collector()
    found.secret_object({"metadata": {"namespace": "ns", "name": "env-connection",
                                      "labels": {"app.kubernetes.io/managed-by": "aenv"}},
                         "data": {"JWT_SECRET": base64.b64encode(token.encode()).decode(),
                                  "QUEUE_EVENTS_URL": base64.b64encode(other.encode()).decode()}})
    found.kube_object("AnalyticsEnvironment", {"metadata": {"namespace": "ns", "name": "env", "annotations": {
        "kopf.zalando.org/last-handled-configuration": json.dumps({"spec": {"token": token}})}},
        "status": {"message": f"url {other}"}})
    log = tmp_path / "operator.log"
    log.write_text(f"starting\nrotated to {base64.b64encode(token.encode()).decode()}\n")
    found.logs.add(log)
    leaks = found.scan()
    assert leaks == [
        "annotation kopf.zalando.org/last-handled-configuration of AnalyticsEnvironment ns/env: holds the "
        "credential of Secret ns/env-connection key JWT_SECRET",
        f"{log} line 2: holds the credential of Secret ns/env-connection key JWT_SECRET"]
    assert not any(token in line for line in leaks)  # an endpoint key (QUEUE_..._URL) is no credential
