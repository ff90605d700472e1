"""The IMAP shell over real sockets, against a stand-in session core (daemon_harness.FakeSession)
that speaks the session interface: literals accepted and refused, a long Stream, STARTTLS,
login through MailContext with its delay and the per-user limit, Notify, IDLE woken by an SMTP
delivery, the login timeout, LOGOUT, and the session closed and its count released."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mailserver.aio.server import MailDaemon
from tests.mailserver.daemon_harness import FakeFactory, FakeSession, add_users, config

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[MailDaemon]:
    limits = getattr(request, "param", {})
    cfg = config(tmp_path / "state", **limits)
    add_users(cfg)
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=4, idle_poll=5.0)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def sessions(d: MailDaemon) -> list[FakeSession]:
    factory = d.imap_factory
    assert isinstance(factory, FakeFactory)
    return factory.sessions


async def connect(d: MailDaemon, kind: str = "imap", tls: bool = False) -> Client:
    context = None
    if tls:
        context = ssl.create_default_context(cafile=str(d.config.paths().tls / "ca.pem"))
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        d.ports[kind],  # type: ignore[attr-defined]
        ssl=context,
    )
    assert await line(reader) == b"* OK [CAPABILITY IMAP4rev1] fake ready\r\n"
    return reader, writer


async def line(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readline(), timeout)


async def command(client: Client, text: bytes) -> bytes:
    reader, writer = client
    writer.write(text)
    return await line(reader)


async def closed_and_released(daemon: MailDaemon) -> None:
    """The session closed and its count released. The close runs in a worker thread and the
    count drops once the loop resumes after it: under load CI saw the first, not yet the
    second, when the test waited for the session's flag alone."""
    for _ in range(250):
        if sessions(daemon)[0].closed and not daemon.stats([])["sessions_by_user"]:
            break
        await asyncio.sleep(0.02)
    assert sessions(daemon)[0].closed
    assert daemon.stats([])["sessions_by_user"] == {}


async def login(client: Client, user: bytes = b"bob@hamburger.edu") -> bytes:
    return await command(client, b"a LOGIN " + user + b" bob-in-hamburg\r\n")


async def test_login_select_and_logout(daemon: MailDaemon) -> None:
    client = await connect(daemon)
    assert await login(client) == b"a OK logged in\r\n"
    assert daemon.stats([])["sessions_by_user"] == {"bob@hamburger.edu": 1}
    assert await command(client, b"b SELECT INBOX\r\n") == b"* 0 EXISTS\r\n"
    assert await line(client[0]) == b"b OK [READ-WRITE] done\r\n"
    assert await command(client, b"c LOGOUT\r\n") == b"* BYE bye\r\n"
    assert await line(client[0]) == b"c OK LOGOUT\r\n"
    assert await line(client[0]) == b""  # closed by the server
    client[1].close()
    await closed_and_released(daemon)


async def test_a_wrong_password_fails_after_the_delay(daemon: MailDaemon) -> None:
    client = await connect(daemon, "imaps", tls=True)
    loop = asyncio.get_running_loop()
    start = loop.time()
    reply = await command(client, b"a LOGIN bob@hamburger.edu nope\r\n")
    assert reply == b"a NO [AUTHENTICATIONFAILED] failed\r\n"
    assert loop.time() - start >= 0.2
    assert sessions(daemon)[0].calls[-1] == "login_result None "
    client[1].close()


async def test_authenticate_plain_reaches_check_password_with_its_mechanism(
    daemon: MailDaemon,
) -> None:
    client = await connect(daemon)
    response = base64.b64encode(b"\0dave@hamburger.edu\0dave-in-bremen")
    assert await command(client, b"a AUTHENTICATE PLAIN " + response + b"\r\n") == (
        b"a OK logged in\r\n"
    )
    assert sessions(daemon)[0].address == "dave@hamburger.edu"
    client[1].close()


@pytest.mark.parametrize("daemon", [{"max_connections_per_user": 1}], indirect=True)
async def test_a_login_over_the_users_session_limit_is_refused_with_why(
    daemon: MailDaemon,
) -> None:
    first = await connect(daemon)
    assert await login(first) == b"a OK logged in\r\n"
    second = await connect(daemon, "imaps", tls=True)
    assert await login(second) == (
        b"a NO [LIMIT] too many sessions of this user: log out of another one\r\n"
    )
    first[1].close()
    for _ in range(100):
        if not daemon.stats([])["sessions_by_user"]:
            break
        await asyncio.sleep(0.02)
    assert await login(second) == b"a OK logged in\r\n"
    second[1].close()


async def test_starttls_then_the_session_is_told(daemon: MailDaemon) -> None:
    reader, writer = await connect(daemon)
    assert await command((reader, writer), b"a STARTTLS\r\n") == b"a OK begin TLS\r\n"
    context = ssl.create_default_context(cafile=str(daemon.config.paths().tls / "ca.pem"))
    await writer.start_tls(context, server_hostname="127.0.0.1")
    assert await login((reader, writer)) == b"a OK logged in\r\n"
    assert sessions(daemon)[0].calls[:2] == ["a STARTTLS\r\n", "tls_started"]
    writer.close()


