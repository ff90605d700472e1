"""The daemon in-process on 127.0.0.1 port 0: real HTTP (aiohttp client, raw sockets) and UDP."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bencodepy
import pytest

from minternet.control import request as control_request
from tests.tracker.conftest import IH, announce_query, enc, pid
from tracker.aio.server import TrackerDaemon
from tracker.config import TrackerConfig

HOST = "127.0.0.1"


async def start(**cfg: object) -> tuple[TrackerDaemon, dict[str, int]]:
    config = TrackerConfig(**{"rate_per_ip": 0.0, **cfg})  # type: ignore[arg-type]
    daemon = TrackerDaemon(config, http=(HOST, 0), udp=(HOST, 0), rng=random.Random(1))
    return daemon, await daemon.start()


@pytest.fixture(params=["builtin", "aiohttp"])
async def tracker(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TrackerDaemon, str]]:
    daemon, ports = await start(http_server=request.param)
    try:
        yield daemon, f"http://{HOST}:{ports['http']}"
    finally:
        await daemon.stop()


@pytest.fixture
async def builtin() -> AsyncIterator[tuple[TrackerDaemon, dict[str, int]]]:
    daemon, ports = await start(
        http_request_timeout=0.3, http_keepalive_timeout=0.3, http_max_request_line=1024
    )
    try:
        yield daemon, ports
    finally:
        await daemon.stop()


async def test_announce_compact_noncompact_scrape_stats(tracker: tuple[TrackerDaemon, str]) -> None:
    _, base = tracker
    async with aiohttp.ClientSession() as s:
        # yarl would re-quote a str URL; pass the raw percent-encoded query untouched.
        async def get(path: str) -> bytes:
            async with s.get(aiohttp.client.URL(base + path, encoded=True)) as r:
                assert r.status == 200
                return await r.read()

        d = bencodepy.decode(await get("/announce?" + announce_query(peer_id=pid(1), port=7001)))
        assert d[b"peers"] == b"" and d[b"incomplete"] == 1
        d = bencodepy.decode(
            await get("/announce?" + announce_query(peer_id=pid(2), port=7002, left=0))
        )
        assert d[b"peers"] == socket.inet_aton(HOST) + struct.pack(">H", 7001)
        d = bencodepy.decode(await get("/announce?" + announce_query(peer_id=pid(3), compact=0)))
        assert sorted(p[b"port"] for p in d[b"peers"]) == [7001, 7002]
        assert {p[b"ip"] for p in d[b"peers"]} == {HOST.encode()}
        d = bencodepy.decode(await get("/scrape?info_hash=" + enc(IH)))
        assert d[b"files"][IH] == {b"complete": 1, b"downloaded": 0, b"incomplete": 2}
        assert bencodepy.decode(await get("/announce?info_hash=abc"))[b"failure reason"] == (
            b"invalid info_hash: must be 20 bytes"
        )
        stats = json.loads(await get("/stats.json"))
        assert stats["peers"] == 3 and stats["torrents"][0]["info_hash"] == IH.hex()
        assert IH.hex().encode() in await get("/")
        async with s.get(base + "/nope") as r:
            assert r.status == 404


async def test_oversize_query_and_headers_get_4xx_never_500(
    tracker: tuple[TrackerDaemon, str],
) -> None:
    _, base = tracker
    async with aiohttp.ClientSession() as s:
        long_query = "/announce?" + announce_query() + "&pad=" + "x" * 20000
        async with s.get(aiohttp.client.URL(base + long_query, encoded=True)) as r:
            assert 400 <= r.status < 500
        async with (
            aiohttp.ClientSession() as s2,
            s2.get(base + "/stats.json", headers={"X-Big": "y" * 20000}) as r,
        ):
            assert 400 <= r.status < 500
        many = {f"X-H{i}": "1" for i in range(200)}
        async with aiohttp.ClientSession() as s3, s3.get(base + "/stats.json", headers=many) as r:
            assert 400 <= r.status < 500
        # and the tracker keeps serving
        async with s.get(base + "/stats.json") as r:
            assert r.status == 200


async def raw_exchange(port: int, data: bytes, read_until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(
            reader.read(-1) if read_until_close else reader.read(65536), 10
        )
    finally:
        writer.close()
        await writer.wait_closed()


def responses(blob: bytes) -> list[tuple[int, bytes]]:
    """Split pipelined HTTP/1.1 responses framed by Content-Length."""
    out = []
    while blob:
        head, _, rest = blob.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        out.append((status, rest[:length]))
        blob = rest[length:]
    return out


async def test_pipelined_requests_are_answered_in_order(
    builtin: tuple[TrackerDaemon, dict[str, int]],
) -> None:
    _, ports = builtin
    reqs = b"".join(
        b"GET /announce?%s HTTP/1.1\r\nHost: t\r\n\r\n"
        % announce_query(peer_id=pid(n), port=7000 + n).encode()
        for n in range(100)
    )
    blob = await raw_exchange(
        ports["http"], reqs + b"GET /stats.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    got = responses(blob)
    assert len(got) == 101 and all(status == 200 for status, _ in got)
    assert [bencodepy.decode(body)[b"incomplete"] for _, body in got[:100]] == list(range(1, 101))
    assert json.loads(got[100][1])["peers"] == 100


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /" + b"a" * 2000, 414),  # no line end yet, already too long
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 100 + b"\r\n", 431),
        (b"BLAH\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    ],
)
async def test_malformed_http_gets_4xx_or_5xx_and_a_close(
    builtin: tuple[TrackerDaemon, dict[str, int]], request_bytes: bytes, status: int
) -> None:
    _, ports = builtin
    blob = await raw_exchange(ports["http"], request_bytes)
    assert blob.startswith(b"HTTP/1.1 %d " % status)
    assert b"Connection: close" in blob


async def test_methods_head_http10_and_bodies(
    builtin: tuple[TrackerDaemon, dict[str, int]],
) -> None:
    _, ports = builtin
    got = responses(
        await raw_exchange(
            ports["http"],
            b"POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /stats.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
    )
    assert [s for s, _ in got] == [405, 200]
    head = await raw_exchange(ports["http"], b"HEAD /stats.json HTTP/1.0\r\n\r\n")
    absolute = await raw_exchange(
        ports["http"],
        b"GET http://tracker:80/stats.json HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n",
    )
    assert absolute.startswith(b"HTTP/1.1 200 OK") and b'"swarms"' in absolute
    assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")  # no body, closed


async def test_slow_and_idle_clients_are_closed(
    builtin: tuple[TrackerDaemon, dict[str, int]],
) -> None:
    _, ports = builtin
    reader, writer = await asyncio.open_connection(HOST, ports["http"])
    try:
        writer.write(b"GET /stats.json HTTP/1.1\r\nHost: ")  # ... and never finishes
        await writer.drain()
        blob = await asyncio.wait_for(reader.read(-1), 10)
        assert blob.startswith(b"HTTP/1.1 408 ")
    finally:
        writer.close()
        await writer.wait_closed()
    reader, writer = await asyncio.open_connection(HOST, ports["http"])
    try:
        assert await asyncio.wait_for(reader.read(-1), 10) == b""  # idle: closed, no reply
    finally:
        writer.close()
        await writer.wait_closed()


async def udp_request(port: int, data: bytes) -> bytes | None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((HOST, port))
        await loop.sock_sendall(sock, data)
        try:
            return await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.5)
        except TimeoutError:
            return None
    finally:
        sock.close()


async def test_udp_connect_announce_scrape_and_garbage(
    builtin: tuple[TrackerDaemon, dict[str, int]],
) -> None:
    _, ports = builtin
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((HOST, ports["udp"]))

        async def ask(data: bytes) -> bytes:
            await loop.sock_sendall(sock, data)
            return await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)

        reply = await ask(struct.pack(">QII", 0x41727101980, 0, 99))
        action, tid, cid = struct.unpack(">IIQ", reply)
        assert (action, tid) == (0, 99)
        ann = struct.pack(">QII20s20sQQQIIIiH", cid, 1, 100, IH, pid(1), 0, 0, 0, 2, 0, 0, -1, 7001)
        reply = await ask(ann)
        assert struct.unpack(">IIIII", reply[:20]) == (1, 100, 300, 0, 1)
        reply = await ask(struct.pack(">QII", cid, 2, 101) + IH)
        assert struct.unpack(">IIIII", reply) == (2, 101, 1, 0, 0)
        reply = await ask(struct.pack(">QII", cid ^ 0xFFFF, 1, 102) + ann[16:])
        assert reply[:8] == struct.pack(">II", 3, 102) and b"connection id" in reply
        reply = await ask(struct.pack(">QII", cid, 1, 103) + b"short")
        assert reply[:8] == struct.pack(">II", 3, 103)
    finally:
        sock.close()
    assert await udp_request(ports["udp"], b"garbage") is None  # too short to answer: dropped
    # the HTTP side sees the UDP peer
    blob = await raw_exchange(
        ports["http"], b"GET /scrape?info_hash=%s HTTP/1.0\r\n\r\n" % enc(IH).encode()
    )
    assert b"d8:completei1e" in blob


async def test_a_client_that_never_reads_is_paused_and_others_are_served() -> None:
    daemon, ports = await start()
    writer = None
    try:
        _, writer = await asyncio.open_connection(HOST, ports["http"])
        request = b"GET /announce?%s HTTP/1.1\r\nHost: t\r\n\r\n" % announce_query().encode()
        writer.write(request * 40000)  # ~8 MB of pipelined announces, replies never read
        assert daemon._http is not None
        for _ in range(200):
            if any(c.write_paused for c in daemon._http.connections):
                break
            await asyncio.sleep(0.05)
        assert any(c.write_paused and c.read_paused for c in daemon._http.connections)
        blob = await raw_exchange(ports["http"], b"GET /stats.json HTTP/1.0\r\n\r\n")
        assert blob.startswith(b"HTTP/1.1 200 OK")
    finally:
        if writer is not None:
            writer.transport.abort()
        await daemon.stop()


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6(), reason="no IPv6 loopback")
async def test_ipv6_listeners_and_peers6() -> None:
    config = TrackerConfig(rate_per_ip=0.0)
    daemon = TrackerDaemon(config, http=("::1", 0), udp=("::1", 0), rng=random.Random(1))
    ports = await daemon.start()
    try:
        async with aiohttp.ClientSession() as s:
            for n in (1, 2):
                url = f"http://[::1]:{ports['http']}/announce?" + announce_query(
                    peer_id=pid(n), port=7000 + n
                )
                async with s.get(aiohttp.client.URL(url, encoded=True)) as r:
                    d = bencodepy.decode(await r.read())
        assert d[b"peers"] == b""
        assert d[b"peers6"] == socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 7001)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(("::1", ports["udp"]))
            await loop.sock_sendall(sock, struct.pack(">QII", 0x41727101980, 0, 1))
            _, _, cid = struct.unpack(">IIQ", await asyncio.wait_for(loop.sock_recv(sock, 64), 5))
            ann = struct.pack(
                ">QII20s20sQQQIIIiH", cid, 1, 2, IH, pid(3), 0, 1, 0, 0, 0, 0, -1, 7003
            )
            await loop.sock_sendall(sock, ann)
            reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
        finally:
            sock.close()
        assert struct.unpack(">IIIII", reply[:20]) == (1, 2, 300, 3, 0)
        peers = {reply[i : i + 18] for i in range(20, len(reply), 18)}
        ip6 = socket.inet_pton(socket.AF_INET6, "::1")
        assert peers == {ip6 + struct.pack(">H", 7001), ip6 + struct.pack(">H", 7002)}
    finally:
        await daemon.stop()


async def test_an_active_pipelining_client_is_not_timed_out(
    builtin: tuple[TrackerDaemon, dict[str, int]],
) -> None:
    """Requests split across writes keep arriving for longer than the request timeout (0.3 s):
    each complete request restarts the clock, so no 408."""
    _, ports = builtin
    one = b"GET /stats.json HTTP/1.1\r\nHost: t\r\n\r\n"
    stream = one * 16 + b"GET /stats.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    reader, writer = await asyncio.open_connection(HOST, ports["http"])
    try:
        step = len(one) // 2 + 3  # every write ends in the middle of a request
        for i in range(0, len(stream), step):
            writer.write(stream[i : i + step])
            await asyncio.sleep(0.1)
        blob = await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    assert [status for status, _ in responses(blob)] == [200] * 17


async def test_aiohttp_backend_logs_client_faults_in_one_line_and_serves_get_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aiohttp logged every unparsable request at ERROR with a traceback, logged one access
    # line per announce, and answered POST/DELETE like GET.
    daemon, ports = await start(http_server="aiohttp")
    try:
        with caplog.at_level(logging.DEBUG):
            for bad in (
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",  # TLS on the HTTP port
            ):
                blob = await raw_exchange(ports["http"], bad)
                assert blob.split(b"\r\n")[0].endswith(b" 400 Bad Request"), blob[:40]
                assert b"Traceback" not in blob
            post = await raw_exchange(
                ports["http"],
                b"POST /stats.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            assert post.startswith(b"HTTP/1.1 405 ") and b"swarms" not in post
            ok = await raw_exchange(
                ports["http"],
                b"GET /stats.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            assert ok.startswith(b"HTTP/1.1 200 ")
        assert not [r for r in caplog.records if r.exc_info], "a traceback in the log"
        assert not [r for r in caplog.records if r.name == "aiohttp.access"]
        faults = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert faults and all("http 127.0.0.1: " in r.getMessage() for r in faults)
    finally:
        await daemon.stop()


async def test_a_bad_whitelist_on_reload_keeps_the_old_one_with_one_line_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wl = tmp_path / "whitelist"
    wl.write_text(IH.hex() + "\n")
    daemon, _ = await start(whitelist_file=str(wl))
    try:
        wl.write_text("not a hash\n")
        with caplog.at_level(logging.INFO):
            daemon.reload()  # what SIGHUP calls
        assert daemon.registry.whitelist == frozenset({IH})
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "whitelist line 1" in errors[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
    finally:
        await daemon.stop()


async def test_the_control_endpoint_reports_swarms_peers_and_announces() -> None:
    config = TrackerConfig(rate_per_ip=0.0)
    daemon = TrackerDaemon(config, http=(HOST, 0), control=(HOST, 0), rng=random.Random(1))
    ports = await daemon.start()
    try:
        await raw_exchange(
            ports["http"], b"GET /announce?%s HTTP/1.0\r\n\r\n" % announce_query().encode()
        )
        reply = await asyncio.to_thread(control_request, f"{HOST}:{ports['control']}", "stats")
        assert reply["stats"] == {"swarms": 1, "peers": 1, "announces": 1, "http_connections": 0}
    finally:
        await daemon.stop()
