"""The IMAP shell with the real session core (mailserver/imap/session.py) over sockets: imaplib
logs in (over STARTTLS and over IMAPS, verifying the server's CA), selects INBOX and fetches a
message that came by SMTP; IDLE sees a delivery within a second; POP3's deletion shows up;
SORT, with a criteria list as long as a line may be; MULTIAPPEND with synchronising literals
and with LITERAL+, and one over the size of a command, refused; CATENATE, and one that would
build more than a message may hold; UTF8=ACCEPT with a UTF-8 mailbox name and APPEND UTF8;
NOTIFY pushing a delivery, a new mailbox and new mail in it with no command under way;
COMPRESS DEFLATE, and a DEFLATE bomb and bytes that are not DEFLATE after it; imaplib's
GETQUOTAROOT, and APPEND and COPY over a user's quota refused with [OVERQUOTA]."""

from __future__ import annotations

import asyncio
import dataclasses
import imaplib
import poplib
import re
import smtplib
import ssl
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mailserver.aio.server import MailDaemon
from mailserver.config import Quotas
from mailserver.store import Quota
from tests.mailserver.daemon_harness import add_users, config

MESSAGE = (
    b"From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: crepes\r\n\r\nBonjour Bob.\r\n"
)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[MailDaemon]:
    cfg = config(tmp_path / "state")
    add_users(cfg)
    d = MailDaemon(cfg, threads=4, idle_poll=5.0)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def port(d: MailDaemon, kind: str) -> int:
    return int(d.ports[kind])  # type: ignore[attr-defined]


def ca(d: MailDaemon) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(d.config.paths().tls / "ca.pem"))


def deliver(d: MailDaemon, data: bytes = MESSAGE) -> None:
    with smtplib.SMTP("127.0.0.1", port(d, "smtp"), timeout=10) as s:
        s.sendmail("alice@crepes.fr", ["bob@hamburger.edu"], data)


def read_over_imap(d: MailDaemon, implicit: bool) -> tuple[Any, ...]:
    if implicit:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", port(d, "imaps"), ssl_context=ca(d))
    else:
        imap = imaplib.IMAP4("127.0.0.1", port(d, "imap"))
        imap.starttls(ca(d))
    try:
        login = imap.login("bob@hamburger.edu", "bob-in-hamburg")
        select = imap.select("INBOX")
        fetch = imap.uid("FETCH", "1", "(FLAGS BODY.PEEK[])")
        return login[0], select, fetch
    finally:
        imap.logout()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "imaps"])
async def test_login_select_fetch_a_delivered_message(daemon: MailDaemon, implicit: bool) -> None:
    await asyncio.to_thread(deliver, daemon)
    login, select, fetch = await asyncio.to_thread(read_over_imap, daemon, implicit)
    assert login == "OK"
    assert select == ("OK", [b"1"])
    status, data = fetch
    assert status == "OK"
    (head, body), _ = data
    assert head == b"1 (UID 1 FLAGS (\\Recent) BODY[] {%d}" % len(body)  # this session's \Recent
    assert body.startswith(b"Return-Path: <alice@crepes.fr>\r\nReceived: from ")
    assert body.endswith(MESSAGE)


async def line(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readline(), timeout)


async def until(reader: asyncio.StreamReader, tag: bytes) -> list[bytes]:
    lines = []
    for _ in range(100):
        lines.append(await line(reader))
        if lines[-1].startswith(tag + b" "):
            return lines
    raise AssertionError(lines)


async def test_idle_sees_a_delivery_within_a_second(daemon: MailDaemon) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, "imap"))
    try:
        assert (await line(reader)).startswith(b"* OK ")
        writer.write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\n")
        assert (await until(reader, b"a"))[-1].startswith(b"a OK")
        writer.write(b"b SELECT INBOX\r\n")
        assert b"* 0 EXISTS\r\n" in await until(reader, b"b")
        writer.write(b"c IDLE\r\n")
        assert (await line(reader)).startswith(b"+ ")
        await asyncio.to_thread(deliver, daemon)
        # idle_poll is 5 s: only the delivery's notice wakes the session this soon
        assert await line(reader, timeout=1.0) == b"* 1 EXISTS\r\n"
        writer.write(b"DONE\r\n")
        assert (await until(reader, b"c"))[-1].startswith(b"c OK")
    finally:
        writer.close()


