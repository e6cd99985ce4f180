"""The environment's KMS key in mode ack (kind kms.key): a kms Key CR and a kms Alias CR whose targetKeyRef names it.

The desired resource's name is the alias (`alias/aenv-<namespace>-<name>`, as in mode boto3); both CRs are named
after it without the `alias/` prefix. The key is ready when ACK reports both synced, the key Enabled with an id.
Outputs are mode boto3's: the key's id and ARN.

Deletion follows mode boto3: Delete deletes both (ACK schedules the key's deletion); Snapshot keeps the key (ACK's
deletion policy retain: the final snapshots it encrypted must stay readable) and deletes the alias; Retain keeps
both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.spec import DeletionPolicy
from ..aws.component import AwsTarget
from ..naming import EnvironmentRef
from ..plan.encryption import ALIAS_PREFIX
from ..plan.types import Desired, Observation
from .resource import AckClient, AckKind, object_name, reference

KIND = "kms.key"


def key_name(alias: str) -> str:
    """The Key and Alias CRs' name for the environment's alias."""
    return object_name(alias.removeprefix(ALIAS_PREFIX))


class KmsAliases(AckClient):
    KIND = AckKind("kms", "Alias")
    TAG_FIELD = None  # an alias has no tags: its owner is the key's

    def name_of(self, desired: Desired) -> str:
        return key_name(desired.name)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        return {"name": desired.name, "targetKeyRef": reference(key_name(desired.name))}


class KmsKeys(AckClient):
    KIND = AckKind("kms", "Key")
    ADOPTED_BY = (("keyID", "status.keyID"),)

    def __init__(self, target: AwsTarget) -> None:
        super().__init__(target)
        self.aliases = KmsAliases(target)

    def name_of(self, desired: Desired) -> str:
        return key_name(desired.name)

    def spec(self, desired: Desired, env: EnvironmentRef) -> dict[str, Any]:
        p = desired.params
        return {
            "description": p["description"],
            "keySpec": p["key_spec"],
            "keyUsage": "ENCRYPT_DECRYPT",
            "enableKeyRotation": bool(p["rotation"]),
            "tags": [{"tagKey": k, "tagValue": v} for k, v in desired.tags.items()],
        }

    def unusable(self, obj: Mapping[str, Any]) -> str | None:
        status = obj.get("status") or {}
        if not status.get("keyID") or not (status.get("ackResourceMetadata") or {}).get("arn"):
            return "synced, but without a key id yet"
        state = status.get("keyState")
        return None if state == "Enabled" else f"synced, key state {state or 'unknown'}"

    def outputs(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        status = obj.get("status") or {}
        return {"id": status.get("keyID"), "arn": (status.get("ackResourceMetadata") or {}).get("arn")}

    def deletion_policy(self, policy: DeletionPolicy) -> str:
        return "delete" if policy == "Delete" else "retain"

    def observe(self, desired: Desired) -> Observation:
        return self._with_alias(desired, super().observe(desired))

    def create(self, desired: Desired) -> Observation:
        key = super().create(desired)
        return self._with_alias(desired, key, self.aliases.create(desired))

    def _with_alias(self, desired: Desired, key: Observation, alias: Observation | None = None) -> Observation:
        """The key's observation, not up to date while its alias is missing or differs, not ready until both are."""
        if not key.exists or not desired.params:
            return key
        alias = alias or self.aliases.observe(desired)
        diff = dict(key.diff)
        if not alias.exists:
            diff["alias"] = (None, desired.name)
        elif not alias.up_to_date:
            diff.update({f"alias.{k}": v for k, v in alias.diff.items()})
        ready = key.ready and alias.ready
        state = key.state if not key.ready else (f"alias {alias.state}" if alias.exists else "alias missing")
        return Observation(
            exists=True, ready=ready, up_to_date=not diff, diff=diff, outputs=key.outputs if ready else {},
            owner=key.owner, owner_environment=key.owner_environment, state="available" if ready else state,
        )

    def delete(self, desired: Desired, observed: Observation, policy: DeletionPolicy) -> None:
        self.aliases.delete(desired, observed, policy)
        super().delete(desired, observed, policy)
