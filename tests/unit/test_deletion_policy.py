"""A prod database is never deleted without a final snapshot; otherwise each resource follows deletionPolicy."""

import pytest

from aenv.plan.deletion import policy_for


@pytest.mark.parametrize("kind", ["rds.db_instance", "kms.key"])
def test_prod_delete_keeps_the_final_snapshot_and_its_key(kind: str) -> None:
    assert policy_for(kind, "Delete", "prod") == "Snapshot"
    assert policy_for(kind, "Retain", "prod") == "Retain"
    assert policy_for(kind, "Delete", "staging") == "Delete"


def test_other_resources_follow_the_policy() -> None:
    assert policy_for("sqs.queue", "Delete", "prod") == "Delete"
    assert policy_for("s3.bucket", "Delete", "prod") == "Delete"
    assert policy_for("sqs.queue", "Snapshot", "dev") == "Snapshot"
