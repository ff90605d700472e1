"""The authoritative server daemon: UDP and TCP listeners on each address, graceful stop, and
reload (SIGHUP) that swaps the zone set atomically."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from pathlib import Path

import dns.name

from dnsserver import journal, response, signed, transfer, tsigkeys
from dnsserver.aio import identity
from dnsserver.aio.dynamic import Updater
from dnsserver.aio.secondary import Secondaries
from dnsserver.aio.tcp import DnsTcp
from dnsserver.aio.tcp import limits as tcp_limits
from dnsserver.aio.transfer import Notifier, Transfers
from dnsserver.aio.udp import MAX_QUERY, DnsUdp
from dnsserver.config import AuthConfig
from dnsserver.engine import Engine
from dnsserver.errors import DnsError, ZoneError
from dnsserver.rrl import RateLimiter
from dnsserver.transfer import Acl
from dnsserver.wire import Name, parse_query
from dnsserver.zone import Zone
from dnsserver.zoneset import ZoneSet, load_zones
from minternet import listen
from minternet.control import ControlServer
from minternet.datagram import DatagramListener, bind_pair
from minternet.logs import Throttle
from minternet.stream import Connection, StreamListener

log = logging.getLogger(__name__)


def _origin(zone: str) -> Name:
    return tuple(label.lower() for label in dns.name.from_text(zone).labels[:-1])


def log_zone_error(error: ZoneError, what: str) -> None:
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


def log_zones(zones: ZoneSet) -> None:
    """Per zone, as BIND does: its warnings, then `zone example.com/IN: loaded serial N`."""
    for zone in zones:
        for problem in zone.warnings:
            log.warning("%s", problem)
        log.info("%s", zone.loaded_text())


class DnsServer:
    """One authoritative server. `start()` returns {"dns": port of the first listen address}."""

    def __init__(
        self, config: AuthConfig, *, name: str = "dnsserver", zones: ZoneSet | None = None
    ) -> None:
        self.name = name
        self.config = config
        # A zone that does not load stops us here, before anything is bound (ZoneError).
        self.engine = Engine(
            zones if zones is not None else load_zones(config.zones, pause_gc=True),
            max_udp=config.limits.max_udp_payload,
            cache_entries=config.limits.cache_entries,
            identity=identity.from_config(
                identity=config.identity,
                hide_identity=config.hide_identity,
                version=config.version,
                hide_version=config.hide_version,
            ),
        )
        self.rrl = RateLimiter(config.rrl) if config.rrl.enabled else None
        self.throttle = Throttle()
        # Bad keys, or a policy naming a zone we do not serve, stop us here (ValueError).
        keys = tsigkeys.load(config.keys)
        for zone, names in config.allow_update.items():
            for name in names:
                if tsigkeys.key_name(name) not in keys:
                    raise tsigkeys.KeyFileError(
                        f"allow_update for {zone} names key {name!r}, which no key file has"
                    )
        keyring = tsigkeys.keyring(keys.values())
        self.keyring = keyring
        listen_host = listen.parse_hostport(config.listen[0], 53)[0] if config.listen else None
        self.updater: Updater | None = None
        if config.allow_update:
            self.updater = Updater(keyring, config.allow_update, self._changed, self.throttle)
            self._swap(self.updater.load(self.engine.zones))
        self.secondaries: Secondaries | None = None
        if config.secondary:
            self.secondaries = Secondaries(
                config.secondary, Path(config.secondary_dir), listen_host,
                default_port=53, swap=self._swap_secondary, throttle=self.throttle,
            )  # fmt: skip
            serving, missing = self.secondaries.load()
            self._swap_secondary(serving, missing, set())
        self.transfers = Transfers(
            self.engine, keyring, self._acls(), self._journal_of, self.throttle
        )
        self.notifier = Notifier({_origin(z): t for z, t in config.notify.items()}, 53, listen_host)
        log_zones(self.engine.zones)
        self.addresses: list[tuple[str, int]] = []
        self.udp = DnsUdp(self.engine, self.rrl, self.throttle)
        if keyring:
            self.udp.signed = functools.partial(self.signed_query, tcp=False)
        if self.updater is not None:
            self.udp.updates = functools.partial(self.updater.submit, later=True)
            self.udp.updates_done = self.updater.flush
        if self.secondaries is not None:
            self.udp.notifies = self.secondaries.notify
        self._udp: list[DatagramListener] = []
        self._tcp: list[StreamListener[bytes]] = []
        self._control: ControlServer | None = None

    def _acls(self) -> dict[Name, Acl]:
        """Per zone, who may transfer it (see dnsserver/transfer.py)."""
        cfg = self.config
        acls: dict[Name, Acl] = {}
        for zone in {*cfg.allow_update, *cfg.notify, *cfg.allow_transfer}:
            if zone in cfg.allow_transfer:
                entries = list(cfg.allow_transfer[zone])
            else:
                hosts = [listen.parse_hostport(t, 53)[0] for t in cfg.notify.get(zone, ())]
                entries = hosts + [f"key {k}" for k in cfg.allow_update.get(zone, ())]
            acls[_origin(zone)] = transfer.parse_acl(entries)
        return acls

    def _secondary(self, origin: Name) -> bool:
        return self.secondaries is not None and origin in self.secondaries.zones

    def _journal_of(self, origin: Name) -> list[journal.Entry]:
        if self.updater is None or origin not in self.updater.zones:
            return []
        return self.updater.zones[origin].entries

    def signed_query(self, data: bytes, peer: str, *, tcp: bool) -> bytes | None:
        """A query signed with TSIG (dig -y): verified, answered, the answer signed with its
        key (dnsserver/signed.py). None if it is not signed: the engine answers it."""
        start = signed.tsig_start(data)
        if start is None:
            return None
        got = signed.answer(
            data,
            start,
            self.keyring,
            lambda query: self.engine.handle(query, tcp=tcp).wire,
            (lambda query: None) if tcp else self._udp_limit,
            self.engine.slip,
        )
        if got.why:
            self.throttle(log, "signed-query", "signed query from %s%s: %s", peer,
                          f" (key {got.key})" if got.key else "", got.why)  # fmt: skip
        return got.wire

    def _udp_limit(self, query: bytes) -> int:
        try:
            return response.udp_limit(parse_query(query), self.engine.max_udp)
        except DnsError:
            return response.MIN_UDP

    def _swap(self, changed: Iterable[Zone]) -> None:
        """Serve `changed` in place of the zones of the same origins (dynamic zones)."""
        zones = dict(self.engine.zones.by_origin)
        for zone in changed:
            zones[zone.origin] = zone
        self.engine.swap_zones(ZoneSet(zones.values(), self.engine.zones.unavailable))

    def _changed(self, changed: Iterable[Zone]) -> None:
        """Dynamic zones changed: serve them, and NOTIFY their secondaries."""
        changed = list(changed)
        self._swap(changed)
        self.notifier.changed(changed)

    def _swap_secondary(self, zones: list[Zone], down: set[Name], up: set[Name]) -> None:
        """Secondary zones transferred (`zones`), expired (`down`) or back (`up`)."""
        by_origin = {o: z for o, z in self.engine.zones.by_origin.items() if o not in down}
        for zone in zones:
            by_origin[zone.origin] = zone
        unavailable = (self.engine.zones.unavailable | down) - up
        self.engine.swap_zones(ZoneSet(by_origin.values(), unavailable))

    @property
    def tcp_connections(self) -> list[Connection]:
        return [c for listener in self._tcp for c in listener.connections]

    async def start(self) -> dict[str, int]:
        if not self.config.listen:
            raise ValueError("no listen address")
        ports: dict[str, int] = {}
        try:
            for text in self.config.listen:
                host, port = listen.parse_hostport(text, 53)
                self.addresses.append((host, await self._bind(host, port)))
            if self.config.control:
                self._control = ControlServer({"stats": self.stats}, throttle=self.throttle)
                ports["control"] = await self._control.start(
                    *listen.parse_hostport(self.config.control)
                )
        except BaseException:
            await self.stop()
            raise
        if self.updater is not None:
            self.updater.start()
            for dz in self.updater.zones.values():
                log.info(
                    "zone %s accepts updates signed by %s", dz.name, ", ".join(sorted(dz.allowed))
                )
        if self.secondaries is not None:
            self.secondaries.start()
        # the secondaries learn of our zones as they are now (RFC 1996 §3.6 suggests it)
        self.notifier.changed([z for z in self.engine.zones if z.origin in self.notifier.targets])
        zones = " ".join(z.name_text for z in self.engine.zones)
        for host, port in self.addresses:
            log.info("serving %s on %s port %d (UDP and TCP), RRL %s",
                     zones, host, port,
                     f"{self.config.rrl.rate:g}/s per /{self.config.rrl.ipv4_prefix}"
                     if self.rrl else "off")  # fmt: skip
        return {"dns": self.addresses[0][1], **ports}

    async def _bind(self, host: str, port: int) -> int:
        lim = self.config.limits
        tcp = StreamListener(
            lambda conn: DnsTcp(
                conn,
                self.engine,
                self.throttle,
                lim.tcp_max_message,
                self.updater.submit if self.updater is not None else None,
                self.transfers,
                self.secondaries.notify if self.secondaries is not None else None,
                functools.partial(self.signed_query, tcp=True) if self.keyring else None,
            ),
            tcp_limits(max_connections=lim.tcp_max_connections, idle_timeout=lim.tcp_idle_timeout),
            throttle=self.throttle,
        )
        sock = await bind_pair(host, port, lambda p: tcp.start(host, p))
        udp = DatagramListener(
            sock,
            lambda batch, now, out: self.udp.datagrams(batch, now, out, udp.send),
            throttle=self.throttle,
            max_datagram=MAX_QUERY,
        )
        udp.start()
        self._udp.append(udp)
        self._tcp.append(tcp)
        return udp.port

    def stats(self, args: list[str]) -> dict[str, object]:
        """The control endpoint's `stats`: what `minternet status` shows for this server."""
        return {
            "stats": {
                "udp_queries": self.udp.queries,
                "tcp_connections": len(self.tcp_connections),
                "answer_cache_entries": len(self.engine.udp_cache) + len(self.engine.tcp_cache),
                "zones": len(self.engine.zones),
                "updates": self.updater.updates if self.updater is not None else 0,
                "transfers_sent": self.transfers.served,
                "transfers_received": self.secondaries.transfers if self.secondaries else 0,
            }
        }

    async def stop(self) -> None:
        for udp in self._udp:
            udp.close()
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
        for tcp in self._tcp:
            tcp.close()  # answers already written are still flushed
        for tcp in self._tcp:
            if not await tcp.wait_closed(5.0):
                log.warning("TCP connections still open after 5 s; aborted them")
        self._udp.clear()
        self._tcp.clear()
        await self.notifier.stop()
        if self.secondaries is not None:
            await self.secondaries.stop()
        if self.updater is not None:
            await self.updater.stop()  # the journal's changes are written to the zone files

    async def reload(self) -> bool:
        """Re-read every zone file; on any error keep serving the old zones. Queries keep being
        answered while the files load (in a thread); the swap is one assignment in the loop."""
        loop = asyncio.get_running_loop()
        try:
            zones = await loop.run_in_executor(None, load_zones, self.config.zones)
        except ZoneError as e:
            log_zone_error(e, "reload failed, still serving the old zones")
            return False
        except Exception:  # a bug in loading must not take the server down either
            log.exception("reload failed, still serving the old zones")
            return False
        # the secondary zones are not files we read: they stay as they are
        kept = [z for z in self.engine.zones if self._secondary(z.origin)]
        files = ZoneSet([*zones, *kept], self.engine.zones.unavailable)
        if self.updater is None:
            self.engine.swap_zones(files)
        else:
            async with self.updater.lock:
                try:
                    dynamic = self.updater.load(files)
                except ZoneError as e:
                    log_zone_error(e, "reload failed, still serving the old zones")
                    return False
                self.engine.swap_zones(files)
                self._swap(dynamic)
        zones = self.engine.zones
        log_zones(zones)
        log.info("reloaded %s", " ".join(z.name_text for z in zones))
        return True
