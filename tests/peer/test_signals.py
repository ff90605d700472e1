"""`peer seed` and `peer download` as processes: they report readiness, and SIGTERM or SIGINT
stops them within seconds, with `stopped` told to the tracker on the way out."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peer.create import PieceHasher, build
from tracker.aio.server import TrackerDaemon
from tracker.config import TrackerConfig


@pytest.fixture
async def tracker_url() -> AsyncIterator[str]:
    daemon = TrackerDaemon(
        TrackerConfig(rate_per_ip=0.0), http=("127.0.0.1", 0), rng=random.Random(1)
    )
    ports = await daemon.start()
    try:
        yield f"http://127.0.0.1:{ports['http']}/announce"
    finally:
        await daemon.stop()


def torrent(tmp_path: Path, url: str, size: int) -> Path:
    data = random.Random(3).randbytes(size)
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "data.bin").write_bytes(data)
    hasher = PieceHasher(16384)
    hasher.feed(data)
    path = tmp_path / "data.torrent"
    path.write_bytes(build("data.bin", size, 16384, hasher.pieces(), [url]))
    return path


async def ready(path: Path, proc: asyncio.subprocess.Process) -> dict[str, object]:
    for _ in range(300):
        if path.exists():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        assert proc.returncode is None, "the peer exited before it was ready"
        await asyncio.sleep(0.05)
    raise AssertionError("never ready")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_seed_stops_on_a_signal_and_says_stopped(
    tmp_path: Path, tracker_url: str, sig: signal.Signals
) -> None:
    path = torrent(tmp_path, tracker_url, 100_000)
    ready_file = tmp_path / "ready.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peer", "seed", str(path), str(tmp_path / "seed"),
        "--listen", "127.0.0.121:0", "--ready-file", str(ready_file),
        "--control", "127.0.0.121:0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    info = await ready(ready_file, proc)
    assert info["pid"] == proc.pid
    assert set(info["ports"]) == {"bittorrent", "control"}  # type: ignore[arg-type]
    # the signal once the tracker has answered the first announce: before it, under load, the
    # seed stops with that announce still in flight and never prints its answer
    assert proc.stdout is not None
    first = b""
    while b"event=started" not in first:
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert line, "stdout closed before the first announce was answered"
        first += line
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err
    assert b"event=stopped" in out
    assert b"stopped" in err.splitlines()[-1]  # the log's last line
    assert not ready_file.exists()


async def test_an_interrupted_download_says_how_far_it_got(
    tmp_path: Path, tracker_url: str
) -> None:
    path = torrent(tmp_path, tracker_url, 1_000_000)
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peer", "seed", str(path), str(tmp_path / "seed"),
        "--listen", "127.0.0.122:0", "--ready-file", str(tmp_path / "seed.json"),
        "--max-up", "64KiB",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await ready(tmp_path / "seed.json", seed)
        down = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peer", "download", str(path), "-o", str(tmp_path / "dl"),
            "--listen", "127.0.0.123:0", "--ready-file", str(tmp_path / "down.json"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await ready(tmp_path / "down.json", down)
        await asyncio.sleep(1.0)  # a few pieces at 64 KiB/s, not the megabyte
        down.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(down.communicate(), 10)
    finally:
        seed.send_signal(signal.SIGTERM)
        await asyncio.wait_for(seed.wait(), 10)
    assert down.returncode == 1
    assert b"peer download: stopped with " in err and b" of 62 pieces" in err
    assert b"event=stopped" in out and b"complete" not in out


async def test_a_held_download_waits_for_sigusr1_before_it_announces(
    tmp_path: Path, tracker_url: str
) -> None:
    # what the file-distribution experiment relies on: ready (listening, ready file written)
    # but silent until released, then a normal download
    path = torrent(tmp_path, tracker_url, 200_000)
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peer", "seed", str(path), str(tmp_path / "seed"),
        "--listen", "127.0.0.124:0", "--ready-file", str(tmp_path / "seed.json"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await ready(tmp_path / "seed.json", seed)
        down = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peer", "download", str(path), "-o", str(tmp_path / "dl"),
            "--listen", "127.0.0.125:0", "--ready-file", str(tmp_path / "down.json"),
            "--hold", "--json", "--max-up", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await ready(tmp_path / "down.json", down)
        await asyncio.sleep(0.5)
        released = time.time()
        down.send_signal(signal.SIGUSR1)
        out, err = await asyncio.wait_for(down.communicate(), 20)
    finally:
        seed.send_signal(signal.SIGTERM)
        await asyncio.wait_for(seed.wait(), 10)
    assert down.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    announces = [e for e in events if e["event"] == "announce"]
    assert [e["event"] for e in events][:1] == ["verified"]
    assert announces and announces[0]["time"] >= released - 0.01
    assert [e["announce_event"] for e in announces] == ["started", "completed", "stopped"]
    assert any(e["event"] == "complete" for e in events)
    assert b"released: joining the swarm" in err
    assert (tmp_path / "dl" / "data.bin").read_bytes() == (
        tmp_path / "seed" / "data.bin"
    ).read_bytes()
