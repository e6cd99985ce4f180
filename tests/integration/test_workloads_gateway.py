"""The reference ws-gateway against a real Redis and PostgreSQL: JWT at the handshake, fan-out across two
gateway processes, backpressure on a client that does not read, the drain on SIGTERM; and behind API Gateway, with
the test posting what API Gateway posts and PostToConnection going to the emulator."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from aenv.local.emulator import CREDENTIALS, REGION, AwsEmulator
from aenv.local.processes import wait_for

from .workloads import DEADLINE, Stores, Workload, publish, stores, token

pytestmark = pytest.mark.integration
__all__ = ["stores"]  # the module's fixture


def ws_url(gw: Workload, query: str = "") -> str:
    return f"ws://127.0.0.1:{gw.port}/{query}"


def frame(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return body


def subscribe(ws: ClientConnection, channel: str) -> dict[str, Any]:
    ws.send(json.dumps({"action": "subscribe", "channel": channel, "id": "s1"}))
    reply = frame(ws)
    assert reply["type"] == "subscribed" and reply["channel"] == channel and reply["id"] == "s1", reply
    return reply


@pytest.fixture
def gateways(stores: Stores, tmp_path: Path) -> Iterator[list[Workload]]:
    env = {**stores.fresh(), "GATEWAY_DRAIN_SECONDS": "2", "GATEWAY_SEND_QUEUE": "32",
           "GATEWAY_SLOW_CLIENT_DROPS": "20"}
    started = [Workload("ws_gateway", env, tmp_path / f"gw{i}.log") for i in range(2)]
    try:
        for gw in started:
            gw.start(ready=False)
        for gw in started:
            wait_for(gw.ready, DEADLINE, f"the gateway on port {gw.port} to be ready (log: {gw.log})")
        yield started
    finally:
        for gw in started:
            gw.stop()


def test_handshake_needs_a_valid_jwt(gateways: list[Workload]) -> None:
    gw = gateways[0]
    refused = {"no token": ({}, ""), "another key": ({"Authorization": f"Bearer {token(secret='x' * 32)}"}, ""),
               "expired": ({}, f"?token={token(ttl=-120)}"), "no subject": ({}, "?token=" + _no_sub())}
    for why, (headers, query) in refused.items():
        with pytest.raises(InvalidStatus) as e:
            connect(ws_url(gw, query), additional_headers=headers, open_timeout=5)
        assert e.value.response.status_code == 401, why
    assert gw.metric("gateway_route_requests_total", route="connect", outcome="rejected") == len(refused)

    with connect(ws_url(gw), additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
        ws.send(json.dumps({"action": "ping", "id": 7}))
        assert frame(ws)["type"] == "pong"
    with connect(ws_url(gw, f"?token={token(channels=['public.*'])}")) as ws:  # browsers: the query string
        subscribe(ws, "public.prices")
        ws.send(json.dumps({"action": "subscribe", "channel": "private.book"}))
        assert "does not allow" in frame(ws)["error"]
        ws.send("not json")
        assert frame(ws)["type"] == "error"
    assert gw.metric("gateway_route_requests_total", route="connect", outcome="ok") == 2
    assert gw.metric("gateway_route_requests_total", route="subscribe", outcome="rejected") == 1
    assert "secret" not in gw.log_text().lower().replace("jwt_secret", "")


def _no_sub() -> str:
    import jwt

    from .workloads import JWT_SECRET

    return jwt.encode({"exp": int(time.time() + 60)}, JWT_SECRET, algorithm="HS256")


def test_an_update_reaches_subscribers_on_every_gateway(gateways: list[Workload], stores: Stores) -> None:
    a, b = gateways
    with connect(ws_url(a, f"?token={token('alice')}")) as on_a, connect(ws_url(b, f"?token={token('bob')}")) as on_b:
        subscribe(on_a, "btc-usd")
        subscribe(on_b, "btc-usd")
        subscribe(on_b, "eth-usd")
        assert publish(stores, "btc-usd", {"value": 1}) == 2  # one Redis subscriber per gateway process
        assert publish(stores, "eth-usd", {"value": 2}) == 1
        assert frame(on_a) == {"type": "event", "channel": "btc-usd", "data": {"value": 1}}
        assert [frame(on_b), frame(on_b)] == [{"type": "event", "channel": "btc-usd", "data": {"value": 1}},
                                              {"type": "event", "channel": "eth-usd", "data": {"value": 2}}]
        on_b.send(json.dumps({"action": "unsubscribe", "channel": "btc-usd"}))
        assert frame(on_b)["type"] == "unsubscribed"
        publish(stores, "btc-usd", {"value": 3})
        assert frame(on_a)["data"] == {"value": 3}
        on_b.send(json.dumps({"action": "ping"}))
        assert frame(on_b)["type"] == "pong"  # and not the btc-usd update it left
    assert a.metric("analytics_subscriptions_active") == 0
    wait_for(lambda: b.metric("gateway_connections_active") == 0, DEADLINE, "the connections to be counted closed")


def stalled_subscriber(gw: Workload, channel: str) -> socket.socket:
    """A client that subscribes and then never reads, with a small receive buffer: the handshake and one
    masked text frame written by hand."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gw.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /?token={token()} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload, mask = json.dumps({"action": "subscribe", "channel": channel}).encode(), os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def test_a_client_that_does_not_read_is_dropped_not_waited_for(gateways: list[Workload], stores: Stores) -> None:
    gw = gateways[0]
    n, blob = 1500, "x" * 8192  # 12 MB: more than the socket buffers and the client's queue hold
    with connect(ws_url(gw, f"?token={token()}")) as fast:
        subscribe(fast, "flood")
        slow = stalled_subscriber(gw, "flood")
        try:
            wait_for(lambda: gw.metric("analytics_subscriptions_active") == 2, DEADLINE, "both subscriptions")
            received: list[int] = []
            reader = threading.Thread(target=lambda: received.extend(frame(fast)["data"]["i"] for _ in range(n)))
            reader.start()
            for i in range(n):
                publish(stores, "flood", {"i": i, "blob": blob})
            reader.join(DEADLINE)
            assert received == list(range(n)), "the reading client got every update, in order"
            wait_for(lambda: gw.metric("gateway_messages_dropped_total", reason="slow_client") >= 20, DEADLINE,
                     "the stalled client's updates to be dropped")
            wait_for(lambda: gw.metric("analytics_subscriptions_active") == 1, DEADLINE,
                     "the stalled client to be disconnected")
        finally:
            slow.close()
        fast.send(json.dumps({"action": "ping"}))
        assert frame(fast)["type"] == "pong"
    assert any(e["message"] == "closing a slow client" for e in gw.logs())


