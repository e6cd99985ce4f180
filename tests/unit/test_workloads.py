"""The reference workloads' pure parts: the connection Secret's settings, the gateway's JWT check and frames, the
processor's event parsing, and the slow-message bookkeeping. No servers."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import jwt
import pytest
from aenv_workload import Connection, MissingSetting
from aenv_workload.logs import JsonFormatter
from event_processor import events
from event_processor.consumer import InFlight
from event_processor.consumer import Settings as ProcessorSettings
from ws_gateway import apigateway, auth, protocol
from ws_gateway.server import Settings as GatewaySettings

from aenv.plan.connection import _env_key

KEY = "k" * 64


def sign(secret: str = KEY, **claims: object) -> str:
    return jwt.encode({"sub": "u1", "exp": int(time.time()) + 60, **claims}, secret, algorithm="HS256")


def test_connection_prefers_the_mounted_file_which_follows_a_rotation(tmp_path: Path) -> None:
    c = Connection({"CACHE_URL": "redis://old", "JWT_SECRET": "env"}, mount=tmp_path)
    assert c.get("CACHE_URL") == "redis://old"
    (tmp_path / "CACHE_URL").write_text("redis://rotated")
    assert c.get("CACHE_URL") == "redis://rotated"
    with pytest.raises(MissingSetting, match="DATABASE_URL is not set"):
        c.require("DATABASE_URL", "history")
    assert c.number("GATEWAY_DRAIN_SECONDS", 20.0) == 20.0


def test_queue_and_topic_names_are_aenvs() -> None:
    from aenv_workload.connection import env_key

    for parts in (("QUEUE", "events", "URL"), ("QUEUE", "order-book.v2", "DLQ_URL"), ("TOPIC", "alerts", "ARN")):
        assert env_key(*parts) == _env_key(*parts)
    c = Connection({"QUEUE_ORDER_BOOK_URL": "https://q", "TOPIC_ALERTS_ARN": "arn:t"}, mount=Path("/nonexistent"))
    assert (c.queue_url("order-book"), c.topic_arn("alerts"), c.topic_arn("other")) == ("https://q", "arn:t", None)


def test_settings_name_what_is_missing() -> None:
    nowhere = Path("/nonexistent")
    with pytest.raises(MissingSetting, match="JWT_SECRET"):
        GatewaySettings.from_connection(Connection({"CACHE_URL": "redis://x"}, mount=nowhere))
    with pytest.raises(MissingSetting, match="QUEUE_EVENTS_URL"):
        ProcessorSettings.from_connection(Connection({"CACHE_URL": "redis://x", "DATABASE_URL": "postgresql://d"},
                                                     mount=nowhere))
    s = ProcessorSettings.from_connection(Connection({
        "CACHE_URL": "redis://x", "DATABASE_URL": "postgresql://d", "QUEUE_TRADES_URL": "https://t",
        "PROCESSOR_QUEUE": "trades", "PROCESSOR_WAIT_SECONDS": "99", "PROCESSOR_BATCH_SIZE": "0"}, mount=nowhere))
    assert (s.queue_url, s.alerts_topic_arn, s.wait_seconds, s.batch_size) == ("https://t", None, 20, 1)


def test_jwt_at_the_handshake() -> None:
    assert auth.token_of("/?token=abc", {}) == "abc"
    assert auth.token_of("/?token=abc", {"Authorization": "Bearer xyz"}) == "xyz"
    assert auth.token_of("/", {"Authorization": "Basic xyz"}) is None
    principal = auth.verify(sign(channels=["prices.*"]), KEY)
    assert principal.subject == "u1"
    assert principal.may_subscribe("prices.btc") and not principal.may_subscribe("orders.btc")
    assert auth.verify(sign(), KEY).may_subscribe("anything")
    for token, why in [(None, "no token"), (sign("x" * 32), "invalid token"), (sign(exp=int(time.time()) - 120),
                                                                               "expired"),
                       (jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, KEY, algorithm="HS512"), "invalid"),
                       (sign(channels="prices.*"), "channels claim")]:
        with pytest.raises(auth.Unauthorized, match=why):
            auth.verify(token, KEY)


def test_gateway_frames() -> None:
    assert protocol.parse('{"action": "subscribe", "channel": "btc-usd", "id": 3}') == protocol.Request(
        "subscribe", "btc-usd", "3")
    assert protocol.parse('{"action": "ping"}') == protocol.Request("ping")
    for frame, why in [(b"{}", "binary"), ("[1]", "JSON object"), ("nope", "not JSON"), ('{"action": "x"}', "unknown"),
                       ('{"action": "subscribe", "channel": "a b"}', "channel"),
                       ('{"action": "unsubscribe"}', "channel")]:
        with pytest.raises(protocol.BadRequest, match=why):
            protocol.parse(frame)
    assert json.loads(protocol.event("c", '{"v":1}')) == {"type": "event", "channel": "c", "data": {"v": 1}}
    assert json.loads(protocol.reply("pong", "7", time=1)) == {"type": "pong", "id": "7", "time": 1}


def test_the_gateway_runs_behind_api_gateway_when_the_secret_names_its_stage() -> None:
    base = {"CACHE_URL": "redis://c", "JWT_SECRET": KEY}
    stage = "wss://a1b2c3.execute-api.eu-west-1.amazonaws.com/live"
    assert GatewaySettings.from_connection(Connection(base, mount=Path("/nonexistent"))).gateway_url is None
    behind = GatewaySettings.from_connection(Connection({**base, "GATEWAY_URL": stage}, mount=Path("/nonexistent")))
    assert behind.gateway_url == stage
    direct = Connection({**base, "GATEWAY_URL": stage, "GATEWAY_MODE": "direct"}, mount=Path("/nonexistent"))
    assert GatewaySettings.from_connection(direct).gateway_url is None
    # PostToConnection is https at the stage's URL; the emulator's plain URL is kept.
    assert apigateway.management_url(stage) == "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/live"
    assert apigateway.management_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert apigateway.region_of(stage) == "eu-west-1" and apigateway.region_of("http://127.0.0.1:5000") is None
    frame, published = protocol.update("btc", '{"value":1,"publishedAt":5}')
    assert json.loads(frame) == {"type": "event", "channel": "btc", "data": {"value": 1, "publishedAt": 5}}
    assert published == 5 and protocol.update("btc", "plain")[1] is None


def test_processor_events() -> None:
    e = events.parse("m-1", json.dumps({"channel": "btc-usd", "value": 3, "occurredAt": "2026-01-02T03:04:05+00:00"}))
    assert (e.id, e.value, e.kind, e.severity, e.occurred_at and e.occurred_at.year) == ("m-1", 3.0, "event", None,
                                                                                         2026)
    assert events.parse("m-2", json.dumps({"id": "x", "channel": "c", "value": 1})).id == "x"
    via_sns = json.dumps({"Type": "Notification", "MessageId": "sns-1",
                          "Message": json.dumps({"channel": "c", "value": 2, "severity": "warning"})})
    assert (events.parse("m-3", via_sns).id, events.parse("m-3", via_sns).severity) == ("sns-1", "warning")
    for body, why in [("{", "not JSON"), ("[]", "object"), ('{"value": 1}', "channel"),
                      ('{"channel": "c", "value": true}', "finite"), ('{"channel": "c", "value": 1e999}', "finite"),
                      ('{"channel": "c", "value": 1, "severity": "meh"}', "severity"),
                      ('{"channel": "c", "value": 1, "occurredAt": "yesterday"}', "ISO 8601")]:
        with pytest.raises(events.Poison, match=why):
            events.parse("m", body)
    update = json.loads(events.update(e, {"count": 1.0}, 5.0))
    assert update == {"event": {"id": "m-1", "kind": "event", "value": 3.0, "severity": None},
                      "aggregate": {"count": 1.0}, "publishedAt": 5.0}
    subject, _ = events.alert(events.parse("m", via_sns))
    assert subject == "[WARNING] event on c"


def test_visibility_is_extended_once_half_of_it_passed() -> None:
    inflight = InFlight()
    inflight.add(["a", "b"], now=100.0)
    assert inflight.due(now=110.0, after=15.0) == []
    inflight.remove("b")
    assert inflight.due(now=116.0, after=15.0) == ["a"]
    assert inflight.due(now=120.0, after=15.0) == []  # extended at 116: due again at 131
    assert inflight.due(now=131.0, after=15.0) == ["a"]


def test_json_logs_carry_the_extra_fields() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "failed %s", ("once",), None)
    record.queue = "events"
    entry = json.loads(JsonFormatter("event-processor").format(record))
    assert {k: entry[k] for k in ("level", "service", "message", "queue")} == {
        "level": "warning", "service": "event-processor", "message": "failed once", "queue": "events"}