async def test_a_pop3_deletion_reaches_an_idle_imap_session(daemon: MailDaemon) -> None:
    await asyncio.to_thread(deliver, daemon)
    reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, "imap"))
    try:
        await line(reader)
        writer.write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\nb SELECT INBOX\r\n")
        await until(reader, b"a")
        assert b"* 1 EXISTS\r\n" in await until(reader, b"b")
        writer.write(b"c IDLE\r\n")
        assert (await line(reader)).startswith(b"+ ")

        def pop_delete() -> None:
            p = poplib.POP3_SSL("127.0.0.1", port(daemon, "pop3s"), context=ca(daemon))
            p.user("bob@hamburger.edu")
            p.pass_("bob-in-hamburg")
            p.dele(1)
            p.quit()

        await asyncio.to_thread(pop_delete)
        assert await line(reader, timeout=1.0) == b"* 1 EXPUNGE\r\n"
        writer.write(b"DONE\r\n")
        await until(reader, b"c")
    finally:
        writer.close()


async def test_stop_with_sessions_idling_and_mid_command_is_clean(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(tmp_path / "state")
    add_users(cfg)
    d = MailDaemon(cfg, threads=4, idle_poll=5.0)
    d.ports = await d.start()  # type: ignore[attr-defined]
    reader, writer = await asyncio.open_connection("127.0.0.1", port(d, "imap"))
    await line(reader)
    writer.write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\nb SELECT INBOX\r\nc IDLE\r\n")
    await until(reader, b"b")
    assert (await line(reader)).startswith(b"+ ")
    other, other_writer = await asyncio.open_connection("127.0.0.1", port(d, "pop3"))
    await line(other)
    other_writer.write(b"USER bob@hamburger.edu\r\n")  # half way through a login
    await line(other)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await d.stop()
    assert loop.time() - start < 3.0
    assert await asyncio.wait_for(reader.read(), 2.0) == b"* BYE Server shutting down\r\n"
    assert d.ctx is not None and d.ctx.session_counts() == {}
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    writer.close()
    other_writer.close()


def sort_over_imaps(d: MailDaemon) -> list[Any]:
    imap = imaplib.IMAP4_SSL("127.0.0.1", port(d, "imaps"), ssl_context=ca(d))
    try:
        imap.login("bob@hamburger.edu", "bob-in-hamburg")
        imap.select("INBOX")
        out: list[Any] = [imap.sort("(SUBJECT)", "UTF-8", "ALL")]
        # a hostile criteria list as long as a line may be (8 KiB): each key once is enough
        # (a key given again cannot change the order), so it costs one pass per key
        many = "(" + " ".join(["REVERSE SUBJECT", "ARRIVAL", "SUBJECT"] * 250) + ")"
        assert len(many) < 8192
        out.append(imap.sort(many, "UTF-8", "ALL"))
        out.append(imap.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "OR SUBJECT fig SUBJECT pear"))
        for bad in ("(SUBJECT NOSUCH)", "SUBJECT"):  # (imaplib's sort() adds parentheses)
            try:
                imap.uid("SORT", bad, "UTF-8", "ALL")
            except imaplib.IMAP4.error as e:
                out.append(str(e))
        out.append(imap.noop())  # the session goes on
        return out
    finally:
        imap.logout()


async def test_sort_over_real_sockets_with_a_hostile_criteria_list(daemon: MailDaemon) -> None:
    for subject in (b"pear", b"Re: apple", b"fig", b"apple"):
        data = MESSAGE.replace(b"Subject: crepes", b"Subject: " + subject)
        await asyncio.to_thread(deliver, daemon, data)
    by_subject, many, by_uid, unknown, unopened, noop = await asyncio.to_thread(
        sort_over_imaps, daemon
    )
    assert by_subject == ("OK", [b"2 4 3 1"])  # apple (a reply), apple, fig, pear
    assert many == ("OK", [b"1 3 2 4"])  # REVERSE SUBJECT, then ARRIVAL for the two apples
    assert by_uid == ("OK", [b"1 3"])  # pear, fig
    assert "unknown sort key NOSUCH" in unknown
    assert "'(' to open the sort criteria" in unopened
    assert noop[0] == "OK"


