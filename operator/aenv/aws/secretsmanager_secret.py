"""Secrets Manager secrets (kind secretsmanager.secret): generated credentials that aenv rotates itself.

Rotation needs no Lambda. When the current value is older than its period, observe reports diff "rotation" and
update() puts a new value, which becomes the AWSCURRENT version; consumers (cache, database, the connection
Secret) see the new "version" output and apply it. A value's age is the tag aenv.dev/rotated-at, written with
each value aenv puts: LastChangedDate also moves when tags or the description change, so it is only the fallback
for a secret without the tag.

Deletion: Delete removes the secret at once (ForceDeleteWithoutRecovery, so the name is free again); Snapshot
schedules deletion with a 7-day recovery window: `aws secretsmanager restore-secret` brings it back, and aenv
restores it itself when the same environment asks for it again within the window; Retain tags it released.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation, Sensitive
from . import session
from .component import AwsTarget, Classified
from .listing import Listing
from .tagging import tags_drifted

KIND = "secretsmanager.secret"
TAG_ROTATED_AT = "aenv.dev/rotated-at"
REDACTED = "<redacted>"
RECOVERY_WINDOW_DAYS = 7
_ALPHANUMERIC = string.ascii_letters + string.digits
# ElastiCache AUTH: 16-128 printable characters, the only symbols allowed being !&#$^<>-.
_CACHE_AUTH = re.compile(r"^[A-Za-z0-9!&#$^<>-]{16,128}$")
# RDS master password (PostgreSQL): 8-128 printable ASCII characters except / @ " and space.
_DB_PASSWORD = re.compile(r"^[!#-.0-?A-~]{8,128}$")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def generate(desired: Desired, previous_username: str | None = None) -> Sensitive:
    """A new value of the desired secret's kind. Letters and digits only where a value ends up in URLs. A
    database-login names the login role after `previous_username` in turn (plan/logins.py)."""
    kind = desired.params["value"]
    if kind == "cache-auth":
        return Sensitive("".join(secrets.choice(_ALPHANUMERIC) for _ in range(64)))
    if kind in ("database", "database-login"):
        password = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(40))
        if kind == "database":
            username = desired.params["username"]
        else:
            roles = list(desired.params["usernames"])
            username = roles[(roles.index(previous_username) + 1) % len(roles)] if previous_username in roles \
                else roles[0]
        return Sensitive(json.dumps({"username": username, "password": password}))
    if kind == "jwt":
        return Sensitive(secrets.token_urlsafe(64))
    return Sensitive(secrets.token_urlsafe(32))


def _outputs(desired: Desired, arn: str, version: str, value: str) -> dict[str, Any] | None:
    """The outputs of a value, or None when it is not one aenv can use (changed by hand, or missing)."""
    kind = desired.params["value"]
    if kind in ("database", "database-login"):
        try:
            login = json.loads(value)
        except ValueError:
            return None
        usernames = [desired.params["username"]] if kind == "database" else desired.params["usernames"]
        if not isinstance(login, dict) or login.get("username") not in usernames:
            return None
        password = login.get("password")
        if not isinstance(password, str) or not _DB_PASSWORD.match(password):
            return None
        return {"arn": arn, "username": login["username"], "password": Sensitive(password), "version": version}
    if not value or (kind == "cache-auth" and not _CACHE_AUTH.match(value)):
        return None
    return {"arn": arn, "value": Sensitive(value), "version": version}


def _requested(desired: Desired) -> datetime | None:
    """When `aenv rotate` asked for a new value (an unreadable time is no request)."""
    try:
        return datetime.strptime(desired.params.get("rotate_requested_at", ""), _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _stamp(desired: Desired, now: datetime) -> datetime:
    """The rotated-at time of a value made now: later than any request it answers, which is kept to the second, so
    that a request made in the same second as the value before it still counts and this one answers it once."""
    asked = _requested(desired)
    return now if asked is None else max(now, asked + timedelta(seconds=1))


def _key_id(key: str | None) -> str | None:
    """A KMS key id from an id or a key ARN (Secrets Manager reports what it was given)."""
    return key.rsplit("/", 1)[-1] if key and key.startswith("arn:") else key


def _tags(entry: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in entry.get("Tags", [])}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _current_version(entry: Mapping[str, Any]) -> str | None:
    return next((v for v, stages in entry.get("SecretVersionsToStages", {}).items() if "AWSCURRENT" in stages), None)


class SecretsManagerSecrets(Classified):
    """One paginated ListSecrets per interval (names, tags, KMS key, versions, dates of every aenv secret), and
    one GetSecretValue per secret only when its current version changed: values are kept in memory by version."""

    def __init__(self, target: AwsTarget, now: Callable[[], datetime] = _utcnow) -> None:
        self.sm = session.client("secretsmanager", target.region, target.endpoint)
        self.secrets = Listing(self._list)
        self.now = now
        self._values: dict[str, tuple[str, Sensitive]] = {}  # ARN -> (VersionId, value) of the version last read

    def _list(self) -> dict[str, dict[str, Any]]:
        out = {}
        # Secrets pending deletion are listed too: create() restores or reports them instead of failing.
        for page in self.sm.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": ["aenv-"]}], IncludePlannedDeletion=True):
            for entry in page.get("SecretList", []):
                out[entry["Name"]] = entry
        return out

    def _entry(self, name: str) -> dict[str, Any] | None:
        return self.secrets.get(name)

    def _patch(self, name: str, entry: Mapping[str, Any], **changes: Any) -> None:
        """Record a write in the listing, so the next observe needs no new ListSecrets."""
        self.secrets.put(name, {**entry, **changes})

    def observe(self, desired: Desired) -> Observation:
        entry = self._entry(desired.name)
        if entry is None or entry.get("DeletedDate"):
            return Observation.absent()
        tags, arn = _tags(entry), entry["ARN"]
        owner, owner_environment = tags.get(TAG_UID), tags.get(TAG_ENVIRONMENT)
        if not desired.params or tags.get(TAG_ENVIRONMENT) != desired.tags.get(TAG_ENVIRONMENT):
            # A lookup to delete it, or a secret aenv must not read: someone else's.
            return Observation(exists=True, ready=True, up_to_date=True, outputs={"arn": arn}, state="available",
                               owner=owner, owner_environment=owner_environment)
        current = self._current(arn, entry)
        outputs = _outputs(desired, arn, *current) if current else None
        diff: dict[str, tuple[Any, Any]] = {}
        if outputs is None:
            diff["value"] = (REDACTED, REDACTED)
        elif (rotated := self._rotated_at(entry, tags)) + timedelta(days=desired.params["rotation_days"]) <= self.now():
            diff["rotation"] = (rotated.strftime(_TIME_FORMAT), f"every {desired.params['rotation_days']} days")
        elif (asked := _requested(desired)) is not None and rotated <= asked:
            diff["rotation"] = (rotated.strftime(_TIME_FORMAT), f"asked at {asked.strftime(_TIME_FORMAT)}")
        if _key_id(entry.get("KmsKeyId")) != _key_id(desired.params["kms_key_id"]):
            diff["kms_key_id"] = (entry.get("KmsKeyId"), desired.params["kms_key_id"])
        if entry.get("Description", "") != desired.params["description"]:
            diff["description"] = (entry.get("Description"), desired.params["description"])
        if tags_drifted(tags, desired.tags):
            diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=outputs is not None, up_to_date=not diff, diff=diff, outputs=outputs or {"arn": arn},
            state="available" if outputs else "without a usable value",
            owner=owner, owner_environment=owner_environment,
        )

    def _current(self, arn: str, entry: Mapping[str, Any]) -> tuple[str, Sensitive] | None:
        """The AWSCURRENT version and its value, read only when the listing shows a version not read yet."""
        version = _current_version(entry)
        cached = self._values.get(arn)
        if cached is not None and version is not None and cached[0] == version:
            return cached
        try:
            got = self.sm.get_secret_value(SecretId=arn)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # no AWSCURRENT value (or deleted since the listing): update() puts one
            raise
        current = (got["VersionId"], Sensitive(got.get("SecretString", "")))
        self._values[arn] = current
        return current

    def _rotated_at(self, entry: Mapping[str, Any], tags: Mapping[str, str]) -> datetime:
        try:
            return datetime.strptime(tags[TAG_ROTATED_AT], _TIME_FORMAT).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            changed: datetime | None = entry.get("LastChangedDate") or entry.get("CreatedDate")
            return changed or datetime.min.replace(tzinfo=UTC)  # no date at all: due now

    def create(self, desired: Desired) -> Observation:
        entry = self._entry(desired.name)
        if entry is not None and entry.get("DeletedDate"):
            return self._restore(desired, entry)
        value, now = generate(desired), self.now()
        tags = {**desired.tags, TAG_ROTATED_AT: _stamp(desired, now).strftime(_TIME_FORMAT)}
        try:
            made = self.sm.create_secret(
                Name=desired.name, SecretString=value, KmsKeyId=desired.params["kms_key_id"],
                Description=desired.params["description"], Tags=_tag_list(tags))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            self.secrets.expire()  # made by someone else since the listing: observe what is there
            return self.observe(desired)
        self._values[made["ARN"]] = (made["VersionId"], value)
        self.secrets.put(desired.name, {
            "ARN": made["ARN"], "Name": desired.name, "KmsKeyId": desired.params["kms_key_id"],
            "Description": desired.params["description"], "Tags": _tag_list(tags), "LastChangedDate": now,
            "SecretVersionsToStages": {made["VersionId"]: ["AWSCURRENT"]},
        })
        return self.observe(desired)

    def _restore(self, desired: Desired, entry: Mapping[str, Any]) -> Observation:
        """A secret in its recovery window (deleted with policy Snapshot): restore it if it is this environment's,
        otherwise report it (with its owner) so the loop reports the conflict."""
        tags = _tags(entry)
        if tags.get(TAG_ENVIRONMENT) != desired.tags.get(TAG_ENVIRONMENT):
            return Observation(exists=True, owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT),
                               state="scheduled for deletion")
        self.sm.restore_secret(SecretId=entry["ARN"])
        self._patch(desired.name, {k: v for k, v in entry.items() if k != "DeletedDate"})
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        arn = observed.outputs["arn"]
        entry = self._entry(desired.name) or {"ARN": arn, "Name": desired.name}
        if "kms_key_id" in observed.diff or "description" in observed.diff:
            self.sm.update_secret(SecretId=arn, KmsKeyId=desired.params["kms_key_id"],
                       Description=desired.params["description"])
            entry = {**entry, "KmsKeyId": desired.params["kms_key_id"], "Description": desired.params["description"]}
        tags = _tags(entry)
        if "value" in observed.diff or "rotation" in observed.diff:
            value, now = generate(desired, observed.outputs.get("username")), self.now()
            version = self.sm.put_secret_value(SecretId=arn, SecretString=value)["VersionId"]
            self._values[arn] = (version, value)
            # After the value: a crash in between rotates once more, never leaves an old value marked new.
            tags[TAG_ROTATED_AT] = _stamp(desired, now).strftime(_TIME_FORMAT)
            self.sm.tag_resource(SecretId=arn, Tags=_tag_list({TAG_ROTATED_AT: tags[TAG_ROTATED_AT]}))
            entry = {**entry, "SecretVersionsToStages": {version: ["AWSCURRENT"]}, "LastChangedDate": now}
        if "tags" in observed.diff:
            self.sm.untag_resource(SecretId=arn, TagKeys=[TAG_RELEASED])
            self.sm.tag_resource(SecretId=arn, Tags=_tag_list(desired.tags))
            tags = retagged(tags, desired.tags)
        self._patch(desired.name, entry, Tags=_tag_list(tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        arn = observed.outputs["arn"]
        entry = self._entry(desired.name) or {"ARN": arn, "Name": desired.name}
        if policy == "Retain":
            self.sm.tag_resource(SecretId=arn, Tags=_tag_list({TAG_RELEASED: "true"}))
            self._patch(desired.name, entry, Tags=_tag_list({**_tags(entry), TAG_RELEASED: "true"}))
            return
        self._values.pop(arn, None)
        if policy == "Snapshot":  # recoverable for the window: Secrets Manager's own "final snapshot"
            self.sm.delete_secret(SecretId=arn, RecoveryWindowInDays=RECOVERY_WINDOW_DAYS)
            self._patch(desired.name, entry, DeletedDate=self.now() + timedelta(days=RECOVERY_WINDOW_DAYS))
        else:
            self.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
            self.secrets.forget(desired.name)
