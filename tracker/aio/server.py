"""The tracker daemon: HTTP and UDP listeners over one registry, and the periodic expiry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from pathlib import Path

from aiohttp import web

from minternet import listen
from minternet.logs import Throttle
from tracker.aio.http import HttpServer
from tracker.aio.http_aiohttp import start_aiohttp
from tracker.aio.udp import UdpListener
from tracker.config import TrackerConfig
from tracker.connid import ConnectionIds
from tracker.errors import TrackerError
from tracker.http_app import TrackerApp
from tracker.registry import Registry
from tracker.udp_app import UdpTrackerApp
from tracker.whitelist import load_whitelist

log = logging.getLogger(__name__)

EXPIRY_TICK = 1.0  # seconds between two partial expiry sweeps
EXPIRY_BUDGET = 2000  # swarms visited per tick


class TrackerDaemon:
    """`start()` binds HTTP (and UDP if asked) and returns {"http": port, "udp": port}."""

    def __init__(
        self,
        config: TrackerConfig,
        *,
        http: tuple[str, int],
        udp: tuple[str, int] | None = None,
        name: str = "tracker",
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.http_addr = http
        self.udp_addr = udp
        self.registry = Registry(config, rng or random.Random(), self._whitelist())
        self.app = TrackerApp(self.registry, name)
        self.udp_app = UdpTrackerApp(self.registry, ConnectionIds(os.urandom(32)))
        self.throttle = Throttle()
        self._tcp: asyncio.Server | None = None
        self._http: HttpServer | None = None
        self._runner: web.ServerRunner | None = None
        self._udp: UdpListener | None = None
        self._expiry: asyncio.Task[None] | None = None

    def _whitelist(self) -> set[bytes] | None:
        path = self.config.whitelist_file
        return None if path is None else load_whitelist(Path(path))

    async def start(self) -> dict[str, int]:
        ports: dict[str, int] = {}
        host, port = self.http_addr
        if self.config.http_server == "aiohttp":
            self._runner, ports["http"] = await start_aiohttp(
                self.app, self.config, self.throttle, host, port
            )
        else:
            self._http = HttpServer(self.app, self.config, self.throttle)
            self._tcp, ports["http"] = await listen.open_tcp(self._http.factory(), host, port)
        if self.udp_addr is not None:
            uhost, uport = self.udp_addr
            self._udp = UdpListener(self.udp_app, self.throttle)
            ports["udp"] = self._udp.start(uhost, uport)
        self._expiry = asyncio.create_task(self._expire_forever())
        wl = self.registry.whitelist
        urls = [f"http://{_hostport(host, ports['http'])}/announce"]
        if self.udp_addr is not None:
            urls.append(f"udp://{_hostport(self.udp_addr[0], ports['udp'])}/announce")
        log.info(
            "announce at %s; interval %d s, %s, %s",
            " and ".join(urls),
            self.config.interval,
            "open tracker" if wl is None else f"whitelist of {len(wl)} torrents",
            f"{len(self.config.passkeys)} passkeys" if self.config.passkeys else "no passkeys",
        )
        return ports

    async def _expire_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EXPIRY_TICK)
            removed = self.registry.expire(loop.time(), EXPIRY_BUDGET)
            if removed:
                log.info("expired %d silent peers", removed)

    def reload(self) -> None:
        """SIGHUP: re-read the whitelist file; a bad one is reported and the old one kept."""
        try:
            wl = self._whitelist()
        except TrackerError as e:  # the operator's file, not a bug: one line, no traceback
            log.error("%s; still serving the previous whitelist", e)
            return
        self.registry.set_whitelist(wl)
        log.info("whitelist reloaded (%s)", "off" if wl is None else len(wl))

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
            self._expiry = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            if self._http is not None:
                self._http.close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
