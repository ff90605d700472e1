"""The outbound queue's runner over loopback sockets: our MX as the remote server, a resolver
double, the real spool in a temporary folder, and a clock the test moves."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import dns.rcode
import pytest
import trustme

from mailserver import smtp
from mailserver.aio.queue import QueueRunner, QueueSettings
from mailserver.aio.server import client_tls
from mailserver.aio.smtp import MxServer
from mailserver.queue.retry import Policy
from mailserver.queue.spool import Spool
from minternet.connect import Connector
from minternet.dnsclient import LookupFailed
from tests.mailserver.smtp_net.harness import Start, Store, Users, port

pytestmark = pytest.mark.both_loops

T0 = 1_800_000_000.0
MSG = b"From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: crepes\r\n\r\nhello Bob\r\n"
ALICE = "alice@crepes.fr"


class Resolver:
    """hamburger.edu's MX is mail.hamburger.edu at 127.0.0.1; other names as set."""

    def __init__(self) -> None:
        self.mx_answers: dict[str, tuple[int, list[tuple[int, str]]] | None] = {
            "hamburger.edu": (dns.rcode.NOERROR, [(10, "mail.hamburger.edu.")])
        }
        self.asked: list[str] = []

    async def mx(self, domain: str) -> tuple[int, list[tuple[int, str]]]:
        self.asked.append(domain)
        answer = self.mx_answers.get(domain, (dns.rcode.NXDOMAIN, []))
        if answer is None:
            raise LookupFailed("no answer")
        return answer

    async def addresses(self, host: str) -> tuple[int, list[str]]:
        return dns.rcode.NOERROR, ["127.0.0.1"]


class Local:
    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []

    async def deliver(self, address: str, data: bytes) -> None:
        self.got.append((address, data))


