"""The database's login roles (kind postgres.login): the credentials workloads log in with, two roles taking turns,
so that a rotation never refuses a pod that started with the previous one. Pure.

aenv's master user (secret/database) stays aenv's own: migrations' snapshots, backups and restores use it. The
workloads' login (secret/database-login) names one of LOGIN_ROLES with its password; a rotation writes the other
role with a new password. Both are members of GROUP_ROLE, which holds the privileges (and, through the roles'
default `SET ROLE`, owns what they create), so the two roles are interchangeable.
"""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef
from .types import Desired, Ref

GROUP_ROLE = "aenv_app"
LOGIN_ROLES = ("aenv_app_a", "aenv_app_b")


def other(role: str) -> str:
    """The login role a rotation moves to from `role` (the first one when `role` is not one of them)."""
    return LOGIN_ROLES[1] if role == LOGIN_ROLES[0] else LOGIN_ROLES[0]


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    if spec.database is None:
        return []
    return [Desired(
        kind="postgres.login", key="database/login", component="database", name=f"{env.key}/{GROUP_ROLE}",
        params={
            "host": Ref("database/instance", "endpoint"),
            "port": Ref("database/instance", "port"),
            "db_name": Ref("database/instance", "name"),
            "master_username": Ref("secret/database", "username"),
            "master_password": Ref("secret/database", "password"),
            "username": Ref("secret/database-login", "username"),
            "password": Ref("secret/database-login", "password"),
            "version": Ref("secret/database-login", "version"),
        },
        tags=env.tags("database"),
    )]
