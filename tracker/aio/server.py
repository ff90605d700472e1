"""The tracker daemon: HTTP and UDP listeners over one registry, and the periodic expiry."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path

from aiohttp import web

from minternet import http11, tasks
from minternet.control import ControlServer
from minternet.datagram import DatagramListener
from minternet.logs import Throttle
from minternet.stream import StreamListener
from minternet.tasks import every
from tracker.aio.http import HttpFront
from tracker.aio.http_aiohttp import start_aiohttp
from tracker.aio.udp import UdpFront
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
        control: tuple[str, int] | None = None,
        name: str = "tracker",
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.http_addr = http
        self.udp_addr = udp
        self.control_addr = control
        self.registry = Registry(config, rng or random.Random(), self._whitelist())
        self.app = TrackerApp(self.registry, name)
        self.udp_app = UdpTrackerApp(self.registry, ConnectionIds(os.urandom(32)))
        self.throttle = Throttle()
        self._http: StreamListener[http11.Request] | None = None
        self._runner: web.ServerRunner | None = None
        self._udp: DatagramListener | None = None
        self._control: ControlServer | None = None
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
            front = HttpFront(self.app, self.config, self.throttle)
            self._http = StreamListener(front.handler, front.limits, throttle=self.throttle)
            ports["http"] = await self._http.start(host, port)
        if self.udp_addr is not None:
            self._udp = UdpFront(self.udp_app, self.throttle).listen(*self.udp_addr)
            ports["udp"] = self._udp.port
        if self.control_addr is not None:
            self._control = ControlServer({"stats": self.stats}, throttle=self.throttle)
            ports["control"] = await self._control.start(*self.control_addr)
        self._expiry = every(EXPIRY_TICK, self._expire, what="peer expiry", logger=log)
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

    def _expire(self) -> None:
        removed = self.registry.expire(asyncio.get_running_loop().time(), EXPIRY_BUDGET)
        if removed:
            log.info("expired %d silent peers", removed)

    def stats(self, args: list[str]) -> dict[str, object]:
        """The control endpoint's `stats`: what `minternet status` shows for the tracker."""
        r = self.registry
        return {
            "stats": {
                "swarms": len(r.swarms),
                "peers": r.peer_count,
                "announces": r.announces,
                "http_connections": len(self._http.connections) if self._http else 0,
            }
        }

    def reload(self) -> None:
        """SIGHUP: re-read the whitelist file; a bad one is reported and the old one kept."""
        try:
            wl = self._whitelist()
        except TrackerError as e:  # the operator's file, not a bug: one line, no traceback
            log.error("%s; still serving the previous whitelist", e)
            return
        self.registry.set_whitelist(wl)
        log.info("whitelist reloaded (%s)", "off" if wl is None else f"{len(wl)} torrents")

    async def stop(self) -> None:
        await tasks.stop(self._expiry)
        self._expiry = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