# -- MULTIAPPEND (RFC 3502) ------------------------------------------------------------------

APPEND_LIMIT = 100_000  # a command: 8192 + 2 + 100000 octets (session.command_limit)


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[MailDaemon]:
    """A server whose messages are at most APPEND_LIMIT octets."""
    cfg = config(tmp_path / "state", max_message_size=APPEND_LIMIT)
    add_users(cfg)
    d = MailDaemon(cfg, threads=4, idle_poll=5.0)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def numbered(n: int) -> bytes:
    return MESSAGE.replace(b"Subject: crepes", b"Subject: crepes %d" % n)


async def logged_in(d: MailDaemon) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(d, "imap"))
    assert (await line(reader)).startswith(b"* OK ")
    writer.write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\n")
    assert (await until(reader, b"a"))[-1].startswith(b"a OK")
    return reader, writer


def fetch_all(d: MailDaemon) -> list[tuple[bytes, bytes]]:
    """Every INBOX message as (the FETCH line up to its literal, the message), by imaplib."""
    imap = imaplib.IMAP4("127.0.0.1", port(d, "imap"))
    try:
        imap.login("bob@hamburger.edu", "bob-in-hamburg")
        imap.select("INBOX", readonly=True)
        status, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        assert status == "OK"
        return [item for item in data if isinstance(item, tuple)]
    finally:
        imap.logout()


async def test_multiappend_with_synchronising_literals_and_with_literal_plus(
    small: MailDaemon,
) -> None:
    reader, writer = await logged_in(small)
    try:
        one, two, three = numbered(1), numbered(2), numbered(3)
        writer.write(b"b APPEND INBOX (\\Seen) {%d}\r\n" % len(one))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(one + b" {%d}\r\n" % len(two))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(two + b' (\\Flagged) "01-Jan-2020 00:00:00 +0000" {%d}\r\n' % len(three))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(three + b"\r\n")
        done = await line(reader)
        assert re.fullmatch(rb"b OK \[APPENDUID \d+ 1:3\] APPEND completed\r\n", done), done
        four, five, six = numbered(4), numbered(5), numbered(6)
        writer.write(
            b"c APPEND INBOX {%d+}\r\n" % len(four) + four
            + b" {%d+}\r\n" % len(five) + five
            + b" (\\Answered) {%d+}\r\n" % len(six) + six + b"\r\n"
        )  # fmt: skip
        done = await line(reader)
        assert re.fullmatch(rb"c OK \[APPENDUID \d+ 4:6\] APPEND completed\r\n", done), done
    finally:
        writer.close()
    stored = await asyncio.to_thread(fetch_all, small)
    assert [body for _, body in stored] == [one, two, three, four, five, six]
    assert [re.search(rb"FLAGS \(([^)]*)\)", head).group(1) for head, _ in stored] == [  # type: ignore[union-attr]
        b"\\Seen", b"", b"\\Flagged", b"", b"", b"\\Answered"
    ]  # fmt: skip


