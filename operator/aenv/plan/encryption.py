"""The environment's customer-managed KMS key, with rotation, found by its alias."""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef, aws_name
from .types import Desired

ALIAS_PREFIX = "alias/"
ALIAS_MAX = 256
ALIAS_INVALID = r"[^a-zA-Z0-9_-]"


def alias(env: EnvironmentRef) -> str:
    """alias/aenv-<namespace>-<name>, shortened with a stable hash to KMS's limit."""
    # aws_name always appends "-<component>": with an empty component only the "-" needs dropping.
    return ALIAS_PREFIX + aws_name(env, "", max_length=ALIAS_MAX - len(ALIAS_PREFIX), invalid=ALIAS_INVALID).rstrip("-")


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    return [Desired(
        kind="kms.key", key="kms/key", component="encryption", name=alias(env),
        params={"description": f"aenv {env.key}", "key_spec": "SYMMETRIC_DEFAULT", "rotation": True},
        tags=env.tags("encryption"),
    )]
