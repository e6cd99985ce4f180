"""The platform's own metric families, shared by every analytics workload (labelled by service): defined once, so
one process may hold more than one workload's code."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

subscriptions_active = Gauge("analytics_subscriptions_active", "Channel subscriptions held by clients")
events_published = Counter("analytics_events_published", "Update events published or delivered", ["service"])
alerts_triggered = Counter("analytics_alerts_triggered", "Alerts sent to the alerts topic", ["severity"])
query_latency = Histogram("analytics_query_latency_seconds", "Latency of data-store queries", ["service", "store"])
cache_requests = Counter("analytics_cache_requests", "Reads from the cache, by result", ["service", "result"])
cache_hit_rate = Gauge("analytics_cache_hit_rate", "Share of reads answered by the cache", ["service"])
