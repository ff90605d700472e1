"""mutt, in batch mode over IMAPS, threading a mailbox by itself: the threads its index shows
(`sort=threads`) must be the server's `UID THREAD REFERENCES` answer (RFC 5256 §3), tree and
order; and its index sorted by date (`sort=date`) the server's `UID SORT (DATE)`.

mutt computes threads on its own side, from the Message-ID, In-Reply-To and References
fields it fetches (it never sends THREAD or SORT: its debug log is checked for that), so the
two are independent computations of the same threads. The INBOX holds 15 messages in five
conversations, delivered out of date order: siblings whose dates are not their arrival order
(one in another time zone), a reply dated before the message that began its thread, a
chain of four, "Re:", "RE:", "Re: Re:" and "Fwd:" subjects, replies to a message that never
arrived (one, then two), two replies to a missing message in the middle of a thread, a reply
with only In-Reply-To, and a message with no references at all.

How the index is read: mutt runs in tmux (a terminal it can draw on, 200 columns wide), with
`ascii_chars` so the thread tree is drawn in ASCII before each subject, and a pushed
`<exit>`; tmux keeps the pane's screen after mutt exits (`remain-on-exit`), and
`capture-pane` gives it as plain text.

Where mutt and RFC 5256 differ, and what the test does about it:
- A missing message with two or more replies, in the middle of a thread: mutt keeps it (an
  invisible node, its replies one level deeper, the arrow drawn `` `---> ``), RFC 5256 §3
  step 4 deletes it and promotes the replies to its parent. The test reads mutt's tree with
  its invisible nodes, then applies step 4 to it (replies spliced in the place of the missing
  message); the dates are such that this splice keeps the siblings in date order, which
  RFC 5256 sorts them by after step 4.
- At the top, both hide a missing message with one reply (the reply becomes the thread's
  start) and keep one with two (mutt's `-->` arrow, RFC 5256's `((a)(b))`).
- Threads by subject: RFC 5256 joins top-level threads whose base subjects are equal (step
  5), mutt (without `strict_threads`) joins messages without a parent to an earlier one of
  the same subject, by rules of its own. Avoided: `strict_threads=yes`, and every thread has
  a base subject of its own.
- A message whose In-Reply-To and References disagree: mutt follows In-Reply-To, RFC 5256
  References. Avoided: they agree in every message.
- Ties: RFC 5256 orders messages of the same date by number, mutt by its `sort_aux`.
  Avoided: no two messages have the same date.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import MailServer
from .mutt_kit import NEEDS_MUTT, muttrc
from .test_mail_thunderbird import connect

pytestmark = [
    *NEEDS_MUTT,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing: apt-get install tmux"),
]

EST = timezone(timedelta(hours=-5))


class Mail(NamedTuple):
    """One message: its key (the Message-ID is <key.threads@example.org>), its subject and
    date, the keys of its In-Reply-To and of its References fields."""

    key: str
    subject: str
    date: datetime
    in_reply_to: str = ""
    references: str = ""


def _d(day: int, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=tz)


# In the order they are delivered; "bx", "cx" and "dx" are never delivered.
MAILS = [
    Mail("p3", "Re: Picnic on Saturday", _d(2, 9, 30), "p1", "p1"),
    Mail("c1", "Server migration", _d(4, 8)),
    Mail("p1", "Picnic on Saturday", _d(2, 9)),
    Mail("b1", "Re: Budget review", _d(1, 12), "bx", "bx"),
    Mail("p2", "Re: Picnic on Saturday", _d(2, 5, tz=EST), "p1", "p1"),  # 10:00 UTC
    Mail("s1", "Lunch menu", _d(3, 7)),
    Mail("c3", "RE: Server migration", _d(4, 11), "cx", "c1 cx"),
    Mail("b2", "Re: Re: Budget review", _d(1, 14), "b1", "bx b1"),
    Mail("p4", "Re: Re: Picnic on Saturday", _d(2, 11), "p2", "p1 p2"),
    Mail("c2", "Re: Server migration", _d(4, 10), "c1", "c1"),
    Mail("p5", "Fwd: Picnic on Saturday", _d(3, 8), "p4", "p1 p2 p4"),
    Mail("c4", "Re: Server migration", _d(1, 9), "c2", "c1 c2"),  # before c1: a wrong clock
    Mail("c5", "Re: Server migration", _d(4, 12), "cx", "c1 cx"),
    Mail("d1", "Re: Quarterly report", _d(5, 9), "dx", "dx"),
    Mail("d2", "Re: Quarterly report", _d(5, 8), "dx"),  # In-Reply-To only
]

#: The threads, in THREAD's syntax with keys for numbers (RFC 5256 §4): what both must find.
EXPECTED = "(b1 b2)(p1 (p3)(p2 p4 p5))(s1)(c1 (c2 c4)(c3)(c5))((d2)(d1))"


def message_id(key: str) -> str:
    return f"<{key}.threads@example.org>"


@dataclass
class Node:
    """A message (`key`) or a missing one (`key` None) in a thread, with its replies."""

    key: str | None
    children: list[Node] = field(default_factory=list)

    def shape(self) -> tuple[object, ...]:
        return (self.key, tuple(c.shape() for c in self.children))


def shapes(threads: list[Node]) -> tuple[object, ...]:
    return tuple(t.shape() for t in threads)


def render(threads: list[Node]) -> str:
    """The threads in THREAD's syntax (keys for numbers; a missing message with one reply,
    which neither side should have after pruning, is shown as `?`)."""

    def members(node: Node) -> str:
        words = []
        while True:
            words.append(node.key or ("?" if len(node.children) == 1 else ""))
            if len(node.children) != 1:
                break
            node = node.children[0]
        nested = "".join(f"({members(c)})" for c in node.children)
        return " ".join(w for w in [*words, nested] if w)

    return "".join(f"({members(t)})" for t in threads)


# --- the server's side ---


def parse_thread(line: bytes, keys: dict[int, str]) -> list[Node]:
    """The threads of a `* THREAD` response (RFC 5256 §4), UIDs turned into keys."""
    assert line.startswith(b"* THREAD "), line
    tokens = re.findall(rb"\(|\)|\d+|\S", line[len(b"* THREAD ") :])
    pos = 0

    def thread_list() -> Node:  # "(" numbers then nested lists ")"
        nonlocal pos
        assert tokens[pos] == b"(", line
        pos += 1
        chain: list[str] = []
        while tokens[pos].isdigit():
            chain.append(keys[int(tokens[pos])])
            pos += 1
        nested = []
        while tokens[pos] == b"(":
            nested.append(thread_list())
        assert tokens[pos] == b")", line
        pos += 1
        node = Node(chain[-1] if chain else None, nested)
        for key in reversed(chain[:-1]):
            node = Node(key, [node])
        return node

    threads = []
    while pos < len(tokens):
        threads.append(thread_list())
    return threads


def server_view(
    server: MailServer, address: str, password: str
) -> tuple[bytes, bytes, dict[int, str]]:
    """(the `* THREAD` line of UID THREAD REFERENCES, the `* SORT` line of UID SORT (DATE),
    the key of each UID)."""
    wire = connect(server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        wire.ok("SELECT INBOX")
        keys = {}
        for line in wire.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
            found = re.search(rb"UID (\d+) .*Message-ID: <([^.>]+)\.threads@", line, re.S | re.I)
            assert found is not None, line
            keys[int(found.group(1))] = found.group(2).decode()
        threads = wire.ok("UID THREAD REFERENCES UTF-8 ALL")
        by_date = wire.ok("UID SORT (DATE) UTF-8 ALL")
        threads = [x for x in threads if x.startswith(b"* THREAD ")]
        by_date = [x for x in by_date if x.startswith(b"* SORT ")]
        assert len(threads) == len(by_date) == 1, wire.dump()
        return threads[0].rstrip(), by_date[0].rstrip(), keys
    finally:
        wire.close()


# --- mutt's side ---

_LINE = re.compile(r"^MUTT-INDEX <([^.>]+)\.threads@example\.org> (.*?)\s*$")
_TREE = re.compile(r"[ |`,+\-?&*=]*>")  # the tree mutt draws before a subject, ascii_chars


def mutt_index(server: MailServer, home: Path, address: str, password: str, sort: str) -> list[str]:
    """mutt's index of the INBOX with `sort`: a line per message, `<key> <tree><subject>`
    (the tree, drawn in ASCII, only when sorted by threads). mutt runs on a tmux pane that
    stays once it has exited; its debug log must show no THREAD or SORT sent."""
    home.mkdir()
    rc = muttrc(
        server,
        home,
        address,
        password,
        f"""set sort={sort}
