"""The MX over real loopback sockets, on both event loops: every kind of bad input (smuggling,
long lines, NUL, timeouts, floods, the cap, random command lines)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl

import pytest
import trustme

from mailserver.aio.smtp import MxServer
from tests.mailserver.smtp_net.harness import (
    Start,
    Store,
    closed,
    connect,
    port,
    reply,
    say,
    session,
    transaction,
)

pytestmark = pytest.mark.both_loops

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


async def test_a_path_that_breaks_the_address_parser_is_a_malformed_address(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    # "a@" made the email package's parser raise IndexError: aiosmtpd answered 451 (try
    # again later) and logged a traceback for every such command
    server = await start()
    reader, writer = await session(server)
    assert await say(reader, writer, b"MAIL FROM:a@") == b"553 5.1.3 Error: malformed address\r\n"
    assert await say(reader, writer, b"MAIL FROM:<a@crepes.fr>") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:b@") == b"553 5.1.3 Error: malformed address\r\n"
    assert "internal error" not in caplog.text and "Traceback" not in caplog.text


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
    try:
        await until_open(server, 0)  # well before the listener's 30 s stall rule
    finally:
        # Our end never reads, so it may never learn of the abort: closed here, not left to
        # the collector (whose ResourceWarning would fail whichever test runs then).
        writer.transport.abort()


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
