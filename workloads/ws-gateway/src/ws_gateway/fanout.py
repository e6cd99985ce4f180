"""Fan-out through Redis pub/sub: each replica subscribes to the channels its clients want, once per channel, so
an update published once reaches the clients of every replica."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis
from aenv_workload.keys import updates_channel

from . import metrics

log = logging.getLogger(__name__)
PREFIX = updates_channel("")
SUBSCRIBE_TIMEOUT = 5.0
RECONNECT_BACKOFF = (0.2, 5.0)


def client(url: str) -> Any:
    return redis.from_url(url, socket_connect_timeout=3, socket_timeout=5, health_check_interval=30)


class Fanout:
    """Holds the replica's Redis subscriptions and hands each update to `deliver(channel, data)`."""

    def __init__(self, url: Callable[[], str], deliver: Callable[[str, str], None]) -> None:
        self._url, self._deliver = url, deliver
        self._channels: set[str] = set()  # wanted by this replica's clients
        self._confirmed: set[str] = set()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._wanted = asyncio.Event()
        self._redis: Any = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connect()
        self._task = asyncio.create_task(self._read(), name="fanout")

    def _connect(self) -> None:
        self._redis = client(self._url())  # read again: the mounted Secret changes when the token rotates
        self._pubsub = self._redis.pubsub()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    async def subscribe(self, channel: str) -> None:
        """Return once Redis confirmed the subscription: an update published after this reaches the replica."""
        if channel in self._confirmed:
            return
        future = self._pending.get(channel)
        if future is None:
            future = self._pending[channel] = asyncio.get_running_loop().create_future()
            self._channels.add(channel)
            try:
                await self._pubsub.subscribe(PREFIX + channel)
            except BaseException:
                self._forget(channel)
                raise
            self._wanted.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            self._forget(channel)
            raise

    async def unsubscribe(self, channel: str) -> None:
        self._forget(channel)
        await self._pubsub.unsubscribe(PREFIX + channel)

    def _forget(self, channel: str) -> None:
        self._channels.discard(channel)
        self._confirmed.discard(channel)
        if (future := self._pending.pop(channel, None)) and not future.done():
            future.cancel()

    async def _read(self) -> None:
        failures = 0
        while True:
            try:
                if not self._pubsub.subscribed:
                    self._wanted.clear()
                    await self._wanted.wait()
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                failures = 0
                if message is not None:
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a lost connection: reconnect and subscribe again
                failures += 1
                metrics.errors.labels(kind="redis_pubsub").inc()
                delay = min(RECONNECT_BACKOFF[0] * 2 ** (failures - 1), RECONNECT_BACKOFF[1])
                log.warning("redis pub/sub failed, reconnecting", extra={"error": repr(e), "retry_in": delay})
                await self._close()
                await asyncio.sleep(delay)
                await self._resubscribe()

    async def _resubscribe(self) -> None:
        self._confirmed.clear()
        self._connect()
        for channel in self._channels:
            self._pending.setdefault(channel, asyncio.get_running_loop().create_future())
        if self._channels:
            with contextlib.suppress(Exception):  # the next read reports a failure again
                await self._pubsub.subscribe(*(PREFIX + c for c in self._channels))
                self._wanted.set()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        raw = message["channel"]
        channel = (raw.decode() if isinstance(raw, bytes) else str(raw)).removeprefix(PREFIX)
        if kind == "subscribe":
            if channel in self._channels:
                self._confirmed.add(channel)
            if (future := self._pending.pop(channel, None)) and not future.done():
                future.set_result(None)
        elif kind == "message":
            metrics.fanout_received.inc()
            data = message["data"]
            self._deliver(channel, data.decode() if isinstance(data, bytes) else str(data))
