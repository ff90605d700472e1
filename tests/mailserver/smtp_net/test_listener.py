"""The MX over real loopback sockets, on both event loops: transactions, durability,
extensions and STARTTLS."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl

import pytest
import trustme

from tests.mailserver.smtp_net.harness import (
    Delivery,
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
