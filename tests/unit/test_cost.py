"""The cost estimator against figures computed here by hand from the price table's entries, for the three examples,
and the price table's own consistency."""

from pathlib import Path

import pytest
import yaml

from aenv.api import EnvironmentSpec, effective
from aenv.cost.estimate import estimate, status_of
from aenv.cost.prices import table

EXAMPLES = Path(__file__).parents[2] / "examples"
HOURS = 730
US_EAST_1 = table().regions["us-east-1"]


def example(name: str) -> EnvironmentSpec:
    doc = yaml.safe_load((EXAMPLES / f"env-{name}.yaml").read_text())
    return effective(EnvironmentSpec.model_validate(doc["spec"]))


# Hand computation, per component, from us-east-1's entries: (entry, quantity) pairs written out from the example.
GATEWAY = 1.00 * 1.00 + 0.438 * 0.25  # 1 M messages at $1.00/M, 438,000 connection-minutes at $0.25/M
HAND = {
    "dev": {  # tier dev: cache.t4g.micro, no replicas; one standard queue; secrets: cache AUTH and JWT; one key
        "cache": 0.016 * HOURS * 1,
        "queues": 0.40 * 1,
        "secrets": 0.40 * 2,
        "encryption": 1.00,
    },
    "staging": {  # tier staging: cache.t4g.medium + 1 replica; db.t4g.medium single-AZ 50 GiB, backups kept 3 days
        "cache": 0.065 * HOURS * 2,
        "database": 0.065 * HOURS + 50 * 0.115,
        "backups": 50 * 0.1 * 3 * 0.023,
        "queues": 0.40 * 1 + 0.50 * 1,  # events (standard), trades (FIFO), 1 M requests each
        "topics": 0.50 * 0.1,  # alerts: 100,000 publishes
        "gateway": GATEWAY,
        "secrets": 0.40 * 5,  # cache AUTH, database master and login, JWT, API key partners
        "encryption": 1.00,
        "monitoring": 0.10 * (3 + 3 + 3) + 3.00,  # cache 3 alarms, each queue 2 + its dead-letter's; one dashboard
    },
    "prod": {  # valkey (0.8 of the node price) cache.r7g.xlarge + 2 replicas; db.r6g.xlarge multi-AZ 500 GiB
        "cache": 0.437 * HOURS * 3 * 0.8,
        "database": 0.449 * HOURS * 2 + 500 * 0.115 * 2,
        "backups": 500 * 0.1 * 30 * 0.023,  # 30 days of dumps of 10% of 500 GiB
        "queues": 0.40 * 2 + 0.50 * 1,  # events, notifications (standard), trades (FIFO)
        "topics": 0.50 * 0.1,
        "gateway": GATEWAY,
        "secrets": 0.40 * 6,  # cache AUTH, database master and login, JWT, API keys partners and internal
        "encryption": 1.00,
        "monitoring": 0.10 * (3 + 3 * 3) + 3.00,
    },
}
TOTALS = {"dev": 13.88, "staging": 157.40, "prod": 1580.72}


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_examples_cost_what_the_hand_computation_says(name: str) -> None:
    got = estimate(example(name))
    assert got.by_component() == {k: round(v, 2) for k, v in HAND[name].items()}
    assert got.monthly_usd == round(sum(HAND[name].values()), 2) == TOTALS[name]
    assert got.unpriced == () and got.as_of == table().as_of


def test_the_hand_computation_reads_the_table() -> None:
    """The literals above are the table's us-east-1 entries: a refreshed table fails here first, not silently."""
    p = US_EAST_1
    assert (p.cache_node_hourly["cache.t4g.micro"], p.cache_node_hourly["cache.t4g.medium"],
            p.cache_node_hourly["cache.r7g.xlarge"]) == (0.016, 0.065, 0.437)
    assert (p.database_instance_hourly["db.t4g.medium"], p.database_instance_hourly["db.r6g.xlarge"]) == (0.065, 0.449)
    assert (p.database_storage_gib_month, p.s3_standard_gib_month) == (0.115, 0.023)
    assert (p.sqs_standard_per_million, p.sqs_fifo_per_million, p.sns_standard_per_million) == (0.40, 0.50, 0.50)
    assert (p.gateway_messages_per_million, p.gateway_connection_minutes_per_million) == (1.00, 0.25)
    assert (p.secret_month, p.kms_key_month, p.alarm_month, p.dashboard_month) == (0.40, 1.00, 0.10, 3.00)
    assert table().engines == {"redis": 1.0, "valkey": 0.8} and table().hours_per_month == HOURS


def test_a_value_the_table_lacks_is_named_unpriced_not_guessed() -> None:
    spec = example("staging").model_copy(update={"cache": example("staging").cache.model_copy(  # type: ignore[union-attr]
        update={"node_type": "cache.x9.huge"})})
    got = estimate(spec)
    assert got.unpriced == ("spec.cache.nodeType: cache.x9.huge",) and "cache" not in got.by_component()
    elsewhere = estimate(example("dev").model_copy(update={"aws": example("dev").aws.model_copy(
        update={"region": "sa-east-1"})}))
    assert elsewhere.unpriced == ("spec.aws.region: sa-east-1",) and elsewhere.monthly_usd == 0


def test_every_region_prices_every_ranked_name_and_ranks_by_price() -> None:
    t = table()
    for name, region in t.regions.items():
        assert list(region.cache_node_hourly) == list(t.cache_node_types), name
        assert list(region.database_instance_hourly) == list(t.database_instance_classes), name
    ranked = [US_EAST_1.cache_node_hourly[n] for n in t.cache_node_types]
    assert ranked == sorted(ranked)
    ranked = [US_EAST_1.database_instance_hourly[n] for n in t.database_instance_classes]
    assert ranked == sorted(ranked)


def test_the_table_names_its_source_and_date() -> None:
    text = (Path(__file__).parents[2] / "operator" / "aenv" / "cost" / "prices.yaml").read_text()
    for page in ("elasticache/pricing", "rds/postgresql/pricing", "sqs/pricing", "sns/pricing", "api-gateway/pricing",
                 "secrets-manager/pricing", "kms/pricing", "cloudwatch/pricing", "s3/pricing"):
        assert f"https://aws.amazon.com/{page}/" in text
    assert table().as_of == "2025-06-01"


def test_status_cost_is_the_estimate_to_the_cent() -> None:
    got = status_of(example("prod")).wire()
    assert got["monthlyUSD"] == TOTALS["prod"] and got["pricesAsOf"] == table().as_of
    assert [(i["component"], i["monthlyUSD"]) for i in got["breakdown"]] == [
        (k, round(v, 2)) for k, v in HAND["prod"].items()]
    assert got["breakdown"][0]["detail"] == "3 x cache.r7g.xlarge (valkey)"
