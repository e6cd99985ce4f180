"""The spec of an AnalyticsEnvironment: what the platform team asks for.

Fields the tier sets (see tiers.py) are optional here: left out, the tier's value applies.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from .base import ApiModel, cel, exactly_one, immutable, validations
from .duration import DURATION_PATTERN, parse_duration
from .rollout import Rollout

# AWS tag values (`<namespace>/<name>`, at most 256) bound an environment's name: a namespace has at most 63.
ENVIRONMENT_NAME_MAX = 192
TTL_MAX = "2160h"  # 90 days: longer-lived environments have no business expiring

Tier = Literal["dev", "staging", "prod"]
DeletionPolicy = Literal["Delete", "Snapshot", "Retain"]

LogicalName = Annotated[str, Field(
    pattern=r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?$",
    max_length=40,
    description="Lower-case letters, digits, '-' and '_', at most 40; AWS names are derived from it.",
)]
WorkloadName = Annotated[str, Field(
    pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
    max_length=40,
    description="A DNS label of at most 40 characters: it names Services and ReplicaSets.",
)]
Arn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:", max_length=2048)]


def _unique(values: list[str]) -> list[str]:
    if dup := _duplicates(values):
        raise ValueError(f"duplicate value {', '.join(dup)}")
    return values


# A list whose entries each make a resource of their own: the API server refuses a duplicate, naming it.
SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}
Unique = AfterValidator(_unique)


class Aws(ApiModel, json_schema_extra=validations(
    cel("self.region == oldSelf.region", "aws.region is immutable: resources cannot move between regions",
        ".region"),
    cel("(has(self.mode) ? self.mode : 'boto3') == (has(oldSelf.mode) ? oldSelf.mode : 'boto3')",
        "aws.mode is immutable", ".mode"),
)):
    region: str = Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", max_length=32)
    mode: Literal["boto3", "ack"] = "boto3"
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=512,
                                 description="An AWS-compatible endpoint (an emulator); omit for AWS.")
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnet_ids: Annotated[list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]], Unique] = Field(
        default_factory=list, max_length=16, description="Private subnets for the cache and the database.",
        json_schema_extra=SET)


class Cache(ApiModel, json_schema_extra=validations(
    immutable("engine", "'redis'", "ElastiCache cannot switch engines in place; create a new environment"),
    immutable("transitEncryption", "true", "ElastiCache cannot change TLS on an existing replication group"),
    immutable("atRestEncryption", "true", "ElastiCache cannot change at-rest encryption of a replication group"),
)):
    engine: Literal["redis", "valkey"] = "redis"
    engine_version: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+){0,2}$")
    node_type: str | None = Field(default=None, pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int | None = Field(default=None, ge=0, le=5)
    multi_az: bool | None = Field(default=None, alias="multiAZ")
    transit_encryption: bool = True
    at_rest_encryption: bool = True
    snapshot_retention_days: int | None = Field(default=None, ge=0, le=35)


class MigrationConfigMap(ApiModel):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", max_length=253, description=(
        "A ConfigMap in the environment's namespace whose keys are <version>_<name>.up.sql and "
        "<version>_<name>.down.sql; aenv runs them."))


class MigrationJob(ApiModel):
    workload: WorkloadName = Field(description="The workload whose image runs the command, with its env and the "
                                               "connection Secret (DATABASE_URL).")
    command: list[Annotated[str, Field(max_length=4096)]] = Field(
        min_length=1, max_length=64, description="Applies the pending migrations; exits 0 on success.")


class Migrations(ApiModel, json_schema_extra=validations(
    cel(exactly_one("configMap", "job"), "set exactly one of configMap or job"),
)):
    config_map: MigrationConfigMap | None = None
    job: MigrationJob | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Migrations:
        if (self.config_map is None) == (self.job is None):
            raise ValueError("set exactly one of configMap or job")
        return self


TableName = Annotated[str, Field(
    pattern=r"^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$", max_length=127,
    description="A table, optionally schema-qualified (schema.table).")]


class RestoreDrill(ApiModel):
    schedule: Literal["monthly", "weekly"] = Field(default="monthly", description=(
        "How often aenv restores the latest backup into a temporary database and checks it: once per calendar "
        "month (UTC), or once per ISO week."))
    tables: list[TableName] = Field(default_factory=list, max_length=50, description=(
        "Tables that must exist and hold rows in the restored copy; empty: the restore alone is checked."))


# An RDS DB snapshot: its identifier (a manual one, or an automated one's rds:<instance>-<date>) or its ARN.
SnapshotId = Annotated[str, Field(
    pattern=r"^(arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:snapshot:)?(rds:)?[A-Za-z][A-Za-z0-9-]{0,254}$",
    max_length=2048,
    description="An RDS DB snapshot identifier (aws rds describe-db-snapshots lists them) or its ARN.")]


class Database(ApiModel, json_schema_extra=validations(
    immutable("databaseName", "'analytics'", "RDS cannot rename the initial database"),
    immutable("fromSnapshot", "''", "it applies when the database is created; to restore another snapshot, "
              "create a new environment"),
    cel("!has(self.storageGiB) || !has(oldSelf.storageGiB) || self.storageGiB >= oldSelf.storageGiB",
        "storageGiB cannot shrink: RDS storage only grows", ".storageGiB"),
)):
    engine: Literal["postgres"] = "postgres"
    engine_version: str = Field(default="16", pattern=r"^(1[5-9]|[2-9][0-9])(\.[0-9]+)?$",
                                description="PostgreSQL 15 or newer.")
    instance_class: str | None = Field(default=None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    storage_gib: int | None = Field(default=None, ge=20, le=65536, alias="storageGiB")
    multi_az: bool | None = Field(default=None, alias="multiAZ")
    backup_retention_days: int | None = Field(default=None, ge=0, le=35)
    deletion_protection: bool | None = None
    database_name: str = Field(default="analytics", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    migrations: Migrations | None = Field(default=None, description="Versioned SQL migrations: aenv runs them "
                                         "from a ConfigMap, or a workload's image runs them as a Job.")
    restore_drill: RestoreDrill | None = Field(default=None, description=(
        "A scheduled restore of the latest backup into a temporary database, checked and then dropped."))
    from_snapshot: SnapshotId | None = Field(default=None, description=(
        "Create the database from this RDS DB snapshot instead of empty (mode boto3): copied under the "
        "environment's KMS key, restored, and given the environment's own credentials. Set at creation only."))


class DeadLetter(ApiModel):
    enabled: bool = True
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    message_retention_seconds: int = Field(default=1209600, ge=60, le=1209600)


class Queue(ApiModel, json_schema_extra=validations(
    cel("(has(self.fifo) && self.fifo) == (has(oldSelf.fifo) && oldSelf.fifo)",
        "fifo is immutable: SQS cannot turn a queue into a FIFO queue or back; add a new queue instead", ".fifo"),
)):
    name: LogicalName = Field(json_schema_extra=validations(
        cel("!self.endsWith('-dlq')", "must not end in -dlq: that suffix names dead-letter queues")))
    fifo: bool = False
    visibility_timeout_seconds: int = Field(default=30, ge=0, le=43200)
    message_retention_seconds: int = Field(default=345600, ge=60, le=1209600)
    dead_letter: DeadLetter = Field(default_factory=DeadLetter)


class Topic(ApiModel, json_schema_extra=validations(
    cel("(has(self.fifo) && self.fifo) == (has(oldSelf.fifo) && oldSelf.fifo)",
        "fifo is immutable: SNS cannot turn a topic into a FIFO topic or back; add a new topic instead", ".fifo"),
)):
    name: LogicalName
    fifo: bool = False
    subscribers: Annotated[list[LogicalName], Unique] = Field(
        default_factory=list, max_length=20, description="Names of queues in this spec.", json_schema_extra=SET)


class Throttling(ApiModel):
    rate_limit: float = Field(default=1000, ge=1, le=100000)
    burst_limit: int = Field(default=2000, ge=1, le=100000)


class Domain(ApiModel):
    name: str = Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", max_length=253)
    certificate_arn: Arn


class Gateway(ApiModel):
    route_selection_expression: str = Field(default="$request.body.action", max_length=256)
    routes: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.$-]{1,128}$")]], Unique] = Field(
        default_factory=list, max_length=50, description="Routes beyond $connect, $disconnect and $default.",
        json_schema_extra=SET)
    throttling: Throttling = Field(default_factory=Throttling)
    domain: Domain | None = None
    workload: WorkloadName | None = Field(default=None, description="The workload the integration calls.")


class Rotation(ApiModel):
    cache_auth_days: int = Field(default=90, ge=1, le=365)
    database_days: int = Field(default=90, ge=1, le=365)
    jwt_days: int = Field(default=180, ge=1, le=365)
    api_keys_days: int = Field(default=90, ge=1, le=365)


class Secrets(ApiModel):
    jwt: bool = True
    api_keys: Annotated[list[LogicalName], Unique] = Field(default_factory=list, max_length=20, json_schema_extra=SET)
    rotation: Rotation = Field(default_factory=Rotation)


K8sName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", max_length=253)]


class SecretKeyRef(ApiModel):
    name: K8sName = Field(description="A Secret in the environment's namespace.")
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)


class UrlFromSecret(ApiModel):
    secret_key_ref: SecretKeyRef = Field(description="The Secret key holding the URL (it never appears in the spec, "
                                                     "the status, Events or logs).")


class NotificationTarget(ApiModel, json_schema_extra=validations(
    cel(exactly_one("email", "topicArn", "slack", "webhook"), "set exactly one of email, topicArn, slack or webhook"),
    cel("(!has(self.slack) && !has(self.webhook)) || has(self.name)",
        "a slack or webhook target needs a name: conditions and the delivery record name it", ".name"),
)):
    name: LogicalName | None = Field(default=None, description="Names the target in conditions; required for slack "
                                                               "and webhook.")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    topic_arn: Arn | None = None
    slack: UrlFromSecret | None = Field(default=None, description="A Slack incoming webhook: {\"text\": ...}.")
    webhook: UrlFromSecret | None = Field(default=None, description="Any HTTP endpoint: a JSON document per "
                                                                    "notification (id, environment, type, reason, "
                                                                    "message, time).")

    @model_validator(mode="after")
    def _one_kind(self) -> NotificationTarget:
        if sum(x is not None for x in (self.email, self.topic_arn, self.slack, self.webhook)) != 1:
            raise ValueError("set exactly one of email, topicArn, slack or webhook")
        if (self.slack or self.webhook) and not self.name:
            raise ValueError("name: a slack or webhook target needs a name")
        return self


class Monitoring(ApiModel, json_schema_extra=validations(
    cel("!has(self.notificationTargets) || self.notificationTargets.all(a, !has(a.name) || "
        "self.notificationTargets.exists_one(b, has(b.name) && b.name == a.name))",
        "two notification targets have the same name", ".notificationTargets"),
)):
    alarms: bool = True
    dashboard: bool = True
    log_retention_days: int | None = Field(default=None, ge=1, le=3653)
    notification_targets: list[NotificationTarget] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _unique_target_names(self) -> Monitoring:
        if dup := _duplicates([t.name for t in self.notification_targets if t.name]):
            raise ValueError(f"notificationTargets: duplicate name {', '.join(dup)}")
        return self


class EnvVar(ApiModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=256)
    value: str = Field(max_length=32768)


class ResourceList(ApiModel):
    cpu: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    memory: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")


class Resources(ApiModel):
    requests: ResourceList | None = None
    limits: ResourceList | None = None


USES_RESOURCES = ("cache", "database", "gateway", "secrets")


class Workload(ApiModel):
    name: WorkloadName
    image: str = Field(min_length=1, max_length=512)
    replicas: int = Field(default=1, ge=0, le=1000)
    port: int = Field(default=8080, ge=1, le=65535)
    env: list[EnvVar] = Field(default_factory=list, max_length=100)
    resources: Resources | None = None
    uses: list[LogicalName] = Field(
        default_factory=list, max_length=20,
        description="Environment resources the workload uses: cache, database, gateway, secrets, "
                    "or the name of a queue or topic.")
    rollout: Rollout | None = Field(default=None, description="Overrides spec.rollout for this workload.")


def _duplicates(names: list[str]) -> list[str]:
    return sorted(n for n, c in Counter(names).items() if c > 1)


# Optional lists are absent, not empty, when left out: every rule guards with has().
_USES_RULE = (
    "!has(self.workloads) || self.workloads.all(w, !has(w.uses) || w.uses.all(u, "
    "(u == 'cache' && has(self.cache)) || (u == 'database' && has(self.database)) || "
    "(u == 'gateway' && has(self.gateway)) || (u == 'secrets' && has(self.secrets)) || "
    "(has(self.queues) && self.queues.exists(q, q.name == u)) || "
    "(has(self.topics) && self.topics.exists(t, t.name == u))))"
)
_SUBSCRIBERS_RULE = (
    "!has(self.topics) || self.topics.all(t, !has(t.subscribers) || "
    "t.subscribers.all(s, has(self.queues) && self.queues.exists(q, q.name == s && "
    "(has(q.fifo) && q.fifo) == (has(t.fifo) && t.fifo))))"
)


class EnvironmentSpec(ApiModel, json_schema_extra=validations(
    cel(_USES_RULE, "every entry of spec.workloads[].uses must be cache, database, gateway or secrets "
                    "(when that section is set) or the name of a queue or topic in spec", ".workloads"),
    cel(_SUBSCRIBERS_RULE, "every entry of spec.topics[].subscribers must name a queue in spec.queues, "
                           "FIFO for a FIFO topic and standard for a standard one", ".topics"),
    cel("!has(self.database) || !has(self.database.migrations) || !has(self.database.migrations.job) || "
        "(has(self.workloads) && self.workloads.exists(w, w.name == self.database.migrations.job.workload))",
        "spec.database.migrations.job.workload must name a workload in spec.workloads",
        ".database.migrations.job.workload"),
    cel("!has(self.gateway) || !has(self.gateway.workload) || "
        "(has(self.workloads) && self.workloads.exists(w, w.name == self.gateway.workload))",
        "spec.gateway.workload must name a workload in spec.workloads", ".gateway.workload"),
    cel("!has(self.ttl) || !has(self.expiresAt)", "set at most one of spec.ttl or spec.expiresAt", ".expiresAt"),
    cel("self.tier != 'prod' || (!has(self.ttl) && !has(self.expiresAt)) || "
        "(has(self.allowProdExpiry) && self.allowProdExpiry)",
        "spec.allowProdExpiry: a prod environment expires (and is deleted) only with spec.allowProdExpiry: true",
        ".allowProdExpiry"),
)):
    tier: Tier
    aws: Aws
    cache: Cache | None = None
    database: Database | None = None
    queues: list[Queue] = Field(default_factory=list, max_length=50)
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    gateway: Gateway | None = None
    secrets: Secrets | None = None
    monitoring: Monitoring | None = None
    workloads: list[Workload] = Field(default_factory=list, max_length=50)
    rollout: Rollout | None = None
    deletion_policy: DeletionPolicy | None = Field(
        default=None, description="What happens to AWS resources on deletion; the tier sets the default.")
    ttl: str | None = Field(default=None, pattern=DURATION_PATTERN, min_length=2, max_length=32, description=(
        f"The environment deletes itself (per deletionPolicy) this long after its creation: hours, minutes, "
        f"seconds (72h, 1h30m, 90s), at most {TTL_MAX}."), json_schema_extra=validations(
        cel(f"duration(self) >= duration('1s') && duration(self) <= duration('{TTL_MAX}')",
            f"must be between 1s and {TTL_MAX}")))
    expires_at: AwareDatetime | None = Field(default=None, description=(
        "The environment deletes itself (per deletionPolicy) at this RFC 3339 time."))
    allow_prod_expiry: bool | None = Field(default=None, description=(
        "A prod environment may set ttl or expiresAt only with this set to true."))

    @field_validator("ttl")
    @classmethod
    def _ttl_range(cls, value: str | None) -> str | None:
        if value is not None and not timedelta(seconds=1) <= parse_duration(value) <= parse_duration(TTL_MAX):
            raise ValueError(f"must be between 1s and {TTL_MAX}")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> EnvironmentSpec:
        for field, names in (("queues", [q.name for q in self.queues]),
                             ("topics", [t.name for t in self.topics]),
                             ("workloads", [w.name for w in self.workloads])):
            if dup := _duplicates(names):
                raise ValueError(f"spec.{field}: duplicate name {', '.join(dup)}")
        for i, q in enumerate(self.queues):
            if q.name.endswith("-dlq"):
                raise ValueError(f"spec.queues[{i}].name: must not end in -dlq: that suffix names dead-letter queues")
        queues = {q.name for q in self.queues}
        known = queues | {t.name for t in self.topics}
        known |= {r for r in USES_RESOURCES if getattr(self, r) is not None}
        for i, w in enumerate(self.workloads):
            if unknown := [u for u in w.uses if u not in known]:
                raise ValueError(f"spec.workloads[{i}].uses: {', '.join(unknown)} is not in this spec")
        fifo = {q.name: q.fifo for q in self.queues}
        for i, t in enumerate(self.topics):
            if unknown := [s for s in t.subscribers if s not in queues]:
                raise ValueError(f"spec.topics[{i}].subscribers: {', '.join(unknown)} is not a queue in spec.queues")
            if mismatched := [s for s in t.subscribers if fifo[s] != t.fifo]:
                kind = "FIFO" if t.fifo else "standard"
                raise ValueError(f"spec.topics[{i}].subscribers: {', '.join(mismatched)} must be {kind} queues "
                                 f"like the topic")
        job = self.database.migrations.job if self.database and self.database.migrations else None
        if job and job.workload not in {w.name for w in self.workloads}:
            raise ValueError(f"spec.database.migrations.job.workload: {job.workload} is not in spec.workloads")
        if self.gateway and self.gateway.workload and self.gateway.workload not in {w.name for w in self.workloads}:
            raise ValueError(f"spec.gateway.workload: {self.gateway.workload} is not in spec.workloads")
        if self.ttl is not None and self.expires_at is not None:
            raise ValueError("spec.expiresAt: set at most one of spec.ttl or spec.expiresAt")
        if self.tier == "prod" and (self.ttl or self.expires_at) and not self.allow_prod_expiry:
            raise ValueError("spec.allowProdExpiry: a prod environment expires (and is deleted) only with "
                             "spec.allowProdExpiry: true")
        return self
