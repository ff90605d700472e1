"""The tracker on aiohttp's low-level server (web.Server, no router, no middlewares).

Kept as the measured alternative to tracker.aio.http (select it with `http_server = "aiohttp"`
in the config); bench/tracker_http.py compares the two.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from minternet.logs import Throttle
from tracker.config import TrackerConfig
from tracker.http_app import TrackerApp

log = logging.getLogger(__name__)


async def start_aiohttp(
    app: TrackerApp, config: TrackerConfig, throttle: Throttle, host: str, port: int
) -> tuple[web.ServerRunner, int]:
    loop = asyncio.get_running_loop()

    async def handler(request: web.BaseRequest) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client = peer[0] if peer else "?"
        xff = request.headers.get("X-Forwarded-For")
        reply = app.handle(
            request.method.encode(),
            request.raw_path.encode("latin-1", "replace"),
            client,
            xff.encode("latin-1", "replace") if xff is not None else None,
            loop.time(),
        )
        if reply.fault is not None:
            throttle(log, reply.fault.kind, "http %s: %s", client, reply.fault.reason)
        if reply.note is not None:
            log.info("http %s", reply.note)
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={"Content-Type": reply.content_type.decode()},
        )

    server = web.Server(
        handler,
        max_line_size=config.http_max_request_line,
        max_field_size=config.http_max_header_line,
        max_headers=config.http_max_headers,
        keepalive_timeout=config.http_keepalive_timeout,
    )
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    addresses = runner.addresses  # the real bound (host, port) of each site
    return runner, int(addresses[0][1]) if addresses else port
