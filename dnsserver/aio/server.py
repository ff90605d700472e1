"""The authoritative server daemon: UDP and TCP listeners on each address, graceful stop, and
reload (SIGHUP) that swaps the zone set atomically."""

from __future__ import annotations

import asyncio
import logging

from dnsserver.aio import identity
from dnsserver.aio.tcp import TcpConnection, TcpLimits
from dnsserver.aio.udp import UdpListener
from dnsserver.config import ServerConfig
from dnsserver.engine import Engine
from dnsserver.errors import ZoneError
from dnsserver.rrl import RateLimiter
from dnsserver.zoneset import ZoneSet, load_zones
from minternet import listen
from minternet.logs import Throttle

log = logging.getLogger(__name__)

BIND_ATTEMPTS = 20  # port 0: the UDP port chosen by the kernel may be taken for TCP


def log_zone_error(name: str, error: ZoneError, what: str) -> None:
    """One line per problem of zones that did not load, in file order: each error after
    `what` ("refusing to start"), each warning as it would be logged for a zone that loads."""
    problems = error.problems or ()
    if not any(not p.warning for p in problems):
        log.error("%s: %s", what, error)
    for problem in problems:
        if problem.warning:
            log.warning("%s", problem)
        else:
            log.error("%s: %s", what, problem)


def log_zones(name: str, zones: ZoneSet) -> None:
    """Per zone, as BIND does: its warnings, then `zone example.com/IN: loaded serial N`."""
    for zone in zones:
        for problem in zone.warnings:
            log.warning("%s", problem)
        log.info("%s", zone.loaded_text())


class DnsServer:
    """One authoritative server. `start()` returns {"dns": port of the first listen address}."""

    def __init__(
        self, config: ServerConfig, *, name: str = "dnsserver", zones: ZoneSet | None = None
    ) -> None:
        self.name = name
        self.config = config
        # A zone that does not load stops us here, before anything is bound (ZoneError).
        self.engine = Engine(
            zones if zones is not None else load_zones(config.zones),
            max_udp=config.limits.max_udp_payload,
            cache_entries=config.limits.cache_entries,
            identity=identity.from_config(
                identity=config.identity,
                hide_identity=config.hide_identity,
                version=config.version,
                hide_version=config.hide_version,
            ),
        )
        log_zones(name, self.engine.zones)
        self.rrl = RateLimiter(config.rrl) if config.rrl.enabled else None
        self.throttle = Throttle()
        self.addresses: list[tuple[str, int]] = []
        self._udp: list[UdpListener] = []
        self._tcp: list[asyncio.Server] = []
        self._tcp_limits = TcpLimits(
            max_connections=config.limits.tcp_max_connections,
            idle_timeout=config.limits.tcp_idle_timeout,
            max_message=config.limits.tcp_max_message,
        )

    async def start(self) -> dict[str, int]:
        if not self.config.listen:
            raise ValueError("no listen address")
        try:
            for text in self.config.listen:
                host, port = listen.parse_hostport(text, 53)
                self.addresses.append((host, await self._bind(host, port)))
        except BaseException:
            await self.stop()
            raise
        zones = " ".join(z.name_text for z in self.engine.zones)
        for host, port in self.addresses:
            log.info("serving %s on %s port %d (UDP and TCP), RRL %s",
                     zones, host, port,
                     f"{self.config.rrl.rate:g}/s per /{self.config.rrl.ipv4_prefix}"
                     if self.rrl else "off")  # fmt: skip
        return {"dns": self.addresses[0][1]}

    async def _bind(self, host: str, port: int) -> int:
        for attempt in range(BIND_ATTEMPTS):
            sock = listen.bind_udp(host, port)
            udp = UdpListener(sock, self.engine, self.rrl, self.throttle)
            real = udp.port
            try:
                server, _ = await listen.open_tcp(self._tcp_protocol, host, real)
            except OSError:
                udp.close()
                if port != 0 or attempt == BIND_ATTEMPTS - 1:
                    raise
                continue
            udp.start()
            self._udp.append(udp)
            self._tcp.append(server)
            return real
        raise OSError(f"cannot bind {host}")  # not reached

    def _tcp_protocol(self) -> TcpConnection:
        return TcpConnection(self.engine, self._tcp_limits, self.throttle)

    async def stop(self) -> None:
        for udp in self._udp:
            udp.close()
        for server in self._tcp:
            server.close()
        for conn in list(self._tcp_limits.connections):
            if conn.transport is not None:
                conn.transport.close()  # answers already written are still flushed
        for server in self._tcp:
            try:
                await asyncio.wait_for(server.wait_closed(), 5.0)
            except TimeoutError:
                log.warning("TCP connections still open after 5 s; leaving them")
        self._udp.clear()
        self._tcp.clear()

    async def reload(self) -> bool:
        """Re-read every zone file; on any error keep serving the old zones. Queries keep being
        answered while the files load (in a thread); the swap is one assignment in the loop."""
        loop = asyncio.get_running_loop()
        try:
            zones = await loop.run_in_executor(None, load_zones, self.config.zones)
        except ZoneError as e:
            log_zone_error(self.name, e, "reload failed, still serving the old zones")
            return False
        except Exception:  # a bug in loading must not take the server down either
            log.exception("reload failed, still serving the old zones")
            return False
        self.engine.swap_zones(zones)
        log_zones(self.name, zones)
        log.info("reloaded %s", " ".join(z.name_text for z in zones))
        return True
