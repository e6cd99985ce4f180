"""The database: one RDS PostgreSQL instance, encrypted with the environment's key, never public."""

from __future__ import annotations

from ..api.spec import EnvironmentSpec
from ..naming import EnvironmentRef
from .cache import identifier
from .types import Desired, Ref

RDS_ID_MAX = 63


def plan(env: EnvironmentRef, spec: EnvironmentSpec) -> list[Desired]:
    """The instance. The master username comes from the database secret (the secrets component sets "aenv"),
    so the credentials workloads receive can never disagree with the instance. With `fromSnapshot` the instance is
    created from that RDS DB snapshot (the parameter matters only while it does not exist)."""
    db = spec.database
    if db is None:
        return []
    restore = {"from_snapshot": db.from_snapshot} if db.from_snapshot else {}
    return [Desired(
        kind="rds.db_instance", key="database/instance", component="database",
        name=identifier(env, "database", max_length=RDS_ID_MAX),
        params={
            "engine": db.engine,
            "engine_version": db.engine_version,
            "instance_class": db.instance_class,
            "storage_gib": db.storage_gib,
            "multi_az": db.multi_az,
            "backup_retention_days": db.backup_retention_days,
            "deletion_protection": db.deletion_protection,
            "db_name": db.database_name,
            "master_username": Ref("secret/database", "username"),
            "password": Ref("secret/database", "password"),
            "password_version": Ref("secret/database", "version"),
            "kms_key_arn": Ref("kms/key", "arn"),
            "security_group_id": Ref("network/sg/database", "id"),
            "subnet_group": Ref("network/subnets/database", "name"),
            **restore,  # used only to create the instance
        },
        tags=env.tags("database"),
    )]
