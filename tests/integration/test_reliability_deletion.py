"""Environments of every tier and deletion policy deleted at once: nothing orphaned, exactly the promised final
snapshots, no prod database gone without one, and everything Retain keeps tagged released."""

from __future__ import annotations

import pytest

from aenv.local.emulator import AwsEmulator

from .conftest import Operator
from .kube import Kube
from .reliability_deletion import run

pytestmark = pytest.mark.integration


def test_mass_deletion_leaves_what_each_policy_promises(kube: Kube, namespace: str, emulator: AwsEmulator,
                                                        operator: Operator) -> None:
    result = run(kube, emulator, namespace, count=9, timeout=180)
    assert {result.count(p) for p in ("Delete", "Snapshot", "Retain")} == {3}
    assert result.databases == 4  # prod under each policy, and staging under Snapshot
    assert result.orphans == []
    assert result.missing_snapshots == [] and result.extra_snapshots == []
    assert result.snapshots == 3  # staging and prod under Snapshot, and prod under Delete
    assert result.prod_without_snapshot == []
    assert result.retained_unreleased == []
