"""The status of an AnalyticsEnvironment: what aenv observed and did. Only aenv writes it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ApiModel
from .rollout_state import RolloutState

Phase = Literal["Provisioning", "Ready", "Failed", "Deleting"]
ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    type: str = Field(max_length=316)
    status: ConditionStatus
    reason: str = Field(max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: str | None = Field(default=None, description="RFC 3339 time.")
    observed_generation: int | None = Field(default=None, ge=0)


class QueueStatus(ApiModel):
    name: str
    url: str
    arn: str
    dead_letter_url: str | None = None
    dead_letter_arn: str | None = None


class EndpointStatus(ApiModel):
    endpoint: str | None = None
    port: int | None = None
    arn: str | None = None
    state: str | None = None


class WorkloadStatus(ApiModel):
    name: str
    stable: str | None = None
    canary: str | None = None
    step: int | None = None
    weight: int | None = None
    phase: str | None = None
    rollout: RolloutState | None = None


class ManagedResource(ApiModel):
    """An AWS resource aenv made for this environment: kept until AWS confirms it gone or retained."""

    kind: str
    key: str
    name: str
    component: str


class BackupRecord(ApiModel):
    key: str = Field(description="The object in the backup bucket: <environment>/<timestamp>.dump.")
    time: str = Field(description="RFC 3339 time the backup finished.")
    bytes: int = Field(ge=0)
    seconds: float = Field(ge=0)


Outcome = Literal["Succeeded", "Failed"]


class RestoreRecord(ApiModel):
    request: str = Field(description="The request (annotation value) this answers.")
    source: str = Field(description="<namespace>/<name> of the environment whose backup was restored.")
    key: str
    outcome: Outcome
    time: str
    seconds: float = Field(ge=0)
    message: str = Field(default="", max_length=4096)


class TableCheck(ApiModel):
    name: str
    rows: int = Field(ge=0)


class DrillRecord(ApiModel):
    outcome: Outcome
    time: str = Field(description="RFC 3339 time the drill finished.")
    seconds: float = Field(ge=0, description="How long restoring and checking took.")
    key: str | None = Field(default=None, description="The backup restored.")
    tables: list[TableCheck] = Field(default_factory=list)
    message: str = Field(default="", max_length=4096)


class BackupsStatus(ApiModel):
    bucket: str | None = None
    last_backup: BackupRecord | None = None
    backup_request: str | None = Field(default=None, description="The last `aenv backup` request handled.")
    drill_request: str | None = Field(default=None, description="The last `aenv backup --drill` request handled.")
    restore: RestoreRecord | None = None
    drill: DrillRecord | None = None


class ExpiryStatus(ApiModel):
    extended_seconds: int = Field(default=0, ge=0, description="How far `aenv extend` has pushed the expiry.")
    extend_request: str | None = Field(default=None, description="The last `aenv extend` request handled.")
    warned: list[str] = Field(default_factory=list, description=(
        "The warnings (24h, 1h) sent for the current expiresAt; an extension clears them."))


class NotificationRecord(ApiModel):
    """One notification for the environment's slack and webhook targets (spec.monitoring.notificationTargets)."""

    id: str = Field(description="Stable across restarts: the delivery record counts it as sent once.")
    type: str = Field(description="rollout.started, rollout.paused, rollout.promoted, rollout.aborted, "
                                  "rollout.completed, environment.ready, environment.failed, expiry.warning, "
                                  "expiry.expired or alarm.<state>.")
    reason: str
    message: str = Field(default="", max_length=4096)
    time: str = Field(description="RFC 3339 time it happened.")


class NotificationsStatus(ApiModel):
    health: Literal["Ready", "Failed"] | None = Field(default=None, description=(
        "The environment's health last notified: Ready and Failed are notified when they change, not every "
        "rollout's Provisioning in between."))
    outbox: list[NotificationRecord] = Field(default_factory=list, max_length=50, description=(
        "The latest notifications, newest last; the operator delivers those not recorded as sent."))


class CostItem(ApiModel):
    component: str = Field(description="cache, database, backups, queues, topics, gateway, secrets, encryption or "
                                       "monitoring.")
    monthly_usd: float = Field(alias="monthlyUSD", ge=0)
    detail: str = Field(default="", description="What is priced: node types and counts, storage, baselines.")


class CostStatus(ApiModel):
    monthly_usd: float = Field(alias="monthlyUSD", ge=0, description=(
        "The estimated on-demand cost a month, in USD, of what the spec asks for in AWS (the workloads' compute "
        "is the cluster's): the sum of the breakdown."))
    breakdown: list[CostItem] = Field(default_factory=list)
    unpriced: list[str] = Field(default_factory=list, description=(
        "Fields whose value the price table has no price for (a region, node type or instance class): not in "
        "monthlyUSD."))
    prices_as_of: str = Field(alias="pricesAsOf", description="The date of the price table the estimate used.")


class EnvironmentStatus(ApiModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list)
    queues: list[QueueStatus] = Field(default_factory=list)
    cache: EndpointStatus | None = None
    database: EndpointStatus | None = None
    gateway: EndpointStatus | None = None
    connection_secret: str | None = None
    workloads: list[WorkloadStatus] = Field(default_factory=list)
    resources: list[ManagedResource] = Field(default_factory=list)
    backups: BackupsStatus | None = None
    expires_at: str | None = Field(default=None, description="RFC 3339 time the environment deletes itself.")
    expiry: ExpiryStatus | None = None
    notifications: NotificationsStatus | None = None
    cost: CostStatus | None = None
