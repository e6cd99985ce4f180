"""The gateway's Prometheus metrics.

gateway_route_requests_total{route,outcome} is what a canary analysis reads: outcome "error" is the gateway's
failure (Redis or PostgreSQL unreachable, a bug), "rejected" a client's mistake (bad frame, refused token or
channel). Every route's error series exists from the start at 0, so an error-rate query has data on a healthy
replica. The analytics_* families are the platform's own, shared with the event processor.
"""

from __future__ import annotations

from aenv_workload import metrics as platform
from prometheus_client import Counter, Gauge, Histogram

from .protocol import ROUTES

ALL_ROUTES = ("connect", "disconnect", *ROUTES)
OUTCOMES = ("ok", "rejected", "error")

route_requests = Counter("gateway_route_requests", "Requests per route and outcome", ["route", "outcome"])
route_latency = Histogram("gateway_route_latency_seconds", "Time to handle a route's request", ["route"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
connections_active = Gauge("gateway_connections_active", "Open WebSocket connections")
messages_received = Counter("gateway_messages_received", "Frames received from clients")
messages_sent = Counter("gateway_messages_sent", "Frames sent to clients")
messages_dropped = Counter("gateway_messages_dropped", "Update frames not delivered", ["reason"])
fanout_received = Counter("gateway_fanout_messages", "Updates received from Redis pub/sub")
delivery_lag = Histogram("gateway_delivery_lag_seconds", "From an update's publication to its send to a client",
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
errors = Counter("gateway_errors", "Failures of the gateway itself", ["kind"])
draining = Gauge("gateway_draining", "1 while the gateway drains after SIGTERM")

subscriptions_active = platform.subscriptions_active
events_published = platform.events_published.labels(service="ws-gateway")  # frames of updates sent
query_latency = platform.query_latency
cache_requests = platform.cache_requests  # snapshot reads
cache_hit_rate = platform.cache_hit_rate


def init() -> None:
    """Create every series a dashboard or an analysis query reads, at 0."""
    for route in ALL_ROUTES:
        route_latency.labels(route=route)
        for outcome in OUTCOMES:
            route_requests.labels(route=route, outcome=outcome)
    messages_dropped.labels(reason="slow_client")
    for result in ("hit", "miss"):
        cache_requests.labels(service="ws-gateway", result=result)
    cache_hit_rate.labels(service="ws-gateway")


class CacheStats:
    """Hits and misses of the snapshot cache, kept as a rate gauge besides the counters."""

    def __init__(self) -> None:
        self.hits = self.misses = 0

    def record(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        cache_requests.labels(service="ws-gateway", result="hit" if hit else "miss").inc()
        cache_hit_rate.labels(service="ws-gateway").set(self.hits / (self.hits + self.misses))
