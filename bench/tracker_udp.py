"""UDP (BEP 15) announces per second: our load generator against opentracker and ours, same run.

Each worker process connects once, then keeps a window of announces in flight on one socket
(one of 1,000 info_hashes, random peer_id and port, num_want 50) until the count or the time
is used up; lost datagrams are counted, not retried. Ours runs with the rate limit off and the
1,000 hashes whitelisted, like opentracker. Both trackers are started once and stay up; each
gets one untimed 1-second warm-up load, then `--rounds` alternating loads (opentracker, ours,
opentracker, ours, ...). Every run is printed, then the median and the best of each side and
the ratios: the same treatment for both. The workers reuse a fixed set of 4,096 packets each,
so the swarms reach their steady size (~8,000 peers) within the warm-up.

    python -m bench.tracker_udp [--duration 5] [--rounds 3] [--workers 2] [--window 32]
                                [--count 2000000]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing
import random
import shutil
import socket
import struct
import tempfile
import time
from pathlib import Path

from bench.procs import free_port
from bench.rounds import alternate, summary
from bench.tracker_common import hashes, opentracker, ours

HOST = "127.0.0.1"
PROTOCOL_ID = 0x41727101980


def connect(sock: socket.socket) -> int:
    for _ in range(10):
        sock.send(struct.pack(">QII", PROTOCOL_ID, 0, 7))
        try:
            data = sock.recv(64)
        except TimeoutError:
            continue
        action, tid, cid = struct.unpack(">IIQ", data[:16])
        if action == 0 and tid == 7:
            return int(cid)
    raise RuntimeError("no connect reply")


def worker(
    port: int,
    hs: list[bytes],
    seed: int,
    duration: float,
    count: int,
    window: int,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    rng = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((HOST, port))
    sock.settimeout(1.0)
    cid = connect(sock)
    packets = [
        struct.pack(
            ">QII20s20sQQQIIIiH",
            cid,
            1,
            i,
            rng.choice(hs),
            rng.randbytes(20),
            0,
            1000,
            0,
            0,
            0,
            0,
            50,
            rng.randrange(1025, 65535),
        )
        for i in range(4096)
    ]
    sock.settimeout(0.2)
    sent = got = 0
    start = time.monotonic()
    deadline = start + duration
    i = 0
    while sent < count and time.monotonic() < deadline:
        for _ in range(window):
            sock.send(packets[i])
            i = (i + 1) & 4095
        sent += window
        for _ in range(window):
            try:
                data = sock.recv(2048)
            except TimeoutError:
                break
            if data[3] == 1:
                got += 1
    out.put((sent, got, time.monotonic() - start))


def load(port: int, hs: list[bytes], args: argparse.Namespace, label: str) -> float:
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [
        multiprocessing.Process(
            target=worker,
            args=(port, hs, n, args.duration, args.count // args.workers, args.window, q),
        )
        for n in range(args.workers)
    ]
    for p in procs:
        p.start()
    try:
        results = [q.get(timeout=args.duration + 30) for _ in procs]
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    sent = sum(r[0] for r in results)
    got = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    rate = got / elapsed
    print(f"  {label}: {got:,} announce replies of {sent:,} sent in {elapsed:.1f}s = {rate:,.0f}/s")
    return rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3, help="runs of each tracker (default 3)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--count", type=int, default=2_000_000)
    args = p.parse_args(argv)
    if not shutil.which("opentracker"):
        print("opentracker not found: apt-get install opentracker")
        return 2
    hs = hashes(1000)
    with tempfile.TemporaryDirectory(prefix="trkbench-") as d, contextlib.ExitStack() as stack:
        work = Path(d)
        wl = work / "hashes.txt"
        wl.write_text("".join(h.hex() + "\n" for h in hs))
        ot_port = free_port(HOST)
        stack.enter_context(opentracker(HOST, None, ot_port, hs))
        config = f'rate_per_ip = 0.0\nwhitelist_file = "{wl}"\n'
        ports = stack.enter_context(ours(HOST, free_port(HOST), free_port(HOST), config, work))
        servers = [("opentracker", ot_port), ("ours", ports["udp"])]
        warm = argparse.Namespace(**{**vars(args), "duration": 1.0})
        for label, port in servers:
            load(port, hs, warm, f"{label} warm-up (not counted)")
        runs = alternate(
            args.rounds,
            [(label, functools.partial(load, port, hs, args, label)) for label, port in servers],
        )
    print()
    print(summary(runs, "opentracker", "announces/s", ">= 30%"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
