"""Our peers trading a torrent through our tracker, in one event loop over real sockets on
loopback: a download from a seed arrives byte for byte, a restart over part of the data fetches
only the rest, three downloaders and a seed all finish, and a seed that sends bad data never
makes a download report success and is banned."""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peer.aio.torrent import MAX_STRIKES, Torrent
from peer.create import PieceHasher, build
from peer.metainfo import Metainfo, from_bytes
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
