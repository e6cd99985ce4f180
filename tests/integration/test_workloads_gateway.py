"""The reference ws-gateway against a real Redis and PostgreSQL: JWT at the handshake, fan-out across two
gateway processes, backpressure on a client that does not read, the drain on SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

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
