"""A small benchmark of the store (not a test): deliveries per second, and loading a
100,000-message mailbox as SELECT does (time and memory).

    .venv/bin/python -m tests.mailserver.store.bench_store [--dir DIR] [--messages N]

Run it on the disk the server will use: fsync's cost is the figure that matters.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable

from mailserver.store import Delivery, Store

BODY = b"From: a@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: bench\r\n\r\n" + b"x" * 4000


def rate(label: str, n: int, run: Callable[[], None]) -> None:
    start = time.perf_counter()
    run()
    took = time.perf_counter() - start
    print(f"{label:58} {n / took:8.0f} msg/s  ({n} in {took:.2f} s)")


def threads(count: int, each: Callable[[int], None]) -> Callable[[], None]:
    def run() -> None:
        ts = [threading.Thread(target=each, args=(i,)) for i in range(count)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return run


def deliveries(root: str) -> None:
    store = Store(root, host="bench")
    for i in range(8):
        store.user(f"u{i}@bench.test")
    one = "u0@bench.test"
    rate(
        "deliver(), one at a time, one user",
        200,
        lambda: [store.deliver(one, "INBOX", BODY) for _ in range(200)],
    )
    rate(
        "deliver() from 8 threads, one user (group commit)",
        800,
        threads(8, lambda i: [store.deliver(one, "INBOX", BODY) for _ in range(100)]),
    )
    rate(
        "deliver() from 8 threads, 8 users",
        800,
        threads(
            8, lambda i: [store.deliver(f"u{i}@bench.test", "INBOX", BODY) for _ in range(100)]
        ),
    )
    batch = [Delivery(address=f"u{i}@bench.test", data=BODY) for i in range(8)]
    rate(
        "deliver_batch() of 8 recipients, one thread",
        800,
        lambda: [store.deliver_batch(batch) for _ in range(100)],
    )
    rate(
        "deliver_batch() of 8 recipients, from 8 threads",
        6400,
        threads(8, lambda i: [store.deliver_batch(batch) for _ in range(100)]),
    )
    store.close()


def big_mailbox(root: str, count: int) -> None:
    store = Store(root, host="bench")
    user = store.user("big@bench.test")
    start = time.perf_counter()
    for first in range(0, count, 1000):
        n = min(1000, count - first)
        user.deliver_many([("INBOX", BODY, ("\\Seen",) if j % 3 else (), None) for j in range(n)])
    took = time.perf_counter() - start
    print(
        f"{'filling: deliver_many() in chunks of 1,000':58} {count / took:8.0f} msg/s  "
        f"({count} in {took:.1f} s)"
    )
    store.close()
    start = time.perf_counter()
    user = store.user("big@bench.test")  # open + reconcile (lists every file)
    print(
        f"{'open + reconcile, ' + str(count) + ' messages':58} {time.perf_counter() - start:8.3f} s"
    )
    tracemalloc.start()
    start = time.perf_counter()
    snap = user.select("INBOX")
    took = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{'select() (SELECT-equivalent load)':58} {took:8.3f} s  "
        f"peak {peak / 1e6:.1f} MB, UID array {snap.uids.itemsize * len(snap.uids) / 1e6:.1f} MB"
    )
    start = time.perf_counter()
    user.status("INBOX")
    print(f"{'status()':58} {time.perf_counter() - start:8.3f} s")
    start = time.perf_counter()
    metas = user.fetch("INBOX")
    print(
        f"{'fetch() of every message (FLAGS UID RFC822.SIZE data)':58} "
        f"{time.perf_counter() - start:8.3f} s  ({len(metas)})"
    )
    del metas
    start = time.perf_counter()
    user.store("INBOX", snap.uids, "add", ["\\Flagged"])
    print(
        f"{'store() +FLAGS (Flagged) on all (renames every file)':58} "
        f"{time.perf_counter() - start:8.3f} s"
    )
    start = time.perf_counter()
    user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    print(f"{'changes_since() after that':58} {time.perf_counter() - start:8.3f} s")
    print(
        f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=None, help="where to build the stores (a temp dir)")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="store-bench-", dir=args.dir)
    try:
        deliveries(root + "/d")
        big_mailbox(root + "/b", args.messages)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
