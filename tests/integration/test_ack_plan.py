"""`aenv plan -f` in mode ack lists the ACK objects a pass would write, through the real controllers' CRDs, with an
operator and a plan command that hold no AWS credentials: a new environment's objects as creates, then, once it is
Ready, a changed visibility timeout as an update of that one Queue, field old -> new, and nothing else changed."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from .ack import QUEUE
from .conftest import Operator
from .kube import Kube
from .test_plan_command import plan

pytestmark = pytest.mark.integration
DEADLINE = 180.0  # the ACK controllers resolve references and sync in turn
NAME = "flow"
OBJECT = re.compile(r"^  (\S) (\S+ \S+)\s+(\S+)\s+(\w+)(?:: (.*))?$")


def doc(namespace: str, timeout: int) -> dict[str, Any]:
    return {"apiVersion": "aenv.dev/v1alpha1", "kind": "AnalyticsEnvironment",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"tier": "dev", "aws": {"region": "us-east-1", "mode": "ack"}, "deletionPolicy": "Delete",
                     "queues": [{"name": "events", "visibilityTimeoutSeconds": timeout,
                                 "deadLetter": {"enabled": False}}],  # its DLQ would take the timeout too
                     "topics": [{"name": "alerts"}]}}


def objects(out: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(apiVersion kind, namespace/name) -> (action, detail), from the plan's object lines."""
    found = {}
    for line in out.splitlines():
        if m := OBJECT.match(line):
            found[(m[2], m[3])] = (m[4], m[5] or "")
    return found


def test_plan_lists_ack_objects_then_one_changed_field(kube: Kube, ack_operator: Operator, ack_namespace: str,
                                                       tmp_path: Path) -> None:
    ns, p = ack_namespace, f"aenv-{ack_namespace}-{NAME}"
    assert not any(k.startswith("AWS_") for k in ack_operator.env)
    out = plan(ack_operator, doc(ns, 30), tmp_path)
    print(out)
    sqs, sns, kms = "sqs.services.k8s.aws/v1alpha1", "sns.services.k8s.aws/v1alpha1", "kms.services.k8s.aws/v1alpha1"
    assert objects(out) == {
        (f"{kms} Key", f"{ns}/{p}"): ("create", ""), (f"{kms} Alias", f"{ns}/{p}"): ("create", ""),
        (f"{sqs} Queue", f"{ns}/{p}-events"): ("create", ""),
        (f"{sns} Topic", f"{ns}/{p}-alerts"): ("create", ""), ("v1 Secret", f"{ns}/{NAME}-connection"): ("create", "")}
    assert "      visibilityTimeout: 30" in out
    assert "Plan: 5 to create, 0 to change, 0 to delete, 0 in conflict. Nothing was changed." in out
    assert kube.custom.list_namespaced_custom_object(QUEUE.group, QUEUE.version, ns, QUEUE.plural)["items"] == []

    start = time.monotonic()
    kube.create_env(ns, NAME, doc(ns, 30)["spec"])
    kube.wait_condition(ns, NAME, "Ready", timeout=DEADLINE)
    print(f"mode ack: Ready in {time.monotonic() - start:.1f} s")
    out = plan(ack_operator, doc(ns, 90), tmp_path)
    print(out)
    found = objects(out)
    changed = {k: v for k, v in found.items() if v[0] != "unchanged"}
    assert changed == {(f"{sqs} Queue", f"{ns}/{p}-events"): ("update", "")}, out
    assert len(found) == 5
    update = out.splitlines().index(next(line for line in out.splitlines() if " update" in line))
    assert out.splitlines()[update + 1] == "      visibilityTimeout: 30 → 90"
    assert not out.splitlines()[update + 2].startswith("      ")  # that field only
    assert "Plan: 0 to create, 1 to change, 0 to delete, 0 in conflict. Nothing was changed." in out