Make = Callable[..., Coroutine[Any, Any, QueueRunner]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def clock() -> list[float]:
    return [T0]


@pytest.fixture
def local() -> Local:
    return Local()


@pytest.fixture
async def make(tmp_path: Path, clock: list[float], local: Local) -> AsyncIterator[Make]:
    runners: list[QueueRunner] = []
    ids = iter(f"Q{n}" for n in range(1000))

    async def build(
        relay_port: int,
        resolver: Resolver | None = None,
        tls: ssl.SSLContext | None = None,
        timeout: float = 5.0,
        **more: Any,
    ) -> QueueRunner:
        runner = QueueRunner(
            Spool(tmp_path / "queue"),
            QueueSettings(
                hostname="mail.crepes.fr",
                local_names=("mail.crepes.fr",),
                relay_port=relay_port,
                policy=Policy(),
                timeout=timeout,
                idle_check=0.02,
                **more,
            ),
            resolver or Resolver(),
            Connector(source="127.0.0.1", connect_timeout=2.0),
            is_local=lambda a: a.endswith("@crepes.fr"),
            deliver_local=local.deliver,
            tls_context=tls,
            clock=lambda: clock[0],
            new_id=lambda: next(ids),
        )
        await runner.start()
        runners.append(runner)
        return runner

    yield build
    for r in runners:
        await r.close()


async def settled(runner: QueueRunner, timeout: float = 5.0) -> None:
    """Until no attempt is running and none is due."""
    async with asyncio.timeout(timeout):
        while True:
            await asyncio.sleep(0.02)
            now = runner.clock()
            if not runner.busy and all(e.next_attempt > now for e in runner.entries.values()):
                return


async def test_a_message_is_handed_over_and_leaves_the_queue(
    start: Start, store: Store, make: Make, tmp_path: Path
) -> None:
    mx = await start()
    runner = await make(port(mx))
    ident = await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    assert ident == "Q0" and (tmp_path / "queue" / "entries" / "Q0.json").exists()
    await settled(runner)
    assert len(store.calls) == 1
    call = store.calls[0]
    assert (call.recipients, call.envelope_from, call.data) == (["bob@hamburger.edu"], ALICE, MSG)
    assert b"from mail.crepes.fr ([127.0.0.1])" in call.received_header
    assert runner.entries == {} and list((tmp_path / "queue" / "data").iterdir()) == []
    assert runner.counts["delivered"] == 1


async def test_an_unknown_recipient_gets_its_sender_a_notice(
    start: Start, store: Store, make: Make, local: Local
) -> None:
    mx = await start()
    runner = await make(port(mx))
    await runner.enqueue(ALICE, ["bob@hamburger.edu", "nobody@hamburger.edu"], MSG)
    await settled(runner)
    assert [c.recipients for c in store.calls] == [["bob@hamburger.edu"]]
    assert runner.entries == {}
    [(to, data)] = local.got
    assert to == ALICE
    notice = email.message_from_bytes(data, policy=email.policy.default)
    assert notice["Subject"] == "Undelivered Mail Returned to Sender"
    assert notice.get_content_type() == "multipart/report"
    assert (
        b"Final-Recipient: rfc822; nobody@hamburger.edu\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        in data
    )
    assert b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@hamburger.edu>: no such user here\r\n" in data
    assert (
        b"\r\n\r\nFrom: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: crepes\r\n\r\n" in data
    )


async def test_a_server_that_is_down_defers_and_gets_the_message_when_back(
    store: Store, make: Make, clock: list[float]
) -> None:
    down = free_port()
    runner = await make(down)
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    [entry] = runner.entries.values()
    [r] = entry.recipients
    assert (r.status, entry.attempts, entry.next_attempt) == ("4.4.1", 1, T0 + 300)
    assert r.error == "mail.hamburger.edu[127.0.0.1]: connection refused"
    assert store.calls == []
    # a restart keeps it: a new runner over the same spool; the server comes back on its port
    await runner.close()
    again = await make(down)
    assert list(again.entries) == ["Q0"]
    mx = MxServer(smtp.MxSettings(hostname="mail.hamburger.edu", domains=("hamburger.edu",)),
                  Users(), store)  # fmt: skip
    await mx.start("127.0.0.1", down)
    try:
        clock[0] = T0 + 300  # due: the runner tries it on its own
        await settled(again)
        assert [c.recipients for c in store.calls] == [["bob@hamburger.edu"]]
        assert again.entries == {}
    finally:
        mx.close()
        await mx.wait_closed()


async def test_nxdomain_and_null_mx_fail_at_once(make: Make, local: Local) -> None:
    resolver = Resolver()
    resolver.mx_answers["nomail.example"] = (dns.rcode.NOERROR, [(0, ".")])
    runner = await make(free_port(), resolver)
    await runner.enqueue(ALICE, ["x@gone.example", "y@nomail.example"], MSG)
    await settled(runner)
    assert runner.entries == {}
    [(to, data)] = local.got
    assert to == ALICE
    assert b"Status: 5.1.2\r\n" in data and b"Status: 5.1.10\r\n" in data


async def test_no_answer_from_dns_defers(make: Make) -> None:
    resolver = Resolver()
    resolver.mx_answers["slow.example"] = None
    runner = await make(free_port(), resolver)
    await runner.enqueue(ALICE, ["x@slow.example"], MSG)
    await settled(runner)
    [entry] = runner.entries.values()
    assert entry.recipients[0].status == "4.4.3"
    assert entry.recipients[0].error == "no answer from the resolver for slow.example MX"


async def test_starttls_is_used_when_offered(
    start: Start, store: Store, make: Make, ca: trustme.CA
) -> None:
    mx = await start(tls=True)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.check_hostname = False  # the MX's certificate names 127.0.0.1, the runner asks by host
    runner = await make(port(mx), tls=client)
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    [call] = store.calls
    assert b"with ESMTPS (using TLSv1.3" in call.received_header


async def test_a_notice_for_a_remote_sender_is_queued_with_the_null_sender(
    start: Start, store: Store, make: Make
) -> None:
    mx = await start()
    runner = await make(port(mx))
    await runner.enqueue("carol@hamburger.edu", ["x@gone.example"], MSG)
    await settled(runner)
    assert [c.envelope_from for c in store.calls] == ["<>"]
    assert store.calls[0].recipients == ["carol@hamburger.edu"]
    assert b"Status: 5.1.2" in store.calls[0].data


# -- a remote server that misbehaves -----------------------------------------------------------


async def rogue(
    script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]],
) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def until_line(reader: asyncio.StreamReader, prefix: bytes) -> None:
    while not (await reader.readline()).upper().startswith(prefix):
        pass


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    await writer.drain()
    await reader.read(100)


async def hangs_after_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 hello\r\n")
    await writer.drain()
    await asyncio.sleep(30)


