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
from peer.aio.link import Link
from peer.aio.torrent import MAX_STRIKES, Torrent
from peer.choker import Choker
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
    choker: Choker[Link] | None = None,
    rarest_first: bool = True,
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
        choker=choker,
        rarest_first=rarest_first,
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


async def test_a_peer_silent_past_the_idle_limit_is_closed_and_one_that_talks_is_not(
    tmp_path: Path,
    tracker_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the torrent's timer, once a second, closes a connection silent for IDLE seconds
    monkeypatch.setattr(torrent_module, "IDLE", 2.5)
    monkeypatch.setattr(torrent_module, "KEEP_ALIVE", 100.0)  # (our side stays quiet too)
    caplog.set_level(logging.INFO, logger="peer")
    meta = make(tmp_path / "seed", tracker_url, random.Random(13).randbytes(SIZE))
    seed = peer(meta, tmp_path / "seed", 38, seed=True)
    await seed.start()
    try:
        silent_r, silent_w = await raw(seed, "127.0.0.39")
        talker_r, talker_w = await raw(seed, "127.0.0.40")
        for k, w in enumerate((silent_w, talker_w)):
            peer_id = b"-XX0000-" + bytes([k]) * 12
            w.write(encode_handshake(Handshake(bytes(8), meta.info_hash, peer_id)))
        await asyncio.sleep(0.3)
        assert len(seed.links) == 2
        for _ in range(6):  # 3 s of keep-alives from one of them
            talker_w.write(b"\0\0\0\0")
            await asyncio.sleep(0.5)
        assert await closed_within(silent_r, 3.0)
        assert not talker_r.at_eof() and len(seed.links) == 1
        assert "no exchange for 2 s: closing" in caplog.text
        for w in (silent_w, talker_w):
            w.close()
    finally:
        await seed.stop()


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
async def test_a_rate_limit_holds_the_transfer_to_its_rate(
    tmp_path: Path, tracker_url: str, side: str
) -> None:
    # 1.3 MB at 512 KiB/s: about 2.5 s, not a fraction of it, and not less: a cap that let a
    # second's worth through at the start would take 1.5 s (the experiment's bounds rely on
    # it). The time counts from the start of the download (its announce and handshake too).
    data = random.Random(11).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    cap = 512 * 1024.0
    limit = {side: cap}
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
    rate = SIZE / (loop.time() - t0)
    # the receiving side may read one socket buffer's worth (64 KiB) before its pacer waits
    assert 0.7 * cap <= rate <= cap * SIZE / (SIZE - 65536), rate / cap
    assert (tmp_path / "down" / "sample.bin").read_bytes() == data


async def test_a_peer_with_max_up_0_uploads_nothing_and_the_others_still_finish(
    tmp_path: Path, tracker_url: str
) -> None:
    data = random.Random(21).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    seed = peer(meta, tmp_path / "seed", 22, seed=True, max_up=1 << 20)
    events: list[tuple[str, dict[str, object]]] = []
    rider = peer(meta, tmp_path / "rider", 23, max_up=0, events=events)
    other = peer(meta, tmp_path / "other", 24)
    await seed.start()
    try:
        for d in (rider, other):
            await d.start()
        await finish(rider, other)
    finally:
        for t in (rider, other, seed):
            await t.stop()
    assert rider.uploaded == 0 and other.downloaded >= SIZE
    assert not [f for k, f in events if k == "choke"]  # no choking round: nothing to share
    assert other.uploaded > 0 or seed.uploaded >= 2 * SIZE  # (the other may have shared)
    assert (tmp_path / "rider" / "sample.bin").read_bytes() == data


async def test_a_slot_given_up_goes_to_a_waiting_peer_at_once(
    tmp_path: Path, tracker_url: str
) -> None:
    # One regular slot and one optimistic, rounds a minute apart (the first, a second in,
    # rotates the optimistic slot once): of four downloaders, two wait at first and one still
    # waits after the first round. Each time one finishes (and so loses interest in the seed),
    # a waiting one is unchoked at once; without that, the last would wait a minute.
    data = random.Random(25).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    choker: Choker[Link] = Choker(
        slots=1, interval=60.0, optimistic_interval=60.0, rng=random.Random(2)
    )
    seed = peer(meta, tmp_path / "seed", 26, seed=True, choker=choker, max_up=1 << 20)
    downs = [peer(meta, tmp_path / f"d{k}", 27 + k, max_up=0) for k in range(4)]
    await seed.start()
    try:
        for d in downs:
            await d.start()
        await finish(*downs, timeout=15.0)
    finally:
        for t in (*downs, seed):
            await t.stop()
    for k in range(4):
        assert (tmp_path / f"d{k}" / "sample.bin").read_bytes() == data
    assert seed.uploaded >= 4 * SIZE


async def test_peers_past_the_half_open_limit_are_dialled_in_turn_not_dropped(
    tmp_path: Path, tracker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one dial at a time: the tracker names three seeds, and the download meets all three (it
    # used to try the first and forget the others until its next announce, half an hour on)
    monkeypatch.setattr(torrent_module, "MAX_HALF_OPEN", 1)
    data = random.Random(33).randbytes(SIZE)
    meta = make(tmp_path / "s0", tracker_url, data)
    seeds = []
    for k in range(3):
        make(tmp_path / f"s{k}", tracker_url, data)
        seeds.append(peer(meta, tmp_path / f"s{k}", 34 + k, seed=True, max_up=256 * 1024.0))
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 37, events=events)
    try:
        for s in seeds:
            await s.start()
        await down.start()
        await finish(down)
    finally:
        await down.stop()
        for s in seeds:
            await s.stop()
    met = {f["peer"] for k, f in events if k == "connected"}
    assert met == {f"{s.host}:{s.port}" for s in seeds}
    assert all(s.uploaded > 0 for s in seeds)
    assert not down.waiting and not down.dialling


async def test_a_random_picker_draws_every_piece_at_random(
    tmp_path: Path, tracker_url: str
) -> None:
    data = random.Random(29).randbytes(SIZE)
    meta = make(tmp_path / "seed", tracker_url, data)
    seed = peer(meta, tmp_path / "seed", 30, seed=True)
    events: list[tuple[str, dict[str, object]]] = []
    down = peer(meta, tmp_path / "down", 31, events=events, rarest_first=False)
    await seed.start()
    await down.start()
    try:
        await finish(down)
    finally:
        await down.stop()
        await seed.stop()
    picks = [str(f["text"]) for k, f in events if k == "pick"]
    assert len(picks) == meta.num_pieces
    # random to the last piece but the endgame's (rarest first takes over after 4 otherwise)
    assert sum("random" in p for p in picks) >= meta.num_pieces - 8
    assert not [p for p in picks if "rarest" in p]
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
    left = [f for k, f in events if k == "disconnected" and f["peer"] == gone]
    assert len(left) == 1 and left[0]["sent"] == 0  # what we sent it, and what it sent us:
    assert 0 < left[0]["received"] < SIZE + 16384  # part of the file (a block may come twice)
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


async def test_a_connection_in_its_handshake_is_closed_when_the_torrent_stops(
    tmp_path: Path, tracker_url: str
) -> None:
    # a peer that accepts the connection and never answers the handshake: the torrent stops
    # while it waits, and the connection must be closed then, not left to the collector
    meta = make(tmp_path / "d", tracker_url, random.Random(12).randbytes(SIZE))
    (tmp_path / "d" / "sample.bin").unlink()
    got: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # (read by the test; closed at its end)
        await got.put(reader)

    server = await asyncio.start_server(mute, "127.0.0.90", 0)
    down = peer(meta, tmp_path / "d", 13)
    await down.start()
    try:
        down._dial(("127.0.0.90", server.sockets[0].getsockname()[1]))
        reader = await asyncio.wait_for(got.get(), 10)
        assert len(await asyncio.wait_for(reader.readexactly(68), 10)) == 68  # its handshake
        for _ in range(100):
            if down.handshaking:
                break
            await asyncio.sleep(0.01)
        assert down.handshaking == 1
    finally:
        await down.stop()
    assert await closed_within(reader, 5.0)
    assert down.handshaking == 0
    for w in writers:
        w.close()
    server.close()
    await server.wait_closed()
