"""Our peer with real BitTorrent clients, through our tracker on loopback: aria2c and libtorrent
download what `peer seed` serves, `peer download` fetches what they seed, and a mixed swarm
(our seed, three of our downloaders and aria2c, started together) all complete. Every file is
compared byte for byte; every process is bounded and killed at the end. Each peer has its own
127.0.0.N (aria2 bans a whole address after one bad piece). The torrents are made with
`peer create`, so the command line is exercised too.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest

from peer.metainfo import from_bytes
from tests.tracker.test_interop import (
    ARIA_COMMON,
    HERE,
    SYSTEM_PYTHON,
    free_port,
    need_aria2,
    need_libtorrent,
    process,
    tracker,
    wait_for_peer,
)
from tracker.aio.server import TrackerDaemon

__all__ = ["tracker"]  # the fixture, shared with the tracker's interop tests

pytestmark = pytest.mark.interop

PEER = [sys.executable, "-m", "peer"]
SIZE = 3 * 1024 * 1024 + 12345  # 13 pieces of 256 KiB, the last one short


async def create(tmp_path: Path, announce: str, seed: int) -> tuple[bytes, Path, bytes]:
    """Random data in tmp_path/seed/data.bin and its torrent (made by `peer create`)."""
    data = random.Random(seed).randbytes(SIZE)
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "data.bin").write_bytes(data)
    torrent = tmp_path / "data.torrent"
    made = await asyncio.create_subprocess_exec(
        *PEER, "create", str(tmp_path / "seed" / "data.bin"), "--tracker", announce,
        "-o", str(torrent),
    )  # fmt: skip
    assert await asyncio.wait_for(made.wait(), 30) == 0
    return data, torrent, from_bytes(torrent.read_bytes()).info_hash


def ours(command: str, torrent: Path, folder: Path, host: str, *extra: str) -> list[str]:
    where = [str(folder)] if command == "seed" else ["-o", str(folder)]
    listen = f"{host}:{free_port(host)}"
    return [*PEER, command, str(torrent), *where, "--listen", listen, *extra]


def aria2(torrent: Path, folder: Path, host: str, *, seed: bool) -> list[str]:
    mode = ["--bt-seed-unverified=true", "--seed-ratio=0.0"] if seed else ["--seed-time=0"]
    return [
        "aria2c",
        *ARIA_COMMON,
        f"--interface={host}",
        f"--listen-port={free_port(host)}",
        f"--dir={folder}",
        *mode,
        str(torrent),
    ]


def libtorrent(mode: str, torrent: Path, folder: Path, host: str) -> list[str]:
    peer = HERE / "lt_peer.py"
    return [
        SYSTEM_PYTHON,
        str(peer),
        mode,
        str(torrent),
        str(folder),
        host,
        str(free_port(host)),
        "60",
    ]


async def finished(proc: asyncio.subprocess.Process, log: Path) -> None:
    code = await asyncio.wait_for(proc.wait(), 75)
    assert code == 0, log.read_text(errors="replace")[-3000:]


async def test_aria2_and_libtorrent_download_from_our_seed(
    tracker: tuple[TrackerDaemon, dict[str, int]], tmp_path: Path
) -> None:
    need_aria2()
    need_libtorrent()
    daemon, ports = tracker
    data, torrent, ih = await create(tmp_path, f"http://127.0.0.1:{ports['http']}/announce", 1)
    seeder = ours("seed", torrent, tmp_path / "seed", "127.0.0.81")
    async with process(*seeder, log=tmp_path / "seed.log"):
        await wait_for_peer(daemon, ih, "127.0.0.81", 20)
        aria = aria2(torrent, tmp_path / "aria", "127.0.0.82", seed=False)
        async with process(*aria, log=tmp_path / "aria.log") as proc:
            await finished(proc, tmp_path / "aria.log")
        lt = libtorrent("download", torrent, tmp_path / "lt", "127.0.0.83")
        async with process(*lt, log=tmp_path / "lt.log") as proc:
            await finished(proc, tmp_path / "lt.log")
    assert (tmp_path / "aria" / "data.bin").read_bytes() == data
    assert (tmp_path / "lt" / "data.bin").read_bytes() == data
    log = (tmp_path / "seed.log").read_text()
    assert "connected: peer=127.0.0.82:" in log and "connected: peer=127.0.0.83:" in log


@pytest.mark.parametrize("client", ["aria2c", "libtorrent"])
async def test_we_download_from_their_seed(
    tracker: tuple[TrackerDaemon, dict[str, int]], tmp_path: Path, client: str
) -> None:
    need_aria2() if client == "aria2c" else need_libtorrent()
    daemon, ports = tracker
    data, torrent, ih = await create(tmp_path, f"http://127.0.0.1:{ports['http']}/announce", 2)
    if client == "aria2c":
        seeder = aria2(torrent, tmp_path / "seed", "127.0.0.84", seed=True)
    else:
        seeder = libtorrent("seed", torrent, tmp_path / "seed", "127.0.0.84")
    async with process(*seeder, log=tmp_path / "seed.log"):
        await wait_for_peer(daemon, ih, "127.0.0.84", 20)
        download = ours("download", torrent, tmp_path / "dl", "127.0.0.85")
        async with process(*download, log=tmp_path / "dl.log") as proc:
            await finished(proc, tmp_path / "dl.log")
    assert (tmp_path / "dl" / "data.bin").read_bytes() == data
    log = (tmp_path / "dl.log").read_text()
    assert "connected: peer=127.0.0.84:" in log
    assert "event=completed" in log and "event=stopped" in log


async def test_a_mixed_swarm_all_complete(
    tracker: tuple[TrackerDaemon, dict[str, int]], tmp_path: Path
) -> None:
    need_aria2()
    daemon, ports = tracker
    data, torrent, ih = await create(tmp_path, f"http://127.0.0.1:{ports['http']}/announce", 3)
    seeder = ours("seed", torrent, tmp_path / "seed", "127.0.0.86")
    async with process(*seeder, log=tmp_path / "seed.log"):
        await wait_for_peer(daemon, ih, "127.0.0.86", 20)
        commands = [
            *(ours("download", torrent, tmp_path / f"d{n}", f"127.0.0.{87 + n}") for n in range(3)),
            aria2(torrent, tmp_path / "aria", "127.0.0.90", seed=False),
        ]
        logs = [tmp_path / f"p{n}.log" for n in range(4)]
        async with (
            process(*commands[0], log=logs[0]) as a,
            process(*commands[1], log=logs[1]) as b,
            process(*commands[2], log=logs[2]) as c,
            process(*commands[3], log=logs[3]) as d,
        ):
            procs = (a, b, c, d)
            await asyncio.gather(*(finished(p, log) for p, log in zip(procs, logs, strict=True)))
    for folder in ("d0", "d1", "d2", "aria"):
        assert (tmp_path / folder / "data.bin").read_bytes() == data, folder
