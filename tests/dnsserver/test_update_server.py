"""Dynamic update on a live server: real UDP and TCP, the journal on disk, restarts, reloads,
SIGKILL, hostile updaters, and the real `nsupdate`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.query
import dns.rcode
import dns.update
import pytest

from dnsserver import journal, tsigkeys
from dnsserver.aio import dynamic as aio_dynamic
from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig
from dnsserver.errors import ZoneError
from dnsserver.tsigkeys import KeyFileError

HOST = "127.0.0.1"
T = 5.0
KEY = tsigkeys.generate("live.test", bytes(range(32)))
RING = tsigkeys.keyring([KEY])
ZONE = """$ORIGIN live.test.
$TTL 60
@ SOA ns1 hostmaster 1 7200 3600 1209600 30
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
"""


def files(tmp: Path) -> AuthConfig:
    (tmp / "live.zone").write_text(ZONE)
    (tmp / "live.key").write_text(KEY.text())
    return AuthConfig(
        zones=(str(tmp / "live.zone"),),
        listen=(f"{HOST}:0",),
        keys=(str(tmp / "live.key"),),
        allow_update={"live.test": ("live.test",)},
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[DnsServer]:
    srv = DnsServer(files(tmp_path), name="test-dyn")
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def port(srv: DnsServer) -> int:
    return srv.addresses[0][1]


def add(owner: str, address: str, ttl: int = 60) -> dns.update.UpdateMessage:
    u = dns.update.UpdateMessage("live.test", keyring=RING, keyname=KEY.name)
    u.add(owner, ttl, "A", address)
    return u


async def send(srv: DnsServer, u: dns.message.Message, *, tcp: bool = False) -> dns.message.Message:
    if tcp:
        return await dns.asyncquery.tcp(u, HOST, port=port(srv), timeout=T)
    return await dns.asyncquery.udp(u, HOST, port=port(srv), timeout=T)


async def addresses(srv: DnsServer, name: str) -> list[str]:
    q = dns.message.make_query(name, "A")
    r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


async def serial(srv: DnsServer) -> int:
    q = dns.message.make_query("live.test", "SOA")
    r = await dns.asyncquery.udp(q, HOST, port=port(srv), timeout=T)
    return int(r.answer[0][0].serial)


@pytest.mark.parametrize("tcp", [False, True])
async def test_an_update_is_answered_signed_and_served_at_once(
    server: DnsServer, tcp: bool
) -> None:
    assert await addresses(server, "new.live.test") == []  # (and cached as NXDOMAIN)
    u = add("new", "192.0.2.50")
    r = await send(server, u, tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.had_tsig  # dnspython verified the signature
    assert await addresses(server, "new.live.test") == ["192.0.2.50"]
    assert await serial(server) == 2
    # acknowledged means on disk: the journal holds it now, before any compaction
    data = Path(server.config.zones[0] + ".jnl").read_bytes()
    got = journal.read(data, (b"live", b"test"))
    assert [(e.start, e.end) for e in got.entries] == [(1, 2)]
    assert server.stats([])["stats"]["updates"] == 1


async def test_prerequisite_failures_change_nothing(server: DnsServer) -> None:
    u = dns.update.UpdateMessage("live.test", keyring=RING, keyname=KEY.name)
    u.absent("www")  # www exists: YXDOMAIN
    u.add("www", 60, "A", "192.0.2.9")
    r = await send(server, u)
    assert r.rcode() == dns.rcode.YXDOMAIN
    assert await addresses(server, "www.live.test") == ["192.0.2.1"]
    assert await serial(server) == 1
    assert not Path(server.config.zones[0] + ".jnl").exists()


async def test_unsigned_and_badly_signed_updates_leave_the_zone_alone(server: DnsServer) -> None:
    u = dns.update.UpdateMessage("live.test")
    u.add("evil", 60, "A", "203.0.113.1")
    assert (await send(server, u)).rcode() == dns.rcode.REFUSED
    forged = tsigkeys.generate("live.test", bytes(32))
    u = dns.update.UpdateMessage(
        "live.test", keyring=tsigkeys.keyring([forged]), keyname="live.test"
    )
    u.add("evil", 60, "A", "203.0.113.1")
    wire = u.to_wire()
    reply = await raw_udp(port(server), wire)
    m = dns.message.from_wire(reply, keyring=False)
    assert m.rcode() == dns.rcode.NOTAUTH and m.tsig is not None and m.tsig[0].error == 16
    assert await addresses(server, "evil.live.test") == []
    assert await serial(server) == 1


async def raw_udp(port_: int, wire: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(HOST, port_))
    try:
        transport.sendto(wire)
        async with asyncio.timeout(T):
            return await got
    finally:
        transport.close()


async def test_stop_compacts_and_a_restart_serves_the_updates(tmp_path: Path) -> None:
    cfg = files(tmp_path)
    srv = DnsServer(cfg, name="a")
    await srv.start()
    for i in range(3):
        assert (await send(srv, add(f"h{i}", f"192.0.2.{10 + i}"))).rcode() == dns.rcode.NOERROR
    await srv.stop()
    text = (tmp_path / "live.zone").read_text()
    assert "h2.live.test. 60 IN A 192.0.2.12" in text and " 4 7200 " in text
    srv = DnsServer(cfg, name="b")
    await srv.start()
    try:
        assert await addresses(srv, "h1.live.test") == ["192.0.2.11"]
        assert await serial(srv) == 4
        assert (await send(srv, add("h3", "192.0.2.13"))).rcode() == dns.rcode.NOERROR
        assert await serial(srv) == 5
    finally:
        await srv.stop()


async def test_a_restart_replays_the_journal_and_cuts_a_torn_entry(tmp_path: Path) -> None:
    cfg = files(tmp_path)
    srv = DnsServer(cfg, name="a")
    await srv.start()
    assert (await send(srv, add("kept", "192.0.2.77"))).rcode() == dns.rcode.NOERROR
    # a crash: the process dies before compaction (the zone file is still at serial 1) and
    # while a second entry is half written
    assert srv.updater is not None
    for task in (srv.updater._worker, srv.updater._compactor):
        assert task is not None
        task.cancel()
    srv.updater._worker = srv.updater._compactor = None
    srv.updater.zones.clear()  # nothing left to compact at stop
    await srv.stop()
    jnl = tmp_path / "live.zone.jnl"
    good = jnl.read_bytes()
    jnl.write_bytes(good + b'0badc0de {"from":2,"to":3,"rem')
    assert "hostmaster 1 7200" in (tmp_path / "live.zone").read_text()  # not compacted
    srv = DnsServer(cfg, name="b")
    await srv.start()
    try:
        assert await addresses(srv, "kept.live.test") == ["192.0.2.77"]
        assert await serial(srv) == 2
        assert jnl.read_bytes() == good  # the torn entry is cut off before appending
        assert (await send(srv, add("next", "192.0.2.78"))).rcode() == dns.rcode.NOERROR
        got = journal.read(jnl.read_bytes())
        assert got.problem is None and [e.end for e in got.entries] == [2, 3]
    finally:
        await srv.stop()


async def test_reload_keeps_updates_and_takes_a_hand_edit(
    server: DnsServer, tmp_path: Path
) -> None:
    assert (await send(server, add("dyn", "192.0.2.60"))).rcode() == dns.rcode.NOERROR
    assert await server.reload()  # the file did not change: the update stays
    assert await addresses(server, "dyn.live.test") == ["192.0.2.60"]
    assert server.updater is not None
    await server.updater.compact()
    path = tmp_path / "live.zone"
    text = path.read_text().replace(" 2 7200 ", " 100 7200 ")
    path.write_text(text + "hand.live.test. 60 IN A 192.0.2.99\n")
    assert await server.reload()
    assert await addresses(server, "hand.live.test") == ["192.0.2.99"]
    assert await addresses(server, "dyn.live.test") == ["192.0.2.60"]
    assert await serial(server) == 100
    assert (await send(server, add("after", "192.0.2.61"))).rcode() == dns.rcode.NOERROR
    assert await serial(server) == 101


async def test_a_flood_of_updates_is_bounded_and_queries_still_answered(tmp_path: Path) -> None:
    server = DnsServer(files(tmp_path), name="flood")
    assert server.updater is not None
    assert server.updater.queue.maxsize == aio_dynamic.MAX_QUEUED
    server.updater.queue = asyncio.Queue(4)  # the bound, made small enough to reach
    await server.start()
    try:
        await flood(server)
    finally:
        await server.stop()


async def flood(server: DnsServer) -> None:
    wires = [add(f"f{i}", "192.0.2.1").to_wire() for i in range(40)]
    loop = asyncio.get_running_loop()
    replies: list[bytes] = []

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            replies.append(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(HOST, port(server)))
    try:
        for w in wires:
            transport.sendto(w)
        async with asyncio.timeout(10):
            while len(replies) < len(wires):
                await asyncio.sleep(0.02)
    finally:
        transport.close()
    rcodes = [dns.message.from_wire(r, keyring=False).rcode() for r in replies]
    assert rcodes.count(dns.rcode.REFUSED) > 0 and rcodes.count(dns.rcode.NOERROR) > 0
    assert set(rcodes) <= {dns.rcode.REFUSED, dns.rcode.NOERROR}
    assert await serial(server) == 1 + rcodes.count(dns.rcode.NOERROR)
    assert await addresses(server, "www.live.test") == ["192.0.2.1"]


def test_a_policy_for_an_unserved_zone_or_an_unknown_key_stops_the_start(tmp_path: Path) -> None:
    cfg = files(tmp_path)
    with pytest.raises(ZoneError, match=r"allow_update names other.test., which is not served"):
        DnsServer(dataclasses.replace(cfg, allow_update={"other.test": ("live.test",)}))
    with pytest.raises(KeyFileError, match=r"allow_update for live.test names key 'nokey'"):
        DnsServer(dataclasses.replace(cfg, allow_update={"live.test": ("nokey",)}))


# -- a real process, killed with SIGKILL ---------------------------------------------------


def start_process(tmp: Path, cfg: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    ready = tmp / f"{name}.ready"
    with open(tmp / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnsserver", "serve", "--config", str(cfg), "--name", name,
             "--ready-file", str(ready)],
            start_new_session=True, stderr=log,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((tmp / f"{name}.log").read_text())
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["ports"]["dns"]


def test_no_acknowledged_update_is_lost_to_sigkill(tmp_path: Path) -> None:
    (tmp_path / "live.zone").write_text(ZONE)
    (tmp_path / "live.key").write_text(KEY.text())
    cfg = tmp_path / "auth.toml"
    cfg.write_text(
        f'zones = ["{tmp_path / "live.zone"}"]\nlisten = ["{HOST}:0"]\n'
        f'keys = ["{tmp_path / "live.key"}"]\n[allow_update]\n"live.test" = ["live.test"]\n'
    )
    proc, p = start_process(tmp_path, cfg, "first")
    acked = []
    try:
        for i in range(20):
            u = add(f"k{i}", f"192.0.2.{i + 1}")
            r = (
                dns.query.tcp(u, HOST, port=p, timeout=T)
                if i % 2
                else dns.query.udp(u, HOST, port=p, timeout=T)
            )
            assert r.rcode() == dns.rcode.NOERROR
            acked.append(i)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to compact
        proc.wait()
    proc, p = start_process(tmp_path, cfg, "second")
    try:
        for i in acked:
            q = dns.message.make_query(f"k{i}.live.test", "A")
            r = dns.query.udp(q, HOST, port=p, timeout=T)
            assert [rd.to_text() for rs in r.answer for rd in rs] == [f"192.0.2.{i + 1}"]
        q = dns.message.make_query("live.test", "SOA")
        assert dns.query.udp(q, HOST, port=p, timeout=T).answer[0][0].serial == 21
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


# -- the real nsupdate ------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("nsupdate") is None, reason="apt-get install bind9-dnsutils")
async def test_nsupdate_adds_replaces_and_deletes(server: DnsServer, tmp_path: Path) -> None:
    keyfile = tmp_path / "live.key"

    async def nsupdate(*lines: str, tcp: bool = False) -> tuple[int, str]:
        script = "\n".join([f"server {HOST} {port(server)}", "zone live.test", *lines, "send", ""])
        proc = await asyncio.create_subprocess_exec(
            "nsupdate", *(["-v"] if tcp else []), "-k", str(keyfile), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(script.encode()), 30)
        return proc.returncode or 0, out.decode()

    assert await nsupdate("update add www2.live.test. 300 A 192.0.2.80",
                          "update add live.test. 300 MX 10 www2.live.test.") == (0, "")  # fmt: skip
    assert await addresses(server, "www2.live.test") == ["192.0.2.80"]
    assert await nsupdate("update delete www2.live.test. A",
                          "update add www2.live.test. 300 A 192.0.2.81") == (0, "")  # fmt: skip
    assert await addresses(server, "www2.live.test") == ["192.0.2.81"]
    rc, out = await nsupdate(
        "prereq nxdomain www.live.test", "update add www.live.test. 60 A 192.0.2.2"
    )
    assert rc == 2 and "YXDOMAIN" in out
    assert await nsupdate("update delete www2.live.test.") == (0, "")
    assert await addresses(server, "www2.live.test") == []
    # over TCP (-v), as nsupdate sends large updates
    assert await nsupdate('update add tcp.live.test. 60 TXT "over tcp"', tcp=True) == (0, "")
    assert await serial(server) == 5


async def test_mangled_updates_are_answered_or_dropped_and_change_nothing(
    server: DnsServer,
) -> None:
    import random

    rng = random.Random(7)
    good = add("mangled", "192.0.2.9").to_wire()
    replies = 0
    for i in range(300):
        wire = bytearray(good)
        for _ in range(rng.randint(1, 4)):  # flip a few bytes past the header's ID
            wire[rng.randrange(2, len(wire))] ^= 1 << rng.randrange(8)
        if i % 3 == 0:
            wire = wire[: rng.randrange(12, len(wire))]  # or cut it short
        if i % 2:
            reader, writer = await asyncio.open_connection(HOST, port(server))
            writer.write(len(wire).to_bytes(2, "big") + bytes(wire))
            try:
                async with asyncio.timeout(2):
                    n = int.from_bytes(await reader.readexactly(2), "big")
                    data = await reader.readexactly(n)
            except (TimeoutError, asyncio.IncompleteReadError):
                data = b""
            writer.close()
        else:
            try:
                data = await raw_udp(port(server), bytes(wire))
            except TimeoutError:
                data = b""
        if data:
            replies += 1
            assert data[:2] == bytes(wire[:2]) and data[2] & 0x80  # a response to it
            assert data[3] & 0xF != 0  # never NOERROR: a changed byte breaks the signature
    assert replies > 200
    assert await serial(server) == 1  # nothing was applied
    assert (await send(server, add("after", "192.0.2.10"))).rcode() == dns.rcode.NOERROR


async def test_compaction_trims_a_long_journal_and_appends_go_on(
    server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "KEEP", 2)
    for i in range(5):
        assert (await send(server, add(f"t{i}", "192.0.2.20"))).rcode() == dns.rcode.NOERROR
    assert server.updater is not None
    await server.updater.compact()  # 5 entries > 2 * KEEP: the journal keeps the last 2
    jnl = Path(server.config.zones[0] + ".jnl")
    assert [e.end for e in journal.read(jnl.read_bytes()).entries] == [5, 6]
    assert (await send(server, add("t5", "192.0.2.21"))).rcode() == dns.rcode.NOERROR
    assert [e.end for e in journal.read(jnl.read_bytes()).entries] == [5, 6, 7]  # the new file
    text = Path(server.config.zones[0]).read_text()
    assert "t4.live.test. 60 IN A 192.0.2.20" in text and " 6 7200 " in text


async def test_a_slow_disk_sends_the_fsync_to_a_worker_thread(
    server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    assert server.updater is not None
    where: list[str] = []
    real = server.updater._append

    def watched(staged: object) -> None:
        where.append(threading.current_thread().name)
        real(staged)  # type: ignore[arg-type]

    monkeypatch.setattr(server.updater, "_append", watched)
    server.updater.last_fsync = 0.5  # the last one was slow
    assert (await send(server, add("slow", "192.0.2.30"))).rcode() == dns.rcode.NOERROR
    assert server.updater.last_fsync < 0.5  # measured again
    server.updater.last_fsync = 0.0  # (a loaded machine may have taken more than 2 ms)
    assert (await send(server, add("fast", "192.0.2.31"))).rcode() == dns.rcode.NOERROR
    main = threading.main_thread().name
    assert where[0] != main and where[1] == main  # a worker thread, then the loop's own
    assert await addresses(server, "slow.live.test") == ["192.0.2.30"]


async def test_the_updates_of_a_datagram_batch_are_applied_in_it_with_one_fsync(
    server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await serial(server) == 1  # (the worker is waiting now)
    fsyncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(aio_dynamic.os, "fsync", lambda fd: (fsyncs.append(fd), real(fd))[1])
    sent: list[tuple[bytes, tuple[str, int]]] = []
    peer = (HOST, 5300)
    batch = [(add(f"b{i}", f"192.0.2.{i}").to_wire(), peer) for i in range(1, 4)]
    out: list[tuple[bytes, tuple[str, int]]] = []
    server.udp.datagrams(batch, 0.0, out, lambda data, addr: sent.append((data, addr)))
    # answered before datagrams() returned: no task switch, no turn of the loop
    assert [dns.message.from_wire(d, keyring=False).rcode() for d, _ in sent] == [0, 0, 0]
    assert [addr for _, addr in sent] == [peer] * 3 and out == []
    journal_fd = server.updater.zones[(b"live", b"test")].journal_fd
    assert fsyncs.count(journal_fd) == 1  # one batch, one fsync (and one of the new file's dir)
    assert await serial(server) == 4
    assert await addresses(server, "b3.live.test") == ["192.0.2.3"]


async def test_updates_wait_for_the_worker_while_the_zones_are_held(server: DnsServer) -> None:
    sent: list[bytes] = []
    batch = [(add("held", "192.0.2.9").to_wire(), (HOST, 5300))]
    async with server.updater.lock:  # (a compaction or a reload holds the zones)
        server.udp.datagrams(batch, 0.0, [], lambda data, addr: sent.append(data))
        await asyncio.sleep(0.05)
        assert sent == []  # not applied behind the holder's back
    async with asyncio.timeout(T):
        while not sent:
            await asyncio.sleep(0.01)
    assert dns.message.from_wire(sent[0], keyring=False).rcode() == dns.rcode.NOERROR
    assert await addresses(server, "held.live.test") == ["192.0.2.9"]


async def test_a_slow_disk_leaves_the_updates_to_the_worker(server: DnsServer) -> None:
    server.updater.last_fsync = 1.0  # the last fsync took a second
    sent: list[bytes] = []
    batch = [(add("slow", "192.0.2.8").to_wire(), (HOST, 5300))]
    server.udp.datagrams(batch, 0.0, [], lambda data, addr: sent.append(data))
    assert sent == []  # the fsync goes to a thread, by way of the worker
    async with asyncio.timeout(T):
        while not sent:
            await asyncio.sleep(0.01)
    assert dns.message.from_wire(sent[0], keyring=False).rcode() == dns.rcode.NOERROR
