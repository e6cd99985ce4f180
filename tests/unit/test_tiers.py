"""Tier presets fill what the spec leaves out; the spec always wins."""

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.api.tiers import PRESETS


def eff(tier: str, **sections: object) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "eu-west-1"}, **sections}))


def test_prod_is_multi_az_protected_and_backed_up() -> None:
    s = eff("prod", cache={}, database={}, monitoring={})
    assert s.cache and s.cache.multi_az and s.cache.snapshot_retention_days == 7
    assert s.database and s.database.multi_az and s.database.deletion_protection
    assert s.database.backup_retention_days == 30
    assert s.monitoring and s.monitoring.log_retention_days == 30
    assert s.deletion_policy == "Snapshot"


@pytest.mark.parametrize(("tier", "days", "policy"), [("dev", 3, "Delete"), ("staging", 7, "Snapshot")])
def test_dev_and_staging_are_single_az(tier: str, days: int, policy: str) -> None:
    s = eff(tier, cache={}, database={}, monitoring={})
    assert s.cache and s.cache.multi_az is False
    assert s.database and s.database.multi_az is False and s.database.deletion_protection is False
    assert s.monitoring and s.monitoring.log_retention_days == days
    assert s.deletion_policy == policy


def test_spec_overrides_the_tier() -> None:
    s = eff("prod", database={"multiAZ": False, "backupRetentionDays": 14}, deletionPolicy="Retain")
    assert s.database and s.database.multi_az is False and s.database.backup_retention_days == 14
    assert s.database.deletion_protection is True  # not overridden: still the tier's
    assert s.deletion_policy == "Retain"


def test_sections_not_asked_for_stay_absent() -> None:
    s = eff("prod")
    assert s.cache is None and s.database is None and s.monitoring is None


def test_every_preset_is_a_valid_spec() -> None:
    for tier, preset in PRESETS.items():
        doc = {"tier": tier, "aws": {"region": "us-east-1"}, **preset}
        EnvironmentSpec.model_validate(doc)
