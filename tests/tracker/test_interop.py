"""Real BitTorrent clients (aria2c, libtorrent) find each other through our tracker.

An aria2c seeder and a libtorrent downloader (over HTTP), then a libtorrent seeder and an
aria2c downloader (over UDP), transfer a small file with DHT/LSD/PEX off, so the only way they
learn each other's address is our tracker. Each peer has its own 127.0.0.N (aria2 bans a
whole IP after one bad piece). Every subprocess is bounded and killed in a finally.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import bencodepy
import pytest

from tracker.aio.server import TrackerDaemon
from tracker.announce import Announce
from tracker.config import TrackerConfig

pytestmark = pytest.mark.interop

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"
PIECE = 16384
ARIA_COMMON = [
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--disable-ipv6=true",
    "--bt-require-crypto=false",
    "--summary-interval=0",
    "--console-log-level=notice",
    "--file-allocation=none",
    "--check-certificate=false",
    "--bt-stop-timeout=60",
    "--allow-overwrite=true",
]


def need_aria2() -> None:
    if not shutil.which("aria2c"):
        pytest.skip("aria2c not installed (Debian package: aria2)")


def need_libtorrent() -> None:
    if not os.path.exists(SYSTEM_PYTHON) or os.system(
        f"{SYSTEM_PYTHON} -c 'import libtorrent' >/dev/null 2>&1"
    ):
        pytest.skip(
            "libtorrent for the system python3 not installed (Debian package: python3-libtorrent)"
        )


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_torrent(data: bytes, name: str, announce: str, path: Path) -> bytes:
    """A v1 single-file torrent; returns its info-hash."""
    pieces = b"".join(
        hashlib.sha1(data[i : i + PIECE]).digest() for i in range(0, len(data), PIECE)
    )
    info = {b"length": len(data), b"name": name.encode(), b"piece length": PIECE, b"pieces": pieces}
    path.write_bytes(bencodepy.encode({b"announce": announce.encode(), b"info": info}))
    return hashlib.sha1(bencodepy.encode(info)).digest()


@pytest.fixture
async def tracker() -> AsyncIterator[tuple[TrackerDaemon, dict[str, int]]]:
    config = TrackerConfig(interval=10, min_interval=5)
    daemon = TrackerDaemon(
        config, http=("127.0.0.1", 0), udp=("127.0.0.1", 0), rng=random.Random(1)
    )
    ports = await daemon.start()
    # Record every address that announced: a peer that finished leaves with `stopped`.
    seen: dict[bytes, set[str]] = {}
    announce = daemon.registry.announce

    def spy(req: Announce, addr: bytes, now: float) -> object:
        seen.setdefault(req.info_hash, set()).add(socket.inet_ntoa(addr[:4]))
        return announce(req, addr, now)

    daemon.registry.announce = spy  # type: ignore[method-assign,assignment]
    daemon.seen = seen  # type: ignore[attr-defined]
    try:
        yield daemon, ports
    finally:
        await daemon.stop()


@contextlib.asynccontextmanager
async def process(*cmd: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def wait_for_peer(daemon: TrackerDaemon, info_hash: bytes, ip: str, seconds: float) -> None:
    packed = socket.inet_aton(ip)
    for _ in range(int(seconds * 10)):
        swarm = daemon.registry.swarms.get(info_hash)
        if swarm is not None and any(p.addr[:4] == packed for p in swarm.peers.values()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{ip} never announced {info_hash.hex()}")


def announced_from(daemon: TrackerDaemon, info_hash: bytes) -> set[str]:
    return daemon.seen.get(info_hash, set())  # type: ignore[attr-defined, no-any-return]


def setup_dirs(tmp_path: Path, data: bytes) -> tuple[Path, Path]:
    seed, dl = tmp_path / "seed", tmp_path / "dl"
    seed.mkdir()
    dl.mkdir()
    (seed / "notes.bin").write_bytes(data)
    return seed, dl


async def test_aria2_seeder_and_libtorrent_downloader_over_http(
    tracker: tuple[TrackerDaemon, dict[str, int]], tmp_path: Path
) -> None:
    need_aria2()
    need_libtorrent()
    daemon, ports = tracker
    data = random.Random(1).randbytes(300_000)
    seed, dl = setup_dirs(tmp_path, data)
    torrent = tmp_path / "notes.torrent"
    ih = make_torrent(data, "notes.bin", f"http://127.0.0.1:{ports['http']}/announce", torrent)
    seeder = [
        "aria2c",
        *ARIA_COMMON,
        "--interface=127.0.0.2",
        f"--listen-port={free_port('127.0.0.2')}",
        f"--dir={seed}",
        "--bt-seed-unverified=true",
        "--seed-ratio=0.0",
        str(torrent),
    ]
    async with process(*seeder, log=tmp_path / "seeder.log"):
        await wait_for_peer(daemon, ih, "127.0.0.2", 20)
        downloader = [
            SYSTEM_PYTHON,
            str(HERE / "lt_peer.py"),
            "download",
            str(torrent),
            str(dl),
            "127.0.0.3",
            str(free_port("127.0.0.3")),
            "60",
        ]
        async with process(*downloader, log=tmp_path / "lt.log") as lt:
            code = await asyncio.wait_for(lt.wait(), 75)
        log = (tmp_path / "lt.log").read_text()
        assert code == 0, log
        assert (dl / "notes.bin").read_bytes() == data
        # libtorrent's scrape through our tracker: the seeder plus itself, now complete
        assert "scrape complete=2 incomplete=0" in log, log
        assert "received peers: 1" in log  # the aria2c seeder's address, from us
        assert announced_from(daemon, ih) == {"127.0.0.2", "127.0.0.3"}
        assert daemon.registry.swarms[ih].completed == 1


async def test_libtorrent_seeder_and_aria2_downloader_over_udp(
    tracker: tuple[TrackerDaemon, dict[str, int]], tmp_path: Path
) -> None:
    need_aria2()
    need_libtorrent()
    daemon, ports = tracker
    data = random.Random(2).randbytes(300_000)
    seed, dl = setup_dirs(tmp_path, data)
    torrent = tmp_path / "notes.torrent"
    ih = make_torrent(data, "notes.bin", f"udp://127.0.0.1:{ports['udp']}/announce", torrent)
    seeder = [
        SYSTEM_PYTHON,
        str(HERE / "lt_peer.py"),
        "seed",
        str(torrent),
        str(seed),
        "127.0.0.4",
        str(free_port("127.0.0.4")),
        "90",
    ]
    async with process(*seeder, log=tmp_path / "lt.log"):
        await wait_for_peer(daemon, ih, "127.0.0.4", 20)
        # aria2 speaks UDP trackers through its DHT socket: DHT must be on (there is no other
        # DHT node here, so the tracker is still the only source of peers).
        downloader = [
            "aria2c",
            *ARIA_COMMON,
            "--enable-dht=true",
            "--interface=127.0.0.5",
            f"--dht-listen-port={free_port('127.0.0.5')}",
            f"--dht-file-path={tmp_path / 'dht.dat'}",
            f"--listen-port={free_port('127.0.0.5')}",
            f"--dir={dl}",
            "--seed-time=0",
            str(torrent),
        ]
        async with process(*downloader, log=tmp_path / "aria.log") as aria:
            code = await asyncio.wait_for(aria.wait(), 75)
        assert code == 0, (tmp_path / "aria.log").read_text()
        assert (dl / "notes.bin").read_bytes() == data
        assert announced_from(daemon, ih) == {"127.0.0.4", "127.0.0.5"}
        assert daemon.registry.swarms[ih].completed == 1