async def test_a_multiappend_over_the_size_of_a_command_is_refused_and_the_server_goes_on(
    small: MailDaemon,
) -> None:
    limit = 8192 + 2 + APPEND_LIMIT
    half = b"x" * 60_000  # each message within APPENDLIMIT, the two together not
    reader, writer = await logged_in(small)
    try:
        writer.write(b"b APPEND INBOX {60000}\r\n")
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(half + b" {60000}\r\n")
        assert await line(reader) == (
            b"b NO [TOOBIG] APPEND over the %d-octet limit for a whole command (its messages)\r\n"
            % limit
        )
        writer.write(b"c STATUS INBOX (MESSAGES)\r\n")  # the connection goes on
        assert await until(reader, b"c") == [
            b"* STATUS INBOX (MESSAGES 0)\r\n",
            b"c OK STATUS completed\r\n",
        ]
        # non-synchronising: already on its way, so the connection closes with the reason
        writer.write(b"d APPEND INBOX {60000+}\r\n" + half + b" {60000+}\r\n")
        reason = b"command longer than %d octets" % limit
        assert await line(reader) == b"d BAD [TOOBIG] " + reason + b"\r\n"
        assert await line(reader) == b"* BYE " + reason + b"\r\n"
        assert await line(reader) == b""
    finally:
        writer.close()
    reader, writer = await logged_in(small)  # the server serves the next connection
    try:
        writer.write(b"e STATUS INBOX (MESSAGES)\r\n")
        assert await until(reader, b"e") == [
            b"* STATUS INBOX (MESSAGES 0)\r\n",
            b"e OK STATUS completed\r\n",
        ]
    finally:
        writer.close()


# -- CATENATE (RFC 4469) ----------------------------------------------------------------------


async def test_catenate_over_the_socket_and_a_hostile_one_costs_only_its_no(
    small: MailDaemon,
) -> None:
    """A CATENATE with synchronising TEXT literals (each gets its `+`) and URLs of a stored
    message builds the new one; URLs that would build far more than APPENDLIMIT (a few hundred
    octets of command) get NO [TOOBIG], a BADURL after a literal NO [BADURL], nothing is
    stored by either, and the connection goes on."""
    await asyncio.to_thread(deliver, small, numbered(1))
    await asyncio.to_thread(deliver, small, numbered(2) + (b"x" * 80 + b"\r\n") * 25)
    reader, writer = await logged_in(small)
    try:
        head = b"Subject: fwd\r\n\r\n"
        writer.write(b"b APPEND INBOX CATENATE (TEXT {%d}\r\n" % len(head))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(head + b' URL "/INBOX/;UID=1/;SECTION=TEXT" TEXT {5}\r\n')
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(b"-- \r\n)\r\n")
        done = await line(reader)
        assert re.fullmatch(rb"b OK \[APPENDUID \d+ 3\] APPEND completed\r\n", done), done
        urls = b" ".join([b"URL /INBOX/;UID=2"] * 400)  # 400 times over 2 kB: more than 100 kB
        writer.write(b"c APPEND INBOX CATENATE (%s)\r\n" % urls)
        assert await line(reader) == (
            b"c NO [TOOBIG] message over the %d-octet limit\r\n" % APPEND_LIMIT
        )
        writer.write(b"d APPEND INBOX CATENATE (TEXT {1+}\r\nx URL /INBOX/;UID=9])\r\n")
        assert await line(reader) == (
            b"d NO [BADURL /INBOX/;UID=9%5D] invalid IMAP URL: a character that must be"
            b" percent-encoded\r\n"
        )
        writer.write(b"e STATUS INBOX (MESSAGES)\r\n")
        assert await until(reader, b"e") == [
            b"* STATUS INBOX (MESSAGES 3)\r\n",
            b"e OK STATUS completed\r\n",
        ]
    finally:
        writer.close()
    stored = await asyncio.to_thread(fetch_all, small)
    assert stored[2][1] == head + b"Bonjour Bob.\r\n-- \r\n"


# -- UTF8=ACCEPT (RFC 6855) ------------------------------------------------------------------


