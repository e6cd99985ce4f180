"""The gateway behind API Gateway's WebSocket API (aenv's spec.gateway), beside the direct WebSocket server.

API Gateway holds the clients' WebSockets and POSTs each event to the integration URI as plain HTTP: the route key
and the connection id come as the headers aenv's integration maps (routeKey, connectionId), a message's body is the
client's frame. $connect is refused with 401 without a valid JWT (Authorization header or ?token=). Replies and
updates go back through the API Gateway Management API (PostToConnection at the connection Secret's GATEWAY_URL); a
connection API Gateway reports gone (410) is dropped.

A connection's principal is kept in Redis, so that its messages may reach any replica. Its subscriptions live in
the replica that took the subscribe, which fans the channel out as in direct mode (Redis pub/sub); an unsubscribe
or a $disconnect that lands on another replica reaches it through the CONTROL channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import defaultdict
from typing import Any

import boto3
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import auth, metrics, protocol
from .fanout import PREFIX
from .server import Gateway, Settings

log = logging.getLogger(__name__)
CONNECTION_HEADER = "connectionId"
ROUTE_HEADER = "routeKey"
CONTROL = "@connections"  # between replicas; "@" is never in a client's channel
CONTROL_CHANNEL = PREFIX + CONTROL
PRINCIPAL_KEY = "ws-gateway:connection:"
PRINCIPAL_TTL_SECONDS = 2 * 3600 + 300  # API Gateway closes a connection after 2 hours


def management_url(gateway_url: str) -> str:
    """The Management API's endpoint for a stage URL: AWS gives wss://<api>.execute-api.<region>.amazonaws.com/<stage>,
    PostToConnection is https:// at the same path."""
    return "https://" + gateway_url.split("://", 1)[1] if gateway_url.startswith("wss://") else gateway_url


def region_of(gateway_url: str) -> str | None:
    """The region in a stage URL's host (<api>.execute-api.<region>.amazonaws.com), None for another host."""
    host = gateway_url.split("://", 1)[-1].split("/", 1)[0].split(".")
    return host[2] if len(host) > 3 and host[1] == "execute-api" else None


class Connections:
    """PostToConnection through boto3 (blocking: run in threads)."""

    def __init__(self, gateway_url: str) -> None:
        # botocore reads AWS_DEFAULT_REGION only; IRSA and the connection Secret give AWS_REGION.
        region = region_of(gateway_url) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.api = boto3.client("apigatewaymanagementapi", endpoint_url=management_url(gateway_url),
                                region_name=region,
                                config=Config(retries={"max_attempts": 2, "mode": "standard"},
                                              connect_timeout=3, read_timeout=5, max_pool_connections=32))

    async def post(self, connection_id: str, frame: str) -> bool:
        """False when the connection is gone (the client left without a $disconnect reaching this replica)."""
        try:
            await asyncio.to_thread(self.api.post_to_connection, ConnectionId=connection_id, Data=frame.encode())
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "GoneException":
                return False
            raise
        metrics.messages_sent.inc()
        return True


