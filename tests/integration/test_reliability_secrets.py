"""Secrets never leak: an environment with every credential aenv generates becomes Ready, its cache token and
database login are rotated as `aenv rotate` asks, and right then none of the values, old or new, is in the
namespace's Events, statuses or annotations, the operator's log or its metric labels. (The whole run is scanned the
same way at its end: tests/integration/leaks.py, from conftest's pytest_sessionfinish.)"""

from __future__ import annotations

import pytest

from aenv.local.emulator import AwsEmulator

from .conftest import Operator
from .kube import Kube
from .reliability_secrets import create_and_rotate, scan_now

pytestmark = pytest.mark.integration


def test_no_credential_generated_or_rotated_shows_anywhere(kube: Kube, emulator: AwsEmulator, namespace: str,
                                                          operator: Operator) -> None:
    rotated = create_and_rotate(kube, emulator, namespace, ["leaks"])
    scan = scan_now(kube, emulator, namespace, operator.log, operator.metrics_port, rotated)
    print(f"{scan.credentials} credential values, {scan.rotated} rotated, {scan.places} texts and the log: "
          f"{len(scan.leaks)} leaks")
    # cache token x2, master password, login x2, JWT, 2 API keys: at least 8 values to look for
    assert scan.credentials >= 8 and scan.rotated == 2
    assert scan.leaks == [], "\n".join(scan.leaks)
