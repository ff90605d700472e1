"""IMAP against Dovecot: the same client script on both servers, step by step, in one run.

Dovecot (Debian dovecot-imapd) runs in the foreground (`dovecot -F -c FILE`) on loopback
with a generated config in a temporary directory: Maildir, passwd-file users, plain LOGIN,
otherwise its defaults (fsync on). Ours is `mailserver serve --config FILE` on a temporary
config. Both are up for the whole run; the steps alternate between them (Dovecot, ours,
Dovecot, ours...) `--rounds` times, and the figure of a step is the median of its rounds.

Client: one asyncio connection per session (uvloop when installed), commands sent one at a
time as a desktop client does; every answer is read in full and checked (message counts,
search hits), so a server cannot win by answering less.

Steps (sizes by flag; `--quick` is a run under a minute):
- append: APPEND of `--append` messages (~4 KiB each) to an empty mailbox, one at a time
  (LITERAL+ on both servers, so one round trip each). A fresh mailbox each round.
- select: SELECT of a mailbox of `--big` messages. Filling it is not measured: Dovecot's
  Maildir gets the files directly; ours gets them through Store.deliver_batch in-process
  before the server starts (a durable delivery with its index rows and cached summaries,
  as SMTP delivery leaves them). Dovecot builds its index on the first SELECT after the
  files appear, so a first, untimed SELECT on each server is printed on its own ("first
  select"), then the rounds time a SELECT on a fresh connection.
- fetch: UID FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE) on that mailbox. Dovecot parses
  envelopes on first use and caches them, so the first FETCH is printed apart too.
- search: UID SEARCH HEADER Subject "msg N about" (one hit, checked).
- sort: UID SORT (REVERSE DATE) UTF-8 ALL and UID SORT (SUBJECT) UTF-8 ALL on that mailbox
  (RFC 5256): every UID once, checked; ours, whose UIDs follow the messages' order, is also
  checked against the order the keys give, and the run says whether Dovecot's matched.
- partial: UID SEARCH RETURN (PARTIAL 1:50) SUBJECT topic7 on that mailbox (RFC 5267: the
  first page of the messages about topic7, one in thirteen), the 50 UIDs checked.
- thread: UID THREAD REFERENCES UTF-8 ALL on that mailbox (RFC 5256): its messages come in
  conversations of five, each message's References naming the ones before it; ours is
  checked against the threads that gives, and the run says whether Dovecot's matched. The
  first THREAD of each server is printed apart ("first thread"): Dovecot builds its thread
  index then, ours works the answer out and keeps it (threads.Answers), so the rounds time
  the same THREAD again, both answered from what was kept. A second step, "thread (UID
  1:*)", asks for the same messages by a search that is not ALL, which ours works out every
  time (Dovecot still answers from its thread index).
- store: UID STORE 1:* +FLAGS (\\Flagged) on all (after an untimed -FLAGS.SILENT).
- qresync: a client that went offline comes back after another session expunged 1,000
  messages spread over the mailbox (one in every --big/1,000): SELECT INBOX (QRESYNC
  (uidvalidity modseq)) on a fresh connection after ENABLE QRESYNC (RFC 7162), checked to
  answer exactly those 1,000 UIDs in VANISHED (EARLIER) and no FETCH. It runs after the other
  steps on that mailbox, since it expunges (another 1,000 each round).
- mix: `--sessions` concurrent sessions (over `--mix-users` users whose INBOX holds
  `--mix-messages`) doing what Thunderbird does: connect, CAPABILITY, LOGIN, LIST, SELECT,
  UID FETCH 1:* (FLAGS), then `--mix-rounds` of: open a message (UID FETCH BODY.PEEK[]),
  mark it \\Seen, fetch header fields of the newest 50, NOOP, and every fifth round an
  APPEND (a saved draft) and UID SEARCH UNSEEN. Figure: wall time for all sessions.

Every step prints ours, Dovecot's and ours/Dovecot of the times (target: at most 2x).

    python -m bench.mail_imap [--quick] [--rounds 3] [--append 10000] [--big 100000] ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.mail_common import (
    DOMAIN,
    THREAD_LENGTH,
    Imap,
    dovecot_setup,
    have,
    maildir_fill,
    message,
    ours_fill,
    ours_setup,
    run,
    running_dovecot,
    running_ours,
)

Latencies = dict[str, list[float]]  # command kind -> seconds of each
HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID Priority References)]"


class Server:
    """One side of the comparison: where it listens and how its users are named."""

    def __init__(self, label: str, host: str, port: int, user: Callable[[str], str]) -> None:
        self.label = label
        self.host = host
        self.port = port
        self.user = user

    async def session(self, name: str) -> Imap:
        conn = await Imap.connect(self.host, self.port)
        await conn.login(self.user(name))
        return conn


def fetch_count(untagged: list[bytes]) -> int:
    return sum(1 for line in untagged if line.startswith(b"* ") and b" FETCH " in line[:20])


def search_hits(untagged: list[bytes]) -> list[int]:
    for line in untagged:
        if line.startswith(b"* SEARCH"):
            return [int(x) for x in line[8:].split()]
        if line.startswith(b"* ESEARCH"):
            raise AssertionError(f"ESEARCH answer to a plain SEARCH: {line!r}")
    return []


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


# --- the steps ----------------------------------------------------------------------------


async def step_append(server: Server, n: int, round_no: int, messages: list[bytes]) -> float:
    conn = await server.session("append")
    box = f"bench{round_no}"
    await conn.command(f"CREATE {box}")

    async def go() -> None:
        for i in range(n):
            await conn.command(f"APPEND {box} (\\Seen)", messages[i % len(messages)])

    seconds = await timed(go)
    _, untagged = await conn.command(f"STATUS {box} (MESSAGES)")
    if not any(f"MESSAGES {n})".encode() in line for line in untagged):
        raise AssertionError(f"{server.label}: after {n} APPENDs STATUS says {untagged!r}")
    await conn.logout()
    return seconds


async def step_select(server: Server, big: int) -> float:
    conn = await server.session("big")
    line: list[bytes] = []

    async def go() -> None:
        _, untagged = await conn.command("SELECT INBOX")
        line.extend(untagged)

    seconds = await timed(go)
    if not any(line_ == f"* {big} EXISTS\r\n".encode() for line_ in line):
        raise AssertionError(f"{server.label}: SELECT of {big} messages said {line!r}")
    await conn.logout()
    return seconds


async def step_fetch(server: Server, big: int) -> float:
    conn = await server.session("big")
    await conn.command("EXAMINE INBOX")
    got: list[int] = []

    async def go() -> None:
        _, untagged = await conn.command("UID FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)")
        got.append(fetch_count(untagged))

    seconds = await timed(go)
    if got != [big]:
        raise AssertionError(f"{server.label}: UID FETCH 1:* gave {got} answers, not {big}")
    await conn.logout()
    return seconds


async def step_search(server: Server, big: int, rng: random.Random) -> float:
    conn = await server.session("big")
    await conn.command("EXAMINE INBOX")
    i = rng.randrange(big)
    hits: list[int] = []

    async def go() -> None:
        _, untagged = await conn.command(f'UID SEARCH HEADER Subject "msg {i} about"')
        hits.extend(search_hits(untagged))

    seconds = await timed(go)
    if len(hits) != 1:
        raise AssertionError(f"{server.label}: search for message {i} found {hits[:10]}")
    await conn.logout()
    return seconds


def sorter(
    big: int, criteria: str, answers: dict[str, list[int]]
) -> Callable[[Server, int], Awaitable[float]]:
    return lambda server, _round: step_sort(server, big, criteria, answers)


def sort_hits(untagged: list[bytes]) -> list[int]:
    for line in untagged:
        if line.startswith(b"* SORT"):
            return [int(x) for x in line[6:].split()]
    return []


def expected_sort(criteria: str, big: int) -> list[int]:
    """The UIDs `criteria` gives for mail_common.message(0..big-1) stored as UIDs 1..big: the
    subjects "msg i about topicN" compared upper-cased; the sent dates i seconds into the day
    (mod 86,400), ties in mailbox order."""
    if criteria == "(SUBJECT)":
        return sorted(range(1, big + 1), key=lambda u: f"MSG {u - 1} ABOUT TOPIC{(u - 1) % 13}")
    if criteria == "(REVERSE DATE)":
        return sorted(range(1, big + 1), key=lambda u: (-((u - 1) % 86_400), u))
    raise ValueError(criteria)


async def step_sort(
    server: Server, big: int, criteria: str, answers: dict[str, list[int]]
) -> float:
    conn = await server.session("big")
    await conn.command("EXAMINE INBOX")
    got: list[int] = []

    async def go() -> None:
        _, untagged = await conn.command(f"UID SORT {criteria} UTF-8 ALL")
        got.extend(sort_hits(untagged))

    seconds = await timed(go)
    if len(got) != big or len(set(got)) != big:
        raise AssertionError(f"{server.label}: SORT {criteria} answered {len(got)} UIDs")
    if server.label == "ours" and got != expected_sort(criteria, big):
        raise AssertionError(f"ours: SORT {criteria} out of order: {got[:10]}...")
    answers[server.label] = got
    await conn.logout()
    return seconds


async def step_partial(server: Server, big: int) -> float:
    conn = await server.session("big")
    await conn.command("EXAMINE INBOX")
    got: list[bytes] = []

    async def go() -> None:
        _, untagged = await conn.command("UID SEARCH RETURN (PARTIAL 1:50) SUBJECT topic7")
        got.extend(line for line in untagged if line.startswith(b"* ESEARCH"))

    seconds = await timed(go)
    want = [u for u in range(1, big + 1) if (u - 1) % 13 == 7][:50]
    window = got[0].rstrip(b"\r\n").rsplit(b" ", 1)[1].rstrip(b")") if got else b""
    if window != b",".join(b"%d" % u for u in want):
        raise AssertionError(f"{server.label}: PARTIAL answered {got[:1]!r}")
    await conn.logout()
    return seconds


def expected_thread(big: int) -> bytes:
    """The `* THREAD` answer for mail_common.message(0..big-1) stored as UIDs 1..big: a chain
    per conversation, the conversations in the order of their first messages' sent dates
    (i seconds into the day, mod 86,400), ties in mailbox order."""
    firsts = sorted(range(0, big, THREAD_LENGTH), key=lambda i: (i % 86_400, i))
    chains = (range(i + 1, min(i + THREAD_LENGTH, big) + 1) for i in firsts)
    return b"* THREAD " + b"".join(b"(" + b" ".join(b"%d" % u for u in c) + b")" for c in chains)


async def step_thread(
    server: Server, big: int, answers: dict[str, bytes], search: str = "ALL"
) -> float:
    conn = await server.session("big")
    await conn.command("EXAMINE INBOX")
    got: list[bytes] = []

    async def go() -> None:
        _, untagged = await conn.command(f"UID THREAD REFERENCES UTF-8 {search}")
        got.extend(line for line in untagged if line.startswith(b"* THREAD"))

    seconds = await timed(go)
    if len(got) != 1:
        raise AssertionError(f"{server.label}: THREAD answered {len(got)} THREAD lines")
    line = got[0].rstrip(b"\r\n")
    numbers = line[len(b"* THREAD") :].replace(b"(", b" ").replace(b")", b" ").split()
    if sorted(int(n) for n in numbers) != list(range(1, big + 1)):
        raise AssertionError(f"{server.label}: THREAD did not answer every UID once")
    if server.label == "ours" and line != expected_thread(big):
        raise AssertionError(f"ours: THREAD answered {line[:80]!r}...")
    answers[server.label] = line
    await conn.logout()
    return seconds


async def step_store(server: Server, big: int) -> float:
    conn = await server.session("big")
    await conn.command("SELECT INBOX")
    await conn.command("UID STORE 1:* -FLAGS.SILENT (\\Flagged)")
    got: list[int] = []

    async def go() -> None:
        _, untagged = await conn.command("UID STORE 1:* +FLAGS (\\Flagged)")
        got.append(fetch_count(untagged))

    seconds = await timed(go)
    if got != [big]:
        raise AssertionError(f"{server.label}: STORE on {big} answered {got} FETCHes")
    await conn.logout()
    return seconds


def qresync_doomed(big: int, round_no: int) -> list[int]:
    """The 1,000 UIDs a round of the qresync step expunges: one in every big/1,000, so that
    the VANISHED set is a thousand single UIDs, never a range (a client's worst case)."""
    step = max(big // 1000, 1)
    return list(range(1 + round_no % step, big + 1, step))[:1000]


async def step_qresync(server: Server, big: int, round_no: int) -> float:
    """A client that went offline at MODSEQ m comes back after 1,000 expunges elsewhere: one
    SELECT INBOX (QRESYNC (uidvalidity m)) must tell exactly those UIDs, and no FETCH."""
    other = await server.session("big")
    await other.command("ENABLE QRESYNC")  # (as the client did before it went offline)
    _, untagged = await other.command("SELECT INBOX")
    uidvalidity = modseq = 0
    for line in untagged:
        if b"[UIDVALIDITY " in line:
            uidvalidity = int(line.split(b"[UIDVALIDITY ")[1].split(b"]")[0])
        if b"[HIGHESTMODSEQ " in line:
            modseq = int(line.split(b"[HIGHESTMODSEQ ")[1].split(b"]")[0])
    doomed = qresync_doomed(big, round_no)
    uids = ",".join(str(u) for u in doomed)
    await other.command(f"UID STORE {uids} +FLAGS.SILENT (\\Deleted)")
    await other.command(f"UID EXPUNGE {uids}")
    await other.logout()
    conn = await server.session("big")
    await conn.command("ENABLE QRESYNC")
    got: list[bytes] = []

    async def go() -> None:
        _, untagged = await conn.command(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
        got.extend(untagged)

    seconds = await timed(go)
    vanished = [line for line in got if line.startswith(b"* VANISHED (EARLIER) ")]
    want = b"* VANISHED (EARLIER) " + uids.encode() + b"\r\n"
    if vanished != [want] or fetch_count(got):
        raise AssertionError(
            f"{server.label}: QRESYNC answered {vanished[0][:80] if vanished else b''!r}..., "
            f"{fetch_count(got)} FETCH"
        )
    await conn.logout()
    return seconds


async def mix_login(server: Server, user: str) -> Imap:
    conn = await Imap.connect(server.host, server.port)
    await conn.login(server.user(user))
    return conn


async def mix_session(
    conn: Imap, label: str, rounds: int, rng: random.Random, draft: bytes, lat: Latencies
) -> int:
    """One Thunderbird-like session after its login; the number of commands it sent. The
    time of each command goes to `lat` under its kind."""

    async def timed_command(kind: str, text: str, literal: bytes | None = None) -> list[bytes]:
        t0 = time.perf_counter()
        _, untagged = await conn.command(text, literal)
        lat.setdefault(kind, []).append(time.perf_counter() - t0)
        return untagged

    await timed_command("LIST", 'LIST "" "*"')
    untagged = await timed_command("SELECT", "SELECT INBOX")
    exists = next(int(line.split()[1]) for line in untagged if line.endswith(b" EXISTS\r\n"))
    untagged = await timed_command("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)")
    uids = [
        int(line.split(b"UID ", 1)[1].split(b")")[0].split()[0])
        for line in untagged
        if b"UID " in line
    ]
    if len(uids) < exists:
        raise AssertionError(f"{label}: UID FETCH 1:* (FLAGS) gave {len(uids)} of {exists}")
    commands = 3
    for r in range(rounds):
        uid = rng.choice(uids)
        untagged = await timed_command(
            "UID FETCH n BODY.PEEK[]", f"UID FETCH {uid} (UID RFC822.SIZE BODY.PEEK[])"
        )
        if not untagged:
            raise AssertionError(f"{label}: UID FETCH {uid} BODY.PEEK[] gave nothing")
        await timed_command("UID STORE n +FLAGS.SILENT", f"UID STORE {uid} +FLAGS.SILENT (\\Seen)")
        await timed_command(
            "UID FETCH 50 HEADER.FIELDS",
            f"UID FETCH {max(uids[-50], 1)}:* (UID FLAGS {HEADER_FIELDS})",
        )
        await timed_command("NOOP", "NOOP")
        commands += 4
        if r % 5 == 4:
            await timed_command("APPEND", "APPEND INBOX (\\Draft \\Seen)", draft)
            await timed_command("UID SEARCH UNSEEN", "UID SEARCH UNSEEN")
            commands += 2
    await conn.logout()
    return commands + 1


async def step_mix(
    server: Server,
    args: argparse.Namespace,
    round_no: int,
    logins: dict[str, list[float]],
    lat: Latencies,
) -> float:
    """The sessions log in together (timed apart, into `logins`), then do their mix."""
    rng = random.Random(round_no)
    draft = message(10**6 + round_no)
    t0 = time.perf_counter()
    conns = await asyncio.gather(
        *(mix_login(server, f"mix{i % args.mix_users}") for i in range(args.sessions))
    )
    logins[server.label].append(time.perf_counter() - t0)
    print(f"    {args.sessions} logins at once: {logins[server.label][-1]:.2f} s")
    tasks = [
        mix_session(c, server.label, args.mix_rounds, random.Random(rng.random()), draft, lat)
        for c in conns
    ]
    t0 = time.perf_counter()
    counts = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - t0
    print(f"    {sum(counts):,} commands in {seconds:.2f} s = {sum(counts) / seconds:,.0f}/s")
    return seconds


# --- driving both servers -----------------------------------------------------------------


def ms(seconds: float) -> str:
    """A time in milliseconds, to a tenth (a SELECT takes well under one)."""
    return f"{seconds * 1000:,.1f} ms"


def report(name: str, runs: dict[str, list[float]]) -> str:
    dov, ours = statistics.median(runs["Dovecot"]), statistics.median(runs["ours"])
    each = {k: ", ".join(ms(v) for v in vs) for k, vs in runs.items()}
    verdict = "ok" if ours <= 2 * dov else "OVER the 2x target"
    ratio = f"{ours / dov:7.2f}x" if dov > 0 else "    inf"
    return (
        f"{name:<10} Dovecot {ms(dov):>12}  ours {ms(ours):>12}  ours/Dovecot {ratio} "
        f"({verdict}; runs: Dovecot {each['Dovecot']}; ours {each['ours']})"
    )


def alternate_async(
    rounds: int, servers: Sequence[Server], step: Callable[[Server, int], Awaitable[float]]
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {s.label: [] for s in servers}
    for r in range(1, rounds + 1):
        for s in servers:
            seconds = run(step(s, r))
            print(f"  round {r}: {s.label} {ms(seconds)}", flush=True)
            out[s.label].append(seconds)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mail_imap", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes: a run under a minute")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--append", type=int, default=10_000, help="messages APPENDed per round")
    p.add_argument("--big", type=int, default=100_000, help="messages in the big mailbox")
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--mix-users", type=int, default=10)
    p.add_argument("--mix-messages", type=int, default=2_000)
    p.add_argument("--mix-rounds", type=int, default=20)
    p.add_argument(
        "--steps", default="append,select,fetch,search,sort,partial,thread,store,qresync,mix"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="our processes serving IMAP (config `workers`; `minternet up` runs 2)",
    )
    p.add_argument(
        "--dovecot-scheme",
        default="ARGON2ID",
        help="Dovecot's password hashes (ours: scrypt N=2^15 r=8); PLAIN to skip hashing",
    )
    p.add_argument("--no-ours", action="store_true", help="Dovecot only (checks this script)")
    args = p.parse_args(argv)
    if args.quick:
        args.append, args.big, args.rounds = 1_000, 10_000, 1
        args.sessions, args.mix_messages, args.mix_rounds = 20, 300, 10
    missing = have("dovecot")
    if missing:
        print(f"{missing} is missing: apt-get install dovecot-imapd", file=sys.stderr)
        return 2
    steps = args.steps.split(",")
    users = ["append", "big"] + [f"mix{i}" for i in range(args.mix_users)]
    print(
        f"sizes: append {args.append:,}, big mailbox {args.big:,}, {args.sessions} sessions "
        f"over {args.mix_users} users of {args.mix_messages:,} messages, {args.rounds} rounds"
    )
    messages = [message(i) for i in range(max(args.big, args.mix_messages, 1000))]
    with tempfile.TemporaryDirectory(prefix="bench-imap-") as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        dc = stack.enter_context(dovecot_setup(tmp, users, scheme=args.dovecot_scheme))
        t0 = time.monotonic()
        maildir_fill(dc.maildir("big"), messages[: args.big])
        for i in range(args.mix_users):
            maildir_fill(dc.maildir(f"mix{i}"), messages[: args.mix_messages])
        took = time.monotonic() - t0
        print(f"Dovecot's Maildirs filled in {took:.1f} s (files written directly)")
        stack.enter_context(running_dovecot(dc))
        print(f"Dovecot {dc.version}: {dc.host}:{dc.port}", flush=True)
        servers = [Server("Dovecot", dc.host, dc.port, lambda name: name)]
        if not args.no_ours:
            ours = ours_setup(tmp, [f"{u}@{DOMAIN}" for u in users], workers=args.workers)
            t0 = time.monotonic()
            ours_fill(ours, f"big@{DOMAIN}", messages[: args.big])
            for i in range(args.mix_users):
                ours_fill(ours, f"mix{i}@{DOMAIN}", messages[: args.mix_messages])
            print(f"ours filled with Store.deliver_batch in {time.monotonic() - t0:.1f} s")
            t0 = time.monotonic()
            stack.enter_context(running_ours(ours))
            print(
                f"ours: mailserver serve on {ours.host}:{ours.port} "
                f"(up in {time.monotonic() - t0:.1f} s)",
                flush=True,
            )
            servers.append(Server("ours", ours.host, ours.port, lambda n: f"{n}@{DOMAIN}"))
        results: list[str] = []
        rng = random.Random(args.seed)

        def record(name: str, runs: dict[str, list[float]]) -> None:
            if len(runs) == 2:
                results.append(report(name, runs))
                print(results[-1], flush=True)

        if "append" in steps:
            print(f"append: {args.append:,} APPENDs, one at a time", flush=True)
            record(
                "append",
                alternate_async(
                    args.rounds, servers, lambda s, r: step_append(s, args.append, r, messages)
                ),
            )
        if {"select", "fetch", "search", "sort", "partial", "thread", "store", "qresync"} & set(
            steps
        ):
            for s in servers:
                first = run(step_select(s, args.big))
                print(f"first select (index built or read): {s.label} {ms(first)}")
                first = run(step_fetch(s, args.big))
                print(f"first fetch (envelopes parsed or read): {s.label} {ms(first)}")
        if "select" in steps:
            print(f"select: SELECT INBOX of {args.big:,} messages", flush=True)
            record(
                "select",
                alternate_async(args.rounds, servers, lambda s, r: step_select(s, args.big)),
            )
        if "fetch" in steps:
            print("fetch: UID FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)", flush=True)
            record(
                "fetch", alternate_async(args.rounds, servers, lambda s, r: step_fetch(s, args.big))
            )
        if "search" in steps:
            print('search: UID SEARCH HEADER Subject "msg N about"', flush=True)
            record(
                "search",
                alternate_async(args.rounds, servers, lambda s, r: step_search(s, args.big, rng)),
            )
        if "sort" in steps:
            for criteria in ("(REVERSE DATE)", "(SUBJECT)"):
                print(f"sort: UID SORT {criteria} UTF-8 ALL", flush=True)
                answers: dict[str, list[int]] = {}
                record(
                    f"sort {criteria}",
                    alternate_async(args.rounds, servers, sorter(args.big, criteria, answers)),
                )
                if len(answers) == 2:
                    same = answers["ours"] == answers["Dovecot"]
                    print(f"  the same order as Dovecot's: {'yes' if same else 'no'}", flush=True)
        if "partial" in steps:
            print("partial: UID SEARCH RETURN (PARTIAL 1:50) SUBJECT topic7", flush=True)
            record(
                "partial",
                alternate_async(args.rounds, servers, lambda s, r: step_partial(s, args.big)),
            )
        if "thread" in steps:
            threads: dict[str, bytes] = {}
            for s in servers:  # (Dovecot builds its thread index; ours keeps the answer)
                first = run(step_thread(s, args.big, threads))
                print(f"first thread (index built, or answer kept): {s.label} {ms(first)}")
            print("thread: UID THREAD REFERENCES UTF-8 ALL, again", flush=True)
            record(
                "thread",
                alternate_async(
                    args.rounds, servers, lambda s, r: step_thread(s, args.big, threads)
                ),
            )
            if len(threads) == 2:
                same = threads["ours"] == threads["Dovecot"]
                print(f"  the same threads as Dovecot's: {'yes' if same else 'no'}", flush=True)
            print("thread: UID THREAD REFERENCES UTF-8 UID 1:* (ours works it out)", flush=True)
            record(
                "thread (UID 1:*)",
                alternate_async(
                    args.rounds, servers, lambda s, r: step_thread(s, args.big, threads, "UID 1:*")
                ),
            )
        if "store" in steps:
            print("store: UID STORE 1:* +FLAGS (\\Flagged)", flush=True)
            record(
                "store", alternate_async(args.rounds, servers, lambda s, r: step_store(s, args.big))
            )
        if "qresync" in steps:  # (last of the big mailbox's steps: it expunges)
            print(
                "qresync: SELECT INBOX (QRESYNC (uidvalidity modseq)) after 1,000 expunges",
                flush=True,
            )
            record(
                "qresync",
                alternate_async(args.rounds, servers, lambda s, r: step_qresync(s, args.big, r)),
            )
        if "mix" in steps:
            print(
                f"mix: {args.sessions} concurrent Thunderbird-like sessions, "
                f"{args.mix_rounds} rounds each",
                flush=True,
            )
            logins: dict[str, list[float]] = {s.label: [] for s in servers}
            lats: dict[str, Latencies] = {s.label: {} for s in servers}
            mixed = alternate_async(
                args.rounds, servers, lambda s, r: step_mix(s, args, r, logins, lats[s.label])
            )
            record(f"{args.sessions} logins", logins)
            record("mix", mixed)
            print("mix: median time of each command under that load, by kind:")
            for kind in lats[servers[0].label]:
                cells = "  ".join(
                    f"{s.label} {ms(statistics.median(lats[s.label][kind])):>10}"
                    for s in servers
                    if lats[s.label].get(kind)
                )
                print(f"  {kind:<28} {cells}")
        for s in servers:
            proc = dc.proc if s.label == "Dovecot" else ours.proc
            if proc is not None:
                from bench.mail_common import tree_rss_mb

                print(f"{s.label}: RSS of its processes at the end {tree_rss_mb(proc.pid):,.0f} MB")
    if results:
        print("\nsummary (medians; ratio = ours' time / Dovecot's time, target <= 2x):")
        print("\n".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