def test_sigterm_drains_then_closes_with_going_away(gateways: list[Workload], stores: Stores) -> None:
    gw = gateways[0]
    with connect(ws_url(gw, f"?token={token()}")) as ws:
        subscribe(ws, "btc-usd")
        gw.proc.send_signal(15)  # type: ignore[union-attr]
        notice = frame(ws)
        assert notice == {"type": "draining", "closeInSeconds": 2.0}
        with pytest.raises(OSError):  # no longer accepting
            connect(ws_url(gw, f"?token={token()}"), open_timeout=2)
        publish(stores, "btc-usd", {"value": 9})
        assert frame(ws)["data"] == {"value": 9}  # served during the grace period
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert time.monotonic() - started < 5
    assert gw.proc.wait(DEADLINE) == 0  # type: ignore[union-attr]
    assert {"draining", "drained"} <= {e["message"] for e in gw.logs()}


# Behind API Gateway -------------------------------------------------------------------------------------------------


@pytest.fixture
def backends(stores: Stores, emulator: AwsEmulator, tmp_path: Path) -> Iterator[list[Workload]]:
    """Two replicas with the connection Secret of an environment with a gateway: GATEWAY_URL is the stage's URL,
    here the emulator's Management API."""
    env = {**stores.fresh(), **CREDENTIALS, "AWS_REGION": REGION, "GATEWAY_URL": emulator.url}
    started = [Workload("ws_gateway", env, tmp_path / f"backend{i}.log") for i in range(2)]
    try:
        for gw in started:
            gw.start()
        yield started
    finally:
        for gw in started:
            gw.stop()


