"""The MX over real loopback sockets, on both event loops: transactions, extensions, STARTTLS,
and every kind of bad input (smuggling, long lines, NUL, timeouts, floods)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme

from mailserver import smtp
from mailserver.aio.smtp import MxServer

pytestmark = pytest.mark.both_loops

HOST = "mail.hamburger.edu"
NOW = 1795982746.0  # Sun, 29 Nov 2026 20:05:46 +0000
USERS = {"bob@hamburger.edu", "carol@hamburger.edu", "bøb@hamburger.edu"}


class Users:
    def exists(self, address: str) -> bool:
        return address in USERS


@dataclass
class Delivery:
    recipients: list[str]
    data: bytes
    envelope_from: str
    received_header: bytes


@dataclass
class Store:
    """A Deliver double: records each call; can fail, or hold every delivery until released."""

    calls: list[Delivery] = field(default_factory=list)
    fail: bool = False
    gate: asyncio.Event | None = None
    started: int = 0

    async def deliver(
        self, recipients: list[str], data: bytes, *, envelope_from: str, received_header: bytes
    ) -> None:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError(28, "No space left on device")
        self.calls.append(Delivery(recipients, data, envelope_from, received_header))


Start = Callable[..., Coroutine[Any, Any, MxServer]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
async def start(store: Store, ca: trustme.CA) -> AsyncIterator[Start]:
    servers: list[MxServer] = []
    ids = iter(f"ID{n}" for n in range(1000))

    async def make(tls: bool = False, **kw: Any) -> MxServer:
        settings = smtp.MxSettings(hostname=HOST, domains=("hamburger.edu",), **kw)
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
        server = MxServer(
            settings, Users(), store, tls_context=context, clock=lambda: NOW,
            new_id=lambda: next(ids),
        )  # fmt: skip
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
        await server.wait_closed()


_writers: list[asyncio.StreamWriter] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    for w in _writers:
        w.close()
    _writers.clear()
    await asyncio.sleep(0)


def port(server: MxServer) -> int:
    assert server.listener is not None
    return server.listener.port


async def connect(server: MxServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    _writers.append(writer)
    return reader, writer


async def reply(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """One whole reply, its lines joined."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


