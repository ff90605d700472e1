"""The tracker on aiohttp's low-level server (web.Server, no router, no middlewares).

Kept as the measured alternative to tracker.aio.http (select it with `http_server = "aiohttp"`
in the config); bench/tracker_http.py compares the two.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from minternet.listen import binding
from minternet.logs import Throttle
from tracker.config import TrackerConfig
from tracker.http_app import TEXT, TrackerApp

log = logging.getLogger(__name__)


class _FaultLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger: requests it cannot parse are the client's fault, worth one
    rate-limited line like the built-in server's 4xx (aiohttp would log each with a
    traceback at ERROR); anything else is ours and keeps its traceback."""

    def __init__(self, throttle: Throttle) -> None:
        super().__init__(log, {})
        self.throttle = throttle

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            client = args[0] if args else "?"
            why = (exc.message or type(exc).__name__).strip().splitlines()[0]
            self.throttle(log, f"http-{exc.code}", "http %s: %s", client, why)
            return
        super().log(level, msg, *args, **kwargs)  # type: ignore[arg-type]


async def start_aiohttp(
    app: TrackerApp, config: TrackerConfig, throttle: Throttle, host: str, port: int
) -> tuple[web.ServerRunner, int]:
    loop = asyncio.get_running_loop()

    async def handler(request: web.BaseRequest) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client = peer[0] if peer else "?"
        if request.method not in ("GET", "HEAD"):  # as the built-in server does
            return web.Response(
                status=405,
                body=b"only GET\n",
                headers={"Content-Type": TEXT.decode(), "Allow": "GET, HEAD"},
            )
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
        logger=_FaultLog(throttle),
        access_log=None,  # a line per announce would flood the log; faults get their own
    )
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    with binding("TCP", host, port):
        await site.start()
    addresses = runner.addresses  # the real bound (host, port) of each site
    return runner, int(addresses[0][1]) if addresses else port
