"""spec -> the database's desired RDS instance."""

from aenv.api import EnvironmentSpec, effective
from aenv.naming import TAG_COMPONENT, TAG_ENVIRONMENT, TAG_UID, EnvironmentRef
from aenv.plan import backups, database
from aenv.plan.environment import requested
from aenv.plan.types import Desired, Ref

ENV = EnvironmentRef("analytics", "defi", "uid-1")


def plan(tier: str = "staging", env: EnvironmentRef = ENV, **db_spec: object) -> list[Desired]:
    spec = EnvironmentSpec.model_validate({"tier": tier, "aws": {"region": "us-east-1"}, "database": db_spec})
    return database.plan(env, effective(spec))


def test_no_database_section_plans_nothing() -> None:
    spec = EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"}})
    assert database.plan(ENV, effective(spec)) == []


def test_prod_instance_is_multi_az_protected_and_encrypted_with_the_environment_key() -> None:
    [db] = plan("prod")
    assert (db.kind, db.key, db.component, db.name) == ("rds.db_instance", "database/instance", "database",
                                                        "aenv-analytics-defi-database")
    assert db.tags == {TAG_ENVIRONMENT: "analytics/defi", TAG_UID: "uid-1", TAG_COMPONENT: "database"}
    assert db.params == {
        "engine": "postgres", "engine_version": "16", "instance_class": "db.r6g.large", "storage_gib": 100,
        "multi_az": True, "backup_retention_days": 30, "deletion_protection": True, "db_name": "analytics",
        "master_username": Ref("secret/database", "username"), "password": Ref("secret/database", "password"),
        "password_version": Ref("secret/database", "version"), "kms_key_arn": Ref("kms/key", "arn"),
        "security_group_id": Ref("network/sg/database", "id"), "subnet_group": Ref("network/subnets/database", "name"),
    }
    assert set(db.depends_on) == {"secret/database", "kms/key", "network/sg/database", "network/subnets/database"}


def test_dev_tier_is_small_single_az_and_unprotected() -> None:
    [db] = plan("dev")
    p = db.params
    assert (p["instance_class"], p["storage_gib"], p["multi_az"], p["backup_retention_days"],
            p["deletion_protection"]) == ("db.t4g.micro", 20, False, 1, False)


def test_spec_overrides_the_tier() -> None:
    [db] = plan("prod", engineVersion="17.2", instanceClass="db.m7g.xlarge", storageGiB=500, multiAZ=False,
                backupRetentionDays=14, deletionProtection=False, databaseName="trades")
    p = db.params
    assert (p["engine_version"], p["instance_class"], p["storage_gib"], p["multi_az"], p["backup_retention_days"],
            p["deletion_protection"], p["db_name"]) == ("17.2", "db.m7g.xlarge", 500, False, 14, False, "trades")


def test_name_fits_rds_rules() -> None:
    long = EnvironmentRef("team-analytics-production-eu", "defi--realtime-dashboards-and-more", "uid-2")
    [db] = plan(env=long)
    assert len(db.name) <= database.RDS_ID_MAX and "--" not in db.name and not db.name.endswith("-")


def test_the_backups_bucket_is_planned_with_the_database_and_expires_after_its_retention() -> None:
    prod = effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "us-east-1"},
                                                     "database": {}}))
    [bucket] = backups.plan(ENV, prod)
    assert (bucket.kind, bucket.key, bucket.component) == ("s3.bucket", "backups/bucket", "backups")
    assert bucket.params == {"kms_key_arn": Ref("kms/key", "arn"), "expiration_days": 30}
    assert "backups" in requested(prod) and requested(prod).index("backups") > requested(prod).index("encryption")
    none = effective(EnvironmentSpec.model_validate({"tier": "dev", "aws": {"region": "us-east-1"},
                                                     "database": {"backupRetentionDays": 0}}))
    assert backups.plan(ENV, none)[0].params["expiration_days"] == 1, "S3 expires after one day at least"
    assert backups.plan(ENV, effective(EnvironmentSpec.model_validate(
        {"tier": "dev", "aws": {"region": "us-east-1"}, "queues": [{"name": "q"}]}))) == []
