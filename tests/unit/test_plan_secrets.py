"""spec -> the Secrets Manager secrets an environment needs."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, EnvironmentRef
from aenv.plan import secrets
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(**sections: object) -> dict[str, Desired]:
    spec = effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"}, **sections}))
    return {d.key: d for d in secrets.plan(ENV, spec)}


def test_cache_and_database_get_their_credentials_with_default_rotation() -> None:
    r = plan(cache={}, database={})
    assert list(r) == ["secret/cache-auth", "secret/database", "secret/database-login"]
    cache, db, login = r["secret/cache-auth"], r["secret/database"], r["secret/database-login"]
    assert cache.kind == "secretsmanager.secret" and cache.component == "secrets"
    assert cache.name == "aenv-analytics-defi-cache-auth"
    assert cache.params["value"] == "cache-auth" and cache.params["rotation_days"] == 90
    assert db.params["value"] == "database" and db.params["username"] == "aenv" and db.params["rotation_days"] == 90
    assert login.params["value"] == "database-login" and login.params["usernames"] == ["aenv_app_a", "aenv_app_b"]
    assert cache.params["kms_key_id"] == Ref("kms/key", "id") and cache.depends_on == ("kms/key",)
    assert cache.tags[TAG_COMPONENT] == "secrets"


def test_secrets_section_adds_jwt_and_api_keys_with_its_rotation() -> None:
    r = plan(secrets={"apiKeys": ["partner", "ops_bot"], "rotation": {"jwtDays": 30, "apiKeysDays": 7}})
    assert list(r) == ["secret/jwt", "secret/api-key/partner", "secret/api-key/ops_bot"]
    assert r["secret/jwt"].params["rotation_days"] == 30
    assert r["secret/api-key/partner"].params["rotation_days"] == 7
    assert r["secret/api-key/partner"].name == "aenv-analytics-defi-api-key-partner"
    assert r["secret/api-key/ops_bot"].name == "aenv-analytics-defi-api-key-ops_bot"  # "_" is valid in a name


def test_jwt_can_be_turned_off_and_nothing_is_planned_without_sections() -> None:
    assert list(plan(secrets={"jwt": False})) == []
    assert plan(queues=[{"name": "events"}]) == {}


def test_no_secret_value_is_in_the_plan() -> None:
    r = plan(cache={}, database={}, secrets={"apiKeys": ["partner"]})
    for d in r.values():
        assert set(d.params) <= {"value", "rotation_days", "kms_key_id", "description", "username", "usernames"}
        assert d.params["value"] in {"cache-auth", "database", "database-login", "jwt", "api-key"}  # kinds


def test_long_names_are_shortened_within_the_limit() -> None:
    env = EnvironmentRef("n" * 63, "e" * 63, "uid-1")
    spec = effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"},
                                                     "secrets": {"apiKeys": ["k" * 40]}}))
    names = [d.name for d in secrets.plan(env, spec)]
    assert all(len(n) <= secrets.SECRET_NAME_MAX for n in names) and len(set(names)) == 2