async def test_utf8_accept_over_the_socket(small: MailDaemon) -> None:
    """ENABLE UTF8=ACCEPT, then a mailbox with a UTF-8 name created, listed and appended to
    with `UTF8 (~{n})` (a synchronising literal8 inside parentheses gets its `+`); a name that
    is not UTF-8 is BAD and the connection goes on."""
    name = "Entwürfe".encode()
    message = "From: José <jose@crepes.fr>\r\nSubject: Grüße\r\n\r\nhi\r\n".encode()
    reader, writer = await logged_in(small)
    try:
        writer.write(b"b ENABLE UTF8=ACCEPT\r\n")
        assert await until(reader, b"b") == [
            b"* ENABLED UTF8=ACCEPT\r\n",
            b"b OK ENABLE completed\r\n",
        ]
        writer.write(b'c CREATE "' + name + b'"\r\n')
        assert await line(reader) == b"c OK CREATE completed\r\n"
        writer.write(b'd APPEND "' + name + b'" UTF8 (~{%d}\r\n' % len(message))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(message + b")\r\n")
        done = await line(reader)
        assert re.fullmatch(rb"d OK \[APPENDUID \d+ 1\] APPEND completed\r\n", done), done
        writer.write(b'e LIST "" "Entw*" RETURN (STATUS (MESSAGES))\r\n')
        assert await until(reader, b"e") == [
            b'* LIST (\\HasNoChildren) "/" {%d}\r\n' % len(name),
            name + b"\r\n",
            b"* STATUS {%d}\r\n" % len(name),
            name + b" (MESSAGES 1)\r\n",
            b"e OK LIST completed\r\n",
        ]
        writer.write(b'f CREATE "\xff\xfe"\r\n')
        assert await line(reader) == b"f BAD mailbox name is not valid UTF-8\r\n"
        writer.write(b'g SELECT "' + name + b'"\r\n')
        assert (await until(reader, b"g"))[-1] == b"g OK [READ-WRITE] SELECT completed\r\n"
        writer.write(b"h FETCH 1 BODY.PEEK[]\r\n")
        assert await line(reader) == b"* 1 FETCH (BODY[] {%d}\r\n" % len(message)
        assert await asyncio.wait_for(reader.readexactly(len(message)), 5) == message
        assert await until(reader, b"h") == [b")\r\n", b"h OK FETCH completed\r\n"]
    finally:
        writer.close()


# -- NOTIFY (RFC 5465) -----------------------------------------------------------------------


