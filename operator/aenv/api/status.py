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
