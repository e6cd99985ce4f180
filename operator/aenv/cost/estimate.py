"""The effective spec -> what the environment costs a month, per component. Pure: no I/O.

Each component is priced as prices.yaml describes; the admission policy (quota/policy.py) computes the same
figure in CEL, so a change here is a change there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api.spec import EnvironmentSpec
from ..api.status import CostItem, CostStatus
from ..plan import monitoring
from ..plan.backups import retention_days
from .prices import PriceTable, RegionPrices, table

MILLION = 1_000_000


@dataclass(frozen=True)
class Item:
    component: str  # the plan's component name: cache, database, backups, queues, ...
    monthly_usd: float  # unrounded
    detail: str


@dataclass(frozen=True)
class Estimate:
    region: str
    as_of: str  # the price table's date
    items: tuple[Item, ...] = ()
    unpriced: tuple[str, ...] = field(default=())  # "<field>: <value>" the table has no price for

    @property
    def monthly_usd(self) -> float:
        return round(sum(i.monthly_usd for i in self.items), 2)

    def by_component(self) -> dict[str, float]:
        return {i.component: round(i.monthly_usd, 2) for i in self.items}


def secret_count(spec: EnvironmentSpec) -> int:
    """The Secrets Manager secrets plan/secrets.py makes: the cache's AUTH token, the database's master and login
    credentials, the JWT key and one per API key."""
    count = (1 if spec.cache else 0) + (2 if spec.database else 0)
    if spec.secrets:
        count += (1 if spec.secrets.jwt else 0) + len(spec.secrets.api_keys)
    return count


def alarm_count(spec: EnvironmentSpec) -> int:
    """The CloudWatch alarms plan/monitoring.py makes."""
    if spec.monitoring is None or not spec.monitoring.alarms:
        return 0
    per_queue = sum(len(monitoring.QUEUE) + (1 if q.dead_letter.enabled else 0) for q in spec.queues)
    return (len(monitoring.CACHE) if spec.cache else 0) + per_queue


def has_dashboard(spec: EnvironmentSpec) -> bool:
    return bool(spec.monitoring and spec.monitoring.dashboard and (spec.cache or spec.queues or spec.gateway))


def uses_key(spec: EnvironmentSpec) -> bool:
    """One KMS key per environment, as plan/environment.py's encryption component needs it."""
    return bool(spec.cache or spec.database or spec.queues or spec.topics or spec.secrets)


def estimate(spec: EnvironmentSpec, prices: PriceTable | None = None) -> Estimate:
    """The monthly cost of an effective spec (api.effective: the tier's defaults filled in)."""
    prices = prices or table()
    region = prices.regions.get(spec.aws.region)
    if region is None:
        return Estimate(spec.aws.region, prices.as_of, unpriced=(f"spec.aws.region: {spec.aws.region}",))
    items: list[Item] = []
    unpriced: list[str] = []
    hours = prices.hours_per_month
    if spec.cache:
        node_type = spec.cache.node_type or ""
        nodes = 1 + (spec.cache.replicas or 0)
        if node_type in region.cache_node_hourly:
            usd = region.cache_node_hourly[node_type] * hours * nodes * prices.engines[spec.cache.engine]
            items.append(Item("cache", usd, f"{nodes} x {node_type} ({spec.cache.engine})"))
        else:
            unpriced.append(f"spec.cache.nodeType: {node_type}")
    if spec.database:
        db = spec.database
        instance_class = db.instance_class or ""
        copies = 2 if db.multi_az else 1
        storage = (db.storage_gib or 0) * region.database_storage_gib_month * copies
        if instance_class in region.database_instance_hourly:
            usd = region.database_instance_hourly[instance_class] * hours * copies + storage
            az = "multi-AZ" if db.multi_az else "single-AZ"
            items.append(Item("database", usd, f"{instance_class} {az}, {db.storage_gib} GiB"))
        else:
            unpriced.append(f"spec.database.instanceClass: {instance_class}")
        held = (db.storage_gib or 0) * prices.baseline.backup_dump_fraction_of_storage * retention_days(spec)
        items.append(Item("backups", held * region.s3_standard_gib_month, f"{held:g} GiB of dumps in S3"))
    items += _requests(spec, region, prices)
    if count := secret_count(spec):
        items.append(Item("secrets", count * region.secret_month, f"{count} secrets"))
    if uses_key(spec):
        items.append(Item("encryption", region.kms_key_month, "1 KMS key"))
    alarms, dashboards = alarm_count(spec), int(has_dashboard(spec))
    if alarms or dashboards:
        items.append(Item("monitoring", alarms * region.alarm_month + dashboards * region.dashboard_month,
                          f"{alarms} alarms, {dashboards} dashboard{'s' if dashboards != 1 else ''}"))
    return Estimate(spec.aws.region, prices.as_of, tuple(items), tuple(unpriced))


def _requests(spec: EnvironmentSpec, region: RegionPrices, prices: PriceTable) -> list[Item]:
    """The request-priced components, at the table's idle baseline."""
    base = prices.baseline
    items = []
    if spec.queues:
        items.append(_at_baseline("queues", [q.fifo for q in spec.queues], region.sqs_standard_per_million,
                                  region.sqs_fifo_per_million, base.queue_requests_per_month, "requests"))
    if spec.topics:
        items.append(_at_baseline("topics", [t.fifo for t in spec.topics], region.sns_standard_per_million,
                                  region.sns_fifo_per_million, base.topic_publishes_per_month, "publishes"))
    if spec.gateway:
        usd = (base.gateway_messages_per_month * region.gateway_messages_per_million
               + base.gateway_connection_minutes_per_month * region.gateway_connection_minutes_per_million) / MILLION
        items.append(Item("gateway", usd, f"{base.gateway_messages_per_month:,} messages, "
                                          f"{base.gateway_connection_minutes_per_month:,} connection-minutes"))
    return items


def _at_baseline(component: str, fifo: list[bool], standard_per_million: float, fifo_per_million: float,
                 each: int, what: str) -> Item:
    """Queues or topics, standard and FIFO, each at the baseline of requests."""
    per_million = (len(fifo) - sum(fifo)) * standard_per_million + sum(fifo) * fifo_per_million
    return Item(component, per_million * each / MILLION, f"{len(fifo)} {component} at {each:,} {what} each")


def status_of(spec: EnvironmentSpec) -> CostStatus:
    """status.cost: the estimate, each figure to the cent."""
    got = estimate(spec)
    return CostStatus(monthly_usd=got.monthly_usd, prices_as_of=got.as_of, unpriced=list(got.unpriced),
                      breakdown=[CostItem(component=i.component, monthly_usd=round(i.monthly_usd, 2), detail=i.detail)
                                 for i in got.items])