async def test_a_literal_is_accepted_or_refused_before_it_is_sent(daemon: MailDaemon) -> None:
    client = await connect(daemon)
    await login(client)
    assert await command(client, b"b APPEND INBOX {5}\r\n") == b"+ go ahead\r\n"
    assert await command(client, b"hello\r\n") == b"b OK APPEND 27\r\n"  # the whole command
    assert await command(client, b"c APPEND INBOX {500}\r\n") == b"c NO [TOOBIG] too big\r\n"
    assert await command(client, b"d NOOP\r\n") == b"d OK NOOP\r\n"  # the refused one is gone
    assert sessions(daemon)[0].calls[-3:] == [
        "b APPEND INBOX {5}\r\nhello\r\n",
        "literal 500 True",
        "d NOOP\r\n",
    ]
    client[1].close()


async def test_a_long_stream_arrives_whole_and_in_order(daemon: MailDaemon) -> None:
    client = await connect(daemon)
    await login(client)
    size = 3_000_000
    assert await command(client, b"b FETCH %d\r\n" % size) == b"* 1 FETCH (BODY[] {%d}\r\n" % size
    body = await asyncio.wait_for(client[0].readexactly(size), 10.0)
    assert body == b"x" * size
    assert await line(client[0]) == b")\r\n"
    assert await line(client[0]) == b"b OK FETCH done\r\n"
    client[1].close()