async def closes_in_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 hi\r\n")
    for expect in (b"EHLO", b"MAIL", b"RCPT"):
        await until_line(reader, expect)
        writer.write(b"250 ok\r\n")
    await until_line(reader, b"DATA")
    writer.write(b"354 go\r\n")
    await reader.readline()  # a line of the message, then the connection ends


@pytest.mark.parametrize(
    ("script", "status", "error"),
    [
        (garbage, "4.4.1", "mail.hamburger.edu[127.0.0.1]: "),
        (hangs_after_greeting, "4.4.1", "mail.hamburger.edu[127.0.0.1]: "),
        (closes_in_data, "4.4.2", "mail.hamburger.edu[127.0.0.1]: "),
    ],
)
async def test_a_misbehaving_server_defers_with_its_error_and_frees_the_runner(
    make: Make, script: Any, status: str, error: str
) -> None:
    server = await rogue(script)
    try:
        runner = await make(server.sockets[0].getsockname()[1], timeout=0.5)
        await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
        await settled(runner)
        [entry] = runner.entries.values()
        [r] = entry.recipients
        assert r.status == status and r.error is not None and r.error.startswith(error)
        assert entry.attempts == 1 and not runner.busy
    finally:
        server.close()


async def test_a_spool_that_fails_puts_the_message_off_instead_of_spinning(
    make: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = await make(free_port())
    runner.retry()  # nothing queued: nothing happens
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    (tmp_path / "queue" / "data" / "Q0").unlink()  # the disk lost the message
    runner.clock = lambda: T0 + 300
    assert runner.retry("Q0") == 1 and runner.retry("nope") == 0
    await settled(runner)
    assert runner.entries["Q0"].next_attempt == T0 + 600
    assert caplog.text.count("queue Q0: attempt failed, tried again later") == 1


async def test_the_operator_deletes_a_queued_message(make: Make, tmp_path: Path) -> None:
    runner = await make(free_port())
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    assert await runner.delete("nope") is False
    assert await runner.delete("Q0") is True
    assert runner.entries == {}
    assert list((tmp_path / "queue" / "entries").iterdir()) == []
    assert list((tmp_path / "queue" / "data").iterdir()) == []


async def test_messages_to_one_server_go_over_one_connection_which_then_closes(
    start: Start, store: Store, make: Make
) -> None:
    mx = await start()
    resolver = Resolver()
    runner = await make(port(mx), resolver, concurrency=1, reuse_for=0.3)
    for n in range(3):
        await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG + b"%d\r\n" % n)
    await settled(runner)
    assert [c.data[-3:] for c in store.calls] == [b"0\r\n", b"1\r\n", b"2\r\n"]
    assert mx.listener is not None and mx.listener.accepted == 1
    assert resolver.asked == ["hamburger.edu"]  # the kept connection needs no lookup
    assert len(mx.listener) == 1  # still open, for the next message
    async with asyncio.timeout(5):
        while len(mx.listener):  # QUIT after reuse_for
            await asyncio.sleep(0.05)
    assert runner._idle == {}
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)  # a new connection
    await settled(runner)
    assert len(store.calls) == 4 and mx.listener.accepted == 2


async def test_a_kept_connection_the_server_dropped_is_replaced(
    start: Start, store: Store, make: Make
) -> None:
    mx = await start()
    runner = await make(port(mx), concurrency=1, reuse_for=30)
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    assert mx.listener is not None
    mx.listener.close()  # the server goes away (and comes back on a new listener)
    await mx.listener.wait_closed()
    await mx.start("127.0.0.1", port(mx))
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    assert len(store.calls) == 2 and runner.entries == {}


async def test_without_a_ca_file_starttls_is_opportunistic_and_with_one_it_is_verified(
    start: Start, store: Store, make: Make, tmp_path: Path
) -> None:
    mx = await start(tls=True)  # its certificate comes from a CA the runner was not given
    runner = await make(port(mx), tls=client_tls(""))
    await runner.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(runner)
    [call] = store.calls
    assert b"with ESMTPS (using TLSv1.3" in call.received_header  # encrypted all the same
    other = trustme.CA()
    (tmp_path / "other.pem").write_bytes(other.cert_pem.bytes())
    strict = await make(port(mx), tls=client_tls(str(tmp_path / "other.pem")))
    await strict.enqueue(ALICE, ["bob@hamburger.edu"], MSG)
    await settled(strict)
    [entry] = strict.entries.values()
    error = entry.recipients[0].error
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error
    assert len(store.calls) == 1
