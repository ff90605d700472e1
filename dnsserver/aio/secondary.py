"""Secondary zones: copies of a primary's zones, kept current by SOA checks, NOTIFY and
transfers, kept on disk, and served until they expire.

Per zone, one task follows the timers of dnsserver/secondary.py. A check asks the primary for
the SOA (UDP from our own address: the primary allows transfers by address); a newer serial
starts a transfer over TCP: IXFR from our serial when we hold the zone in memory, else AXFR.
dnspython's inbound transfer applies it in a transaction that commits only when the transfer
ends with the closing SOA, so a transfer cut short, with a name outside the zone or a serial
that goes back leaves the copy as it was (and is logged). The result is written as a master
file (temporary file, fsync, rename) and loaded with the same loader and checks as any zone
file: a transfer that does not make a valid zone is not served.

At start the copy on disk is served at once; its age (the file's modification time, touched
at every successful check) counts towards EXPIRE, so a secondary that was down longer than
EXPIRE does not serve its stale copy before it reaches the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.xfr
import dns.zone

from dnsserver.errors import NOERROR, NOTAUTH, REFUSED, ZoneError
from dnsserver.secondary import SecondaryTimers, Timers
from dnsserver.wire import Name, header_only
from dnsserver.zone import Zone, load_zone
from minternet import dnsclient
from minternet.durable import fsync_dir
from minternet.listen import parse_hostport
from minternet.logs import Throttle

log = logging.getLogger("dnsserver.secondary")

CHECK_TIMEOUT = 3.0
TRANSFER_TIMEOUT = 60.0


def timers_of(zone: Zone) -> Timers:
    refresh, retry, expire = (int(t) for t in zone.soa.rdatas[0].times[1:4])
    return Timers(float(refresh), float(retry), float(expire))


@dataclass(slots=True)
class SecondaryZone:
    origin: Name
    name: str  # absolute, as written
    primary: tuple[str, int]
    path: Path
    timers: SecondaryTimers
    zone: Zone | None = None
    dz: dns.zone.Zone | None = None  # the copy as dnspython holds it, for IXFR
    wake: asyncio.Event | None = None
    checking: bool = False  # a check or transfer is under way
    again: bool = False  # a NOTIFY came meanwhile: check again when it is done


class Secondaries:
    """Every secondary zone of one server. `swap(zones, unavailable)` puts zones in service
    (or takes origins out of it)."""

    def __init__(
        self,
        config: Mapping[str, str],
        directory: Path,
        source: str | None,
        default_port: int,
        swap: Callable[[list[Zone], set[Name], set[Name]], None],
        throttle: Throttle,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.swap = swap
        self.throttle = throttle
        self.clock = clock
        self.directory = directory
        self.zones: dict[Name, SecondaryZone] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.transfers = 0
        for text, primary in config.items():
            name = dns.name.from_text(text)
            origin = tuple(label.lower() for label in name.labels[:-1])
            stem = name.to_text().rstrip(".") or "root"
            path = directory / f"{stem}.zone"
            self.zones[origin] = SecondaryZone(
                origin, name.to_text(), parse_hostport(primary, default_port), path,
                SecondaryTimers(clock(), None, Timers(), None),
            )  # fmt: skip

    def load(self) -> tuple[list[Zone], set[Name]]:
        """The copies on disk: the zones to serve, and the origins with no usable copy."""
        serving: list[Zone] = []
        missing: set[Name] = set()
        now = self.clock()
        for sz in self.zones.values():
            try:
                zone = load_zone(sz.path, sz.origin)
                age_ok = sz.path.stat().st_mtime
            except (ZoneError, OSError) as e:
                if sz.path.exists():
                    log.warning("secondary %s: the copy %s cannot be used: %s", sz.name, sz.path, e)
                missing.add(sz.origin)
                continue
            sz.zone = zone
            sz.timers = SecondaryTimers(now, zone.serial, timers_of(zone), age_ok)
            if sz.timers.expired(now):
                log.warning("secondary %s: the copy (serial %d) is older than EXPIRE (%d s): "
                            "not served until the primary answers", sz.name, zone.serial,
                            int(sz.timers.timers.expire))  # fmt: skip
                missing.add(sz.origin)
                continue
            log.info("secondary %s: serving the copy %s, serial %d", sz.name, sz.path, zone.serial)
            serving.append(zone)
        return serving, missing

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for sz in self.zones.values():
            sz.wake = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._follow(sz), name=f"secondary {sz.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def notify(self, data: bytes, peer: str) -> bytes | None:
        """Answer a NOTIFY (RFC 1996 §3.7): NOERROR and a check at once when it comes from the
        zone's primary, REFUSED from anyone else, NOTAUTH for a zone we are no secondary of."""
        try:
            msg = dns.message.from_wire(data)
        except Exception as e:  # malformed: FORMERR, as any query
            self.throttle(log, "bad-notify", "bad NOTIFY from %s: %s", peer, e)
            return header_only(data, 1) if len(data) >= 12 else None
        response = dns.message.make_response(msg)
        response.flags |= dns.flags.AA
        if len(msg.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        name = msg.question[0].name
        origin = tuple(label.lower() for label in name.labels[:-1])
        sz = self.zones.get(origin)
        if sz is None:
            self.throttle(
                log, "notify-zone", "NOTIFY from %s for %s: not a zone of ours", peer, name
            )
            response.set_rcode(dns.rcode.Rcode.make(NOTAUTH))
            return response.to_wire()
        if peer != sz.primary[0]:
            self.throttle(log, "notify-stranger",
                          "NOTIFY for %s from %s refused: the primary is %s",
                          sz.name, peer, sz.primary[0])  # fmt: skip
            response.set_rcode(dns.rcode.Rcode.make(REFUSED))
            return response.to_wire()
        log.info("secondary %s: NOTIFY from %s: checking now", sz.name, peer)
        sz.timers.notified(self.clock())
        sz.again = sz.checking  # the check under way may have asked before the change
        if sz.wake is not None:
            sz.wake.set()
        response.set_rcode(dns.rcode.Rcode.make(NOERROR))
        return response.to_wire()

    async def _follow(self, sz: SecondaryZone) -> None:
        assert sz.wake is not None
        while True:
            now = self.clock()
            if sz.timers.due(now):
                sz.checking, sz.again = True, False
                try:
                    await self._check(sz)
                except Exception:  # a bug (or an OSError) costs this check, never the zone's task
                    log.exception("secondary %s: the check failed", sz.name)
                    sz.timers.failed(self.clock())
                finally:
                    sz.checking = False
                if sz.again:
                    sz.timers.notified(self.clock())
                continue
            wait = sz.timers.wait(now)
            expires = sz.timers.expires_at()
            if sz.zone is not None and expires is not None:
                if expires <= now:
                    self._expire(sz)
                else:
                    wait = min(wait, expires - now)
            sz.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await sz.wake.wait()

    def _expire(self, sz: SecondaryZone) -> None:
        log.warning("secondary %s: no answer from the primary %s for EXPIRE (%d s): the zone "
                    "expired, SERVFAIL until it answers", sz.name, sz.primary[0],
                    int(sz.timers.timers.expire))  # fmt: skip
        sz.zone = None
        self.swap([], {sz.origin}, set())

    async def _check(self, sz: SecondaryZone) -> None:
        try:
            serial = await self._primary_serial(sz)
        except LookupError as e:
            sz.timers.failed(self.clock())
            self.throttle(log, f"check-{sz.name}", "secondary %s: SOA check with %s failed: %s",
                          sz.name, sz.primary[0], e)  # fmt: skip
            return
        now = self.clock()
        check = sz.timers.checked(now, serial)
        if not check.transfer:
            log.debug("secondary %s: %s", sz.name, check.why)
            if sz.zone is not None and serial == sz.zone.serial:
                with contextlib.suppress(OSError):
                    os.utime(sz.path)  # the copy was current at this time (EXPIRE counts from it)
                return
            if "before ours" in check.why:
                log.warning("secondary %s: %s", sz.name, check.why)
            return
        log.info("secondary %s: %s", sz.name, check.why)
        try:
            zone = await self._transfer(sz)
        except Exception as e:  # anything wrong with the transfer: keep the copy, retry later
            sz.timers.failed(self.clock())
            log.warning("secondary %s: transfer from %s failed, keeping serial %s: %s",
                        sz.name, sz.primary[0], sz.timers.serial, _why(e))  # fmt: skip
            return
        sz.timers.transferred(self.clock(), zone.serial, timers_of(zone))
        sz.zone = zone
        self.transfers += 1
        self.swap([zone], set(), {sz.origin})
        log.info("secondary %s: serial %d from %s, %d records, written to %s", sz.name,
                 zone.serial, sz.primary[0], zone.records, sz.path)  # fmt: skip

    async def _primary_serial(self, sz: SecondaryZone) -> int:
        query = dns.message.make_query(sz.name, dns.rdatatype.SOA)

        def accept(data: bytes) -> int:
            try:
                answer = dns.message.from_wire(data)
            except Exception as e:
                raise dnsclient.Dropped("malformed", str(e)) from None
            if answer.rcode() != dns.rcode.NOERROR:
                raise dnsclient.Dropped("malformed", dns.rcode.to_text(answer.rcode()))
            for rrset in answer.answer:
                if rrset.rdtype == dns.rdatatype.SOA and rrset.name == query.question[0].name:
                    return int(rrset[0].serial)
            raise dnsclient.Dropped("malformed", "no SOA in the answer")

        dropped: list[str] = []
        serial = await dnsclient.udp_exchange(
            query.to_wire(), sz.primary, accept, timeout=CHECK_TIMEOUT, source=self.source,
            on_drop=lambda d: dropped.append(d.why),
        )  # fmt: skip
        if serial is None:
            raise LookupError(dropped[-1] if dropped else "no answer")
        return serial

    async def _transfer(self, sz: SecondaryZone) -> Zone:
        incremental = sz.dz is not None and sz.timers.serial is not None
        target = sz.dz if incremental else dns.zone.Zone(sz.name)
        assert target is not None
        if incremental:
            query, _ = dns.xfr.make_query(target, serial=sz.timers.serial)
        else:
            query = dns.message.make_query(sz.name, dns.rdatatype.AXFR)
        async with asyncio.timeout(TRANSFER_TIMEOUT):
            ignored = await self._inbound(sz, target, query)
        if ignored:
            # RFC 5936 §3.5: data outside the zone is no part of it, and is not used
            n = len(ignored)
            log.warning("secondary %s: the transfer from %s held %d record%s outside the zone "
                        "(%s): ignored", sz.name, sz.primary[0], n, "s" if n > 1 else "",
                        ", ".join(ignored[:3]))  # fmt: skip
        loop = asyncio.get_running_loop()
        zone = await loop.run_in_executor(None, _write_and_load, target, sz)
        sz.dz = target
        return zone

    async def _inbound(
        self, sz: SecondaryZone, target: dns.zone.Zone, query: dns.message.Message
    ) -> list[str]:
        """One transfer over TCP from our own address, applied by dnspython's Inbound (which
        commits only at the closing SOA); the owners of records outside the zone, which it
        leaves out."""
        rdtype = query.question[0].rdtype
        serial = sz.timers.serial if rdtype == dns.rdatatype.IXFR else None
        origin = target.from_wire_origin()
        local = (self.source, 0) if self.source else None
        reader, writer = await asyncio.open_connection(*sz.primary, local_addr=local)
        ignored: list[str] = []
        try:
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            with dns.xfr.Inbound(target, rdtype, serial) as inbound:
                done, first, ctx = False, True, None
                while not done:
                    (n,) = struct.unpack("!H", await reader.readexactly(2))
                    answer = dns.message.from_wire(
                        await reader.readexactly(n), keyring=query.keyring,
                        request_mac=query.mac, xfr=True, origin=origin, tsig_ctx=ctx,
                        multi=True, one_rr_per_rrset=rdtype == dns.rdatatype.IXFR,
                    )  # fmt: skip
                    if not query.is_response(answer, xfr_continuation=not first):
                        raise dns.exception.FormError("not a response to our request")
                    first = False
                    ignored += [
                        rrset.name.to_text()
                        for rrset in answer.answer
                        if rrset.name.is_absolute()  # names in the zone come relative to it
                    ]
                    done = inbound.process_message(answer)
                    ctx = answer.tsig_ctx
        finally:
            writer.close()
        return ignored


def _write_and_load(dz: dns.zone.Zone, sz: SecondaryZone) -> Zone:
    """Write the transferred zone as a master file and load it with our checks; the old copy
    stays in place if the new one has errors."""
    tmp = sz.path.with_name(f".{sz.path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"; zone {sz.name} -- a secondary's copy, transferred from {sz.primary[0]}\n")
        f.write(f"$ORIGIN {sz.name}\n")
        dz.to_file(f, relativize=False, want_origin=False)
        f.flush()
        os.fsync(f.fileno())
    try:
        zone = load_zone(tmp, sz.origin)
    except ZoneError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, sz.path)
    fsync_dir(sz.path.parent)
    return _repath(zone, sz.path)


def _repath(zone: Zone, path: Path) -> Zone:
    zone.path = str(path)
    return zone


def _why(e: BaseException) -> str:
    if isinstance(e, dns.xfr.TransferError):
        return f"the primary answered {dns.rcode.to_text(e.rcode)}"
    if isinstance(e, dns.xfr.SerialWentBackwards):
        return "the serial went backwards"
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, EOFError | ConnectionError):
        return "the connection closed before the end of the transfer"
    if isinstance(e, ZoneError):
        return f"the zone has errors: {e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
