"""spec -> the environment's KMS key."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import encryption

ENV = EnvironmentRef("analytics", "defi", "uid-1")
SPEC = effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"}, "cache": {}}))


def test_one_rotating_customer_managed_key_named_by_its_alias() -> None:
    [key] = encryption.plan(ENV, SPEC)
    assert key.kind == "kms.key" and key.key == "kms/key" and key.component == "encryption"
    assert key.name == "alias/aenv-analytics-defi"
    assert key.params == {"description": "aenv analytics/defi", "key_spec": "SYMMETRIC_DEFAULT", "rotation": True}
    assert key.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "encryption"}
    assert key.depends_on == ()


def test_long_alias_is_shortened_with_a_stable_hash() -> None:
    env = EnvironmentRef("n" * 63, "long.name-" + "x" * 240, "uid-2")
    [key] = encryption.plan(env, SPEC)
    assert len(key.name) <= 256 and key.name.startswith("alias/aenv-nnn")
    assert "." not in key.name and not key.name.endswith("-")
    assert encryption.plan(env, SPEC)[0].name == key.name
    other = EnvironmentRef("n" * 63, "long.name-" + "x" * 239 + "y", "uid-3")
    assert encryption.plan(other, SPEC)[0].name != key.name
