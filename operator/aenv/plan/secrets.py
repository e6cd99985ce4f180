"""Generated credentials in Secrets Manager: the cache AUTH token, the database login, the JWT key, API keys.

Values are generated and rotated by the client (aws/secretsmanager_secret.py), never by the plan: the plan
only says which secrets exist, what kind of value each holds and how often it changes.
"""

from __future__ import annotations

from ..api.spec import EnvironmentSpec, Rotation
from ..naming import EnvironmentRef, aws_name
from .types import Desired, Ref

SECRET_NAME_MAX = 512
SECRET_INVALID = r"[^a-zA-Z0-9/_+=.@-]"
DATABASE_USERNAME = "aenv"


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    rotation = spec.secrets.rotation if spec.secrets else Rotation()
    wanted: list[tuple[str, str, int]] = []  # (key under secret/, kind of value, rotation period in days)
    if spec.cache:
        wanted.append(("cache-auth", "cache-auth", rotation.cache_auth_days))
    if spec.database:
        wanted.append(("database", "database", rotation.database_days))
    if spec.secrets:
        if spec.secrets.jwt:
            wanted.append(("jwt", "jwt", rotation.jwt_days))
        wanted += [(f"api-key/{name}", "api-key", rotation.api_keys_days) for name in spec.secrets.api_keys]
    resources = []
    for what, value, days in wanted:
        params: dict[str, object] = {
            "value": value,
            "rotation_days": days,
            "kms_key_id": Ref("kms/key", "id"),
            "description": f"aenv {env.key}: {what}, rotated every {days} days by aenv",
        }
        if value == "database":
            params["username"] = DATABASE_USERNAME
        resources.append(Desired(
            kind="secretsmanager.secret", key=f"secret/{what}", component="secrets",
            name=aws_name(env, what.replace("/", "-"), max_length=SECRET_NAME_MAX, invalid=SECRET_INVALID),
            params=params, tags=env.tags("secrets"),
        ))
    return resources