async def test_notify_pushes_with_no_command_under_way(daemon: MailDaemon) -> None:
    """A session that asked NOTIFY for INBOX (selected, with its new messages' UIDs) and the
    other mailboxes is told, without sending a command, of a delivery by SMTP within a second,
    of a mailbox another session makes, and of new mail there; NOTIFY NONE ends it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, "imap"))
    other = await asyncio.to_thread(imaplib.IMAP4, "127.0.0.1", port(daemon, "imap"))
    try:
        assert (await line(reader)).startswith(b"* OK ")
        writer.write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\n")
        assert (await until(reader, b"a"))[-1].startswith(b"a OK")
        writer.write(b"b SELECT INBOX\r\n")
        assert (await until(reader, b"b"))[-1].startswith(b"b OK")
        writer.write(
            b"c NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge))"
            b" (PERSONAL (MessageNew MessageExpunge MailboxName))\r\n"
        )
        assert await line(reader) == b"c OK NOTIFY completed\r\n"
        await asyncio.to_thread(deliver, daemon)
        assert [await line(reader, 2.0) for _ in range(3)] == [
            b"* 1 EXISTS\r\n",
            b"* 1 RECENT\r\n",
            b"* 1 FETCH (UID 1)\r\n",
        ]
        await asyncio.to_thread(other.login, "bob@hamburger.edu", "bob-in-hamburg")
        await asyncio.to_thread(other.create, "Work")
        assert await line(reader, 2.0) == b'* LIST () "/" Work\r\n'
        await asyncio.to_thread(other.append, "Work", "", None, MESSAGE)
        assert await line(reader, 2.0) == b"* STATUS Work (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
        writer.write(b"d NOTIFY NONE\r\n")
        assert await line(reader) == b"d OK NOTIFY completed\r\n"
        await asyncio.to_thread(other.append, "Work", "", None, MESSAGE)
        with pytest.raises(TimeoutError):
            await line(reader, 0.5)  # nothing more
    finally:
        writer.close()
        await asyncio.to_thread(other.logout)


# -- BINARY (RFC 3516): APPEND of a literal8, FETCH BINARY ------------------------------------


async def test_a_literal8_append_over_the_socket_and_binary_gives_its_octets_back(
    small: MailDaemon,
) -> None:
    """APPEND ~{n} (synchronising, then ~{n+}): the `+` comes as for `{n}`, the NULs are kept,
    BINARY[1] sends them in a literal8; a literal8 where the grammar has none is BAD, and one
    over APPENDLIMIT is refused before it is sent."""
    raw = b"From: a@crepes.fr\r\nSubject: nul\r\n\r\n\x00\x01\x02 binary\r\n"
    reader, writer = await logged_in(small)
    try:
        writer.write(b"s SELECT INBOX\r\n")
        await until(reader, b"s")
        writer.write(b"b APPEND INBOX ~{%d}\r\n" % len(raw))
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(raw + b"\r\n")
        lines = await until(reader, b"b")
        assert re.fullmatch(rb"b OK \[APPENDUID \d+ 1\] APPEND completed\r\n", lines[-1]), lines
        writer.write(b"c APPEND INBOX ~{%d+}\r\n" % len(raw) + raw + b"\r\n")
        lines = await until(reader, b"c")
        assert re.fullmatch(rb"c OK \[APPENDUID \d+ 2\] APPEND completed\r\n", lines[-1]), lines
        writer.write(b"f FETCH 1:2 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n")
        body = b"\x00\x01\x02 binary\r\n"
        expected = b" FETCH (BINARY.SIZE[1] 12 BINARY[1] ~{12}\r\n"
        done = b"f OK FETCH completed\r\n"
        assert await asyncio.wait_for(reader.readuntil(done), 5) == (
            b"* 1" + expected + body + b")\r\n* 2" + expected + body + b")\r\n" + done
        )
        writer.write(b"g LOGIN ~{3}\r\n")  # the framer takes it; the grammar has none here
        assert await line(reader) == b"+ Ready for literal data\r\n"
        writer.write(b"bob x\r\n")
        assert await line(reader) == b"g BAD literal8 (~{n}) is not supported here\r\n"
        writer.write(b"h APPEND INBOX ~{%d}\r\n" % (APPEND_LIMIT + 1))
        assert await line(reader) == (
            b"h NO [TOOBIG] message over the %d-octet limit (APPENDLIMIT)\r\n" % APPEND_LIMIT
        )
        writer.write(b"i NOOP\r\n")
        assert (await until(reader, b"i"))[-1] == b"i OK NOOP completed\r\n"
    finally:
        writer.close()


class Deflated:
    """An IMAP client's side after COMPRESS DEFLATE: raw DEFLATE both ways."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.z = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.unz = zlib.decompressobj(-15)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.writer.write(self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH))

    async def until(self, end: bytes, timeout: float = 5.0) -> bytes:
        """Everything up to `end` inclusive; what came, once the connection is closed."""
        while end not in self.buf:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                out, self.buf = self.buf, b""
                return out
            self.buf += self.unz.decompress(data)
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


async def compressed(d: MailDaemon) -> Deflated:
    reader, writer = await logged_in(d)
    writer.write(b"z COMPRESS DEFLATE\r\n")
    assert await line(reader) == b"z OK DEFLATE active\r\n"  # not compressed
    return Deflated(reader, writer)


async def test_compress_deflate_carries_append_fetch_and_logout(small: MailDaemon) -> None:
    """After COMPRESS DEFLATE every byte both ways is deflated: a synchronising literal's `+`,
    a FETCH of a message bigger than one write, the BYE; COMPRESS again is NO."""
    raw = b"From: a@crepes.fr\r\nSubject: packed\r\n\r\n" + b"compress me please\r\n" * 3000
    client = await compressed(small)
    try:
        client.send(b"s SELECT INBOX\r\n")
        assert (await client.until(b"SELECT completed\r\n")).startswith(b"* FLAGS")
        client.send(b"b APPEND INBOX {%d}\r\n" % len(raw))
        assert await client.until(b"\r\n") == b"+ Ready for literal data\r\n"
        client.send(raw + b"\r\n")
        appended = await client.until(b"completed\r\n")
        done = rb"b OK \[APPENDUID \d+ 1\] APPEND completed\r\n"
        assert re.fullmatch(rb"\* 1 EXISTS\r\n\* 1 RECENT\r\n" + done, appended), appended
        client.send(b"f FETCH 1 BODY.PEEK[]\r\n")
        done = b"f OK FETCH completed\r\n"
        assert await client.until(done) == (
            b"* 1 FETCH (BODY[] {%d}\r\n" % len(raw)
            + raw + b")\r\n" + done
        )  # fmt: skip
        client.send(b"c COMPRESS DEFLATE\r\n")
        assert await client.until(b"\r\n") == (
            b"c NO [COMPRESSIONACTIVE] DEFLATE is already active\r\n"
        )
        client.send(b"l LOGOUT\r\n")
        assert (await client.until(b"l OK LOGOUT completed\r\n")).startswith(b"* BYE ")
        assert await client.until(b"never") == b""  # closed
    finally:
        client.writer.close()


