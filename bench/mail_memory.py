"""Our mail server's memory with 10 mailboxes of 100,000 messages each (target < 300 MB RSS).

Filling (not measured): the first user's INBOX gets `--messages` messages through
Store.deliver_batch in-process (durable delivery: files fsynced, index rows, cached
summaries), then that user's whole directory is copied for the other users (`--users` in all): the
index copied, the message files hard-linked (a message file is never changed in place):
the same mail for each, at a fraction of the time. Then
`mailserver serve --config FILE` starts (it opens and reconciles every user's store), and
the resident set size of the server process is read from /proc:

- after start-up (every store opened and reconciled),
- with one IMAP session per user that has SELECTed its INBOX (all kept open),
- after each of those sessions has also done UID FETCH 1:* (FLAGS) (what a client's first
  sync asks) and UID SEARCH UNSEEN,
- after they log out.

    python -m bench.mail_memory [--quick] [--users 10] [--messages 100000] [--size 2048]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.mail_common import (
    DOMAIN,
    Imap,
    message,
    ours_fill,
    ours_setup,
    run,
    running_ours,
    tree_rss_mb,
)

TARGET_MB = 300.0


async def sessions(host: str, port: int, users: list[str], messages: int, pid: int) -> list[float]:
    """RSS after SELECT in every session, after FETCH/SEARCH in every session, after logout."""
    conns = []
    figures = []
    t0 = time.monotonic()
    for user in users:
        conn = await Imap.connect(host, port)
        await conn.login(user)
        _, untagged = await conn.command("SELECT INBOX")
        if f"* {messages} EXISTS\r\n".encode() not in untagged:
            raise AssertionError(f"{user}: SELECT INBOX said {untagged!r}")
        conns.append(conn)
    figures.append(tree_rss_mb(pid))
    print(
        f"{len(users)} sessions, each SELECTed its INBOX of {messages:,} "
        f"({time.monotonic() - t0:.1f} s): RSS {figures[-1]:,.0f} MB",
        flush=True,
    )
    t0 = time.monotonic()
    for conn in conns:
        _, untagged = await conn.command("UID FETCH 1:* (FLAGS)")
        if len(untagged) < messages:
            raise AssertionError(f"UID FETCH 1:* (FLAGS) gave {len(untagged)} of {messages}")
        await conn.command("UID SEARCH UNSEEN")
    figures.append(tree_rss_mb(pid))
    print(
        f"... and each did UID FETCH 1:* (FLAGS) and UID SEARCH UNSEEN "
        f"({time.monotonic() - t0:.1f} s): RSS {figures[-1]:,.0f} MB",
        flush=True,
    )
    for conn in conns:
        await conn.logout()
    figures.append(tree_rss_mb(pid))
    print(f"after they logged out: RSS {figures[-1]:,.0f} MB", flush=True)
    return figures


def clone_user(src: Path, dst: Path) -> None:
    """A copy of a user's directory whose message files are hard links (a message file is
    never changed in place: a flag change renames it); the index and the rest are copied."""
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        linked = "Maildir" in rel.parts and rel.name in ("cur", "new")
        for name in files:
            if linked:
                os.link(Path(dirpath) / name, dst / rel / name)
            else:
                shutil.copyfile(Path(dirpath) / name, dst / rel / name)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mail_memory", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10 users of 5,000 messages")
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--messages", type=int, default=100_000, help="per user")
    p.add_argument("--size", type=int, default=2048, help="octets per message (about)")
    args = p.parse_args(argv)
    if args.quick:
        args.messages = 5_000
    users = [f"user{i}@{DOMAIN}" for i in range(args.users)]
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as d:
        ours = ours_setup(Path(d), users)
        t0 = time.monotonic()
        ours_fill(ours, users[0], [message(i, args.size) for i in range(args.messages)])
        print(
            f"{users[0]}: {args.messages:,} messages delivered with Store.deliver_batch "
            f"in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        t0 = time.monotonic()
        first = ours.state / DOMAIN / "user0"
        for user in users[1:]:
            clone_user(first, ours.state / DOMAIN / user.partition("@")[0])
        print(
            f"copied for {len(users) - 1} more users in {time.monotonic() - t0:.1f} s", flush=True
        )
        t0 = time.monotonic()
        with running_ours(ours) as server:
            assert server.proc is not None
            pid = server.proc.pid
            took = time.monotonic() - t0
            print(
                f"mailserver serve up in {took:.1f} s: RSS {tree_rss_mb(pid):,.0f} MB", flush=True
            )
            figures = run(sessions(server.host, server.port, users, args.messages, pid))
            peak = max([*figures, tree_rss_mb(pid)])
    total = args.users * args.messages
    verdict = "ok" if peak < TARGET_MB else "OVER the target"
    print(
        f"\nsummary: {args.users} mailboxes x {args.messages:,} = {total:,} messages: "
        f"highest RSS {peak:,.0f} MB (target < {TARGET_MB:.0f} MB: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
