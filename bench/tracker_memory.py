"""Registry memory: 1,000,000 peers across 100,000 swarms, resident set size (target < 500 MB).

Ours: a fresh Registry in a child process (so the figure is the registry's, not this
script's) filled through the same `announce` the daemons use. The reference: opentracker
filled with the same announces over UDP (it keys peers by address, so each swarm's ten peers
get ten ports), then its RSS read from /proc. Both bounded in time.

    python -m bench.tracker_memory [--peers 1000000] [--swarms 100000] [--no-opentracker]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import socket
import struct
import time

from bench.procs import free_port
from bench.tracker_common import opentracker

HOST = "127.0.0.1"


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peer(i: int, swarms: int, rng: random.Random) -> tuple[int, bytes, int]:
    """The i-th announce: (swarm index, peer_id, port); every third peer is a seeder."""
    return i % swarms, rng.randbytes(20), 1025 + i // swarms


def fill(peers: int, swarms: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tracker.announce import Announce
    from tracker.config import TrackerConfig
    from tracker.registry import Registry

    rng = random.Random(1)
    hashes = [rng.randbytes(20) for _ in range(swarms)]
    before = rss_mb()
    reg = Registry(TrackerConfig(max_swarms=swarms, rate_per_ip=0.0), random.Random(2))
    t0 = time.monotonic()
    for i in range(peers):
        s, peer_id, port = peer(i, swarms, rng)
        req = Announce(hashes[s], peer_id, port, 0, 0, i % 3, 0, None, True, False, b"", None)
        reg.announce(req, socket.inet_aton(HOST) + port.to_bytes(2, "big"), 1000.0)
    elapsed = time.monotonic() - t0
    out.put((before, rss_mb(), reg.peer_count, len(reg.swarms), elapsed))


def ours(args: argparse.Namespace) -> float:
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=fill, args=(args.peers, args.swarms, q))
    proc.start()
    try:
        before, after, peers, swarms, elapsed = q.get(timeout=600)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    print(
        f"ours: {peers:,} peers in {swarms:,} swarms, filled in {elapsed:.1f}s; RSS {after:,.0f} MB"
        f" ({(after - before) * 1e6 / max(peers, 1):,.0f} bytes/peer over the empty process)"
    )
    return after


def udp_fill(port: int, hashes: list[bytes], args: argparse.Namespace) -> int:
    """Announce every peer to a UDP tracker, a window at a time; returns replies received."""
    rng = random.Random(1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.connect((HOST, port))
    sock.settimeout(2.0)
    sock.send(struct.pack(">QII", 0x41727101980, 0, 1))
    cid = struct.unpack(">IIQ", sock.recv(64))[2]
    sock.settimeout(0.5)
    got = 0
    deadline = time.monotonic() + args.time_limit
    window = 64
    for base in range(0, args.peers, window):
        if time.monotonic() > deadline:
            print("  (time limit reached)")
            break
        if base and base % 1_000_000 == 0:  # connection ids live two minutes
            sock.send(struct.pack(">QII", 0x41727101980, 0, 1))
            cid = struct.unpack(">IIQ", sock.recv(64))[2]
        n = min(window, args.peers - base)
        for i in range(base, base + n):
            s, peer_id, p = peer(i, args.swarms, rng)
            sock.send(
                struct.pack(
                    ">QII20s20sQQQIIIiH", cid, 1, i, hashes[s], peer_id, 0, i % 3, 0, 2, 0, 0, 0, p
                )
            )
        for _ in range(n):
            try:
                sock.recv(2048)
                got += 1
            except TimeoutError:
                break
    sock.close()
    return got


def reference(args: argparse.Namespace) -> float | None:
    if not shutil.which("opentracker"):
        print("opentracker not found (apt-get install opentracker): reference skipped")
        return None
    rng = random.Random(1)
    hashes = [rng.randbytes(20) for _ in range(args.swarms)]
    port = free_port(HOST)
    with opentracker(HOST, None, port, hashes) as proc:
        t0 = time.monotonic()
        got = udp_fill(port, hashes, args)
        rss = rss_mb(proc.pid)
        print(
            f"opentracker: {got:,} announces answered in {time.monotonic() - t0:.1f}s; "
            f"RSS {rss:,.0f} MB"
        )
    return rss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", type=int, default=1_000_000)
    p.add_argument("--swarms", type=int, default=100_000)
    p.add_argument("--time-limit", type=float, default=120.0, help="for the UDP fill")
    p.add_argument("--no-opentracker", action="store_true")
    args = p.parse_args(argv)
    mine = ours(args)
    ref = None if args.no_opentracker else reference(args)
    verdict = "met" if mine < 500 else "NOT met"
    print(f"ours: {mine:,.0f} MB for {args.peers:,} peers; target < 500 MB: {verdict}")
    if ref:
        print(f"opentracker: {ref:,.0f} MB; ours / opentracker = {mine / ref:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