@pytest.mark.parametrize("attack", ["bomb", "not-deflate"])
async def test_a_deflate_bomb_or_garbage_after_compress_costs_one_connection(
    small: MailDaemon, attack: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A line of 16 MB of one octet in 16 KB of DEFLATE is stopped at the line limit after
    one inflate step, not inflated whole; bytes that are not DEFLATE close the connection.
    Either way a log line says why, and the next client is served."""
    client = await compressed(small)
    try:
        if attack == "bomb":
            client.send(b"a " + b"A" * (16 << 20))
        else:
            client.writer.write(b"a NOOP\r\n\xff\xfe\xfd\xfc")
        tail = await client.until(b"never", timeout=10)
    finally:
        client.writer.close()
    if attack == "bomb":  # its tag was read: the BAD has it
        why = b"line longer than 8192 octets"
        assert tail == b"a BAD [TOOBIG] %s\r\n* BYE %s\r\n" % (why, why), tail
    else:  # not a size: no [TOOBIG]; and "a NOOP" never came (it was not DEFLATE either)
        assert re.fullmatch(rb"\* BAD (not DEFLATE data .*)\r\n\* BYE \1\r\n", tail), tail
        why = b"not DEFLATE data"
    assert why.decode() in caplog.text
    reader, writer = await logged_in(small)  # the server goes on
    writer.write(b"n NOOP\r\n")
    assert (await until(reader, b"n"))[-1] == b"n OK NOOP completed\r\n"
    writer.close()


@pytest.fixture
async def quota_daemon(tmp_path: Path) -> AsyncIterator[MailDaemon]:
    """Bob may keep 3 KiB of mail."""
    cfg = dataclasses.replace(
        config(tmp_path / "state"), quota=Quotas(users={"bob@hamburger.edu": Quota(3072)})
    )
    add_users(cfg)
    d = MailDaemon(cfg, threads=4, idle_poll=5.0)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def quota_session(d: MailDaemon) -> list[Any]:
    imap = imaplib.IMAP4("127.0.0.1", port(d, "imap"))
    try:
        imap.login("bob@hamburger.edu", "bob-in-hamburg")
        big = b"From: a@crepes.fr\r\nSubject: big\r\n\r\n" + b"x" * 2000 + b"\r\n"
        first = imap.append("INBOX", None, None, big)
        second = imap.append("INBOX", None, None, big)
        imap.select("INBOX")
        copy = imap.copy("2", "Archive")  # 2000 octets more: over
        move = imap.uid("MOVE", "1", "Archive")
        return [imap.getquotaroot("INBOX"), first[0], second, copy, move[0]]
    finally:
        imap.logout()


async def test_imaplib_reads_the_quota_and_append_and_copy_over_it_are_refused(
    quota_daemon: MailDaemon,
) -> None:
    await asyncio.to_thread(deliver, quota_daemon)  # SMTP: under the limit, taken
    root, first, second, copy, move = await asyncio.to_thread(quota_session, quota_daemon)
    assert first == "OK"
    assert second[0] == "NO" and second[1][0].startswith(b"[OVERQUOTA] over quota: ")
    assert copy[0] == "NO" and copy[1][0].startswith(b"[OVERQUOTA] over quota: ")
    assert move == "OK"  # a move keeps the usage as it is
    status, (roots, quotas) = root
    assert status == "OK"
    assert roots == [b'INBOX ""']
    assert re.fullmatch(rb'"" \(STORAGE 3 3\)', quotas[0]), quotas
