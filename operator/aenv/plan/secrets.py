"""Generated credentials in Secrets Manager: the cache AUTH token, the database login, the JWT key, API keys.

Values are generated and rotated by the client (aws/secretsmanager_secret.py), never by the plan: the plan
only says which secrets exist, what kind of value each holds and how often it changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..api.spec import EnvironmentSpec, Rotation
from ..naming import EnvironmentRef, aws_name
from .logins import LOGIN_ROLES
from .types import Desired, Ref

SECRET_NAME_MAX = 512
SECRET_INVALID = r"[^a-zA-Z0-9/_+=.@-]"
DATABASE_USERNAME = "aenv"
# `aenv rotate ENV --cache` writes the request's UTC time (%Y-%m-%dT%H:%M:%SZ) here; a value put before it is
# replaced once. The time, not a nonce, so that a pass after the rotation (or after a restart) finds it done.
ROTATE_ANNOTATION = "aenv.dev/rotate-"
ROTATABLE = {"cache": "secret/cache-auth", "database": "secret/database-login"}


def rotation_requests(annotations: Mapping[str, str]) -> dict[str, str]:
    """Secret key -> the time a rotation was asked for."""
    return {key: annotations[ROTATE_ANNOTATION + what] for what, key in ROTATABLE.items()
            if ROTATE_ANNOTATION + what in annotations}


def with_rotation_requests(desired: list[Desired], annotations: Mapping[str, str]) -> list[Desired]:
    requests = rotation_requests(annotations)
    return [replace(d, params={**d.params, "rotate_requested_at": requests[d.key]}) if d.key in requests else d
            for d in desired]


# A credential's consumer in AWS -> (its secret, the param that lists the versions ready pods still hold)
HELD_BY_PODS = {"cache/replication-group": ("cache-auth", "auth_tokens_in_use"),
                "database/login": ("database-login", "logins_in_use")}


def with_credentials_in_use(desired: list[Desired], stamps: Sequence[Mapping[str, str]]) -> list[Desired]:
    """Tell each consumer which versions of its credential the environment's ready pods hold (`stamps`: one
    plan/connection.credential_versions per ReplicaSet with ready pods), so it revokes a previous one only when
    none does."""
    out = []
    for d in desired:
        if d.key in HELD_BY_PODS:
            secret, param = HELD_BY_PODS[d.key]
            d = replace(d, params={**d.params, param: sorted({s[secret] for s in stamps if secret in s})})
        out.append(d)
    return out


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    rotation = spec.secrets.rotation if spec.secrets else Rotation()
    wanted: list[tuple[str, str, int]] = []  # (key under secret/, kind of value, rotation period in days)
    if spec.cache:
        wanted.append(("cache-auth", "cache-auth", rotation.cache_auth_days))
    if spec.database:
        wanted.append(("database", "database", rotation.database_days))
        wanted.append(("database-login", "database-login", rotation.database_days))
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
        elif value == "database-login":
            params["usernames"] = list(LOGIN_ROLES)
        resources.append(Desired(
            kind="secretsmanager.secret", key=f"secret/{what}", component="secrets",
            name=aws_name(env, what.replace("/", "-"), max_length=SECRET_NAME_MAX, invalid=SECRET_INVALID),
            params=params, tags=env.tags("secrets"),
        ))
    return resources