class ApiGatewayBackend(Gateway):
    """The routes as HTTP requests from API Gateway; the Redis fan-out, snapshots and readiness of Gateway."""

    def __init__(self, settings: Settings, gateway_url: str) -> None:
        super().__init__(settings)
        self.connections = Connections(gateway_url)
        self.channels_of: dict[str, set[str]] = defaultdict(set)  # connection id -> channels, this replica's
        self.subscribed: dict[str, set[str]] = defaultdict(set)  # channel -> connection ids, this replica's
        self._posts: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await super().start()
        await self.fanout.subscribe(CONTROL)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=protocol.MAX_FRAME_BYTES)
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", _metrics)
        app.router.add_post("/{path:.*}", self.handle)
        return app

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, why = await self.ready()
        return _text(200 if ready else 503, why)

    async def handle(self, request: web.Request) -> web.Response:
        connection_id, route_key = request.headers.get(CONNECTION_HEADER), request.headers.get(ROUTE_HEADER, "")
        if not connection_id:
            return _text(400, f"no {CONNECTION_HEADER} header: the integration maps it from context.connectionId")
        if route_key == "$connect":
            return await self.connect(request, connection_id)
        if route_key == "$disconnect":
            return await self.disconnect(connection_id)
        return await self.message(connection_id, await request.text())

    async def connect(self, request: web.Request, connection_id: str) -> web.Response:
        started = time.perf_counter()
        if self.draining:
            metrics.route_requests.labels(route="connect", outcome="rejected").inc()
            return _text(503, "draining: connect again")
        try:
            principal = auth.verify(auth.token_of(request.path_qs, {"Authorization": request.headers.get(
                "Authorization", "")}), self.settings.jwt_secret())
        except auth.Unauthorized as e:
            metrics.route_requests.labels(route="connect", outcome="rejected").inc()
            log.info("connection refused", extra={"reason": str(e), "connection": connection_id})
            return _text(401, str(e))
        await self._redis.set(PRINCIPAL_KEY + connection_id, json.dumps(
            {"sub": principal.subject, "channels": list(principal.channels)}), ex=PRINCIPAL_TTL_SECONDS)
        metrics.route_requests.labels(route="connect", outcome="ok").inc()
        metrics.route_latency.labels(route="connect").observe(time.perf_counter() - started)
        log.info("connected", extra={"subject": principal.subject, "connection": connection_id})
        return _text(200, "connected")

    async def disconnect(self, connection_id: str) -> web.Response:
        started = time.perf_counter()
        await self._redis.delete(PRINCIPAL_KEY + connection_id)
        await self._forget(connection_id)
        await self._redis.publish(CONTROL_CHANNEL, json.dumps({"forget": connection_id}))
        metrics.route_requests.labels(route="disconnect", outcome="ok").inc()
        metrics.route_latency.labels(route="disconnect").observe(time.perf_counter() - started)
        log.info("disconnected", extra={"connection": connection_id})
        return _text(200, "disconnected")

    async def message(self, connection_id: str, body: str) -> web.Response:
        started = time.perf_counter()
        metrics.messages_received.inc()
        route, outcome, reply = "unknown", "ok", ""
        try:
            request = protocol.parse(body)
            route = request.action
            principal = await self._principal(connection_id)
            if request.action == "subscribe":
                reply = await self.subscribe_connection(connection_id, principal, request)
            elif request.action == "unsubscribe":
                reply = await self.unsubscribe_connection(connection_id, request)
            else:
                reply = protocol.reply("pong", request.id, time=time.time())
        except protocol.BadRequest as e:
            outcome, reply = "rejected", protocol.reply("error", e.request_id, error=str(e))
        except Exception as e:  # noqa: BLE001 - the gateway's failure: counted, told, the connection kept
            outcome = "error"
            metrics.errors.labels(kind=route).inc()
            log.warning("request failed", extra={"route": route, "error": repr(e)})
            reply = protocol.reply("error", None, action=route, error="internal error, try again")
        if not await self._post(connection_id, reply):
            return _text(410, "gone")
        if route in metrics.ALL_ROUTES:
            metrics.route_requests.labels(route=route, outcome=outcome).inc()
            metrics.route_latency.labels(route=route).observe(time.perf_counter() - started)
        return _text(200, "ok")

    async def _principal(self, connection_id: str) -> auth.Principal:
        raw = await self._redis.get(PRINCIPAL_KEY + connection_id)
        if raw is None:
            raise protocol.BadRequest("unknown connection: connect again")
        stored = json.loads(raw)
        return auth.Principal(str(stored["sub"]), tuple(stored["channels"]))

    async def subscribe_connection(self, connection_id: str, principal: auth.Principal,
                                   request: protocol.Request) -> str:
        channel = str(request.channel)
        mine = self.channels_of[connection_id]
        self.check_subscribe(principal, mine, request)
        if channel not in mine:
            mine.add(channel)
            self.subscribed[channel].add(connection_id)
            await self.join(channel, lambda: self._drop_subscription(connection_id, channel))
        snapshot = await self.snapshot(channel)
        return protocol.reply("subscribed", request.id, channel=channel, snapshot=snapshot)

    async def unsubscribe_connection(self, connection_id: str, request: protocol.Request) -> str:
        channel = str(request.channel)
        if channel in self.channels_of.get(connection_id, ()):
            await self._drop_subscription(connection_id, channel)
        else:  # subscribed through another replica
            await self._redis.publish(CONTROL_CHANNEL, json.dumps({"forget": connection_id, "channel": channel}))
        return protocol.reply("unsubscribed", request.id, channel=channel)

    async def _drop_subscription(self, connection_id: str, channel: str) -> None:
        mine = self.channels_of.get(connection_id)
        if mine is None or channel not in mine:
            return
        mine.discard(channel)
        if not mine:
            del self.channels_of[connection_id]
        metrics.subscriptions_active.dec()
        ids = self.subscribed[channel]
        ids.discard(connection_id)
        if not ids:
            del self.subscribed[channel]
            await self.release(channel)

    async def _forget(self, connection_id: str, channel: str | None = None) -> None:
        for c in [channel] if channel else list(self.channels_of.get(connection_id, ())):
            await self._drop_subscription(connection_id, c)

    async def _post(self, connection_id: str, frame: str) -> bool:
        try:
            if await self.connections.post(connection_id, frame):
                return True
        except Exception as e:  # noqa: BLE001 - API Gateway unreachable or throttling: this frame is lost
            metrics.messages_dropped.labels(reason="post_failed").inc()
            metrics.errors.labels(kind="post_to_connection").inc()
            log.warning("PostToConnection failed", extra={"connection": connection_id, "error": repr(e)})
            return True
        metrics.messages_dropped.labels(reason="gone").inc()
        log.info("connection gone", extra={"connection": connection_id})
        await self._forget(connection_id)
        return False

    # Updates ---------------------------------------------------------------------------------------------------

    def deliver(self, channel: str, data: str) -> None:
        if channel == CONTROL:
            self._control(data)
            return
        ids = self.subscribed.get(channel)
        if not ids:
            return
        frame, published = protocol.update(channel, data)
        for connection_id in list(ids):
            self._spawn(self._post_update(connection_id, frame, published))

    async def _post_update(self, connection_id: str, frame: str, published: Any) -> None:
        if await self._post(connection_id, frame):
            metrics.events_published.inc()
            if isinstance(published, int | float):
                metrics.delivery_lag.observe(max(0.0, time.time() - published))

    def _control(self, data: str) -> None:
        try:
            message = json.loads(data)
            connection_id, channel = str(message["forget"]), message.get("channel")
        except (ValueError, KeyError, TypeError):
            return
        if connection_id in self.channels_of:
            self._spawn(self._forget(connection_id, str(channel) if channel else None))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    # SIGTERM ---------------------------------------------------------------------------------------------------

    async def drain_backend(self, runner: web.AppRunner) -> None:
        """Not ready (the Service sends no more requests here), the clients whose subscriptions live here told to
        subscribe again, which lands on another replica; then stop."""
        self.draining = True
        metrics.draining.set(1)
        log.info("draining", extra={"connections": len(self.channels_of)})
        notice = protocol.reply("draining", None, closeInSeconds=0, resubscribe=True)
        await asyncio.gather(*(self._post(c, notice) for c in list(self.channels_of)), return_exceptions=True)
        await asyncio.gather(*self._posts, return_exceptions=True)
        await runner.cleanup()
        await self.close_stores()


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body + "\n")


async def _healthz(_: web.Request) -> web.Response:
    return _text(200, "ok")


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def run(backend: ApiGatewayBackend, host: str, port: int, stop: asyncio.Event) -> None:
    await backend.start()
    runner = web.AppRunner(backend.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("listening", extra={"host": host, "port": port, "mode": "apigateway"})
    await stop.wait()
    await backend.drain_backend(runner)
