"""Registry memory: 1,000,000 peers across 100,000 swarms, resident set size (target < 500 MB).

Fills a fresh Registry in a child process (so the figure is the registry's, not this
script's) through the same `announce` the daemons use, then reports the child's RSS before and
after. opentracker's figure for the same load is not measurable from outside without a
million announces over the network, so this benchmark reports ours against the target only.

    python -m bench.tracker_memory [--peers 1000000] [--swarms 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
        req = Announce(
            hashes[i % swarms],
            rng.randbytes(20),
            1025 + i % 60000,
            0,
            0,
            (i // swarms) % 3,
            0,
            None,
            True,
            False,
            b"",
            None,
        )
        ip = (0x0A000000 + i).to_bytes(4, "big")
        reg.announce(req, ip + req.port.to_bytes(2, "big"), 1000.0)
    elapsed = time.monotonic() - t0
    out.put((before, rss_mb(), reg.peer_count, len(reg.swarms), elapsed))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", type=int, default=1_000_000)
    p.add_argument("--swarms", type=int, default=100_000)
    args = p.parse_args(argv)
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
        f"registry: {peers:,} peers in {swarms:,} swarms, filled in {elapsed:.1f}s "
        f"({peers / elapsed:,.0f} announces/s in-process)"
    )
    print(
        f"RSS: {after:,.0f} MB total, {after - before:,.0f} MB for the registry "
        f"({(after - before) * 1e6 / max(peers, 1):,.0f} bytes/peer); target < 500 MB: "
        f"{'met' if after < 500 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
