"""The price table in prices.yaml, read once: on-demand USD figures per region, with the baselines it assumes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PRICES_FILE = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class RegionPrices:
    cache_node_hourly: dict[str, float]
    database_instance_hourly: dict[str, float]
    database_storage_gib_month: float
    sqs_standard_per_million: float
    sqs_fifo_per_million: float
    sns_standard_per_million: float
    sns_fifo_per_million: float
    gateway_messages_per_million: float
    gateway_connection_minutes_per_million: float
    secret_month: float
    kms_key_month: float
    alarm_month: float
    dashboard_month: float
    s3_standard_gib_month: float


@dataclass(frozen=True)
class Baseline:
    queue_requests_per_month: int
    topic_publishes_per_month: int
    gateway_messages_per_month: int
    gateway_connection_minutes_per_month: int
    backup_dump_fraction_of_storage: float


@dataclass(frozen=True)
class PriceTable:
    source: str
    as_of: str
    hours_per_month: int
    baseline: Baseline
    engines: dict[str, float]
    cache_node_types: tuple[str, ...]  # smallest to largest
    database_instance_classes: tuple[str, ...]  # smallest to largest
    regions: dict[str, RegionPrices]


_REGION_KEYS = {
    "cacheNodeHourly": "cache_node_hourly", "databaseInstanceHourly": "database_instance_hourly",
    "databaseStorageGiBMonth": "database_storage_gib_month", "sqsStandardPerMillion": "sqs_standard_per_million",
    "sqsFifoPerMillion": "sqs_fifo_per_million", "snsStandardPerMillion": "sns_standard_per_million",
    "snsFifoPerMillion": "sns_fifo_per_million", "gatewayMessagesPerMillion": "gateway_messages_per_million",
    "gatewayConnectionMinutesPerMillion": "gateway_connection_minutes_per_million", "secretMonth": "secret_month",
    "kmsKeyMonth": "kms_key_month", "alarmMonth": "alarm_month", "dashboardMonth": "dashboard_month",
    "s3StandardGiBMonth": "s3_standard_gib_month",
}
_BASELINE_KEYS = {
    "queueRequestsPerMonth": "queue_requests_per_month", "topicPublishesPerMonth": "topic_publishes_per_month",
    "gatewayMessagesPerMonth": "gateway_messages_per_month",
    "gatewayConnectionMinutesPerMonth": "gateway_connection_minutes_per_month",
    "backupDumpFractionOfStorage": "backup_dump_fraction_of_storage",
}


def _fields(raw: dict[str, Any], keys: dict[str, str], where: str) -> dict[str, Any]:
    if missing := sorted(set(keys) - set(raw)):
        raise ValueError(f"{PRICES_FILE.name}: {where} lacks {', '.join(missing)}")
    if unknown := sorted(set(raw) - set(keys)):
        raise ValueError(f"{PRICES_FILE.name}: {where} has unknown {', '.join(unknown)}")
    return {keys[k]: v for k, v in raw.items()}


def parse(raw: dict[str, Any]) -> PriceTable:
    regions = {}
    for name, r in raw["regions"].items():
        fields: dict[str, Any] = {k: {t: float(p) for t, p in v.items()} if isinstance(v, dict) else float(v)
                                  for k, v in _fields(r, _REGION_KEYS, f"regions.{name}").items()}
        regions[name] = RegionPrices(**fields)
    return PriceTable(
        source=raw["source"], as_of=str(raw["asOf"]), hours_per_month=int(raw["hoursPerMonth"]),
        baseline=Baseline(**_fields(raw["baseline"], _BASELINE_KEYS, "baseline")),
        engines={k: float(v) for k, v in raw["engines"].items()},
        cache_node_types=tuple(raw["cacheNodeTypes"]), database_instance_classes=tuple(raw["databaseInstanceClasses"]),
        regions=regions,
    )


@cache
def table() -> PriceTable:
    return parse(yaml.safe_load(PRICES_FILE.read_text()))
