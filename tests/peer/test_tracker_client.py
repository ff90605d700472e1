"""The announcer against our own tracker daemon in-process (HTTP and UDP, real sockets on
loopback), and against trackers that misbehave: silent, refusing, broken, oversized."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from peer.aio.tracker import Announcer
from peer.announce import AnnounceRequest, Tiers, TrackerError, TrackerFailure
from tracker.aio.server import TrackerDaemon
from tracker.config import TrackerConfig

HASH = bytes(range(20))


@pytest.fixture
async def daemon() -> AsyncIterator[tuple[str, str]]:
    config = TrackerConfig(rate_per_ip=0.0, interval=120, min_interval=30)
    d = TrackerDaemon(config, http=("127.0.0.1", 0), udp=("127.0.0.1", 0), rng=random.Random(1))
    ports = await d.start()
    try:
        yield (
            f"http://127.0.0.1:{ports['http']}/announce",
            f"udp://127.0.0.1:{ports['udp']}/announce",
        )
    finally:
        await d.stop()


def announcer(urls: list[list[str]], host: str, n: int, port: int, **kw: object) -> Announcer:
    request = AnnounceRequest(
        info_hash=HASH,
        peer_id=b"-MN0100-%012d" % n,
        port=port,
        uploaded=0,
        downloaded=0,
        left=100,
    )
    return Announcer(Tiers(urls, random.Random(n)), request, host=host, rng=random.Random(n), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [0, 1], ids=["http", "udp"])
async def test_peers_find_each_other_at_their_own_addresses(
    daemon: tuple[str, str], kind: int
) -> None:
    url = daemon[kind]
    first = announcer([[url]], "127.0.0.2", 1, 6881)
    second = announcer([[url]], "127.0.0.3", 2, 6882)
    try:
        used, reply = await first.announce("started", uploaded=0, downloaded=0, left=100)
        assert used == url and reply.peers == () and reply.interval == 120
        _, reply = await second.announce("started", uploaded=0, downloaded=0, left=100)
        assert reply.peers == (("127.0.0.2", 6881),)  # the address it announced from
        assert (reply.complete, reply.incomplete) == (0, 2)
        _, reply = await first.announce("completed", uploaded=0, downloaded=100, left=0)
        assert reply.peers == (("127.0.0.3", 6882),)
        assert (reply.complete, reply.incomplete) == (1, 1)
        await second.announce("stopped", uploaded=0, downloaded=0, left=100)
        _, reply = await first.announce("", uploaded=5, downloaded=100, left=0)
        assert reply.peers == ()
    finally:
        await first.close()
        await second.close()


async def test_a_dead_tracker_is_passed_over_and_the_live_one_moves_first(
    daemon: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/announce"
    a = announcer([[dead, daemon[0]], [daemon[1]]], "127.0.0.2", 1, 6881)
    a.tiers.tiers = [[dead, daemon[0]], [daemon[1]]]  # the dead one first
    try:
        used, _ = await a.announce("started", uploaded=0, downloaded=0, left=100)
    finally:
        await a.close()
    assert used == daemon[0]
    assert a.tiers.order() == [daemon[0], dead, daemon[1]]
    assert f"tracker {dead}: " in caplog.text


async def test_udp_to_a_closed_port_and_to_a_silent_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        a = announcer([[f"udp://127.0.0.1:{port}"]], "127.0.0.2", 1, 6881, timeout=0.6)
        with pytest.raises(TrackerError, match=r"^no UDP answer after 2 tries$"):
            await a.announce("started", uploaded=0, downloaded=0, left=100)
        assert len([silent.recv(100) for _ in range(2)]) == 2  # the request, sent twice
    closed = announcer([[f"udp://127.0.0.1:{port}"]], "127.0.0.2", 1, 6881, timeout=5.0)
    with pytest.raises(TrackerError, match="Connection refused"):
        await closed.announce("started", uploaded=0, downloaded=0, left=100)


async def fake_tracker(handler: web.Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/announce", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/announce"


@pytest.mark.parametrize(
    ("body", "status", "error", "message"),
    [
        (b"d14:failure reason7:go awaye", 200, TrackerFailure, "^go away$"),
        (b"<html>oops</html>", 200, TrackerError, "^the reply is not bencoded"),
        (b"d8:intervali5ee", 404, TrackerError, "^HTTP 404 Not Found$"),
        (b"x" * (1 << 20) + b"y", 200, TrackerError, "^a reply of more than 1048576 bytes$"),
    ],
)
async def test_a_tracker_that_refuses_or_breaks(
    body: bytes, status: int, error: type[Exception], message: str
) -> None:
    asked: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        asked.append(request.raw_path)
        return web.Response(body=body, status=status)

    runner, url = await fake_tracker(handler)
    a = announcer([[url]], "127.0.0.2", 1, 6881)
    try:
        with pytest.raises(error, match=message):
            await a.announce("started", uploaded=0, downloaded=0, left=100)
    finally:
        await a.close()
        await runner.cleanup()
    assert len(asked) == 1 and "event=started" in asked[0]


async def test_a_tracker_id_goes_back_to_its_tracker() -> None:
    asked: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        asked.append(request.raw_path)
        return web.Response(body=b"d8:intervali60e10:tracker id3:t/1e")

    runner, url = await fake_tracker(handler)
    a = announcer([[url]], "127.0.0.2", 1, 6881)
    try:
        await a.announce("started", uploaded=0, downloaded=0, left=100)
        await a.announce("", uploaded=0, downloaded=0, left=100)
    finally:
        await a.close()
        await runner.cleanup()
    assert "trackerid" not in asked[0] and asked[1].endswith("&trackerid=t%2F1")


async def test_no_usable_tracker() -> None:
    a = announcer([], "127.0.0.2", 1, 6881)
    with pytest.raises(TrackerError, match=r"^the torrent lists no tracker we can use$"):
        await a.announce("started", uploaded=0, downloaded=0, left=100)


async def test_a_tracker_too_slow_to_answer(tmp_path: Path) -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(body=b"d8:intervali60ee")

    runner, url = await fake_tracker(handler)
    a = announcer([[url]], "127.0.0.2", 1, 6881, timeout=0.3)
    try:
        with pytest.raises(TrackerError, match="no answer in time"):
            await a.announce("started", uploaded=0, downloaded=0, left=100)
    finally:
        await a.close()
        await runner.cleanup()
