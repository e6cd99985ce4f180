"""Rollout policy: canary steps with traffic routing and analysis, or blue-green."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import ApiModel, cel, exactly_one, validations

Duration = Annotated[
    str,
    Field(pattern=r"^[0-9]+(s|m|h)$", max_length=16, description="A duration such as 30s, 5m or 24h."),
]
MetricName = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)]


class PrometheusQuery(ApiModel):
    address: str = Field(max_length=2048, description="Base URL of the Prometheus server.")
    query: str = Field(max_length=8192, description="PromQL returning one value.")


class CloudWatchQuery(ApiModel):
    namespace: str = Field(max_length=255)
    metric_name: str = Field(max_length=255)
    statistic: Literal["Average", "Sum", "Minimum", "Maximum", "SampleCount"] = "Average"
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    period_seconds: int = Field(default=60, ge=1, le=86400)


class WebQuery(ApiModel):
    url: str = Field(max_length=2048)
    json_path: str = Field(default="$", max_length=512, description="Where the value sits in the JSON reply.")
    timeout_seconds: int = Field(default=10, ge=1, le=300)


class Metric(ApiModel, json_schema_extra=validations(
    cel(exactly_one("prometheus", "cloudwatch", "web"), "exactly one of prometheus, cloudwatch or web must be set"),
    cel("has(self.successCondition) || has(self.failureCondition)",
        "one of successCondition or failureCondition must be set"),
)):
    name: MetricName
    interval: Duration = "1m"
    count: int = Field(default=5, ge=1, le=1000)
    success_condition: str | None = Field(default=None, max_length=1024,
                                          description="Expression over `result`, e.g. result < 0.01.")
    failure_condition: str | None = Field(default=None, max_length=1024)
    failure_limit: int = Field(default=0, ge=0, le=1000)
    inconclusive_limit: int = Field(default=0, ge=0, le=1000)
    consecutive_error_limit: int = Field(default=4, ge=0, le=1000)
    prometheus: PrometheusQuery | None = None
    cloudwatch: CloudWatchQuery | None = None
    web: WebQuery | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> Metric:
        if sum(p is not None for p in (self.prometheus, self.cloudwatch, self.web)) != 1:
            raise ValueError("exactly one of prometheus, cloudwatch or web must be set")
        if self.success_condition is None and self.failure_condition is None:
            raise ValueError("one of successCondition or failureCondition must be set")
        return self


class Analysis(ApiModel):
    metrics: list[Metric] = Field(min_length=1, max_length=10)


class BackgroundAnalysis(Analysis):
    starting_step: int = Field(default=0, ge=0, le=50, description="Index of the step analysis starts at.")


class Pause(ApiModel):
    duration: Duration | None = Field(default=None, description="Omit to wait until promoted.")


class CanaryScale(ApiModel, json_schema_extra=validations(
    cel("has(self.replicas) != has(self.weight)", "exactly one of replicas or weight must be set"),
)):
    replicas: int | None = Field(default=None, ge=0, le=1000)
    weight: int | None = Field(default=None, ge=0, le=100)


class Step(ApiModel, json_schema_extra=validations(
    cel(exactly_one("setWeight", "pause", "analysis", "setCanaryScale"),
        "a step sets exactly one of setWeight, pause, analysis or setCanaryScale"),
)):
    set_weight: int | None = Field(default=None, ge=0, le=100)
    pause: Pause | None = None
    analysis: Analysis | None = None
    set_canary_scale: CanaryScale | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = (self.set_weight, self.pause, self.analysis, self.set_canary_scale)
        if sum(k is not None for k in kinds) != 1:
            raise ValueError("a step sets exactly one of setWeight, pause, analysis or setCanaryScale")
        return self


class AlbRouting(ApiModel):
    ingress: str = Field(max_length=253, description="The Ingress whose weighted action aenv writes.")
    service_port: int = Field(default=80, ge=1, le=65535)
    stickiness_seconds: int | None = Field(default=None, ge=1, le=604800)


class GatewayApiRouting(ApiModel):
    http_route: str = Field(max_length=253)


class TrafficRouting(ApiModel, json_schema_extra=validations(
    cel("!(has(self.alb) && has(self.gatewayAPI))", "set at most one of alb or gatewayAPI"),
)):
    alb: AlbRouting | None = None
    gateway_api: GatewayApiRouting | None = Field(default=None, alias="gatewayAPI")

    @model_validator(mode="after")
    def _at_most_one(self) -> TrafficRouting:
        if self.alb is not None and self.gateway_api is not None:
            raise ValueError("set at most one of alb or gatewayAPI")
        return self


class Canary(ApiModel):
    steps: list[Step] = Field(min_length=1, max_length=50)
    traffic_routing: TrafficRouting | None = Field(default=None, description="Omit to weight by replica ratio.")
    analysis: BackgroundAnalysis | None = None
    progress_deadline_seconds: int = Field(default=600, ge=30, le=86400)


class BlueGreen(ApiModel):
    auto_promotion_seconds: int | None = Field(default=None, ge=0, le=604800,
                                               description="Omit to wait for a manual promotion.")
    scale_down_delay_seconds: int = Field(default=30, ge=0, le=604800)
    pre_promotion_analysis: Analysis | None = None
    post_promotion_analysis: Analysis | None = None
    progress_deadline_seconds: int = Field(default=600, ge=30, le=86400)


class Rollout(ApiModel, json_schema_extra=validations(
    cel("self.strategy != 'canary' || has(self.canary)", "strategy canary needs rollout.canary", ".canary"),
    cel("self.strategy != 'blueGreen' || has(self.blueGreen)", "strategy blueGreen needs rollout.blueGreen",
        ".blueGreen"),
)):
    strategy: Literal["canary", "blueGreen"]
    canary: Canary | None = None
    blue_green: BlueGreen | None = None

    @model_validator(mode="after")
    def _strategy_has_settings(self) -> Rollout:
        if self.strategy == "canary" and self.canary is None:
            raise ValueError("strategy canary needs rollout.canary")
        if self.strategy == "blueGreen" and self.blue_green is None:
            raise ValueError("strategy blueGreen needs rollout.blueGreen")
        return self
