"""Zone transfers on live servers: AXFR and IXFR over TCP with ACLs and TSIG, NOTIFY, and a
secondary following its primary -- or refusing what a hostile primary sends it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.update
import dns.zone
import pytest

from dnsserver import tsigkeys
from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig

HOST = "127.0.0.1"
T = 5.0
KEY = tsigkeys.generate("xfr.test", bytes(range(32)))
RING = tsigkeys.keyring([KEY])


def zone_text(serial: int = 1, extra: int = 0, *, expire: int = 1209600) -> str:
    lines = [
        "$ORIGIN xfr.test.",
        "$TTL 60",
        f"@ SOA ns1 hostmaster {serial} 1 1 {expire} 30",
        "@ NS ns1",
        "ns1 A 127.0.0.1",
        "www A 192.0.2.1",
    ]
    lines += [f"h{i} A 192.0.2.{i % 250 + 1}" for i in range(extra)]
    return "\n".join(lines) + "\n"


def primary_config(tmp: Path, **kw: object) -> AuthConfig:
    (tmp / "xfr.zone").write_text(zone_text(extra=int(kw.pop("extra", 0))))  # type: ignore[call-overload]
    (tmp / "xfr.key").write_text(KEY.text())
    return AuthConfig(
        zones=(str(tmp / "xfr.zone"),),
        listen=(f"{HOST}:0",),
        keys=(str(tmp / "xfr.key"),),
        allow_update={"xfr.test": ("xfr.test",)},
        **kw,  # type: ignore[arg-type]
    )


def running(cfg: AuthConfig, name: str = "t") -> contextlib.AbstractAsyncContextManager[DnsServer]:
    return running_started(DnsServer(cfg, name=name))


def port(srv: DnsServer) -> int:
    return srv.addresses[0][1]


async def axfr(srv: DnsServer, *, key: bool = False, rdtype: str = "AXFR",
               serial: int | None = None) -> list[dns.message.Message]:  # fmt: skip
    """The messages of one transfer (raw TCP: every message, as sent)."""
    q = dns.message.make_query("xfr.test.", rdtype)
    if serial is not None:
        soa = f"ns1.xfr.test. hostmaster.xfr.test. {serial} 1 1 1 1"
        q.authority.append(dns.rrset.from_text("xfr.test.", 0, "IN", "SOA", soa))
    if key:
        q.use_tsig(RING, keyname=KEY.name)
    wire = q.to_wire()
    reader, writer = await asyncio.open_connection(HOST, port(srv))
    out: list[dns.message.Message] = []
    try:
        writer.write(struct.pack("!H", len(wire)) + wire)
        ctx = None
        soas = 0
        async with asyncio.timeout(T):
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(n)
                if key:
                    mac = b"" if out else q.mac  # the request's MAC covers the first only
                    m = dns.message.from_wire(data, keyring=RING, request_mac=mac, multi=True,
                                              tsig_ctx=ctx, one_rr_per_rrset=True)  # fmt: skip
                    ctx = m.tsig_ctx
                else:
                    m = dns.message.from_wire(data, one_rr_per_rrset=True)  # as sent
                out.append(m)
                soas += sum(1 for r in m.answer if r.rdtype == dns.rdatatype.SOA)
                if m.rcode() != dns.rcode.NOERROR or (soas >= 2 and rdtype == "AXFR"):
                    return out
                if rdtype == "IXFR" and _ixfr_done(out):
                    return out
    finally:
        writer.close()


def _ixfr_done(messages: list[dns.message.Message]) -> bool:
    records = [r for m in messages for r in m.answer]
    if len(records) == 1:
        return True  # up to date: the SOA alone
    first, last = records[0], records[-1]
    return (
        len(records) > 1 and last.rdtype == dns.rdatatype.SOA and last[0].serial == first[0].serial
    )


def answers(messages: list[dns.message.Message]) -> list[str]:
    return [line for m in messages for r in m.answer for line in r.to_text().splitlines()]


async def test_axfr_is_refused_to_strangers_and_sent_to_key_holders(tmp_path: Path) -> None:
    async with running(primary_config(tmp_path, extra=3000)) as srv:
        refused = await axfr(srv)
        assert len(refused) == 1 and refused[0].rcode() == dns.rcode.REFUSED
        got = await axfr(srv, key=True)  # every message verified, in a chain
        assert len(got) > 2  # ~3,000 records do not fit one message of ~16 kB
        rrs = answers(got)
        assert rrs[0].split()[3] == rrs[-1].split()[3] == "SOA"
        assert len(rrs) == 3004 + 1 and "www.xfr.test. 60 IN A 192.0.2.1" in rrs
        assert all(m.had_tsig for m in got)

        async def counted() -> bool:  # (the server counts it once the last message is read)
            return srv.stats([])["stats"]["transfers_sent"] == 1

        await wait_for(counted, 2.0)


async def test_allow_transfer_by_network(tmp_path: Path) -> None:
    cfg = primary_config(tmp_path, allow_transfer={"xfr.test": ("127.0.0.0/8",)})
    async with running(cfg) as srv:
        got = await axfr(srv)
        assert got[0].rcode() == dns.rcode.NOERROR and len(answers(got)) == 5
    cfg = primary_config(tmp_path, allow_transfer={"xfr.test": ("192.0.2.0/24",)})
    async with running(cfg) as srv:
        assert (await axfr(srv))[0].rcode() == dns.rcode.REFUSED
        assert (await axfr(srv, key=True))[0].rcode() == dns.rcode.REFUSED  # the ACL replaced


async def test_transfer_requests_that_are_wrong(tmp_path: Path) -> None:
    async with running(primary_config(tmp_path)) as srv:
        # over UDP: no transfer (RFC 5936 §4.2)
        q = dns.message.make_query("xfr.test.", "AXFR")
        r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
        assert r.rcode() == dns.rcode.REFUSED
        # not a zone's apex
        q = dns.message.make_query("www.xfr.test.", "AXFR")
        q.use_tsig(RING, keyname=KEY.name)
        r = await dns.asyncquery.tcp(q, HOST, port=port(srv), timeout=T)
        assert r.rcode() == dns.rcode.NOTAUTH
        # signed with a key we do not have: NOTAUTH BADKEY
        other = tsigkeys.generate("other", bytes(32))
        q = dns.message.make_query("xfr.test.", "AXFR")
        q.use_tsig(tsigkeys.keyring([other]), keyname=other.name)
        reader, writer = await asyncio.open_connection(HOST, port(srv))
        wire = q.to_wire()
        writer.write(struct.pack("!H", len(wire)) + wire)
        (n,) = struct.unpack("!H", await reader.readexactly(2))
        r = dns.message.from_wire(await reader.readexactly(n), keyring=False)
        writer.close()
        assert r.rcode() == dns.rcode.NOTAUTH and r.tsig is not None and r.tsig[0].error == 17
        # IXFR without the client's SOA: FORMERR
        q = dns.message.make_query("xfr.test.", "IXFR")
        q.use_tsig(RING, keyname=KEY.name)
        r = await dns.asyncquery.tcp(q, HOST, port=port(srv), timeout=T)
        assert r.rcode() == dns.rcode.FORMERR


async def update(srv: DnsServer, owner: str, address: str) -> None:
    u = dns.update.UpdateMessage("xfr.test", keyring=RING, keyname=KEY.name)
    u.add(owner, 60, "A", address)
    r = await dns.asyncquery.tcp(u, HOST, port=port(srv), timeout=T)
    assert r.rcode() == dns.rcode.NOERROR


async def test_ixfr_sends_the_journal_from_the_clients_serial(tmp_path: Path) -> None:
    async with running(primary_config(tmp_path)) as srv:
        await update(srv, "a", "192.0.2.10")
        await update(srv, "b", "192.0.2.11")
        got = answers(await axfr(srv, key=True, rdtype="IXFR", serial=1))
        kinds = [(line.split()[0], line.split()[3], line.split()[-1]) for line in got]
        assert kinds == [
            ("xfr.test.", "SOA", "30"),  # serial 3
            ("xfr.test.", "SOA", "30"),  # 1 ->
            ("xfr.test.", "SOA", "30"),  # -> 2
            ("a.xfr.test.", "A", "192.0.2.10"),
            ("xfr.test.", "SOA", "30"),  # 2 ->
            ("xfr.test.", "SOA", "30"),  # -> 3
            ("b.xfr.test.", "A", "192.0.2.11"),
            ("xfr.test.", "SOA", "30"),
        ]
        serials = [int(line.split()[6]) for line in got if line.split()[3] == "SOA"]
        assert serials == [3, 1, 2, 2, 3, 3]
        current = answers(await axfr(srv, key=True, rdtype="IXFR", serial=3))
        assert len(current) == 1 and " 3 1 1 " in current[0]  # up to date: the SOA alone
        unknown = answers(await axfr(srv, key=True, rdtype="IXFR", serial=100000))
        assert len(unknown) == 1  # a serial after ours: nothing to send but our SOA
        # a serial the journal does not reach: the whole zone, in the AXFR form
        del srv.updater.zones[(b"xfr", b"test")].entries[0]  # type: ignore[union-attr]
        full = answers(await axfr(srv, key=True, rdtype="IXFR", serial=1))
        assert len(full) == 7 and "a.xfr.test. 60 IN A 192.0.2.10" in full


def secondary_config(tmp: Path, primary: DnsServer) -> AuthConfig:
    return AuthConfig(
        listen=(f"{HOST}:0",),
        secondary={"xfr.test": f"{HOST}:{port(primary)}"},
        secondary_dir=str(tmp / "copies"),
    )


async def serial_of(srv: DnsServer) -> int | None:
    q = dns.message.make_query("xfr.test.", "SOA")
    r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
    return int(r.answer[0][0].serial) if r.rcode() == dns.rcode.NOERROR and r.answer else None


async def wait_for(check: Callable[[], object], seconds: float = 8.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # type: ignore[misc]
            await asyncio.sleep(0.05)


async def test_a_secondary_follows_its_primary_and_keeps_a_copy(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "s").mkdir()
    by_address = {"xfr.test": ("127.0.0.0/8",)}
    async with running(
        primary_config(tmp_path / "p", allow_transfer=by_address), "primary"
    ) as primary:
        sec_cfg = secondary_config(tmp_path / "s", primary)
        async with running(sec_cfg, "secondary") as secondary:
            await wait_for(lambda: _is(serial_of(secondary), 1))
            # the primary NOTIFYs this secondary (by address: both on 127.0.0.1 here)
            primary.notifier.targets[(b"xfr", b"test")] = (f"{HOST}:{port(secondary)}",)
            await update(primary, "new", "192.0.2.77")
            await wait_for(lambda: _is(serial_of(secondary), 2), 4.0)  # NOTIFY: not REFRESH
            q = dns.message.make_query("new.xfr.test.", "A")
            r = await dns.asyncquery.udp(q, HOST, port=port(secondary), timeout=T)
            assert r.flags & dns.flags.AA and r.answer[0][0].address == "192.0.2.77"
            assert secondary.stats([])["stats"]["transfers_received"] == 2
        copy = tmp_path / "s" / "copies" / "xfr.test.zone"
        assert "192.0.2.77" in copy.read_text()
    # the primary is gone: a restarted secondary serves its copy
    async with running(secondary_config(tmp_path / "s", primary), "again") as secondary:
        assert await serial_of(secondary) == 2


async def _is(value: object, expected: object) -> bool:
    return (await value) == expected  # type: ignore[misc]


async def test_a_secondary_without_a_copy_or_past_expire_answers_servfail(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    cfg = primary_config(tmp_path / "p", allow_transfer={"xfr.test": ("127.0.0.0/8",)})
    (tmp_path / "p" / "xfr.zone").write_text(zone_text(expire=2))
    async with running(cfg, "primary") as primary:
        sec_cfg = secondary_config(tmp_path, primary)
    # no primary answers: nothing to serve
    async with running(sec_cfg, "secondary") as secondary:
        q = dns.message.make_query("www.xfr.test.", "A")
        r = await dns.asyncquery.udp(q, HOST, port=port(secondary), timeout=T)
        assert r.rcode() == dns.rcode.SERVFAIL
    async with running(cfg, "primary") as primary:
        sec_cfg = secondary_config(tmp_path, primary)
        async with running(sec_cfg, "secondary") as secondary:
            await wait_for(lambda: _is(serial_of(secondary), 1))
            await primary.stop()  # the primary goes away; EXPIRE is 2 s
            q = dns.message.make_query("www.xfr.test.", "A")

            async def servfail() -> bool:
                r = await dns.asyncquery.udp(q, HOST, port=port(secondary), timeout=T)
                return r.rcode() == dns.rcode.SERVFAIL

            await wait_for(servfail, 6.0)


async def notify_to(srv: DnsServer, zone: str, source: str = HOST) -> dns.message.Message:
    msg = dns.message.make_query(zone, "SOA")
    msg.flags = dns.flags.AA
    msg.set_opcode(dns.opcode.NOTIFY)
    return await dns.asyncquery.udp(msg, HOST, port=port(srv), timeout=T, source=source)


async def test_notify_from_strangers_and_for_other_zones_is_refused(tmp_path: Path) -> None:
    cfg = AuthConfig(listen=(f"{HOST}:0",), secondary={"xfr.test": "127.0.0.99:53"},
                     secondary_dir=str(tmp_path))  # fmt: skip
    async with running(cfg) as srv:
        r = await notify_to(srv, "xfr.test.")
        assert r.rcode() == dns.rcode.REFUSED and r.opcode() == dns.opcode.NOTIFY
        r = await notify_to(srv, "other.test.")
        assert r.rcode() == dns.rcode.NOTAUTH
        r = await notify_to(srv, "xfr.test.", source="127.0.0.99")
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA


# -- a hostile primary --------------------------------------------------------------------------


class FakePrimary:
    """Answers SOA over UDP with `serial`, and AXFR over TCP with `records` (master-file lines,
    SOA first); `cut` closes the connection before the closing SOA."""

    def __init__(self, serial: int, records: list[str], *, cut: bool = False) -> None:
        self.serial, self.records, self.cut = serial, records, cut
        self.transfers = 0

    async def start(self) -> int:
        self.tcp = await asyncio.start_server(self._tcp, HOST, 0)
        port_ = self.tcp.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self.udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(HOST, port_)
        )
        return port_

    def soa(self) -> dns.rrset.RRset:
        rdata = f"ns1.xfr.test. h.xfr.test. {self.serial} 1 1 600 30"
        return dns.rrset.from_text("xfr.test.", 60, "IN", "SOA", rdata)

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.transfers += 1
        (n,) = struct.unpack("!H", await reader.readexactly(2))
        q = dns.message.from_wire(await reader.readexactly(n))
        r = dns.message.make_response(q)
        r.answer.append(self.soa())
        for line in self.records:
            r.answer.append(dns.rrset.from_text(*line.split(maxsplit=4)))
        if not self.cut:
            r.answer.append(self.soa())
        wire = r.to_wire()
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        writer.close()

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, fake: FakePrimary) -> None:
        self.fake = fake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.answer.append(self.fake.soa())
        self.transport.sendto(r.to_wire(), addr)  # type: ignore[attr-defined]


GOOD = ["xfr.test. 60 IN NS ns1.xfr.test.", "ns1.xfr.test. 60 IN A 127.0.0.1"]


@pytest.mark.parametrize(
    ("records", "cut", "why"),
    [
        (GOOD, True, "the connection closed before the end of the transfer"),
        (["xfr.test. 60 IN A 192.0.2.1"], False, "the zone has errors"),  # no NS at the apex
    ],
    ids=["cut-short", "no-ns"],
)
async def test_a_bad_transfer_is_not_served(
    tmp_path: Path, records: list[str], cut: bool, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakePrimary(5, records, cut=cut)
    fport = await fake.start()
    cfg = AuthConfig(listen=(f"{HOST}:0",), secondary={"xfr.test": f"{HOST}:{fport}"},
                     secondary_dir=str(tmp_path))  # fmt: skip
    try:
        with caplog.at_level(logging.WARNING, logger="dnsserver.secondary"):
            async with running(cfg) as srv:

                async def tried() -> bool:
                    return fake.transfers >= 1 and "transfer from" in caplog.text

                await wait_for(tried)
                q = dns.message.make_query("www.xfr.test.", "A")
                r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
                assert r.rcode() == dns.rcode.SERVFAIL  # nothing half-loaded is served
        assert "transfer from 127.0.0.1 failed, keeping serial None" in caplog.text
        assert why in caplog.text
        assert not (tmp_path / "xfr.test.zone").exists()
    finally:
        fake.close()


async def test_records_outside_the_zone_are_left_out_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakePrimary(5, [*GOOD, "evil.example.org. 60 IN A 203.0.113.1",
                           "www.xfr.test. 60 IN A 192.0.2.1"])  # fmt: skip
    fport = await fake.start()
    cfg = AuthConfig(listen=(f"{HOST}:0",), secondary={"xfr.test": f"{HOST}:{fport}"},
                     secondary_dir=str(tmp_path))  # fmt: skip
    try:
        with caplog.at_level(logging.WARNING, logger="dnsserver.secondary"):
            async with running(cfg) as srv:
                await wait_for(lambda: _is(serial_of(srv), 5))
                q = dns.message.make_query("www.xfr.test.", "A")
                r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
                assert r.answer[0][0].address == "192.0.2.1"
        assert "held 1 record outside the zone (evil.example.org.): ignored" in caplog.text
        assert "evil" not in (tmp_path / "xfr.test.zone").read_text()  # RFC 5936 §3.5
    finally:
        fake.close()


async def test_a_primary_going_back_in_serials_is_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakePrimary(5, GOOD)
    fport = await fake.start()
    cfg = AuthConfig(listen=(f"{HOST}:0",), secondary={"xfr.test": f"{HOST}:{fport}"},
                     secondary_dir=str(tmp_path))  # fmt: skip
    try:
        async with running(cfg) as srv:
            await wait_for(lambda: _is(serial_of(srv), 5))
            fake.serial = 4  # a primary restored from an old backup, say
            assert srv.secondaries is not None
            with caplog.at_level(logging.WARNING, logger="dnsserver.secondary"):
                srv.secondaries.notify(_notify_wire(), HOST)

                async def warned() -> bool:
                    return "is before ours (5): not followed" in caplog.text

                await wait_for(warned)
            assert await serial_of(srv) == 5 and fake.transfers == 1
    finally:
        fake.close()


def _notify_wire() -> bytes:
    msg = dns.message.make_query("xfr.test.", "SOA")
    msg.flags = dns.flags.AA
    msg.set_opcode(dns.opcode.NOTIFY)
    return msg.to_wire()


async def test_a_check_that_raises_is_logged_and_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dnsserver.aio import secondary as aio_secondary
    from dnsserver.secondary import Timers

    calls = []

    async def broken(*args: object, **kw: object) -> None:
        calls.append(1)
        raise OSError("no socket left")

    monkeypatch.setattr(aio_secondary.dnsclient, "udp_exchange", broken)
    cfg = AuthConfig(listen=(f"{HOST}:0",), secondary={"xfr.test": f"{HOST}:1"},
                     secondary_dir=str(tmp_path))  # fmt: skip
    srv = DnsServer(cfg)
    assert srv.secondaries is not None
    for sz in srv.secondaries.zones.values():
        sz.timers.timers = Timers(retry=0.05)  # (MIN_RETRY makes it 1 s)
    with caplog.at_level(logging.ERROR, logger="dnsserver.secondary"):
        async with running_started(srv):

            async def twice() -> bool:
                return len(calls) >= 2

            await wait_for(twice, 5.0)
    assert "secondary xfr.test.: the check failed" in caplog.text
    assert "OSError: no socket left" in caplog.text


@contextlib.asynccontextmanager
async def running_started(srv: DnsServer) -> AsyncIterator[DnsServer]:
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.mark.parametrize("signed", [False, True])
async def test_a_transfer_asked_with_edns_answers_with_edns(tmp_path: Path, signed: bool) -> None:
    cfg = primary_config(tmp_path, extra=2000, allow_transfer={"xfr.test": ("127.0.0.0/8",)})
    async with running(cfg) as srv:
        q = dns.message.make_query("xfr.test.", "AXFR", use_edns=0, want_dnssec=True)
        if signed:
            q.use_tsig(RING, keyname=KEY.name)
        wire = q.to_wire()
        reader, writer = await asyncio.open_connection(HOST, port(srv))
        writer.write(struct.pack("!H", len(wire)) + wire)
        got, ctx = [], None
        async with asyncio.timeout(T):
            while sum(1 for m in got for r in m.answer if r.rdtype == dns.rdatatype.SOA) < 2:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(n)
                m = dns.message.from_wire(
                    data, keyring=RING if signed else None,
                    request_mac=(b"" if got else q.mac) if signed else b"",
                    multi=signed, tsig_ctx=ctx, one_rr_per_rrset=True,
                )  # fmt: skip
                ctx = m.tsig_ctx
                got.append(m)
        writer.close()
        assert len(got) > 1
        for m in got:  # RFC 6891 §7: an OPT in every answer to a request with one
            assert m.edns == 0 and m.payload == 1232 and m.ednsflags & dns.flags.DO
            assert m.had_tsig == signed
