"""The outbound queue's memory: our mail server holding `--messages` deferred messages (target:
under 200 MB for 100,000; the messages stay in the spool on disk, only their envelopes are
kept in memory).

Filling (not measured): the spool (state/queue) gets each message's file and envelope written
directly (no fsync: it is a fixture, not a delivery), every envelope deferred for an hour after
three attempts, with an error text of the usual size. Then `mailserver serve` starts with a
`[queue]` whose resolver is a port nothing answers on, and the resident set size of the server
process is read from /proc: once with an empty spool, once with the full one (after its start,
which reads every envelope). Printed: both, their difference, and how long the start took.

    python -m bench.mail_queue_memory [--quick] [--messages 100000] [--size 4096]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.mail_common import HOST, free_tcp_port, message, ours_setup, running_ours
from mailserver.queue.retry import Entry, Recipient, to_json

TARGET_MB = 200


def fill_spool(queue: Path, count: int, size: int, now: float) -> None:
    """`count` deferred messages in the spool at `queue`, written without fsync."""
    (queue / "data").mkdir(parents=True, exist_ok=True)
    (queue / "entries").mkdir(parents=True, exist_ok=True)
    (queue / "corrupt").mkdir(parents=True, exist_ok=True)
    error = "mail.example.org[192.0.2.25]: 451 4.3.0 <bob@example.org>: temporarily deferred"
    for i in range(count):
        ident = f"B{i:08X}"
        entry = Entry(
            ident,
            "alice@bench.test",
            now - 600,
            (Recipient(f"user{i % 1000}@example.org", "4.3.0", error, "mail.example.org"),),
            now + 3600,
            attempts=3,
        )
        (queue / "data" / ident).write_bytes(message(i, size))
        (queue / "entries" / f"{ident}.json").write_bytes(to_json(entry))


def measure(tmp: Path, count: int, size: int) -> tuple[float, float]:
    """(RSS in MB once started, seconds the start took) with `count` deferred messages."""
    ours = ours_setup(tmp, ["alice@bench.test"], kinds=("smtp",))
    with open(ours.config, "a") as f:
        f.write(f'[queue]\nresolver = "{HOST}:{free_tcp_port()}"\n')
    fill_spool(ours.state.parent / "queue", count, size, time.time())
    t0 = time.perf_counter()
    with running_ours(ours):
        seconds = time.perf_counter() - t0
        return ours.rss_mb(), seconds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mail_queue_memory", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10,000 messages")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--size", type=int, default=4096, help="octets per message (about)")
    args = p.parse_args(argv)
    count = 10_000 if args.quick else args.messages
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as d:
        empty, empty_s = measure(Path(d) / "empty", 0, args.size)
        print(f"empty spool: {empty:.0f} MB RSS (start {empty_s:.1f} s)", flush=True)
        full, full_s = measure(Path(d) / "full", count, args.size)
        print(f"{count:,} deferred messages: {full:.0f} MB RSS (start {full_s:.1f} s)")
    grown = full - empty
    verdict = "ok" if full < TARGET_MB else "OVER the target"
    print(f"\nthe queue's memory: +{grown:.0f} MB for {count:,} messages "
          f"({grown * 1e6 / max(count, 1) / 1e3:.1f} kB each); total {full:.0f} MB, "
          f"target: the server under {TARGET_MB} MB with 100,000: {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
