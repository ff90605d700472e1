"""Our peers trading a torrent through our tracker, in one event loop over real sockets on
loopback: a download from a seed arrives byte for byte, a restart over part of the data fetches
only the rest, three downloaders and a seed all finish, a seed that sends bad data never makes
a download report success and is banned, and hostile connections (garbage, half handshakes
past the cap, oversized requests) are closed while the seed goes on."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peer.aio import link as link_module
from peer.aio import torrent as torrent_module
from peer.aio.torrent import MAX_STRIKES, Torrent
from peer.create import PieceHasher, build
from peer.metainfo import Metainfo, from_bytes
from peer.wire import Handshake, Interested, encode, encode_handshake
from tracker.aio.server import TrackerDaemon
from tracker.config import TrackerConfig

PIECE = 32768
SIZE = 40 * PIECE + 1234  # 41 pieces, the last one short


@pytest.fixture
async def tracker_url() -> AsyncIterator[str]:
    daemon = TrackerDaemon(
        TrackerConfig(rate_per_ip=0.0, interval=60, min_interval=5),
        http=("127.0.0.1", 0),
        rng=random.Random(1),
    )
    ports = await daemon.start()
    try:
        yield f"http://127.0.0.1:{ports['http']}/announce"
    finally:
        await daemon.stop()


def make(root: Path, url: str, data: bytes, name: str = "sample.bin") -> Metainfo:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    hasher = PieceHasher(PIECE)
    hasher.feed(data)
    return from_bytes(build(name, len(data), PIECE, hasher.pieces(), [url]))


def peer(
    meta: Metainfo,
    root: Path,
    n: int,
    *,
    seed: bool = False,
    events: list[tuple[str, dict[str, object]]] | None = None,
    max_up: float | None = None,
    max_down: float | None = None,
) -> Torrent:
    def record(kind: str, fields: dict[str, object]) -> None:
        if events is not None:
            events.append((kind, fields))

    return Torrent(
        meta,
        root,
        host=f"127.0.0.{70 + n}",
        port=0,
        peer_id=b"-MN0100-" + secrets.token_hex(6).encode(),
        seed_only=seed,
        rng=random.Random(n),
        on_event=record,
        max_up=max_up,
        max_down=max_down,
    )


async def finish(*downloads: Torrent, timeout: float = 30.0) -> None:
    await asyncio.wait_for(asyncio.gather(*(d.done.wait() for d in downloads)), timeout)


async def test_a_download_from_a_seed(tmp_path: Path, tracker_url: str) -> None:
    data = random.Random(5).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    seed = peer(meta, tmp_path / "seed", 1, seed=True)
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 2, events=events)
    await seed.start()
    await down.start()
    try:
        await finish(down)
    finally:
        await down.stop()
        await seed.stop()
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data
    kinds = [k for k, _ in events]
    assert kinds[0] == "verified" and "complete" in kinds
    announced = [f["event"] for k, f in events if k == "announce"]
    assert announced == ["started", "completed", "stopped"]
    picks = [f["text"] for k, f in events if k == "pick"]
    assert len(picks) == meta.num_pieces
    first = sum("random-first" in p for p in picks)  # until 4 pieces are complete, with the
    assert 4 <= first < len(picks)  # pipeline full of pieces started meanwhile; then rarest
    assert all("random-first" in p for p in picks[:first])
    assert all("rarest" in p or "endgame" in p for p in picks[first:])
    assert down.downloaded == seed.uploaded == SIZE


async def test_a_restart_fetches_only_what_is_missing(tmp_path: Path, tracker_url: str) -> None:
    data = random.Random(6).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    partial = bytearray(data)
    partial[10 * PIECE :] = bytes(len(partial) - 10 * PIECE)  # the first 10 pieces are there
    partial[3 * PIECE + 7] ^= 0xFF  # ... but piece 3 is damaged
    (tmp_path / "down").mkdir()
    (tmp_path / "down" / "sample.bin").write_bytes(partial)
    seed = peer(meta, tmp_path / "seed", 3, seed=True)
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 4, events=events)
    await seed.start()
    await down.start()
    try:
        assert events[0] == ("verified", {"pieces": 9, "of": meta.num_pieces})
        await finish(down)
    finally:
        await down.stop()
        await seed.stop()
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data
    assert down.downloaded == SIZE - 9 * PIECE


async def test_three_downloaders_and_a_seed(tmp_path: Path, tracker_url: str) -> None:
    data = random.Random(7).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    seed = peer(meta, tmp_path / "seed", 5, seed=True)
    downs = [peer(meta, tmp_path / f"d{n}", 6 + n) for n in range(3)]
    await seed.start()
    for d in downs:
        await d.start()
    try:
        await finish(*downs)
    finally:
        for d in downs:
            await d.stop()
        await seed.stop()
    for n in range(3):
        assert hashlib.sha256((tmp_path / f"d{n}" / "sample.bin").read_bytes()).digest() == (
            hashlib.sha256(data).digest()
        )


async def test_a_seed_of_bad_data_never_completes_a_download_and_is_banned(
    tmp_path: Path, tracker_url: str
) -> None:
    data = random.Random(8).randbytes(SIZE)
    meta = make(tmp_path / "good", tracker_url, data)
    liar = peer(meta, tmp_path / "good", 9, seed=True)
    await liar.start()  # verified while the data was good
    with open(tmp_path / "good" / "sample.bin", "r+b") as f:  # then every piece goes bad
        f.write(bytes(SIZE))
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 10, events=events)
    await down.start()
    try:
        with pytest.raises(TimeoutError):
            await finish(down, timeout=3.0)
    finally:
        await down.stop()
        await liar.stop()
    failed = [f for k, f in events if k == "hash-failed"]
    assert len(failed) >= MAX_STRIKES
    assert down.have.count == 0 and not (tmp_path / "down" / "sample.bin").read_bytes().strip(b"\0")
    assert liar.host in down.banned


async def test_a_seed_needs_all_its_data(tmp_path: Path, tracker_url: str) -> None:
    data = random.Random(9).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    with open(tmp_path / "seed" / "sample.bin", "r+b") as f:
        f.seek(5 * PIECE)
        f.write(b"x")
    seed = peer(meta, tmp_path / "seed", 11, seed=True)
    with pytest.raises(ValueError, match=r"1 of 41 pieces are missing or damaged: not seeding"):
        await seed.start()
    await seed.stop()


async def raw(seed: Torrent, src: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(seed.host, seed.port, local_addr=(src, 0))


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        while await asyncio.wait_for(reader.read(65536), seconds):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_hostile_connections_are_closed_and_the_seed_goes_on(
    tmp_path: Path,
    tracker_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(torrent_module, "MAX_CONNECTIONS", 3)
    monkeypatch.setattr(link_module, "HANDSHAKE_TIMEOUT", 0.5)
    caplog.set_level(logging.INFO, logger="peer")
    writers: list[asyncio.StreamWriter] = []
    data = random.Random(10).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    seed = peer(meta, tmp_path / "seed", 12, seed=True)
    await seed.start()
    hello = encode_handshake(Handshake(bytes(8), meta.info_hash, b"-XX0000-" + bytes(12)))
    try:
        # an encrypted opening (aria2c's) or garbage: closed at once, without a word
        r, w = await raw(seed, "127.0.0.91")
        writers.append(w)
        w.write(b"\x16\x03\x01 hello")
        assert await closed_within(r, 0.3)
        # half a handshake, three times: the cap counts them; a fourth is closed at once
        slow = [await raw(seed, f"127.0.0.{92 + n}") for n in range(3)]
        for _, sw in slow:
            writers.append(sw)
            sw.write(hello[:30])
        r4, w4 = await raw(seed, "127.0.0.95")
        writers.append(w4)
        assert await closed_within(r4, 0.3)
        assert not await closed_within(slow[0][0], 0.1)  # still in its handshake...
        assert await closed_within(slow[0][0], 1.0)  # ... until its timeout
        # a request for more than a block: that connection closes, with the reason logged
        r, w = await raw(seed, "127.0.0.96")
        writers.append(w)
        w.write(hello + encode(Interested()))
        await asyncio.sleep(0.2)
        w.write(struct.pack(">IBIII", 13, 6, 0, 0, 1 << 20))
        assert await closed_within(r, 1.0)
        assert "127.0.0.96:" in caplog.text and "1048576" in caplog.text
        # and a real download still completes
        down = peer(meta, tmp_path / "down", 13)
        await down.start()
        try:
            await finish(down)
        finally:
            await down.stop()
    finally:
        for w in writers:
            w.close()
        await seed.stop()
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data


@pytest.mark.parametrize("side", ["max_up", "max_down"])
async def test_a_rate_limit_holds_the_transfer_back(
    tmp_path: Path, tracker_url: str, side: str
) -> None:
    # 1.3 MB at 512 KiB/s (a burst of one second's worth first) takes at least 1.5 s; without
    # a limit it takes a fraction of that. (A lower bound only: a loaded machine is slower.)
    data = random.Random(11).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    limit = {side: 512 * 1024.0}
    seed = peer(meta, tmp_path / "seed", 14, seed=True, **(limit if side == "max_up" else {}))
    down = peer(meta, tmp_path / "down", 15, **(limit if side == "max_down" else {}))
    await seed.start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await down.start()
    try:
        await finish(down)
    finally:
        await down.stop()
        await seed.stop()
    assert loop.time() - t0 >= (SIZE - 512 * 1024) / (512 * 1024) - 0.05
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data


async def test_a_seed_leaving_mid_transfer_its_requests_go_to_another(
    tmp_path: Path, tracker_url: str
) -> None:
    # churn: two seeds, one stops while the download is under way (throttled so that it is)
    data = random.Random(12).randbytes(SIZE)
    meta = make(tmp_path / "s1", tracker_url, data)
    make(tmp_path / "s2", tracker_url, data)
    first = peer(meta, tmp_path / "s1", 16, seed=True, max_up=256 * 1024.0)
    second = peer(meta, tmp_path / "s2", 17, seed=True, max_up=256 * 1024.0)
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 18, events=events)
    await first.start()
    await second.start()
    await down.start()
    try:
        for _ in range(100):  # until both seeds are sending
            if first.uploaded and second.uploaded:
                break
            await asyncio.sleep(0.05)
        assert first.uploaded and second.uploaded
        await first.stop()  # leaves mid-transfer: its connection drops, its requests move
        await finish(down, timeout=20.0)
    finally:
        await down.stop()
        await second.stop()
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data
    gone = f"{first.host}:{first.port}"
    assert ("disconnected", {"peer": gone}) in events
    assert down.downloaded >= SIZE  # (blocks under way when the seed left may come twice)


async def test_a_udp_tracker_listed_in_the_torrent(tmp_path: Path) -> None:
    daemon = TrackerDaemon(
        TrackerConfig(rate_per_ip=0.0, interval=60, min_interval=5),
        http=("127.0.0.1", 0),
        udp=("127.0.0.1", 0),
        rng=random.Random(2),
    )
    ports = await daemon.start()
    try:
        data = random.Random(13).randbytes(SIZE)
        meta = make(tmp_path / "seed", f"udp://127.0.0.1:{ports['udp']}/announce", data)
        seed = peer(meta, tmp_path / "seed", 19, seed=True)
        events: list[tuple[str, dict[str, object]]] = []
        down = peer(meta, tmp_path / "down", 20, events=events)
        await seed.start()
        await down.start()
        try:
            await finish(down)
        finally:
            await down.stop()
            await seed.stop()
    finally:
        await daemon.stop()
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data
    udp = [f for k, f in events if k == "announce" and str(f["tracker"]).startswith("udp://")]
    assert [f["event"] for f in udp] == ["started", "completed", "stopped"]