@pytest.mark.parametrize("size", [0, 5_000, 65_000, 66_000, 200_000])  # whole chunks
async def test_a_stream_costs_one_worker_trip_per_batch_and_none_at_its_end(
    daemon: MailDaemon, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    client = await connect(daemon)
    await login(client)
    ctx = daemon.ctx
    assert ctx is not None
    trips: list[str] = []
    run = ctx.run

    async def counted(fn: Callable[..., object], *args: object) -> object:
        trips.append(getattr(fn, "__name__", "?"))
        return await run(fn, *args)

    monkeypatch.setattr(ctx, "run", counted)
    assert await command(client, b"b FETCH %d\r\n" % size) == b"* 1 FETCH (BODY[] {%d}\r\n" % size
    assert await asyncio.wait_for(client[0].readexactly(size), 10.0) == b"x" * size
    assert await line(client[0]) == b")\r\n"
    assert await line(client[0]) == b"b OK FETCH done\r\n"
    # the command and the first batch in one trip, then one trip per further batch (66 chunks
    # of 1000 octets make the 64 KiB of a batch), none for an empty one after the end
    assert trips == ["_receive"] + ["_pull"] * (size // 1000 // 66)
    client[1].close()


async def test_idle_wakes_within_a_second_of_a_delivery(daemon: MailDaemon) -> None:
    client = await connect(daemon)
    await login(client)
    await command(client, b"b SELECT INBOX\r\n")
    await line(client[0])
    assert await command(client, b"c IDLE\r\n") == b"+ idling\r\n"

    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", daemon.ports["smtp"]) as s:  # type: ignore[attr-defined]
            s.sendmail("alice@crepes.fr", ["bob@hamburger.edu"], b"Subject: x\r\n\r\nhi\r\n")

    await asyncio.to_thread(deliver)
    # idle_poll is 5 s here: only the delivery's notice can wake it this soon
    assert await line(client[0], timeout=1.0) == b"* 1 EXISTS\r\n"
    assert await command(client, b"DONE\r\n") == b"c OK IDLE terminated\r\n"
    assert await command(client, b"d NOOP\r\n") == b"d OK NOOP\r\n"
    assert sessions(daemon)[0].calls.count("poll") == 1
    client[1].close()


async def test_notify_wakes_another_session_of_the_user(daemon: MailDaemon) -> None:
    idler = await connect(daemon)
    await login(idler)
    await command(idler, b"b SELECT INBOX\r\n")
    await line(idler[0])
    assert await command(idler, b"c IDLE\r\n") == b"+ idling\r\n"
    other = await connect(daemon)
    await login(other)
    assert await command(other, b"t TOUCH\r\n") == b"t OK touched\r\n"
    for _ in range(100):
        if "poll" in sessions(daemon)[0].calls:
            break
        await asyncio.sleep(0.01)
    assert sessions(daemon)[0].calls[-1] == "poll"  # woken well before idle_poll (5 s)
    assert await command(idler, b"DONE\r\n") == b"c OK IDLE terminated\r\n"
    idler[1].close()
    other[1].close()


@pytest.mark.parametrize("daemon", [{"login_timeout": 0.3}], indirect=True)
async def test_a_client_that_does_not_log_in_is_dropped_at_the_login_timeout(
    daemon: MailDaemon,
) -> None:
    reader, writer = await connect(daemon)
    assert await line(reader, 3.0) == b"* BYE Autologout; idle for too long\r\n"
    assert await line(reader) == b""
    writer.close()


async def test_a_line_too_long_is_answered_with_bad_then_bye_and_closed(
    daemon: MailDaemon,
) -> None:
    reader, writer = await connect(daemon)
    writer.write(b"a17 " + b"x" * 9000 + b"\r\n")
    assert await line(reader) == b"a17 BAD [TOOBIG] line longer than 8192 octets\r\n"
    assert await line(reader) == b"* BYE line longer than 8192 octets\r\n"
    assert await line(reader) == b""
    writer.close()
    reader, writer = await connect(daemon)  # no valid tag to answer: untagged
    writer.write(b"(a " + b"x" * 9000 + b"\r\n")
    assert await line(reader) == b"* BAD [TOOBIG] line longer than 8192 octets\r\n"
    assert await line(reader) == b"* BYE line longer than 8192 octets\r\n"
    writer.close()


async def test_a_connection_gone_during_its_login_leaves_no_session_counted(
    daemon: MailDaemon,
) -> None:
    ctx = daemon.ctx
    assert ctx is not None
    login = ctx.login
    checked = asyncio.Event()

    async def login_then_drop(*args: object) -> str | None:
        for conn in list(daemon.streams["imap"].connections):
            conn.abort()  # gone (a deadline, a shutdown) while the password is checked
        await asyncio.sleep(0.05)
        try:
            return await login(*args)  # type: ignore[arg-type]
        finally:
            checked.set()

    ctx.login = login_then_drop  # type: ignore[method-assign]
    client = await connect(daemon)
    client[1].write(b"a LOGIN bob@hamburger.edu bob-in-hamburg\r\n")
    await asyncio.wait_for(checked.wait(), 5.0)
    client[1].close()
    await closed_and_released(daemon)


@pytest.mark.parametrize("daemon", [{"imap_idle_timeout": 0.4}], indirect=True)
async def test_after_login_the_imap_idle_timeout_counts_and_idle_restarts_it(
    daemon: MailDaemon,
) -> None:
    client = await connect(daemon)
    assert await login(client) == b"a OK logged in\r\n"  # login_timeout (60 s) no longer counts
    await command(client, b"b SELECT INBOX\r\n")
    await line(client[0])
    await asyncio.sleep(0.25)
    assert await command(client, b"c IDLE\r\n") == b"+ idling\r\n"  # the timer starts again
    await asyncio.sleep(0.25)  # 0.5 s since login, 0.25 since IDLE: still there
    assert await command(client, b"DONE\r\n") == b"c OK IDLE terminated\r\n"
    assert await line(client[0], 3.0) == b"* BYE Autologout; idle for too long\r\n"
    client[1].close()


async def test_a_stream_waits_for_a_client_that_reads_late(daemon: MailDaemon) -> None:
    client = await connect(daemon)
    await login(client)
    size = 8_000_000  # far over the socket buffers: the shell must wait for the reader
    client[1].write(b"b FETCH %d\r\n" % size)
    await asyncio.sleep(0.5)
    assert await line(client[0]) == b"* 1 FETCH (BODY[] {%d}\r\n" % size
    got = 0
    while got < size:
        chunk = await asyncio.wait_for(client[0].read(min(65536, size - got)), 10.0)
        assert chunk and chunk == b"x" * len(chunk)
        got += len(chunk)
    assert await line(client[0]) == b")\r\n"
    assert await line(client[0]) == b"b OK FETCH done\r\n"
    client[1].close()


async def test_a_non_synchronising_literal_over_the_limit_closes_with_the_reason(
    daemon: MailDaemon,
) -> None:
    reader, writer = await connect(daemon)
    # before login, even in APPEND, a literal is at most max_literal (64 KiB)
    writer.write(b"a APPEND INBOX {70000+}\r\n")
    assert (
        await line(reader)
        == b"a BAD [TOOBIG] non-synchronising literal of 70000 octets: too big\r\n"
    )
    assert await line(reader) == b"* BYE non-synchronising literal of 70000 octets: too big\r\n"
    assert await line(reader) == b""
    writer.close()


async def test_after_login_append_takes_a_big_non_synchronising_literal(
    daemon: MailDaemon,
) -> None:
    client = await connect(daemon)
    await login(client)
    message = b"x" * 70000
    assert await command(client, b"b APPEND INBOX {70000+}\r\n" + message + b"\r\n") == (
        b"b OK APPEND %d\r\n" % (len(b"b APPEND INBOX {70000+}\r\n") + 70000 + 2)
    )
    reader, writer = client
    writer.write(b"c SEARCH {70000+}\r\n")  # not APPEND: max_literal
    assert (
        await line(reader)
        == b"c BAD [TOOBIG] non-synchronising literal of 70000 octets: too big\r\n"
    )
    assert await line(reader) == b"* BYE non-synchronising literal of 70000 octets: too big\r\n"
    writer.close()