set sort_aux=date
set strict_threads=yes
set ascii_chars=yes
set hide_thread_subject=no
set help=no
set index_format="MUTT-INDEX %i %s"
push "<exit>"
""",
    )
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(HOME=str(home), MAIL="", LC_ALL="C.UTF-8", TERM="vt100")
    # vt100: no alternate screen to leave on exit, so the index stays on the pane
    command = shlex.join(["env", "TERM=vt100", "mutt", "-n", "-d", "2", "-F", str(rc)])
    with tempfile.TemporaryDirectory(prefix="mutt-tmux-") as short:  # a socket path is short
        conf, sock = Path(short) / "tmux.conf", Path(short) / "sock"
        conf.write_text("set -g remain-on-exit on\n")
        tmux = ["tmux", "-S", str(sock), "-f", str(conf)]
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "mutt", "-x", "200", "-y", "40", command],
            env=env,
            check=True,
            timeout=30,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                dead = subprocess.run(
                    [*tmux, "display-message", "-p", "-t", "mutt", "#{pane_dead}"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout.strip()
                screen = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-S", "-", "-t", "mutt"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout
                if dead == "1":
                    break
                if time.monotonic() > deadline:  # stopped at a question (a certificate?)
                    pytest.fail(f"mutt still running after 30 s; its screen:\n{screen}")
                time.sleep(0.1)
        finally:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)
    log = (home / ".muttdebug0").read_text(errors="replace")
    assert re.search(r"> a\d+ (UID )?(THREAD|SORT) ", log) is None, "mutt asked the server"
    lines = [m.group(1, 2) for m in map(_LINE.match, screen.splitlines()) if m]
    assert len(lines) == len(MAILS), screen
    return [f"{key} {rest}" for key, rest in lines]


def parse_mutt_threads(index: list[str]) -> list[Node]:
    """The threads mutt drew. Its tree before a subject has two characters a level then `>`;
    of the levels of the arrow (second character not a space), the first character is a
    corner (`|` or `` ` ``) where the parent is shown on an earlier line, and a `-` (or `?`,
    `&`) where the parent is a message mutt does not show: a missing one."""
    threads: list[Node] = []
    stack: list[Node] = []  # the last node at each depth
    for line in index:
        key, subject = line.split(" ", 1)
        tree = m.group() if (m := _TREE.match(subject)) else ""
        assert len(tree) % 2 == 1 or not tree, line
        depth = len(tree) // 2
        node = Node(key)
        if depth == 0:
            threads.append(node)
            stack = [node]
            continue
        start = next(k for k in range(1, depth + 1) if tree[2 * k - 1] != " ")
        del stack[start:]
        for level in range(start, depth + 1):
            corner = tree[2 * level - 2]
            if corner in "|`":
                assert level == start and len(stack) == level, line
                continue
            assert corner in "-?&", line
            missing = Node(None)  # the parent at depth level - 1, not shown
            if level == 1:
                threads.append(missing)
                stack = [missing]
            else:
                stack[level - 2].children.append(missing)
                stack.append(missing)
        stack[depth - 1].children.append(node)
        stack.append(node)
    return threads


def prune(threads: list[Node]) -> list[Node]:
    """RFC 5256 §3 step 4 on mutt's threads: a missing message is replaced by its replies,
    except at the top where it stays if it has more than one."""

    def spliced(node: Node) -> list[Node]:
        children = [x for c in node.children for x in spliced(c)]
        if node.key is None:
            return children
        return [Node(node.key, children)]

    top = []
    for t in threads:
        children = [x for c in t.children for x in spliced(c)]
        if t.key is None and len(children) == 1:
            top.extend(children)
        else:
            top.append(Node(t.key, children))
    return top


def test_mutt_threads_as_the_server_does(mail_server: MailServer, tmp_path: Path) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("threads")
    for mail in MAILS:
        headers = f"Message-ID: {message_id(mail.key)}\r\n"
        if mail.in_reply_to:
            headers += f"In-Reply-To: {message_id(mail.in_reply_to)}\r\n"
        if mail.references:
            refs = " ".join(map(message_id, mail.references.split()))
            headers += f"References: {refs}\r\n"
        mail_server.deliver(address, mail.subject, headers=headers, date=format_datetime(mail.date))
    thread_line, sort_line, keys = server_view(mail_server, address, password)
    assert sorted(keys.values()) == sorted(m.key for m in MAILS), keys

    index = mutt_index(mail_server, tmp_path / "threads", address, password, "threads")
    drawn = parse_mutt_threads(index)
    mutt, server = prune(drawn), parse_thread(thread_line, keys)
    report = (
        "\nmutt's index:\n  " + "\n  ".join(index) + f"\nmutt, as drawn:  {render(drawn)}"
        f"\nmutt, pruned:    {render(mutt)}\nthe server:      {render(server)}"
        f"\n  ({thread_line.decode()})\nthe design:      {EXPECTED}"
    )
    assert render(mutt) == EXPECTED, "mutt did not thread as designed" + report
    assert shapes(server) == shapes(mutt), report

    index = mutt_index(mail_server, tmp_path / "date", address, password, "date")
    mutt_order = [line.split(" ", 1)[0] for line in index]
    server_order = [keys[int(n)] for n in sort_line.split()[2:]]
    assert server_order == mutt_order, f"{sort_line.decode()}\n" + "\n".join(index)
    assert mutt_order == [m.key for m in sorted(MAILS, key=lambda m: m.date)], index
