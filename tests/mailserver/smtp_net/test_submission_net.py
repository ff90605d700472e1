"""The submission listeners over loopback sockets with smtplib: STARTTLS then AUTH, implicit
TLS, nobody sends as another, local recipients stored and remote ones queued."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import trustme

from mailserver import smtp
from mailserver.aio.submission import SubmissionHandler, SubmissionServer
from minternet.logs import Throttle
from tests.mailserver.smtp_net.harness import Store

pytestmark = pytest.mark.both_loops

ALICE, PASSWORD = "alice@crepes.fr", "crepes au sucre"  # smtplib sends ASCII only
MSG = b"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: hi\r\n\r\nhello\r\n"
NOW = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 +0000


class Users:
    def exists(self, address: str) -> bool:
        return address in {ALICE, "chef@crepes.fr"}


class Queue:
    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], bytes]] = []

    async def enqueue(self, sender: str, recipients: list[str], data: bytes) -> str:
        self.got.append((sender, recipients, data))
        return f"Q{len(self.got)}"


async def login(address: str, password: bytes, peer: str, protocol: str) -> str | None:
    assert protocol == "submission" and peer == "127.0.0.1"
    ok = address.lower() == ALICE and password == PASSWORD.encode()
    return ALICE if ok else None


Start = Callable[..., Coroutine[Any, Any, int]]


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
async def start(store: Store, queue: Queue, ca: trustme.CA) -> AsyncIterator[Start]:
    servers: list[SubmissionServer] = []

    async def make(*, implicit: bool = False, relay: bool = True) -> int:
        settings = smtp.MxSettings(hostname="mail.crepes.fr", domains=("crepes.fr",))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        handler = SubmissionHandler(
            settings, Users(), store, queue.enqueue if relay else None, clock=lambda: NOW,
            new_id=lambda: "SUB1",
        )  # fmt: skip
        server = SubmissionServer(
            handler, login, tls_context=context, implicit_tls=implicit, throttle=Throttle(),
        )  # fmt: skip
        servers.append(server)
        return await server.start("127.0.0.1", 0)

    yield make
    for s in servers:
        s.close()
        await s.wait_closed()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def plain_session(port: int, ca: trustme.CA) -> list[object]:
    out: list[object] = []
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as c:
        code, text = c.ehlo("client.example")
        out.append((code, b"STARTTLS" in text, b"AUTH" in text))
        out.append(c.mail(ALICE))
        out.append(c.docmd("AUTH", "PLAIN AGFsaWNlQGNyZXBlcy5mcgB4"))
        c.starttls(context=client_context(ca))
        code, text = c.ehlo("client.example")
        out.append((code, b"STARTTLS" in text, b"AUTH PLAIN LOGIN" in text))
        try:
            c.login(ALICE, "wrong")
        except smtplib.SMTPAuthenticationError as e:
            out.append((e.smtp_code, e.smtp_error))
        c.login(ALICE, PASSWORD)
        out.append(c.mail("chef@crepes.fr"))
        out.append(c.mail(ALICE))
        out.append(c.rcpt("chef@crepes.fr"))
        out.append(c.rcpt("bob@Hamburger.EDU"))
        out.append(c.rcpt("nobody@crepes.fr"))
        out.append(c.data(MSG))
    return out


async def test_starttls_then_auth_then_local_and_remote_delivery(
    start: Start, ca: trustme.CA, store: Store, queue: Queue
) -> None:
    port = await start()
    out = await asyncio.to_thread(plain_session, port, ca)
    assert out == [
        (250, True, False),  # before TLS: STARTTLS, no AUTH
        (530, b"5.7.0 Authentication required"),
        (538, b"5.7.11 Encryption required for requested authentication mechanism"),
        (250, False, True),  # after: AUTH, no STARTTLS
        (535, b"5.7.8 Authentication credentials invalid"),
        (553, b"5.7.1 <chef@crepes.fr> is not an address of the logged-in user"),
        (250, b"2.1.0 Ok"),
        (250, b"2.1.5 Ok"),
        (250, b"2.1.5 Ok"),
        (550, b"5.1.1 <nobody@crepes.fr>: no such user here"),
        (250, b"2.0.0 Ok: stored as SUB1"),
    ]
    [local] = store.calls
    assert local.recipients == ["chef@crepes.fr"] and local.envelope_from == ALICE
    assert local.data == (
        b"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: hi\r\n"
        b"Date: Fri, 15 Jan 2027 08:00:00 +0000\r\nMessage-ID: <SUB1@mail.crepes.fr>\r\n"
        b"\r\nhello\r\n"
    )
    assert local.received_header.startswith(
        b"Received: from client.example ([127.0.0.1])\r\n"
        b"\tby mail.crepes.fr with ESMTPSA (using TLSv1.3"
    )
    assert PASSWORD.encode() not in local.received_header and b"alice" not in local.received_header
    [(sender, rcpts, data)] = queue.got
    assert (sender, rcpts) == (ALICE, ["bob@hamburger.edu"])
    assert data == local.received_header + local.data


def implicit_session(port: int, ca: trustme.CA, body: bytes) -> list[object]:
    out: list[object] = []
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=client_context(ca)) as c:
        code, text = c.ehlo("client.example")
        out.append((code, b"STARTTLS" in text, b"AUTH PLAIN LOGIN" in text))
        c.user, c.password = ALICE, PASSWORD
        out.append(c.auth("LOGIN", c.auth_login))
        out.append(c.mail(ALICE))
        out.append(c.rcpt("chef@crepes.fr"))
        out.append(c.data(body))
    return out


async def test_implicit_tls_takes_auth_login_and_checks_the_from_field(
    start: Start, ca: trustme.CA, store: Store
) -> None:
    port = await start(implicit=True)
    forged = MSG.replace(b"From: Alice <alice@crepes.fr>", b"From: Chef <chef@crepes.fr>")
    out = await asyncio.to_thread(implicit_session, port, ca, forged)
    assert out == [
        (250, False, True),
        (235, b"2.7.0 Authentication successful"),
        (250, b"2.1.0 Ok"),
        (250, b"2.1.5 Ok"),
        (553, b"5.7.1 From: chef@crepes.fr is not an address of the logged-in user"),
    ]
    assert store.calls == []
    out = await asyncio.to_thread(implicit_session, port, ca, MSG)
    assert out[-1] == (250, b"2.0.0 Ok: stored as SUB1")
    assert b"with ESMTPSA (using TLSv1.3" in store.calls[0].received_header


def remote_rcpt(port: int, ca: trustme.CA) -> tuple[int, bytes]:
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=client_context(ca)) as c:
        c.login(ALICE, PASSWORD)
        c.mail(ALICE)
        return c.rcpt("bob@hamburger.edu")


async def test_without_a_queue_remote_recipients_are_refused(start: Start, ca: trustme.CA) -> None:
    port = await start(implicit=True, relay=False)
    assert await asyncio.to_thread(remote_rcpt, port, ca) == (
        550,
        b"5.7.1 this server does not send mail to other domains (no queue configured)",
    )


def odd_auth(port: int, ca: trustme.CA) -> list[tuple[int, bytes]]:
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=client_context(ca)) as c:
        c.ehlo("x")
        return [
            c.docmd(
                "AUTH", "PLAIN Y2hlZgBhbGljZUBjcmVwZXMuZnIAeA=="
            ),  # authzid chef, authcid alice
            c.docmd("AUTH", "PLAIN !!!"),
            c.docmd("AUTH", "CRAM-MD5"),
        ]


async def test_malformed_auth_is_refused(start: Start, ca: trustme.CA) -> None:
    port = await start(implicit=True)
    assert await asyncio.to_thread(odd_auth, port, ca) == [
        (501, b"5.5.2 Can't split auth value"),
        (501, b"5.5.2 Can't decode base64"),
        (504, b"5.5.4 Unrecognized authentication type"),
    ]


def quits(port: int, ca: trustme.CA) -> tuple[int, bytes]:
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=client_context(ca)) as c:
        c.ehlo("x")
        return c.docmd("AUTH", "PLAIN AGFsaWNlQGNyZXBlcy5mcgB4")  # then QUIT, on leaving


async def test_closing_right_after_a_client_quit_over_implicit_tls(ca: trustme.CA) -> None:
    # aiosmtpd closes its transport twice at QUIT; asyncio's TLS transport then forgets its
    # protocol, and the listener's close asked it for its write buffer (AttributeError)
    settings = smtp.MxSettings(hostname="mail.crepes.fr", domains=("crepes.fr",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    handler = SubmissionHandler(settings, Users(), Store(), None)
    server = SubmissionServer(handler, login, tls_context=context, implicit_tls=True)
    port = await server.start("127.0.0.1", 0)
    assert await asyncio.to_thread(quits, port, ca) == (
        535,
        b"5.7.8 Authentication credentials invalid",
    )
    server.close()
    await server.wait_closed()
