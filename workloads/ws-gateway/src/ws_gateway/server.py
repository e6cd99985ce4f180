"""The gateway: the WebSocket handshake (health, metrics, JWT), the routes, per-client backpressure, the drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
from aenv_workload import Connection
from aenv_workload.keys import EVENTS_TABLE, aggregate_key
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import auth, metrics, protocol
from .fanout import Fanout, client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """What the gateway runs with: the connection Secret's values, and its own tunables (container env)."""
    cache_url: Callable[[], str]
    jwt_secret: Callable[[], str]
    database_url: Callable[[], str | None]
    drain_seconds: float = 20.0  # after SIGTERM, how long clients get to leave before "going away"
    send_queue: int = 256  # update frames buffered per client before they are dropped
    slow_client_drops: int = 512  # consecutive drops after which a client is disconnected (1013)
    max_subscriptions: int = 100  # per connection
    # Behind API Gateway (aenv's spec.gateway: GATEWAY_URL is its stage), or clients connect to the gateway itself.
    # GATEWAY_MODE=direct keeps the WebSocket server with a gateway in the environment.
    gateway_url: str | None = None

    @classmethod
    def from_connection(cls, c: Connection) -> Settings:
        c.require("JWT_SECRET", "the key client tokens are signed with")
        c.require("CACHE_URL", "the Redis that fans updates out")
        behind = c.get("GATEWAY_MODE", "apigateway") != "direct"
        return cls(gateway_url=c.get("GATEWAY_URL") if behind else None,
                   cache_url=lambda: c.require("CACHE_URL", "the Redis that fans updates out"),
                   jwt_secret=lambda: c.require("JWT_SECRET", "the key client tokens are signed with"),
                   database_url=lambda: c.get("DATABASE_URL"),
                   drain_seconds=c.number("GATEWAY_DRAIN_SECONDS", 20.0),
                   send_queue=int(c.number("GATEWAY_SEND_QUEUE", 256)),
                   slow_client_drops=int(c.number("GATEWAY_SLOW_CLIENT_DROPS", 512)))


