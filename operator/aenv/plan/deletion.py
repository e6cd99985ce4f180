"""What deleting one resource does, from the environment's deletionPolicy and tier. Pure.

A prod database is never deleted without a final snapshot: under `Delete` too it gets one, and the KMS key is kept
(released) so that this snapshot, and the pre-migration ones, stay readable. Everything else follows the policy.
"""

from __future__ import annotations

from ..api.spec import DeletionPolicy

PROD_KEEPS = frozenset({"rds.db_instance", "kms.key"})  # the database's final snapshot, and the key that reads it


def policy_for(kind: str, policy: DeletionPolicy, tier: str | None) -> DeletionPolicy:
    """The policy one resource of `kind` is deleted with."""
    if policy == "Delete" and tier == "prod" and kind in PROD_KEEPS:
        return "Snapshot"
    return policy