async def session(
    server: MxServer, ehlo: bool = True
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await connect(server)
    assert await reply(reader) == b"220 mail.hamburger.edu ESMTP minternet\r\n"
    if ehlo:
        writer.write(b"EHLO client.crepes.fr\r\n")
        assert (await reply(reader)).startswith(b"250-mail.hamburger.edu\r\n")
    return reader, writer


async def say(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> bytes:
    writer.write(line + b"\r\n")
    return await reply(reader)


async def transaction(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes,
    rcpt: bytes = b"bob@hamburger.edu", sender: bytes = b"alice@crepes.fr",
) -> bytes:  # fmt: skip
    """MAIL, RCPT, DATA with `body` sent as is (it must end the DATA itself); the final reply."""
    assert await say(reader, writer, b"MAIL FROM:<" + sender + b">") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<" + rcpt + b">") == b"250 2.1.5 Ok\r\n"
    assert await say(reader, writer, b"DATA") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    writer.write(body)
    return await reply(reader)


async def closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Everything until the server closes."""
    return await asyncio.wait_for(reader.read(), timeout)


# -- a whole delivery --------------------------------------------------------------------------


async def test_greeting_and_ehlo_advertise_exactly_the_mx_extensions(start: Start) -> None:
    server = await start(tls=True, max_message_size=1234)
    reader, writer = await connect(server)
    assert await reply(reader) == b"220 mail.hamburger.edu ESMTP minternet\r\n"
    assert await say(reader, writer, b"EHLO client.crepes.fr") == (
        b"250-mail.hamburger.edu\r\n250-SIZE 1234\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
        b"250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"
    )
    assert await say(reader, writer, b"HELO client.crepes.fr") == b"250 mail.hamburger.edu\r\n"
    assert await say(reader, writer, b"AUTH PLAIN AGJvYgBwdw==") == (
        b"503 5.5.1 AUTH not available on this port (use submission)\r\n"
    )
    assert await say(reader, writer, b"QUIT") == b"221 2.0.0 Bye\r\n"
    assert await closed(reader) == b""


async def test_a_message_for_a_local_user_is_delivered_with_its_trace(
    start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server)
    with caplog.at_level(logging.INFO, logger="mailserver.aio.smtp"):
        final = await transaction(reader, writer, b"Subject: hi\r\n\r\nHello Bob\r\n..dot\r\n.\r\n")
    assert final == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls == [
        Delivery(
            ["bob@hamburger.edu"],
            b"Subject: hi\r\n\r\nHello Bob\r\n.dot\r\n",  # dot-stuffing undone once
            "alice@crepes.fr",
            b"Received: from client.crepes.fr ([127.0.0.1])\r\n"
            b"\tby mail.hamburger.edu with ESMTP\r\n"
            b"\tid ID0\r\n"
            b"\tfor <bob@hamburger.edu>; Sun, 29 Nov 2026 20:05:46 +0000\r\n",
        )
    ]
    assert caplog.messages == [
        "127.0.0.1: accepted ID0 from <alice@crepes.fr> to <bob@hamburger.edu>, 32 octets"
    ]
    assert server.stats()["smtp_accepted"] == 1


async def test_smtplib_sends_to_two_users_and_one_copy_each_is_asked_for(
    start: Start, store: Store
) -> None:
    server = await start()

    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", port(server), local_hostname="client.test") as c:
            return c.sendmail("alice@crepes.fr", ["bob@hamburger.edu", "carol@hamburger.edu",
                              "bob@HAMBURGER.edu"], b"Subject: x\r\n\r\nhi\r\n")  # fmt: skip

    assert await asyncio.to_thread(send) == {}
    [call] = store.calls
    assert call.recipients == ["bob@hamburger.edu", "carol@hamburger.edu"]
    assert call.received_header.endswith(b"\tid ID0; Sun, 29 Nov 2026 20:05:46 +0000\r\n")


async def test_helo_is_recorded_as_smtp_and_a_null_sender_as_a_bounce(
    start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server, ehlo=False)
    assert await say(reader, writer, b"HELO old.client") == b"250 mail.hamburger.edu\r\n"
    with caplog.at_level(logging.INFO, logger="mailserver.aio.smtp"):
        assert await transaction(reader, writer, b"x\r\n.\r\n", sender=b"") == (
            b"250 2.0.0 Ok: stored as ID0\r\n"
        )
    [call] = store.calls
    assert call.envelope_from == "<>"
    assert caplog.messages == ["127.0.0.1: accepted ID0 from <> to <bob@hamburger.edu>, 3 octets"]
    assert call.received_header.startswith(
        b"Received: from old.client ([127.0.0.1])\r\n\tby mail.hamburger.edu with SMTP\r\n"
    )


async def test_refusals_unknown_user_relaying_and_a_forged_local_sender(
    start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server)
    with caplog.at_level(logging.INFO, logger="mailserver.aio.smtp"):
        assert await say(reader, writer, b"MAIL FROM:<bob@hamburger.edu>") == b"250 2.1.0 Ok\r\n"
        assert await say(reader, writer, b"RCPT TO:<alice@crepes.fr>") == (
            b"550 5.7.1 relaying denied\r\n"
        )
        assert await say(reader, writer, b"RCPT TO:<eve@hamburger.edu>") == (
            b"550 5.1.1 <eve@hamburger.edu>: no such user here\r\n"
        )
        assert await say(reader, writer, b"DATA") == b"503 5.5.1 Error: need RCPT command\r\n"
    assert store.started == 0
    assert caplog.messages == [
        "127.0.0.1: refused RCPT TO:<alice@crepes.fr>: 550 5.7.1 relaying denied",
        "127.0.0.1: refused RCPT TO:<eve@hamburger.edu>: 550 5.1.1 <eve@hamburger.edu>: "
        "no such user here",
        "127.0.0.1: refused: 503 5.5.1 Error: need RCPT command",  # aiosmtpd's own: throttled
    ]
    assert server.stats()["smtp_refused"] == 3


async def test_smtplib_relay_attempt_is_refused_whole(start: Start, store: Store) -> None:
    server = await start()

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port(server)) as c:
            c.sendmail("alice@crepes.fr", ["someone@example.com"], b"x\r\n")

    with pytest.raises(smtplib.SMTPRecipientsRefused, match="relaying denied"):
        await asyncio.to_thread(send)
    assert store.started == 0


# -- durability ------------------------------------------------------------------------------


async def test_a_storage_failure_is_451_and_the_session_goes_on(
    start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server)
    store.fail = True
    with caplog.at_level(logging.WARNING, logger="mailserver.aio.smtp"):
        assert await transaction(reader, writer, b"x\r\n.\r\n") == (
            b"451 4.3.0 Message not stored; try again later\r\n"
        )
    assert caplog.messages == [
        "127.0.0.1: message ID0 from <alice@crepes.fr> not stored: "
        "OSError(28, 'No space left on device')"
    ]
    store.fail = False
    assert await transaction(reader, writer, b"y\r\n.\r\n") == b"250 2.0.0 Ok: stored as ID1\r\n"
    assert [c.data for c in store.calls] == [b"y\r\n"]
    assert server.stats()["smtp_not_stored"] == 1


async def test_nothing_is_acknowledged_before_the_delivery_returns(
    start: Start, store: Store
) -> None:
    server = await start()
    reader, writer = await session(server)
    store.gate = asyncio.Event()
    pending = asyncio.ensure_future(transaction(reader, writer, b"x\r\n.\r\n"))
    for _ in range(100):
        if store.started:
            break
        await asyncio.sleep(0.01)
    assert store.started == 1
    await asyncio.sleep(0.2)
    assert not pending.done()  # the client has heard nothing
    store.gate.set()
    assert await pending == b"250 2.0.0 Ok: stored as ID0\r\n"


async def test_a_delivery_once_begun_ends_even_if_the_client_goes(
    start: Start, store: Store
) -> None:
    server = await start()
    reader, writer = await session(server)
    store.gate = asyncio.Event()
    pending = asyncio.ensure_future(transaction(reader, writer, b"x\r\n.\r\n"))
    while not store.started:
        await asyncio.sleep(0.01)
    writer.transport.abort()
    await asyncio.sleep(0.1)
    store.gate.set()
    await asyncio.sleep(0.1)
    assert [c.data for c in store.calls] == [b"x\r\n"]
    pending.cancel()


# -- extensions ------------------------------------------------------------------------------


async def test_size_declared_at_mail_and_actual_data_are_both_enforced(
    start: Start, store: Store
) -> None:
    server = await start(max_message_size=100)
    reader, writer = await session(server)
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr> SIZE=101") == (
        b"552 5.3.4 Error: message size exceeds fixed maximum message size\r\n"
    )
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr> SIZE=100") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RSET") == b"250 2.0.0 OK\r\n"
    exact = b"x" * 98 + b"\r\n"  # 100 octets: the limit itself
    assert await transaction(reader, writer, exact + b".\r\n") == b"250 2.0.0 Ok: stored as ID0\r\n"
    over = b"x" * 99 + b"\r\n"
    assert await transaction(reader, writer, over + b".\r\n") == (
        b"552 5.3.4 Error: Too much mail data\r\n"
    )
    assert [c.data for c in store.calls] == [exact]


async def test_8bit_bodies_are_stored_byte_for_byte(start: Start, store: Store) -> None:
    server = await start()
    reader, writer = await session(server)
    assert (
        await say(reader, writer, b"MAIL FROM:<a@crepes.fr> BODY=8BITMIME") == b"250 2.1.0 Ok\r\n"
    )
    assert await say(reader, writer, b"RCPT TO:<bob@hamburger.edu>") == b"250 2.1.5 Ok\r\n"
    assert (await say(reader, writer, b"DATA")).startswith(b"354 ")
    body = "Subject: café\r\n\r\nCrème brûlée \xff\r\n".encode("latin-1", "replace")
    writer.write(body + b".\r\n")
    assert await reply(reader) == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls[0].data == body


async def test_smtputf8_addresses_need_the_parameter(start: Start, store: Store) -> None:
    server = await start()
    reader, writer = await session(server)
    assert await say(reader, writer, "MAIL FROM:<ålice@crepes.fr>".encode()) == (
        b"553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n"
    )
    assert await say(reader, writer, "MAIL FROM:<ålice@crepes.fr> SMTPUTF8".encode()) == (
        b"250 2.1.0 Ok\r\n"
    )
    assert await say(reader, writer, "RCPT TO:<bøb@hamburger.edu>".encode()) == b"250 2.1.5 Ok\r\n"
    assert (await say(reader, writer, b"DATA")).startswith(b"354 ")
    writer.write("Subject: ålice\r\n\r\nhej\r\n.\r\n".encode())
    assert await reply(reader) == b"250 2.0.0 Ok: stored as ID0\r\n"
    [call] = store.calls
    assert (call.envelope_from, call.recipients) == ("ålice@crepes.fr", ["bøb@hamburger.edu"])
    assert b"\tby mail.hamburger.edu with UTF8SMTP\r\n" in call.received_header
    assert "\tfor <bøb@hamburger.edu>; ".encode() in call.received_header


async def test_pipelined_commands_are_answered_in_order(start: Start, store: Store) -> None:
    server = await start()
    reader, writer = await connect(server)
    await reply(reader)
    writer.write(
        b"EHLO c\r\nMAIL FROM:<a@crepes.fr>\r\nRCPT TO:<bob@hamburger.edu>\r\n"
        b"RCPT TO:<x@crepes.fr>\r\nRCPT TO:<carol@hamburger.edu>\r\nDATA\r\n"
    )
    assert (await reply(reader)).endswith(b"250 ENHANCEDSTATUSCODES\r\n")
    assert [await reply(reader) for _ in range(5)] == [
        b"250 2.1.0 Ok\r\n",
        b"250 2.1.5 Ok\r\n",
        b"550 5.7.1 relaying denied\r\n",
        b"250 2.1.5 Ok\r\n",
        b"354 End data with <CR><LF>.<CR><LF>\r\n",
    ]
    writer.write(b"x\r\n.\r\nQUIT\r\n")
    assert await reply(reader) == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert await reply(reader) == b"221 2.0.0 Bye\r\n"
    assert store.calls[0].recipients == ["bob@hamburger.edu", "carol@hamburger.edu"]


async def test_too_many_recipients_get_452_and_the_rest_is_delivered(
    start: Start, store: Store
) -> None:
    server = await start(max_recipients=2)
    reader, writer = await session(server)
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr>") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<bob@hamburger.edu>") == b"250 2.1.5 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<bob@hamburger.edu>") == b"250 2.1.5 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<carol@hamburger.edu>") == b"250 2.1.5 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<nobody@hamburger.edu>") == (
        b"452 4.5.3 Too many recipients\r\n"
    )
    assert (await say(reader, writer, b"DATA")).startswith(b"354 ")
    writer.write(b"x\r\n.\r\n")
    assert await reply(reader) == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls[0].recipients == ["bob@hamburger.edu", "carol@hamburger.edu"]


async def test_starttls_upgrades_discards_injected_commands_and_is_traced(
    start: Start, store: Store, ca: trustme.CA
) -> None:
    server = await start(tls=True)
    reader, writer = await session(server)
    # A command injected after STARTTLS, before the handshake (RFC 3207 §4.2): never run.
    writer.write(b"STARTTLS\r\nMAIL FROM:<evil@crepes.fr>\r\n")
    assert await reply(reader) == b"220 2.0.0 Ready to start TLS\r\n"
    client = ssl.create_default_context()
    ca.configure_trust(client)
    await writer.start_tls(client, server_hostname="127.0.0.1")
    ehlo = await say(reader, writer, b"EHLO client.crepes.fr")
    assert ehlo.startswith(b"250-mail.hamburger.edu\r\n") and b"STARTTLS" not in ehlo
    assert await transaction(reader, writer, b"secret\r\n.\r\n") == (
        b"250 2.0.0 Ok: stored as ID0\r\n"
    )
    header = store.calls[0].received_header
    version = writer.get_extra_info("ssl_object").version()
    cipher, _, bits = writer.get_extra_info("ssl_object").cipher()
    assert header == (
        b"Received: from client.crepes.fr ([127.0.0.1])\r\n"
        + f"\tby mail.hamburger.edu with ESMTPS (using {version} with cipher {cipher}"
        f" ({bits} bits))\r\n".encode()
        + b"\tid ID0\r\n\tfor <bob@hamburger.edu>; Sun, 29 Nov 2026 20:05:46 +0000\r\n"
    )


async def test_smtplib_starttls_verifies_the_certificate(
    start: Start, store: Store, ca: trustme.CA
) -> None:
    server = await start(tls=True)
    client = ssl.create_default_context()
    ca.configure_trust(client)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port(server)) as c:
            c.starttls(context=client)
            c.sendmail("alice@crepes.fr", ["bob@hamburger.edu"], b"x\r\n")

    await asyncio.to_thread(send)
    assert b" with ESMTPS (using TLSv1.3 with cipher " in store.calls[0].received_header


async def test_without_a_tls_context_starttls_is_not_offered(start: Start) -> None:
    server = await start()
    reader, writer = await session(server)
    assert await say(reader, writer, b"STARTTLS") == b"454 4.7.0 TLS not available\r\n"


# -- bad input -------------------------------------------------------------------------------


async def test_bare_lf_and_bare_cr_are_stored_as_crlf(start: Start, store: Store) -> None:
    server = await start()
    reader, writer = await session(server)
    body = b"Subject: x\n\rline\rtwo\nthree\r\n.\r\n"
    assert await transaction(reader, writer, body) == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls[0].data == b"Subject: x\r\n\r\nline\r\ntwo\r\nthree\r\n"


# What aiosmtpd 1.4.6 does with each end-of-data lookalike: DATA ends only at CRLF.CRLF, so the
# "second message" stays text of the first (a line that starts with the dot loses it, as
# dot-stuffing says), and we store it with CRLF line ends. One 250, one delivery, every time.
SMUGGLED = b"MAIL FROM:<evil@crepes.fr>\r\nRCPT TO:<carol@hamburger.edu>\r\nDATA\r\nforged\r\n"


@pytest.mark.parametrize(
    ("fake_end", "stored_as"),
    [
        (b"\n.\n", b"\r\n.\r\n"),  # LF.LF: inside one line, kept
        (b"\r.\r", b"\r\n.\r\n"),  # CR.CR: inside one line, kept
        (b"\n.\r\n", b"\r\n.\r\n"),  # LF.CRLF: the line is "first\n.\r\n", not ".\r\n"
        (b"\r\n.\n", b"\r\n\r\n"),  # CRLF.LF: the line ".\nMAIL..." starts with a dot: unstuffed
        (b"\r\n.\r", b"\r\n\r\n"),  # CRLF.CR: the same
        (b"\r\n\x00.\r\n", None),  # a NUL before the dot: refused whole, see below
    ],
)
async def test_smuggling_variants_never_make_a_second_message(
    start: Start, store: Store, fake_end: bytes, stored_as: bytes | None
) -> None:
    server = await start()
    reader, writer = await session(server)
    body = b"Subject: x\r\n\r\nfirst" + fake_end + SMUGGLED + b".\r\n"
    final = await transaction(reader, writer, body)
    assert await say(reader, writer, b"NOOP") == b"250 2.0.0 OK\r\n"  # nothing else was answered
    if stored_as is None:
        assert final.startswith(b"554 5.6.0 ")
        assert store.calls == []
        return
    assert final == b"250 2.0.0 Ok: stored as ID0\r\n"
    [call] = store.calls
    assert call.recipients == ["bob@hamburger.edu"]
    assert call.data == b"Subject: x\r\n\r\nfirst" + stored_as + SMUGGLED


async def test_data_lines_over_the_limit_are_refused_after_the_data(
    start: Start, store: Store
) -> None:
    server = await start()
    reader, writer = await session(server)
    # RFC 5321 §4.5.3.1.6: 1000 octets with CRLF; aiosmtpd allows one more (for a stuffed dot).
    longest = b"x" * 999 + b"\r\n"
    assert (
        await transaction(reader, writer, longest + b".\r\n") == b"250 2.0.0 Ok: stored as ID0\r\n"
    )
    assert await transaction(reader, writer, b"a\r\n" + b"x" * 1000 + b"\r\nb\r\n.\r\n") == (
        b"500 5.5.2 Line too long (see RFC5321 4.5.3.1.6)\r\n"
    )
    assert await transaction(reader, writer, b"y" * 100_000 + b"\r\n.\r\n") == (
        b"500 5.5.2 Line too long (see RFC5321 4.5.3.1.6)\r\n"
    )
    assert [c.data for c in store.calls] == [longest]


async def test_command_lines_over_the_limit_are_refused_and_the_session_goes_on(
    start: Start,
) -> None:
    server = await start()
    reader, writer = await session(server)
    assert await say(reader, writer, b"MAIL FROM:<" + b"a" * 600 + b"@crepes.fr>") == (
        b"500 5.5.2 Command line too long\r\n"
    )
    assert (
        await say(reader, writer, b"NOOP " + b"x" * 5000) == b"500 5.5.2 Command line too long\r\n"
    )
    assert await say(reader, writer, b"NOOP") == b"250 2.0.0 OK\r\n"


async def test_nul_bytes_in_commands_and_in_data(
    start: Start, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server)
    assert await say(reader, writer, b"NO\x00OP") == (
        b'500 5.5.1 Error: command "NO?OP" not recognized\r\n'
    )
    with caplog.at_level(logging.INFO, logger="mailserver.aio.smtp"):
        assert await say(reader, writer, b"MAIL FROM:<a\x00b@crepes.fr>") == (
            b"553 5.1.7 Bad sender address syntax\r\n"
        )
    assert caplog.messages == [
        '127.0.0.1: refused: 500 5.5.1 Error: command "NO?OP" not recognized',
        "127.0.0.1: refused MAIL FROM:<a?b@crepes.fr>: 553 5.1.7 Bad sender address syntax",
    ]
    assert await transaction(reader, writer, b"a\x00b\r\n.\r\n") == (
        b"554 5.6.0 Message contains NUL characters (not allowed without BINARYMIME)\r\n"
    )
    assert await say(reader, writer, b"RCPT TO:<bob\x00@hamburger.edu>") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )
    assert store.calls == []


async def test_a_bare_cr_in_the_helo_name_cannot_inject_a_header(
    start: Start, store: Store
) -> None:
    server = await start()
    reader, writer = await session(server, ehlo=False)
    assert await say(reader, writer, b"EHLO evil\rX-Injected: yes") != b""
    assert await transaction(reader, writer, b"x\r\n.\r\n") == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls[0].received_header.startswith(
        b"Received: from evil?X-Injected:?yes ([127.0.0.1])\r\n"
    )


async def test_commands_out_of_order_get_503_5_5_1(start: Start) -> None:
    server = await start()
    reader, writer = await session(server, ehlo=False)
    assert (
        await say(reader, writer, b"MAIL FROM:<a@crepes.fr>")
        == b"503 5.5.1 Error: send HELO first\r\n"
    )
    assert await say(reader, writer, b"EHLO c") != b""
    assert await say(reader, writer, b"RCPT TO:<bob@hamburger.edu>") == (
        b"503 5.5.1 Error: need MAIL command\r\n"
    )
    assert await say(reader, writer, b"DATA") == b"503 5.5.1 Error: need RCPT command\r\n"
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr>") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr>") == (
        b"503 5.5.1 Error: nested MAIL command\r\n"
    )
    assert await say(reader, writer, b"DATA") == b"503 5.5.1 Error: need RCPT command\r\n"
    assert await say(reader, writer, b"BDAT 10 LAST") == (
        b'500 5.5.1 Error: command "BDAT" not recognized\r\n'
    )
    assert await say(reader, writer, b"EXPN staff") == b"502 5.5.1 EXPN not implemented\r\n"
    assert await say(reader, writer, b"VRFY bob") == (
        b"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    )


async def test_silence_is_told_421_4_4_2_and_closed_at_the_timeout(start: Start) -> None:
    server = await start(timeout=0.5)
    reader, _ = await session(server)
    assert await closed(reader) == b"421 4.4.2 mail.hamburger.edu Error: timeout exceeded\r\n"


async def data_begun(server: MxServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await session(server)
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr>") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<bob@hamburger.edu>") == b"250 2.1.5 Ok\r\n"
    assert (await say(reader, writer, b"DATA")).startswith(b"354 ")
    return reader, writer


async def test_a_data_that_never_ends_is_cut_at_the_data_timeout_and_not_delivered(
    start: Start, store: Store
) -> None:
    server = await start(timeout=0.4, data_timeout=1.2)
    reader, writer = await data_begun(server)
    loop = asyncio.get_running_loop()
    began = loop.time()
    end = asyncio.ensure_future(closed(reader))
    while not end.done() and loop.time() - began < 5:
        writer.write(b"still coming\r\n")  # a line every 0.1 s: busy, never done
        await asyncio.sleep(0.1)
    assert await end == b"421 4.4.2 mail.hamburger.edu Error: timeout exceeded\r\n"
    assert 1.0 < loop.time() - began < 3  # kept past `timeout` by its reads, cut at the limit
    assert store.started == 0


async def test_silence_within_data_is_cut_at_the_command_timeout(
    start: Start, store: Store
) -> None:
    server = await start(timeout=0.4, data_timeout=60)
    reader, writer = await data_begun(server)
    writer.write(b"Subject: half a message\r\n")
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await closed(reader) == b"421 4.4.2 mail.hamburger.edu Error: timeout exceeded\r\n"
    assert loop.time() - began < 3
    assert store.started == 0


async def test_a_slow_data_longer_than_the_command_timeout_is_delivered(
    start: Start, store: Store
) -> None:
    server = await start(timeout=0.4, data_timeout=60)
    reader, writer = await data_begun(server)
    for n in range(8):  # 1.6 s in all, 0.2 s between lines: well past `timeout`
        writer.write(b"line %d\r\n" % n)
        await asyncio.sleep(0.2)
    writer.write(b".\r\n")
    assert await reply(reader) == b"250 2.0.0 Ok: stored as ID0\r\n"
    assert store.calls[0].data == b"".join(b"line %d\r\n" % n for n in range(8))


async def test_a_client_that_never_reads_is_aborted_at_the_timeout(start: Start) -> None:
    server = await start(timeout=0.5)
    _, writer = await session(server)
    writer.transport.pause_reading()  # type: ignore[attr-defined]
    # aiosmtpd echoes a VRFY argument it cannot parse: ~420 octets of reply per command, far
    # more than the socket buffers hold, so its writes stall and a polite close never ends.
    writer.write((b"VRFY <<<" + b"x" * 400 + b"\r\n") * 20000)
    await until_open(server, 0)  # well before the listener's 30 s stall rule


async def test_over_the_cap_a_connection_gets_421_and_a_close(start: Start) -> None:
    server = await start(max_connections=2)
    _first, _ = await session(server, ehlo=False)
    second, second_w = await session(server, ehlo=False)
    third, _ = await connect(server)
    assert await closed(third) == (
        b"421 4.7.0 mail.hamburger.edu Too many connections; try again later\r\n"
    )
    assert await say(second, second_w, b"QUIT") == b"221 2.0.0 Bye\r\n"
    assert await closed(second) == b""
    for _ in range(100):
        if server.listener is not None and len(server.listener) < 2:
            break
        await asyncio.sleep(0.01)
    fourth, _ = await connect(server)
    assert await reply(fourth) == b"220 mail.hamburger.edu ESMTP minternet\r\n"
    assert server.stats()["smtp_refused_connections"] == 1


async def test_a_flood_of_connections_is_held_at_the_cap(start: Start) -> None:
    server = await start(max_connections=5)
    clients = await asyncio.gather(*(connect(server) for _ in range(40)))
    greetings = await asyncio.gather(*(reply(r) for r, _ in clients))
    assert greetings.count(b"220 mail.hamburger.edu ESMTP minternet\r\n") == 5
    assert (
        greetings.count(b"421 4.7.0 mail.hamburger.edu Too many connections; try again later\r\n")
        == 35
    )
    stats = server.stats()
    assert (stats["smtp_connections"], stats["smtp_refused_connections"]) == (5, 35)


async def test_closing_the_server_ends_its_connections(start: Start) -> None:
    server = await start()
    reader, _ = await session(server)
    server.close()
    await server.wait_closed(timeout=2.0)
    assert await closed(reader) == b""
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port(server))


async def test_a_repeated_protocol_error_is_logged_once_and_counted_each_time(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start()
    reader, writer = await session(server)
    with caplog.at_level(logging.INFO, logger="mailserver.aio.smtp"):
        for _ in range(50):
            assert await say(reader, writer, b"DATA") == b"503 5.5.1 Error: need RCPT command\r\n"
    assert caplog.messages == ["127.0.0.1: refused: 503 5.5.1 Error: need RCPT command"]
    assert server.stats()["smtp_refused"] == 50


async def until_open(server: MxServer, n: int) -> None:
    for _ in range(500):
        if server.listener is not None and len(server.listener) == n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still {server.stats()['smtp_connections']} connections open")


async def test_a_connection_that_went_through_starttls_frees_its_place(
    start: Start, ca: trustme.CA
) -> None:
    server = await start(tls=True, max_connections=1)
    reader, writer = await session(server)
    assert await say(reader, writer, b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n"
    client = ssl.create_default_context()
    ca.configure_trust(client)
    await writer.start_tls(client, server_hostname="127.0.0.1")
    assert (await say(reader, writer, b"EHLO c")).startswith(b"250-")
    assert await say(reader, writer, b"QUIT") == b"221 2.0.0 Bye\r\n"
    await until_open(server, 0)
    again, _ = await connect(server)
    assert await reply(again) == b"220 mail.hamburger.edu ESMTP minternet\r\n"


async def test_a_failed_starttls_handshake_closes_and_frees_its_place(start: Start) -> None:
    server = await start(tls=True, max_connections=1)
    reader, writer = await session(server)
    assert await say(reader, writer, b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n"
    writer.write(b"this is not a TLS ClientHello\r\n" * 4)
    assert b"220 " not in await closed(reader)
    await until_open(server, 0)
    again, _ = await connect(server)
    assert await reply(again) == b"220 mail.hamburger.edu ESMTP minternet\r\n"


_WORDS = [
    b"HELO", b"EHLO", b"MAIL FROM:", b"RCPT TO:", b"DATA", b"RSET", b"NOOP", b"VRFY", b"EXPN",
    b"HELP", b"AUTH", b"STARTTLS", b"BDAT", b"XCLIENT", b"mail from:", b"",
]  # fmt: skip
_PIECES = [
    b"<bob@hamburger.edu>", b"<>", b"<a@crepes.fr>", b" SIZE=99999999999", b" BODY=8BITMIME",
    b" SMTPUTF8", b"<\xc3\xa5@x>", b"\x00", b"\r", b"\xff", b"<<", b">", b" ", b"=", b"x" * 600,
    b"PLAIN", b"LOGIN dGVzdA==", b"@", b":",
]  # fmt: skip
_REPLY_LINE = re.compile(rb"[2-5]\d\d[ -]")
_ENHANCED_REPLY = re.compile(rb"[245]\d\d [245]\.\d{1,3}\.\d{1,3}( |\r\n)")


async def test_random_command_lines_each_get_one_well_formed_reply(
    start: Start, store: Store
) -> None:
    server = await start(max_message_size=2000)
    reader, writer = await session(server, ehlo=False)
    rng = random.Random(9)
    sessions = 1
    for _ in range(400):
        line = rng.choice(_WORDS) + b"".join(rng.choices(_PIECES, k=rng.randrange(4)))
        answer = await say(reader, writer, line)
        lines = answer.split(b"\r\n")[:-1]
        assert lines and all(_REPLY_LINE.match(x) for x in lines), (line, answer)
        helo = line[:4].upper() in (b"HELO", b"EHLO") and answer.startswith(b"250")
        if answer.startswith(b"354 "):
            writer.write(b"x\r\n.\r\n")
            answer = await reply(reader)
        elif answer.startswith(b"220 "):
            raise AssertionError("STARTTLS offered without a TLS context")
        if not helo:
            assert _ENHANCED_REPLY.match(answer.splitlines(keepends=True)[-1]), (line, answer)
        if answer.startswith(b"502 5.5.1 Too many unrecognized commands"):
            assert await closed(reader) == b""  # aiosmtpd's budget of 5 bogus commands
            reader, writer = await session(server, ehlo=False)
            sessions += 1
    assert sessions > 1  # the budget was met, and the next session began cleanly
    assert await say(reader, writer, b"QUIT") == b"221 2.0.0 Bye\r\n"