class Client:
    """One connection: an outgoing queue written by one task, so a slow reader never blocks the fan-out."""

    def __init__(self, ws: ServerConnection, principal: auth.Principal, settings: Settings) -> None:
        self.ws, self.principal = ws, principal
        self.channels: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue(settings.send_queue)
        self._drop_limit = settings.slow_client_drops
        self._drops = 0
        self._writer = asyncio.create_task(self._write(), name=f"writer-{ws.id}")
        self._closing: asyncio.Task[None] | None = None

    async def reply(self, frame: str) -> None:
        """A reply to the client's own request: waits for room (the client's reads pace its requests)."""
        await self.queue.put(frame)

    def offer(self, frame: str) -> bool:
        """An update: dropped when the client is too slow to take it; a client that stays too slow is closed."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            metrics.messages_dropped.labels(reason="slow_client").inc()
            self._drops += 1
            if self._drops == self._drop_limit:
                log.warning("closing a slow client", extra={"subject": self.principal.subject,
                                                            "dropped": self._drops})
                self._closing = asyncio.create_task(self._drop())
            return False
        self._drops = 0
        return True

    async def _drop(self) -> None:
        """Close with 1013 (try again later) if the close frame gets through at once, else abort the connection:
        its buffers are full, and waiting on them is what this avoids."""
        try:
            await asyncio.wait_for(self.ws.close(1013, "slow consumer: updates were dropped"), 1.0)
        except TimeoutError:
            self.ws.transport.abort()

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                await self.ws.send(frame)
                metrics.messages_sent.inc()
            except ConnectionClosed:
                return
            finally:
                self.queue.task_done()

    async def close(self, code: int, reason: str, flush_seconds: float) -> None:
        """Send what is queued (within flush_seconds), then close."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), flush_seconds)
        await self.ws.close(code, reason)

    async def stop(self) -> None:
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: set[Client] = set()
        self.subscribers: dict[str, set[Client]] = defaultdict(set)
        self.draining = False
        self._principals: dict[Any, auth.Principal] = {}
        self._gone = asyncio.Event()
        self.fanout = Fanout(settings.cache_url, self.deliver)
        self._redis: Any = None
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._db_lock = asyncio.Lock()
        self._cache = metrics.CacheStats()
        metrics.init()

    async def start(self) -> None:
        self._redis = client(self.settings.cache_url())
        await self.fanout.start()

    # The handshake ---------------------------------------------------------------------------------------------

    async def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return ws.respond(200, "ok\n")
        if path == "/readyz":
            ready, why = await self.ready()
            return ws.respond(200 if ready else 503, why + "\n")
        if path == "/metrics":
            response = ws.respond(200, generate_latest().decode())
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response
        if self.draining:
            metrics.route_requests.labels(route="connect", outcome="rejected").inc()
            return ws.respond(503, "draining: connect to another replica\n")
        try:
            principal = auth.verify(auth.token_of(request.path, _headers(request.headers)),
                                    self.settings.jwt_secret())
        except auth.Unauthorized as e:
            metrics.route_requests.labels(route="connect", outcome="rejected").inc()
            log.info("connection refused", extra={"reason": str(e), "remote": _remote(ws)})
            return ws.respond(401, f"{e}\n")
        self._principals[ws.id] = principal
        return None

    async def ready(self) -> tuple[bool, str]:
        if self.draining:
            return False, "draining"
        try:
            await asyncio.wait_for(self._redis.ping(), 2)
        except Exception as e:  # noqa: BLE001 - any failure means not ready; say which
            return False, f"redis: {type(e).__name__}"
        return True, "ready"

    # A connection ----------------------------------------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        principal = self._principals.pop(ws.id)
        c = Client(ws, principal, self.settings)
        self.clients.add(c)
        metrics.connections_active.inc()
        metrics.route_requests.labels(route="connect", outcome="ok").inc()
        log.info("connected", extra={"subject": principal.subject, "remote": _remote(ws)})
        try:
            async for frame in ws:
                metrics.messages_received.inc()
                await self.route(c, frame)
        except ConnectionClosed:
            pass
        finally:
            await self._leave(c)

    async def _leave(self, c: Client) -> None:
        started = time.perf_counter()
        for channel in list(c.channels):
            await self._unsubscribe(c, channel)
        await c.stop()
        self.clients.discard(c)
        if not self.clients:
            self._gone.set()
        metrics.connections_active.dec()
        metrics.route_requests.labels(route="disconnect", outcome="ok").inc()
        metrics.route_latency.labels(route="disconnect").observe(time.perf_counter() - started)
        log.info("disconnected", extra={"subject": c.principal.subject, "code": c.ws.close_code})

    async def route(self, c: Client, frame: str | bytes) -> None:
        started = time.perf_counter()
        route = "unknown"
        try:
            request = protocol.parse(frame)
            route = request.action
            handle: dict[str, Callable[[Client, protocol.Request], Awaitable[None]]] = {
                "subscribe": self.subscribe, "unsubscribe": self.unsubscribe, "ping": self.ping}
            await handle[route](c, request)
            outcome = "ok"
        except protocol.BadRequest as e:
            outcome = "rejected"
            await c.reply(protocol.reply("error", e.request_id, error=str(e)))
        except ConnectionClosed:
            raise
        except Exception as e:  # noqa: BLE001 - the gateway's failure: counted, told, the connection kept
            outcome = "error"
            metrics.errors.labels(kind=route).inc()
            log.warning("request failed", extra={"route": route, "error": repr(e)})
            await c.reply(protocol.reply("error", None, action=route, error="internal error, try again"))
        if route in metrics.ALL_ROUTES:
            metrics.route_requests.labels(route=route, outcome=outcome).inc()
            metrics.route_latency.labels(route=route).observe(time.perf_counter() - started)

    async def subscribe(self, c: Client, request: protocol.Request) -> None:
        channel = str(request.channel)
        self.check_subscribe(c.principal, c.channels, request)
        if channel not in c.channels:
            c.channels.add(channel)
            self.subscribers[channel].add(c)
            await self.join(channel, lambda: self._unsubscribe(c, channel))
        snapshot = await self.snapshot(channel)
        await c.reply(protocol.reply("subscribed", request.id, channel=channel, snapshot=snapshot))

    def check_subscribe(self, principal: auth.Principal, channels: set[str], request: protocol.Request) -> None:
        """Refuse a channel the token does not allow, or one more than max_subscriptions."""
        channel = str(request.channel)
        if not principal.may_subscribe(channel):
            raise protocol.BadRequest(f"the token does not allow channel {channel}", request.id)
        if channel not in channels and len(channels) >= self.settings.max_subscriptions:
            raise protocol.BadRequest(f"at most {self.settings.max_subscriptions} subscriptions", request.id)

    async def join(self, channel: str, undo: Callable[[], Awaitable[None]]) -> None:
        """A subscriber (recorded already) counted, and the replica subscribed to the channel in Redis; `undo`
        forgets the subscriber when that fails."""
        metrics.subscriptions_active.inc()
        try:
            await self.fanout.subscribe(channel)
        except BaseException:
            await undo()
            raise

    async def release(self, channel: str) -> None:
        """The replica's last subscriber of the channel left."""
        with contextlib.suppress(Exception):  # Redis away: the reconnect subscribes only what is wanted
            await self.fanout.unsubscribe(channel)

    async def unsubscribe(self, c: Client, request: protocol.Request) -> None:
        channel = str(request.channel)
        if channel in c.channels:
            await self._unsubscribe(c, channel)
        await c.reply(protocol.reply("unsubscribed", request.id, channel=channel))

    async def _unsubscribe(self, c: Client, channel: str) -> None:
        c.channels.discard(channel)
        clients = self.subscribers.get(channel)
        if clients is None or c not in clients:
            return
        clients.discard(c)
        metrics.subscriptions_active.dec()
        if not clients:
            del self.subscribers[channel]
            await self.release(channel)

    async def ping(self, c: Client, request: protocol.Request) -> None:
        await c.reply(protocol.reply("pong", request.id, time=time.time()))

    # Updates ---------------------------------------------------------------------------------------------------

    def deliver(self, channel: str, data: str) -> None:
        clients = self.subscribers.get(channel)
        if not clients:
            return
        frame, published = protocol.update(channel, data)
        delivered = sum(c.offer(frame) for c in clients)
        metrics.events_published.inc(delivered)
        if isinstance(published, int | float) and delivered:
            metrics.delivery_lag.observe(max(0.0, time.time() - published))

    async def snapshot(self, channel: str) -> dict[str, Any] | None:
        """The channel's aggregate now: from the cache the processor keeps, else computed by PostgreSQL."""
        started = time.perf_counter()
        cached = await self._redis.hgetall(aggregate_key(channel))
        metrics.query_latency.labels(service="ws-gateway", store="redis").observe(time.perf_counter() - started)
        self._cache.record(bool(cached))
        if cached:
            return {k.decode(): _number(v.decode()) for k, v in cached.items()}
        return await self._query_aggregate(channel)

    async def _query_aggregate(self, channel: str) -> dict[str, Any] | None:
        url = self.settings.database_url()
        if not url:
            return None
        started = time.perf_counter()
        async with self._db_lock:
            try:
                if self._db is None or self._db.closed:
                    self._db = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=3)
                cursor = await self._db.execute(
                    f"SELECT count(*), coalesce(sum(value), 0), min(value), max(value) FROM {EVENTS_TABLE} "
                    f"WHERE channel = %s", (channel,))
                row = await cursor.fetchone()
            except psycopg.errors.UndefinedTable:
                return None  # no event was ever processed
            except psycopg.OperationalError:
                self._db = None
                raise
        metrics.query_latency.labels(service="ws-gateway", store="postgresql").observe(time.perf_counter() - started)
        if row is None or not row[0]:
            return None
        return {"count": row[0], "sum": float(row[1]), "min": float(row[2]), "max": float(row[3])}

    # SIGTERM ---------------------------------------------------------------------------------------------------

    async def drain(self, server: Server) -> None:
        """Stop accepting, tell clients, give them the grace period to leave, then close with going away (1001)
        after sending what is queued for them."""
        self.draining = True
        metrics.draining.set(1)
        server.server.close()
        grace = self.settings.drain_seconds
        log.info("draining", extra={"clients": len(self.clients), "grace_seconds": grace})
        notice = protocol.reply("draining", None, closeInSeconds=grace)
        for c in list(self.clients):
            c.offer(notice)
        if self.clients:
            self._gone.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), grace)
        await asyncio.gather(*(c.close(1001, "going away", 2.0) for c in list(self.clients)),
                             return_exceptions=True)
        server.close()
        await server.wait_closed()
        await self.close_stores()

    async def close_stores(self) -> None:
        """The last step of a drain: fan-out, Redis and the database closed."""
        await self.fanout.stop()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
        if self._db is not None:
            await self._db.close()
        log.info("drained")


def _headers(headers: Headers) -> dict[str, str]:
    return {"Authorization": headers.get("Authorization", "")}


def _remote(ws: ServerConnection) -> str:
    address = ws.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"


def _number(value: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