def api_gateway(gw: Workload, route: str, connection: str, body: str = "", query: str = "",
                headers: dict[str, str] | None = None) -> int:
    """What API Gateway posts to the integration URI for one event: the route key and the connection id as the
    headers aenv's integration maps (plan.gateway.REQUEST_PARAMETERS), a message's body as the client sent it."""
    request = urllib.request.Request(f"{gw.url}/{query}", data=body.encode(), method="POST", headers={
        "connectionId": connection, "routeKey": route, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def posted(emulator: AwsEmulator, connection: str) -> list[dict[str, Any]]:
    """What PostToConnection delivered to a connection, in order (the emulator's GetConnection tells it)."""
    scope = f"Credential=testing/20250101/{REGION}/execute-api/aws4_request"
    request = urllib.request.Request(f"{emulator.url}/@connections/{connection}", headers={
        "Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return [json.loads(m) for m in json.loads(response.read())["posted"]]


def frames_of(emulator: AwsEmulator, connection: str, count: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(posted(emulator, connection)) >= count, DEADLINE, f"{count} frames posted to {connection}")
    return posted(emulator, connection)


def test_behind_api_gateway_connect_needs_a_valid_jwt(backends: list[Workload], emulator: AwsEmulator) -> None:
    gw = backends[0]
    assert api_gateway(gw, "$connect", "c-none") == 401
    assert api_gateway(gw, "$connect", "c-other", headers={"Authorization": f"Bearer {token(secret='x' * 32)}"}) == 401
    assert api_gateway(gw, "$connect", "c-expired", query=f"?token={token(ttl=-120)}") == 401
    assert gw.metric("gateway_route_requests_total", route="connect", outcome="rejected") == 3
    assert api_gateway(gw, "$connect", "c-ok", headers={"Authorization": f"Bearer {token()}"}) == 200
    assert api_gateway(gw, "ping", "c-ok", json.dumps({"action": "ping", "id": 7})) == 200
    assert [f["type"] for f in frames_of(emulator, "c-ok", 1)] == ["pong"]
    # A message on a connection that never connected (or whose $connect was refused) is told so.
    assert api_gateway(gw, "subscribe", "c-none", json.dumps({"action": "subscribe", "channel": "a"})) == 200
    assert "connect again" in frames_of(emulator, "c-none", 1)[0]["error"]
    assert "secret" not in gw.log_text().lower().replace("jwt_secret", "")


def test_behind_api_gateway_updates_reach_the_connections_through_post_to_connection(
        backends: list[Workload], emulator: AwsEmulator, stores: Stores) -> None:
    a, b = backends
    alice, bob = f"alice-{os.getpid()}", f"bob-{os.getpid()}"
    assert api_gateway(a, "$connect", alice, query=f"?token={token('alice', channels=['btc-*'])}") == 200
    assert api_gateway(b, "$connect", bob, query=f"?token={token('bob')}") == 200
    # Each message may land on any replica: alice subscribes through a, bob through b.
    api_gateway(a, "subscribe", alice, json.dumps({"action": "subscribe", "channel": "btc-usd", "id": "s1"}))
    api_gateway(b, "subscribe", bob, json.dumps({"action": "subscribe", "channel": "btc-usd"}))
    api_gateway(a, "subscribe", alice, json.dumps({"action": "subscribe", "channel": "eth-usd"}))
    subscribed, refused = frames_of(emulator, alice, 2)
    assert (subscribed["type"], subscribed["channel"], subscribed["id"]) == ("subscribed", "btc-usd", "s1")
    assert "does not allow" in refused["error"]
    assert frames_of(emulator, bob, 1)[0]["type"] == "subscribed"

    assert publish(stores, "btc-usd", {"value": 1}) == 2  # one Redis subscriber per replica
    assert frames_of(emulator, alice, 3)[2] == {"type": "event", "channel": "btc-usd", "data": {"value": 1}}
    assert frames_of(emulator, bob, 2)[1] == {"type": "event", "channel": "btc-usd", "data": {"value": 1}}

    # bob leaves the channel through a, the replica that does not hold his subscription; alice disconnects
    # through b: each reaches the replica that holds it.
    api_gateway(a, "unsubscribe", bob, json.dumps({"action": "unsubscribe", "channel": "btc-usd"}))
    assert frames_of(emulator, bob, 3)[2]["type"] == "unsubscribed"
    assert api_gateway(b, "$disconnect", alice) == 200
    wait_for(lambda: a.metric("analytics_subscriptions_active") == 0, DEADLINE, "alice's subscription to go")
    wait_for(lambda: b.metric("analytics_subscriptions_active") == 0, DEADLINE, "bob's subscription to go")
    publish(stores, "btc-usd", {"value": 2})
    api_gateway(b, "ping", bob, json.dumps({"action": "ping"}))
    assert frames_of(emulator, bob, 4)[3]["type"] == "pong"  # and not the update he left
    assert len(posted(emulator, alice)) == 3
    assert a.metric("gateway_route_requests_total", route="disconnect", outcome="ok") == 0
    assert b.metric("gateway_route_requests_total", route="disconnect", outcome="ok") == 1


def test_behind_api_gateway_a_gone_connection_is_dropped(backends: list[Workload], emulator: AwsEmulator,
                                                         stores: Stores) -> None:
    gw = backends[0]
    carol = f"carol-{os.getpid()}"
    assert api_gateway(gw, "$connect", carol, query=f"?token={token('carol')}") == 200
    api_gateway(gw, "subscribe", carol, json.dumps({"action": "subscribe", "channel": "sol-usd"}))
    frames_of(emulator, carol, 1)
    # The client went away and its $disconnect never reached the gateway: API Gateway answers 410 from now on.
    emulator.client("apigatewaymanagementapi").delete_connection(ConnectionId=carol)
    publish(stores, "sol-usd", {"value": 1})
    wait_for(lambda: gw.metric("gateway_messages_dropped_total", reason="gone") == 1, DEADLINE, "the 410")
    assert gw.metric("analytics_subscriptions_active") == 0
