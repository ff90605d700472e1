"""The peer's memory: a downloader of a 4 GiB torrent (target: under 100 MB), and a seed
holding 200 connections (target: no growth as they come and go).

The 4 GiB file (random bytes, `--size` MiB) is written once, its torrent made by `peer
create` (1 MiB pieces: the piece size `create` picks past 2 GiB), a seed started, and the
downloader's peak resident memory read from /proc (VmHWM) when it exits after the last
piece. Then 200 clients connect to the seed at once, handshake and send a bitfield and an
interested, and go; three times over. The seed's resident memory is printed after each wave.

    python -m bench.peer_memory [--size 4096] [--connections 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.peer_common import swarm_files
from bench.procs import free_port, stop
from peer.metainfo import from_bytes
from peer.wire import Handshake, Interested, encode, encode_handshake, reserved_bits

HOST_SEED, HOST_DOWN, TRACKER = "127.0.0.111", "127.0.0.112", "127.0.0.110"


def rss(pid: int, field: str = "VmRSS") -> int:
    """Kilobytes of `field` (VmRSS now, VmHWM the peak) of process `pid`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ValueError(f"no {field} for {pid}")


def peak_while_running(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """The process's VmHWM just before it exits (read every 50 ms), in kB."""
    peak = 0
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            peak = max(peak, rss(proc.pid, "VmHWM"))
        except (OSError, ValueError):
            break
        time.sleep(0.05)
    if proc.poll() is None:
        stop(proc)
        raise RuntimeError("the download did not finish in time")
    return peak


def wave(torrent: Path, port: int, n: int) -> None:
    """n clients connect together, say hello and their interest, then leave."""
    meta = from_bytes(torrent.read_bytes())
    hello = encode_handshake(Handshake(reserved_bits(fast=True), meta.info_hash, b"\0" * 20))
    socks = []
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.2.{1 + i % 250}", 0))
        s.settimeout(5)
        s.connect((HOST_SEED, port))
        s.sendall(hello[:48] + os.urandom(20) + encode(Interested()))
        socks.append(s)
    for s in socks:
        with contextlib.suppress(OSError):
            s.recv(65536)
    time.sleep(1.0)
    for s in socks:
        s.close()
    time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=4096, help="MiB (default %(default)s)")
    p.add_argument("--connections", type=int, default=200)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="peermem-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        data, torrent, tracker = swarm_files(work, "big.bin", args.size, 2, TRACKER)
        procs.append(tracker)
        sport = free_port(HOST_SEED)
        seed = subprocess.Popen(
            [sys.executable, "-m", "peer", "seed", str(torrent), str(data.parent),
             "--listen", f"{HOST_SEED}:{sport}", "--log-level", "WARNING",
             "--ready-file", str(work / "ready.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        procs.append(seed)
        deadline = time.monotonic() + 300
        while not (work / "ready.json").exists():
            if time.monotonic() > deadline or seed.poll() is not None:
                raise RuntimeError("the seed did not start")
            time.sleep(0.2)
        print(f"seed ready ({args.size} MiB verified): {rss(seed.pid) / 1024:.0f} MB RSS")
        t0 = time.monotonic()
        down = subprocess.Popen(
            [sys.executable, "-m", "peer", "download", str(torrent), "-o", str(work / "dl"),
             "--listen", f"{HOST_DOWN}:{free_port(HOST_DOWN)}", "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        procs.append(down)
        peak = peak_while_running(down, 1800)
        took = time.monotonic() - t0
        if down.returncode != 0:
            raise RuntimeError(f"the download failed ({down.returncode})")
        print(
            f"download of {args.size} MiB: {took:.1f} s, peak {peak / 1024:.0f} MB RSS "
            "(target: under 100 MB)"
        )
        before = rss(seed.pid)
        print(f"seed before the waves: {before / 1024:.1f} MB RSS")
        for n in range(3):
            wave(torrent, sport, args.connections)
            print(f"seed after wave {n + 1} of {args.connections}: {rss(seed.pid) / 1024:.1f} MB")
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
