"""Tier presets from the platform's runbooks, and the merge that makes a spec effective.

dev: minimal, single-AZ, 3-day log retention. staging: production-like, single-AZ, 7-day retention.
prod: multi-AZ, deletion-protected, 30-day retention, backups. The spec overrides any of them.
"""

from __future__ import annotations

from typing import Any

from .spec import EnvironmentSpec, Tier

# Keys are wire (camelCase) names. A section's preset applies only when the spec has that section.
PRESETS: dict[Tier, dict[str, Any]] = {
    "dev": {
        "deletionPolicy": "Delete",
        "cache": {"nodeType": "cache.t4g.micro", "replicas": 0, "multiAZ": False, "snapshotRetentionDays": 0},
        "database": {"instanceClass": "db.t4g.micro", "storageGiB": 20, "multiAZ": False,
                     "backupRetentionDays": 1, "deletionProtection": False},
        "monitoring": {"logRetentionDays": 3},
    },
    "staging": {
        "deletionPolicy": "Snapshot",
        "cache": {"nodeType": "cache.t4g.medium", "replicas": 1, "multiAZ": False, "snapshotRetentionDays": 1},
        "database": {"instanceClass": "db.t4g.medium", "storageGiB": 50, "multiAZ": False,
                     "backupRetentionDays": 3, "deletionProtection": False},
        "monitoring": {"logRetentionDays": 7},
    },
    "prod": {
        "deletionPolicy": "Snapshot",
        "cache": {"nodeType": "cache.r7g.large", "replicas": 2, "multiAZ": True, "snapshotRetentionDays": 7},
        "database": {"instanceClass": "db.r6g.large", "storageGiB": 100, "multiAZ": True,
                     "backupRetentionDays": 30, "deletionProtection": True},
        "monitoring": {"logRetentionDays": 30},
    },
}


def _merge(preset: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = dict(given)
    for key, value in preset.items():
        if isinstance(value, dict):
            if isinstance(given.get(key), dict):
                merged[key] = _merge(value, given[key])
        elif given.get(key) is None:
            merged[key] = value
    return merged


def effective(spec: EnvironmentSpec) -> EnvironmentSpec:
    """The spec with every field the tier sets filled in where the spec left it out."""
    return EnvironmentSpec.model_validate(_merge(PRESETS[spec.tier], spec.wire()))
