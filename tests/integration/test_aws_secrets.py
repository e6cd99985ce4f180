"""Secrets Manager secrets (generated, rotated by aenv) against the real moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aenv.api import EnvironmentSpec, effective
from aenv.aws import session
from aenv.aws.component import AwsTarget
from aenv.aws.secretsmanager_secret import REDACTED, TAG_ROTATED_AT, SecretsManagerSecrets
from aenv.local.emulator import AwsEmulator
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, EnvironmentRef
from aenv.plan import secrets
from aenv.plan.actions import decide
from aenv.plan.types import Desired, Observation, Sensitive

REGION = "us-east-1"
ENV = EnvironmentRef("analytics", "defi", "uid-1")
OTHER = EnvironmentRef("analytics", "other", "uid-2")
START = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at



@pytest.fixture
def sm(emulator: AwsEmulator) -> Any:
    return emulator.client("secretsmanager")


@pytest.fixture
def key_id(emulator: AwsEmulator, target: AwsTarget) -> str:
    return str(emulator.client("kms").create_key()["KeyMetadata"]["KeyId"])



def planned(key_id: str, env: EnvironmentRef = ENV, **sections: object) -> dict[str, Desired]:
    spec = effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": REGION}, **sections}))
    resolved = (d.resolve({"kms/key": {"id": key_id}}) for d in secrets.plan(env, spec))
    return {d.key: d for d in resolved if d is not None}


def lookup(d: Desired) -> Desired:
    """What the loop observes and deletes with when a resource is no longer in the plan."""
    return Desired(kind=d.kind, key=d.key, component=d.component, name=d.name)


def tags_of(sm: Any, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name).get("Tags", [])}


class Reads:
    """Counts the GetSecretValue requests aenv's clients send (botocore's own event hook, nothing replaced)."""

    EVENT = "before-call.secrets-manager.GetSecretValue"

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


@pytest.fixture
def reads(target: AwsTarget) -> Iterator[Reads]:
    counter = Reads()
    events = session.client("secretsmanager", target.region, target.endpoint).meta.events
    events.register(Reads.EVENT, counter, unique_id="test-reads")
    try:
        yield counter
    finally:
        events.unregister(Reads.EVENT, unique_id="test-reads")


def test_create_then_observe(target: AwsTarget, sm: Any, key_id: str) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    desired = planned(key_id, cache={}, database={}, secrets={"apiKeys": ["partner"]})
    for d in desired.values():
        made = client.create(d)
        assert made.exists and made.ready and made.up_to_date, made.diff
        assert decide(ENV, d, made).kind == "none"

    cache = client.observe(desired["secret/cache-auth"])
    token = cache.outputs["value"]
    assert isinstance(token, Sensitive) and 16 <= len(token) <= 128 and not set(token) & set('@"/ ')
    stored = sm.get_secret_value(SecretId=desired["secret/cache-auth"].name)
    assert stored["SecretString"] == token and stored["VersionId"] == cache.outputs["version"]
    assert cache.outputs["arn"] == stored["ARN"] and cache.owner == "uid-1"

    db = client.observe(desired["secret/database"]).outputs
    login = json.loads(sm.get_secret_value(SecretId=desired["secret/database"].name)["SecretString"])
    assert db["username"] == login["username"] == "aenv" and db["password"] == login["password"]
    assert isinstance(db["password"], Sensitive) and not set(db["password"]) & set('/@" ')
    assert isinstance(client.observe(desired["secret/api-key/partner"]).outputs["value"], Sensitive)

    described = sm.describe_secret(SecretId=desired["secret/database"].name)
    assert described["KmsKeyId"].endswith(key_id)
    assert described["Description"] == desired["secret/database"].params["description"]
    assert tags_of(sm, desired["secret/database"].name) == {
        TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "secrets",
        TAG_ROTATED_AT: "2026-01-01T00:00:00Z"}
    # A value never shows in a repr, so it cannot reach a log line or an exception.
    observed = client.observe(desired["secret/cache-auth"])
    assert token not in repr(observed) and token not in str(observed.outputs)


def test_second_observe_finds_the_same_secret_and_reads_the_value_once(target: AwsTarget, sm: Any, key_id: str,
                                                                       reads: Reads) -> None:
    d = planned(key_id, cache={})["secret/cache-auth"]
    made = SecretsManagerSecrets(target).create(d)
    fresh = SecretsManagerSecrets(target)  # another process: nothing cached
    reads.count = 0
    again = fresh.observe(d)
    assert again.exists and again.outputs["arn"] == made.outputs["arn"]
    assert again.outputs["value"] == made.outputs["value"] and reads.count == 1
    fresh.observe(d)
    fresh.secrets.expire()
    fresh.observe(d)
    assert reads.count == 1  # steady state: the version did not change, the value is not read again
    assert len(sm.list_secrets()["SecretList"]) == 1
    again = fresh.create(d)  # a crash between create and status write: no duplicate, no new value
    assert again.outputs["version"] == made.outputs["version"] and len(sm.list_secrets()["SecretList"]) == 1


def test_rotation_when_the_period_has_passed(target: AwsTarget, sm: Any, key_id: str) -> None:
    clock = Clock()
    client = SecretsManagerSecrets(target, now=clock)
    d = planned(key_id, database={})["secret/database"]
    first = client.create(d)
    clock.at = START + timedelta(days=89)
    assert client.observe(d).up_to_date

    clock.at = START + timedelta(days=90)
    due = client.observe(d)
    assert not due.up_to_date and due.diff == {"rotation": ("2026-01-01T00:00:00Z", "every 90 days")}
    assert decide(ENV, d, due).kind == "update"
    rotated = client.update(d, due)
    assert rotated.up_to_date and rotated.ready
    assert rotated.outputs["version"] != first.outputs["version"]
    assert rotated.outputs["password"] != first.outputs["password"] and rotated.outputs["username"] == "aenv"

    current = sm.get_secret_value(SecretId=d.name)
    assert current["VersionId"] == rotated.outputs["version"]
    assert json.loads(current["SecretString"])["password"] == rotated.outputs["password"]
    previous = sm.get_secret_value(SecretId=d.name, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first.outputs["version"]
    assert tags_of(sm, d.name)[TAG_ROTATED_AT] == "2026-04-01T00:00:00Z"
    fresh = SecretsManagerSecrets(target, now=clock)  # what AWS holds, not this client's memory
    assert fresh.observe(d).up_to_date and fresh.observe(d).outputs["version"] == rotated.outputs["version"]


def test_rotation_period_comes_from_the_spec(target: AwsTarget, key_id: str) -> None:
    clock = Clock()
    client = SecretsManagerSecrets(target, now=clock)
    d = planned(key_id, secrets={"rotation": {"jwtDays": 7}})["secret/jwt"]
    client.create(d)
    clock.at = START + timedelta(days=7)
    assert set(client.observe(d).diff) == {"rotation"}


def test_update_of_changed_mutable_fields(target: AwsTarget, sm: Any, key_id: str, emulator: AwsEmulator) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    client.create(planned(key_id, secrets={})["secret/jwt"])
    other_key = emulator.client("kms").create_key()["KeyMetadata"]["KeyId"]
    changed = planned(other_key, secrets={"rotation": {"jwtDays": 30}})["secret/jwt"]
    observed = client.observe(changed)
    assert set(observed.diff) == {"kms_key_id", "description"}
    assert observed.immutable == ()  # nothing about a secret is fixed at creation: the key and period change in place
    updated = client.update(changed, observed)
    assert updated.up_to_date, updated.diff
    described = sm.describe_secret(SecretId=changed.name)
    assert described["KmsKeyId"].endswith(other_key) and "every 30 days" in described["Description"]


def test_drift_by_hand_is_detected_and_corrected(target: AwsTarget, sm: Any, key_id: str) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    desired = planned(key_id, cache={}, database={})
    cache, db = desired["secret/cache-auth"], desired["secret/database"]
    client.create(cache)
    client.create(db)

    sm.put_secret_value(SecretId=cache.name, SecretString="short@/")  # not a valid ElastiCache AUTH token
    sm.put_secret_value(SecretId=db.name, SecretString=json.dumps({"username": "aenv"}))  # no password
    sm.untag_resource(SecretId=db.name, TagKeys=[TAG_COMPONENT])
    client.secrets.expire()
    bad = client.observe(cache)
    assert bad.diff == {"value": (REDACTED, REDACTED)} and not bad.ready and "short" not in repr(bad)
    fixed = client.update(cache, bad)
    assert fixed.up_to_date and fixed.ready and fixed.outputs["value"] != "short@/"
    assert sm.get_secret_value(SecretId=cache.name)["SecretString"] == fixed.outputs["value"]

    drifted = client.observe(db)
    assert set(drifted.diff) == {"value", "tags"}
    fixed = client.update(db, drifted)
    assert fixed.up_to_date and fixed.outputs["password"]
    assert tags_of(sm, db.name)[TAG_COMPONENT] == "secrets"

    # A valid value put by hand is kept: consumers follow its new version.
    sm.put_secret_value(SecretId=cache.name, SecretString="A" * 32)
    client.secrets.expire()
    by_hand = client.observe(cache)
    assert by_hand.up_to_date and by_hand.outputs["value"] == "A" * 32
    assert by_hand.outputs["version"] == sm.get_secret_value(SecretId=cache.name)["VersionId"]


def test_delete_removes_at_once_and_the_name_is_free(target: AwsTarget, sm: Any, key_id: str) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    d = planned(key_id, secrets={})["secret/jwt"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), "Delete")
    assert not client.observe(lookup(d)).exists
    assert sm.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []
    assert client.create(d).ready  # ForceDeleteWithoutRecovery: the name can be used again at once


def test_snapshot_schedules_deletion_and_a_recreated_environment_restores(target: AwsTarget, sm: Any,
                                                                          key_id: str) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    d = planned(key_id, secrets={})["secret/jwt"]
    made = client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), "Snapshot")
    assert not client.observe(lookup(d)).exists
    assert "DeletedDate" in sm.describe_secret(SecretId=d.name)  # recoverable for 7 days
    assert not SecretsManagerSecrets(target).observe(lookup(d)).exists  # as seen through a fresh listing

    again = planned(key_id, env=EnvironmentRef("analytics", "defi", "uid-9"), secrets={})["secret/jwt"]
    fresh = SecretsManagerSecrets(target, now=Clock())
    restored = fresh.create(again)
    assert restored.exists and restored.outputs["arn"] == made.outputs["arn"]
    assert restored.outputs["value"] == made.outputs["value"]
    assert "DeletedDate" not in sm.describe_secret(SecretId=d.name)
    env = EnvironmentRef("analytics", "defi", "uid-9")
    assert decide(env, again, restored).kind == "adopt"
    adopted = fresh.update(again, restored)
    assert adopted.owner == "uid-9" and tags_of(sm, d.name)[TAG_UID] == "uid-9"


def test_retain_tags_released_and_keeps_the_secret(target: AwsTarget, sm: Any, key_id: str) -> None:
    client = SecretsManagerSecrets(target, now=Clock())
    d = planned(key_id, secrets={})["secret/jwt"]
    client.create(d)
    client.delete(lookup(d), client.observe(lookup(d)), "Retain")
    assert tags_of(sm, d.name)[TAG_RELEASED] == "true" and "DeletedDate" not in sm.describe_secret(SecretId=d.name)
    back = client.observe(d)  # the environment wants it again: released is drift
    assert set(back.diff) == {"tags"}
    assert client.update(d, back).up_to_date and TAG_RELEASED not in tags_of(sm, d.name)


def test_a_secret_of_another_environment_is_reported_not_read(target: AwsTarget, sm: Any, key_id: str,
                                                               reads: Reads) -> None:
    d = planned(key_id, secrets={})["secret/jwt"]
    foreign = {**OTHER.tags("secrets")}
    sm.create_secret(Name=d.name, SecretString="theirs", Tags=[{"Key": k, "Value": v} for k, v in foreign.items()])
    client = SecretsManagerSecrets(target, now=Clock())
    observed = client.observe(d)
    assert observed.exists and observed.owner_environment == "analytics/other" and "value" not in observed.outputs
    assert reads.count == 0
    action = decide(ENV, d, observed)
    assert action.kind == "conflict" and "belongs to analytics/other" in action.message
    assert decide(ENV, d, client.create(d)).kind == "conflict"  # create finds it too, and does not touch it
    assert sm.get_secret_value(SecretId=d.name)["SecretString"] == "theirs"


def test_a_deleted_secret_of_another_environment_is_not_restored(target: AwsTarget, sm: Any, key_id: str) -> None:
    d = planned(key_id, secrets={})["secret/jwt"]
    sm.create_secret(Name=d.name, SecretString="theirs",
                     Tags=[{"Key": k, "Value": v} for k, v in OTHER.tags("secrets").items()])
    sm.delete_secret(SecretId=d.name, RecoveryWindowInDays=7)
    observed: Observation = SecretsManagerSecrets(target).create(d)
    assert decide(ENV, d, observed).kind == "conflict"
    assert "DeletedDate" in sm.describe_secret(SecretId=d.name)
