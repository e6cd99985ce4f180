"""ws-gateway: run the gateway until SIGTERM, then drain: behind API Gateway when the connection Secret has
GATEWAY_URL (apigateway.py), else the WebSocket server clients connect to (server.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aenv_workload import start
from websockets.asyncio.server import serve

from . import __version__, apigateway, protocol
from .server import Gateway, Settings

log = logging.getLogger("ws_gateway")


async def run(settings: Settings, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if settings.gateway_url:
        await apigateway.run(apigateway.ApiGatewayBackend(settings, settings.gateway_url), host, port, stop)
        return
    gateway = Gateway(settings)
    await gateway.start()
    async with serve(gateway.handler, host, port, process_request=gateway.process_request,
                     max_size=protocol.MAX_FRAME_BYTES, ping_interval=20, ping_timeout=20, close_timeout=5,
                     server_header=f"ws-gateway/{__version__}") as server:
        log.info("listening", extra={"host": host, "port": port, "version": __version__})
        await stop.wait()
        await gateway.drain(server)


def main() -> None:
    _, settings, port = start("ws-gateway", Settings.from_connection)
    asyncio.run(run(settings, os.environ.get("HOST", "0.0.0.0"), port))


if __name__ == "__main__":
    main()
