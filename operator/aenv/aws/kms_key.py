"""KMS customer-managed keys (kind kms.key): the environment's key, found by its alias."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..api.spec import DeletionPolicy
from ..naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_RELEASED, TAG_UID, retagged
from ..plan.types import Desired, Observation
from . import session
from .component import AwsTarget, Classified
from .errors import error_code
from .listing import Listing
from .tagging import tags_by_arn, tags_drifted, tags_or_ask

KIND = "kms.key"
GONE_STATES = {"PendingDeletion", "PendingReplicaDeletion"}
MINIMUM_DELETION_WINDOW_DAYS = 7


def _kms_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


class KmsKeys(Classified):
    """One paginated list_aliases and one tagging-API page set per interval for every environment; per key and
    interval one describe_key (its state: no batch call returns it) and, for an enabled key, one
    get_key_rotation_status (no batch call returns it either)."""

    def __init__(self, target: AwsTarget) -> None:
        self.kms = session.client("kms", target.region, target.endpoint)
        self.kms_once = session.client_once("kms", target.region, target.endpoint)  # CreateKey: see create()
        self.tagging = session.client("resourcegroupstaggingapi", target.region, target.endpoint)
        self.aliases = Listing(self._list_aliases)  # alias name -> target key id
        self.tags = tags_by_arn(self.tagging, "kms")

    def _list_aliases(self) -> dict[str, str]:
        out = {}
        for page in self.kms.get_paginator("list_aliases").paginate():
            for alias in page.get("Aliases", []):
                if alias["AliasName"].startswith("alias/aenv-") and "TargetKeyId" in alias:
                    out[alias["AliasName"]] = alias["TargetKeyId"]
        return out

    def _key(self, alias: str) -> dict[str, Any] | None:
        """The metadata of the key the alias names, or None when there is none or it is pending deletion."""
        try:
            key_id = self.aliases.get(alias)
            meta: dict[str, Any] | None = self.kms.describe_key(KeyId=key_id)["KeyMetadata"] if key_id else None
        except ClientError as e:
            if error_code(e) == "NotFoundException":
                return None
            raise
        return None if meta is None or meta["KeyState"] in GONE_STATES else meta

    def observe(self, desired: Desired) -> Observation:
        meta = self._key(desired.name)
        if meta is None:
            return Observation.absent()
        key_id, state = meta["KeyId"], meta["KeyState"]
        tags = self._tags(meta["Arn"], key_id)
        diff: dict[str, tuple[Any, Any]] = {}
        immutable: tuple[str, ...] = ()
        if desired.params:  # a lookup-only desired (deleting) has no parameters to compare
            p = desired.params
            if meta.get("KeySpec") != p["key_spec"]:
                immutable = ("key_spec",)
            if state == "Disabled":
                diff["enabled"] = (False, True)
            elif state == "Enabled":
                rotation = bool(self.kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])
                if rotation != p["rotation"]:
                    diff["rotation"] = (rotation, p["rotation"])
            if meta.get("Description", "") != p["description"]:
                diff["description"] = (meta.get("Description", ""), p["description"])
            if tags_drifted(tags, desired.tags):
                diff["tags"] = (tags, dict(desired.tags))
        return Observation(
            exists=True, ready=state == "Enabled", up_to_date=not diff, diff=diff, immutable=immutable,
            outputs={"id": key_id, "arn": meta["Arn"]},
            owner=tags.get(TAG_UID), owner_environment=tags.get(TAG_ENVIRONMENT), state=state.lower(),
        )

    def _tags(self, arn: str, key_id: str) -> dict[str, str]:
        return tags_or_ask(self.tags, arn, lambda: {
            t["TagKey"]: t["TagValue"] for t in self.kms.list_resource_tags(KeyId=key_id).get("Tags", [])})

    def _orphan(self, desired: Desired) -> str | None:
        """A key this environment made whose alias never was (a crash in between): reused, not duplicated."""
        mine = [{"Key": k, "Values": [desired.tags[k]]} for k in (TAG_UID, TAG_COMPONENT)]
        pages = list(self.tagging.get_paginator("get_resources").paginate(
            ResourceTypeFilters=["kms"], TagFilters=mine))
        for item in (i for page in pages for i in page.get("ResourceTagMappingList", [])):
            if any(t["Key"] == TAG_RELEASED for t in item.get("Tags", [])):
                continue
            meta = self.kms.describe_key(KeyId=item["ResourceARN"])["KeyMetadata"]
            if meta["KeyState"] not in GONE_STATES:
                return str(meta["KeyId"])
        return None

    def create(self, desired: Desired) -> Observation:
        p = desired.params
        key_id = self._orphan(desired)
        made = key_id is None
        if key_id is None:  # not repeated by the SDK: a retried CreateKey whose answer was lost makes a second key
            meta = self.kms_once.create_key(Description=p["description"], KeySpec=p["key_spec"],
                              KeyUsage="ENCRYPT_DECRYPT", Tags=_kms_tags(dict(desired.tags)))["KeyMetadata"]
            key_id = meta["KeyId"]
            self.tags.put(meta["Arn"], dict(desired.tags))
        if p["rotation"]:
            self.kms.enable_key_rotation(KeyId=key_id)
        try:
            self.kms.create_alias(AliasName=desired.name, TargetKeyId=key_id)
        except ClientError as e:
            if error_code(e) != "AlreadyExistsException":
                raise
            self.aliases.expire()
            named = self._key(desired.name)
            if named is None:  # it names a key pending deletion: point it at this one
                self.kms.update_alias(AliasName=desired.name, TargetKeyId=key_id)
            elif named["KeyId"] != key_id:  # made since the listing: keep what it names, leave no second key behind
                if made:
                    self.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
                return self.observe(desired)
            # Otherwise it names this key: this very call made it and its answer was lost (the SDK repeated it).
        self.aliases.put(desired.name, key_id)
        return self.observe(desired)

    def update(self, desired: Desired, observed: Observation) -> Observation:
        key_id, diff = observed.outputs["id"], observed.diff
        if "enabled" in diff:
            self.kms.enable_key(KeyId=key_id)
        if "rotation" in diff or "enabled" in diff:  # rotation of a disabled key is not readable: set it anyway
            set_rotation = self.kms.enable_key_rotation if desired.params["rotation"] else self.kms.disable_key_rotation
            set_rotation(KeyId=key_id)
        if "description" in diff:
            self.kms.update_key_description(KeyId=key_id, Description=desired.params["description"])
        if "tags" in diff:
            have = diff["tags"][0]
            if TAG_RELEASED in have:
                self.kms.untag_resource(KeyId=key_id, TagKeys=[TAG_RELEASED])
            self.kms.tag_resource(KeyId=key_id, Tags=_kms_tags(dict(desired.tags)))
            self.tags.put(observed.outputs["arn"], retagged(have, desired.tags))
        return self.observe(desired)

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        """Delete schedules the key's deletion after KMS's minimum window (7 days; it counts as gone from then on)
        and removes the alias. Snapshot and Retain keep the key, tagged released: the final snapshots and
        backups it encrypted must stay readable, so it has to outlive them. Snapshot removes the alias (the
        environment is gone, and a snapshot names its key by ARN); Retain keeps it, so that an environment
        created again with the same name adopts the key."""
        key_id = observed.outputs["id"]
        if policy != "Delete":
            self.kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": TAG_RELEASED, "TagValue": "true"}])
            self.tags.forget(observed.outputs["arn"])
            if policy == "Retain":
                return
        else:  # scheduled before the alias goes, so that a crash in between cannot lose track of a live key
            try:  # the key id: moto fails with the ARN
                self.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=MINIMUM_DELETION_WINDOW_DAYS)
            except ClientError as e:
                if error_code(e) != "KMSInvalidStateException":  # already pending deletion
                    raise
        try:
            self.kms.delete_alias(AliasName=desired.name)
        except ClientError as e:
            if error_code(e) != "NotFoundException":
                raise
        self.aliases.forget(desired.name)
