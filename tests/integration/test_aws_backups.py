"""The backups' bucket against the real moto server: built as the issue asks (SSE-KMS with the environment's key,
versioning, public access blocked, a lifecycle rule after the retention), drift corrected, deleted per policy."""

from __future__ import annotations

from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.aws.s3_bucket import BLOCK_ALL, RULE_ID, S3Buckets
from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_ENVIRONMENT, TAG_RELEASED, EnvironmentRef
from aenv.plan import backups
from aenv.plan.actions import decide
from aenv.plan.types import Desired

ENV = EnvironmentRef("analytics", "defi", "uid-1")
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(emulator: AwsEmulator, target: AwsTarget) -> Any:
    return emulator.client("s3")


def planned(env: EnvironmentRef = ENV, tier: str = "prod") -> Desired:
    spec = effective(EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, "database": {}}))
    [bucket] = backups.plan(env, spec)
    return bucket.resolve({"kms/key": {"arn": KEY_ARN}})  # type: ignore[return-value]


def lookup(d: Desired) -> Desired:
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def describe(s3: Any, name: str) -> dict[str, Any]:
    return {
        "versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
        "block": s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
        "encryption": s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0],
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"],
        "tags": {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]},
    }


def test_the_bucket_is_private_encrypted_versioned_and_expires_backups(target: AwsTarget, s3: Any) -> None:
    desired = planned()
    assert desired.name == "aenv-analytics-defi-backups"
    o = S3Buckets(target).create(desired)
    assert o.exists and o.ready and o.up_to_date, o.diff
    assert decide(ENV, desired, o).kind == "none"
    got = describe(s3, desired.name)
    assert got["versioning"] == "Enabled"
    assert got["block"] == BLOCK_ALL
    assert got["encryption"]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                                       "KMSMasterKeyID": KEY_ARN}
    [rule] = got["lifecycle"]
    assert rule["ID"] == RULE_ID and rule["Status"] == "Enabled"
    assert rule["Expiration"]["Days"] == 30 and rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert got["tags"][TAG_ENVIRONMENT] == "analytics/defi"


def test_drift_is_corrected(target: AwsTarget, s3: Any) -> None:
    desired, client = planned(), S3Buckets(target)
    client.create(desired)
    s3.put_bucket_versioning(Bucket=desired.name, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=desired.name)
    s3.delete_bucket_lifecycle(Bucket=desired.name)
    o = client.observe(desired)
    assert set(o.diff) == {"versioning", "public_access_block", "lifecycle"}
    assert client.update(desired, o).up_to_date
    assert describe(s3, desired.name)["versioning"] == "Enabled"


def test_snapshot_keeps_the_backups_released_and_delete_empties_the_bucket(target: AwsTarget, s3: Any) -> None:
    desired, client = planned(), S3Buckets(target)
    client.create(desired)
    s3.put_object(Bucket=desired.name, Key="defi/1.dump", Body=b"one")
    s3.put_object(Bucket=desired.name, Key="defi/1.dump", Body=b"two")  # a second version
    client.delete(lookup(desired), client.observe(lookup(desired)), "Snapshot")
    kept = client.observe(lookup(desired))
    assert kept.exists and kept.owner_environment is None, "released: no longer this environment's to delete"
    assert describe(s3, desired.name)["tags"][TAG_RELEASED] == "true"
    again = client.observe(desired)  # the environment made again with its name adopts it
    assert again.owner_environment == ENV.key and "tags" in again.diff
    assert client.update(desired, again).up_to_date

    client.delete(lookup(desired), client.observe(lookup(desired)), "Delete")
    assert not client.observe(lookup(desired)).exists
    assert desired.name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
