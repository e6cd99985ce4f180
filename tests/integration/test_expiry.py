"""An environment with a ttl of seconds: its expiry in the status, a warning Event, `aenv extend` within the
platform's maximum and refused beyond it, then the environment deleting itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

from aenv.local.processes import wait_for

from .conftest import Operator
from .kube import Kube


def aenv(operator: Operator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aenv", *args], env=operator.env, capture_output=True, text=True,
                          timeout=60, check=False)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_environment_expires_after_its_ttl_and_extend_pushes_it(kube: Kube, namespace: str, operator: Operator,
                                                                   sqs: Any) -> None:
    created = kube.create_env(namespace, "short", {"tier": "dev", "aws": {"region": "us-east-1"}, "ttl": "15s",
                                                   "queues": [{"name": "events"}], "deletionPolicy": "Delete"})
    born = when(created["metadata"]["creationTimestamp"])
    wait_for(lambda: bool(kube.get_env(namespace, "short").get("status", {}).get("expiresAt")), 30, "status.expiresAt")
    status = kube.get_env(namespace, "short")["status"]
    assert when(status["expiresAt"]) == born + timedelta(seconds=15)
    warning = kube.wait_event(namespace, "short", "ExpiresSoon", timeout=30)
    assert warning.type == "Warning" and status["expiresAt"] in warning.message

    refused = aenv(operator, "extend", "short", "-n", namespace, "--by", "200h")
    assert refused.returncode == 0, refused.stderr
    kube.wait_event(namespace, "short", "ExtensionRefused", timeout=30)
    assert kube.get_env(namespace, "short")["status"]["expiresAt"] == status["expiresAt"]

    extended = aenv(operator, "extend", "short", "-n", namespace, "--by", "10s")
    assert extended.returncode == 0 and "extension by 10s asked" in extended.stdout, extended.stderr
    kube.wait_event(namespace, "short", "ExpiryExtended", timeout=30)
    later = kube.get_env(namespace, "short")["status"]
    assert when(later["expiresAt"]) == born + timedelta(seconds=25) and later["expiry"]["extendedSeconds"] == 10

    wait_for(lambda: kube.env_gone(namespace, "short"), 60, "the expired environment to delete itself")
    assert datetime.now(born.tzinfo) >= born + timedelta(seconds=25)
    ours = [u for u in sqs.list_queues().get("QueueUrls", []) if namespace in u]
    assert not ours, "the finalizer applies deletionPolicy Delete"
    reasons = [e.reason for e in kube.events(namespace, "short")]
    assert reasons.count("ExpiresSoon") == 2 and "Expired" in reasons, reasons  # once before, once after extending
