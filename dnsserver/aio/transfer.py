"""The primary's side of zone transfers: AXFR and IXFR over TCP, and NOTIFY to secondaries.

A transfer request (TCP only: RFC 5936 §4.2; over UDP it stays REFUSED) is parsed and its TSIG
verified with dnspython, checked against the zone's ACL, and answered in messages of about
16 kB, each written once the client has read the one before (a secondary that stops reading
holds one message in memory, and is aborted at the connection's deadline). Building the
messages of a big zone runs in a worker thread: the event loop goes on answering queries.

After every change of a zone (an update), and once at start, each of its secondaries is sent a
NOTIFY (RFC 1996) from our own address (a secondary accepts NOTIFY from its primary's address
only), again after 2, 4, 8 and 16 s until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Mapping, Sequence

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from dnsserver import dynamic, transfer
from dnsserver.engine import Engine
from dnsserver.errors import NOTAUTH, REFUSED
from dnsserver.journal import Entry
from dnsserver.transfer import Acl
from dnsserver.tsigkeys import wire_of
from dnsserver.wire import Name
from dnsserver.zone import Zone, zone_name
from minternet import dnsclient
from minternet.listen import parse_hostport
from minternet.logs import Throttle
from minternet.stream import Connection

log = logging.getLogger("dnsserver.transfer")

TYPE_IXFR, TYPE_AXFR = 251, 252
NOTIFY_TRIES = 5
NOTIFY_TIMEOUT = 2.0  # first wait for an answer; doubled at each try


def is_transfer(data: bytes) -> bool:
    """A query whose question is AXFR or IXFR (a cheap look at the wire)."""
    if len(data) < 17 or data[2] & 0xF8 != 0 or data[4:6] != b"\x00\x01":
        return False
    pos = 12
    while pos < len(data):
        n = data[pos]
        if n == 0:
            break
        if n & 0xC0:
            return False
        pos += n + 1
    return data[pos + 1 : pos + 3] in (b"\x00\xfb", b"\x00\xfc")


class Transfers:
    """Serves AXFR/IXFR for the zones of one server."""

    def __init__(
        self,
        engine: Engine,
        keyring: Mapping[dns.name.Name, dns.tsig.Key],
        acls: Mapping[Name, Acl],
        journal_of: Callable[[Name], Sequence[Entry]],
        throttle: Throttle,
    ) -> None:
        self.engine = engine
        self.keyring = dict(keyring)
        self.acls = dict(acls)
        self.journal_of = journal_of
        self.throttle = throttle
        self.served = 0  # transfers sent, for the stats

    async def serve(self, frame: bytes, conn: Connection) -> None:
        got = dynamic.read_signed(frame, self.keyring)
        if isinstance(got, dynamic.Reply):
            self._answer(conn, got)
            return
        query = got
        key = dynamic.key_of(query)
        question = query.question[0] if len(query.question) == 1 else None
        if question is None or question.rdclass != dns.rdataclass.IN:
            self._answer(conn, dynamic.reply(query, REFUSED, "not one class IN question"))
            return
        origin = tuple(label.lower() for label in question.name.labels[:-1])
        zone = self.engine.zones.by_origin.get(origin)
        kind = dns.rdatatype.to_text(question.rdtype)
        if zone is None:
            self._answer(conn, dynamic.reply(query, NOTAUTH, f"{kind} of {question.name}: "
                                             "not a zone we serve"))  # fmt: skip
            return
        acl = self.acls.get(origin)
        peer = conn.peer
        if acl is None or not acl.allows(peer, key):
            who = f"{peer} (key {key})" if key else peer
            self._answer(conn, dynamic.reply(query, REFUSED, f"{kind} of {zone_name(zone.origin)} "
                                             f"refused to {who}: not allowed"))  # fmt: skip
            return
        since = transfer.client_serial(query) if question.rdtype == TYPE_IXFR else None
        if question.rdtype == TYPE_IXFR and since is None:
            self._answer(conn, dynamic.reply(query, 1, "IXFR without the client's SOA"))
            return
        loop = asyncio.get_running_loop()
        entries = list(self.journal_of(origin))
        # Messages are made one at a time in a worker thread (a big zone takes a while, and
        # the event loop goes on answering), each once the client has read the one before.
        records = (
            transfer.axfr_wires(zone)
            if since is None
            else transfer.ixfr_wires(zone, entries, since)
        )
        qwire = wire_of(question.name) + struct.pack("!HH", question.rdtype, question.rdclass)
        signer = transfer.signer_of(query, lambda: int(time.time()))
        opt = transfer.opt_record(query, self.engine.max_udp)
        messages = transfer.messages(query.id, qwire, records, signer, opt)
        sent = 0
        while (wire := await loop.run_in_executor(None, next, messages, None)) is not None:
            if conn.closing:
                log.warning("%s of %s to %s: the connection closed during the transfer",
                            kind, zone_name(zone.origin), conn.peer)  # fmt: skip
                return
            conn.write(struct.pack("!H", len(wire)) + wire)
            sent += 1
            await conn.drained()
        self.served += 1
        log.info("%s of %s (serial %d) to %s%s: %d messages%s", kind, zone_name(zone.origin),
                 zone.serial, conn.peer, f" (key {key})" if key else "", sent,
                 "" if since is None else f", from serial {since}")  # fmt: skip

    def _answer(self, conn: Connection, reply: dynamic.Reply) -> None:
        self._refused(conn, reply.why)
        if reply.wire is not None:
            conn.write(struct.pack("!H", len(reply.wire)) + reply.wire)

    def _refused(self, conn: Connection, why: str) -> None:
        self.throttle(log, "transfer-refused", "transfer request from %s: %s", conn.peer, why)


def notify_message(zone: Zone) -> dns.message.Message:
    """A NOTIFY for `zone` (RFC 1996 §3.7): opcode NOTIFY, AA, the SOA question and record."""
    name = dns.name.Name((*zone.origin, b""))
    msg = dns.message.make_query(name, dns.rdatatype.SOA)
    msg.flags = dns.flags.AA  # and no RD (flags hold the opcode too: set it after)
    msg.set_opcode(dns.opcode.NOTIFY)
    msg.answer.append(transfer.soa_rrset(zone))
    return msg


def _notify_answer(data: bytes) -> dns.message.Message:
    """The secondary's answer (udp_exchange has checked its source and ID), or Dropped."""
    try:
        answer = dns.message.from_wire(data)
    except Exception as e:
        raise dnsclient.Dropped("malformed", str(e)) from None
    if answer.opcode() != dns.opcode.NOTIFY or not answer.flags & dns.flags.QR:
        raise dnsclient.Dropped("malformed", "not a NOTIFY response")
    return answer


