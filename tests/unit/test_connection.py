"""What the connection Secret holds, from the outputs of a reconcile pass."""

from aenv.api import EnvironmentSpec, effective
from aenv.plan.connection import connection_data
from aenv.plan.types import Sensitive


def spec(**sections: object) -> EnvironmentSpec:
    return effective(EnvironmentSpec.model_validate({"tier": "prod", "aws": {"region": "eu-west-1"}, **sections}))


def test_queues_topics_and_region() -> None:
    s = spec(queues=[{"name": "market-events"}], topics=[{"name": "alerts"}])
    data = connection_data(s, {
        "queue/market-events": {"url": "https://sqs/q", "arn": "arn:q"},
        "queue/market-events/dead-letter": {"url": "https://sqs/dlq", "arn": "arn:dlq"},
        "topic/alerts": {"arn": "arn:t"},
    })
    assert data == {"AWS_REGION": "eu-west-1", "QUEUE_MARKET_EVENTS_URL": "https://sqs/q",
                    "QUEUE_MARKET_EVENTS_ARN": "arn:q", "QUEUE_MARKET_EVENTS_DLQ_URL": "https://sqs/dlq",
                    "TOPIC_ALERTS_ARN": "arn:t"}


def test_cache_and_database_urls_carry_escaped_credentials() -> None:
    s = spec(cache={}, database={"databaseName": "ticks"})
    data = connection_data(s, {
        "cache/replication-group": {"endpoint": "cache.local", "port": 6379, "reader_endpoint": "ro.cache.local"},
        "secret/cache-auth": {"value": Sensitive("t0k:en#1")},
        "database/instance": {"endpoint": "db.local", "port": 5432, "name": "ticks"},
        "secret/database": {"username": "aenv", "password": Sensitive("p@ss/w")},
    })
    assert data["CACHE_URL"] == "rediss://:t0k%3Aen%231@cache.local:6379"
    assert data["CACHE_AUTH_TOKEN"] == "t0k:en#1" and data["CACHE_READER_HOST"] == "ro.cache.local"
    assert data["DATABASE_URL"] == "postgresql://aenv:p%40ss%2Fw@db.local:5432/ticks?sslmode=require"
    assert data["DATABASE_PASSWORD"] == "p@ss/w"


def test_missing_outputs_are_left_out_not_guessed() -> None:
    s = spec(cache={}, queues=[{"name": "events"}])
    assert connection_data(s, {}) == {"AWS_REGION": "eu-west-1"}
