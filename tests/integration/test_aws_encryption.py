"""The environment's KMS key against the real moto server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws.component import AwsTarget
from aenv.aws.kms_key import KmsKeys
from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import encryption
from aenv.plan.actions import decide
from aenv.plan.types import Desired

REGION = "us-east-1"
ENV = EnvironmentRef("analytics", "defi", "uid-1")
ALIAS = "alias/aenv-analytics-defi"



@pytest.fixture
def kms(emulator: AwsEmulator) -> Any:
    return boto3.client("kms", region_name=REGION, endpoint_url=emulator.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def planned(env: EnvironmentRef = ENV) -> Desired:
    spec = EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": REGION}, "cache": {}})
    [key] = encryption.plan(env, effective(spec))
    return key


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with when a resource is no longer in the plan."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def aliased(kms: Any) -> dict[str, str]:
    """This environment's aliases (other tests' ACK controllers may make their own keys in the same account)."""
    return {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]
            if a["AliasName"].startswith(ALIAS)}


def tags(kms: Any, key_id: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}


def customer_keys(kms: Any) -> list[dict[str, Any]]:
    """This environment's keys."""
    metas = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    return [m for m in metas if m["KeyManager"] == "CUSTOMER" and tags(kms, m["KeyId"]).get(TAG_ENVIRONMENT) == ENV.key]


def test_create_makes_a_rotating_key_found_by_its_alias(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    o = KmsKeys(target).create(desired)
    assert o.exists and o.ready and o.up_to_date and not o.immutable and o.state == "enabled"
    assert o.owner == "uid-1" and o.owner_environment == "analytics/defi"
    key_id = o.outputs["id"]
    assert o.outputs["arn"].endswith(f":key/{key_id}")

    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["KeyManager"] == "CUSTOMER"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["Description"] == "aenv analytics/defi"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert aliased(kms) == {ALIAS: key_id}
    assert tags(kms, key_id) == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "encryption"}


def test_a_second_observe_finds_the_same_key(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    created = KmsKeys(target).create(desired)
    again = KmsKeys(target).observe(desired)  # a fresh client: the next interval, or a restarted operator
    assert again.up_to_date and again.outputs == created.outputs
    assert decide(ENV, desired, again).kind == "none"
    assert len(customer_keys(kms)) == 1


def test_a_key_left_without_its_alias_by_a_crash_is_reused(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    orphan = kms.create_key(Description="aenv analytics/defi", Tags=[
        {"TagKey": k, "TagValue": v} for k, v in desired.tags.items()])["KeyMetadata"]["KeyId"]
    keys = KmsKeys(target)
    assert not keys.observe(desired).exists
    o = keys.create(desired)
    assert o.up_to_date and o.outputs["id"] == orphan
    assert aliased(kms) == {ALIAS: orphan}
    assert kms.get_key_rotation_status(KeyId=orphan)["KeyRotationEnabled"] is True
    assert len(customer_keys(kms)) == 1


def test_a_changed_description_is_updated(target: AwsTarget, kms: Any) -> None:
    KmsKeys(target).create(planned())
    changed = replace(planned(), params={**planned().params, "description": "aenv analytics/defi (moved)"})
    keys = KmsKeys(target)
    o = keys.observe(changed)
    assert set(o.diff) == {"description"}
    assert keys.update(changed, o).up_to_date
    assert kms.describe_key(KeyId=o.outputs["id"])["KeyMetadata"]["Description"] == "aenv analytics/defi (moved)"


def test_another_key_spec_is_an_immutable_change(target: AwsTarget) -> None:
    KmsKeys(target).create(planned())
    asymmetric = replace(planned(), params={**planned().params, "key_spec": "RSA_2048"})
    o = KmsKeys(target).observe(asymmetric)
    assert o.immutable == ("key_spec",) and decide(ENV, asymmetric, o).kind == "conflict"


def test_rotation_turned_off_by_hand_is_turned_on_again(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    key_id = KmsKeys(target).create(desired).outputs["id"]
    kms.disable_key_rotation(KeyId=key_id)
    keys = KmsKeys(target)
    o = keys.observe(desired)
    assert o.diff == {"rotation": (False, True)} and decide(ENV, desired, o).kind == "update"
    assert keys.update(desired, o).up_to_date
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_a_key_disabled_by_hand_is_enabled_again(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    key_id = KmsKeys(target).create(desired).outputs["id"]
    kms.disable_key(KeyId=key_id)
    keys = KmsKeys(target)
    o = keys.observe(desired)
    assert "enabled" in o.diff and not o.ready and o.state == "disabled"
    after = keys.update(desired, o)
    assert after.up_to_date and after.ready
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_delete_schedules_deletion_after_seven_days_and_removes_the_alias(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    key_id = KmsKeys(target).create(desired).outputs["id"]
    keys, d = KmsKeys(target), lookup(desired)
    keys.delete(d, keys.observe(d), "Delete")
    assert not keys.observe(d).exists and not KmsKeys(target).observe(d).exists
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert aliased(kms) == {}


def test_snapshot_keeps_the_key_for_the_snapshots_it_encrypted(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    key_id = KmsKeys(target).create(desired).outputs["id"]
    keys, d = KmsKeys(target), lookup(desired)
    keys.delete(d, keys.observe(d), "Snapshot")
    assert not keys.observe(d).exists and not KmsKeys(target).observe(d).exists  # the loop's confirmation
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert tags(kms, key_id)[TAG_RELEASED] == "true"
    assert aliased(kms) == {}


def test_retain_keeps_key_and_alias_for_a_later_environment_to_adopt(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    key_id = KmsKeys(target).create(desired).outputs["id"]
    keys, d = KmsKeys(target), lookup(desired)
    keys.delete(d, keys.observe(d), "Retain")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert tags(kms, key_id)[TAG_RELEASED] == "true" and aliased(kms) == {ALIAS: key_id}

    again = EnvironmentRef("analytics", "defi", "uid-2")  # the same environment, created again
    wanted = planned(again)
    o = KmsKeys(target).observe(wanted)
    assert decide(again, wanted, o).kind == "adopt"
    adopted = KmsKeys(target).update(wanted, o)
    assert adopted.up_to_date and adopted.owner == "uid-2" and adopted.outputs["id"] == key_id
    assert TAG_RELEASED not in tags(kms, key_id) and tags(kms, key_id)[TAG_UID] == "uid-2"


def test_a_key_scheduled_for_deletion_by_hand_counts_as_gone_and_is_replaced(target: AwsTarget, kms: Any) -> None:
    desired = planned()
    old = KmsKeys(target).create(desired).outputs["id"]
    kms.schedule_key_deletion(KeyId=old, PendingWindowInDays=7)
    keys = KmsKeys(target)
    assert not keys.observe(desired).exists
    new = keys.create(desired)
    assert new.up_to_date and new.outputs["id"] != old
    assert aliased(kms) == {ALIAS: new.outputs["id"]}
    assert KmsKeys(target).observe(desired).outputs == new.outputs


def test_a_key_of_another_environment_is_reported(target: AwsTarget, kms: Any) -> None:
    theirs = kms.create_key(Tags=[{"TagKey": TAG_ENVIRONMENT, "TagValue": "other/env"},
                                  {"TagKey": TAG_UID, "TagValue": "x"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=theirs)
    desired = planned()
    o = KmsKeys(target).observe(desired)
    assert o.exists and o.owner_environment == "other/env" and o.outputs["id"] == theirs
    assert decide(ENV, desired, o).kind == "conflict"