async def notify(zone: Zone, target: str, default_port: int, source: str | None) -> bool:
    """NOTIFY one secondary, retrying until it answers; whether it did."""
    host, port = parse_hostport(target, default_port)
    wait = NOTIFY_TIMEOUT
    for attempt in range(1, NOTIFY_TRIES + 1):
        wire = notify_message(zone).to_wire()  # a new ID for each try
        try:
            answer = await dnsclient.udp_exchange(wire, (host, port), _notify_answer, timeout=wait,
                                                  source=source)  # fmt: skip
        except OSError as e:  # no socket to send from: say so, and try again later
            log.warning("NOTIFY of %s to %s: %s", zone_name(zone.origin), target, e)
            answer = None
        if answer is not None:
            rcode = dns.rcode.to_text(answer.rcode())
            log.info("NOTIFY of %s serial %d to %s: %s", zone_name(zone.origin), zone.serial,
                     target, rcode)  # fmt: skip
            return True
        wait *= 2
        if attempt < NOTIFY_TRIES:
            log.debug("NOTIFY of %s to %s: no answer (try %d)", zone_name(zone.origin), target,
                      attempt)  # fmt: skip
    log.warning("NOTIFY of %s serial %d to %s: no answer after %d tries",
                zone_name(zone.origin), zone.serial, target, NOTIFY_TRIES)  # fmt: skip
    return False


class Notifier:
    """Sends NOTIFY for the zones that have secondaries, one task per zone and secondary (a
    newer change replaces a NOTIFY still being retried)."""

    def __init__(
        self, targets: Mapping[Name, Sequence[str]], default_port: int, source: str | None
    ) -> None:
        self.targets = {origin: tuple(t) for origin, t in targets.items() if t}
        self.default_port = default_port
        self.source = source
        self.tasks: dict[tuple[Name, str], asyncio.Task[bool]] = {}

    def changed(self, zones: Sequence[Zone]) -> None:
        for zone in zones:
            for target in self.targets.get(zone.origin, ()):
                old = self.tasks.get((zone.origin, target))
                if old is not None and not old.done():
                    old.cancel()
                task = asyncio.create_task(
                    notify(zone, target, self.default_port, self.source), name=f"notify {target}"
                )
                self.tasks[(zone.origin, target)] = task

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
