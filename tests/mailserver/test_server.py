"""The mail daemon over real sockets: SMTP delivery into the store, POP3 (STLS and pop3s with
the server's CA), submission of a logged-in user, the control endpoint, session limits and the
failure delay. Clients are the standard library's, in a thread (the server runs on this loop)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import poplib
import smtplib
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mailserver import cli
from mailserver.aio.server import MailDaemon
from mailserver.config import MailConfig, Queue, Quotas
from mailserver.store import Delivery, Quota, Store
from minternet import control
from tests.mailserver.daemon_harness import FakeFactory, add_users, config, free_port

T = TypeVar("T")
MESSAGE = b"From: alice@crepes.fr\r\nSubject: crepes\r\n\r\nBonjour Bob.\r\n.line with a dot\r\n"


async def threaded(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[MailDaemon]:
    limits = getattr(request, "param", {})
    cfg = config(tmp_path / "state", **limits)
    add_users(cfg)
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=4)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def port(d: MailDaemon, kind: str) -> int:
    return int(d.ports[kind])  # type: ignore[attr-defined]


def ca_context(cfg: MailConfig) -> ssl.SSLContext:
    """What a client that trusts the server's CA file uses (mailserver/tls.py made it)."""
    return ssl.create_default_context(cafile=str(cfg.paths().tls / "ca.pem"))


def send(d: MailDaemon, to: list[str], data: bytes = MESSAGE) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port(d, "smtp"), timeout=10) as s:
        return s.sendmail("alice@crepes.fr", to, data)


def inbox(d: MailDaemon, address: str) -> list[bytes]:
    assert d.ctx is not None
    store = d.ctx.store.user(address)
    return [store.read_message("INBOX", e.uid) for e in store.pop3_snapshot()]


async def test_smtp_delivery_is_in_the_store_when_250_comes(daemon: MailDaemon) -> None:
    refused = await threaded(send, daemon, ["bob@hamburger.edu", "dave@hamburger.edu"])
    assert refused == {}
    # no waiting: 250 came after the store returned
    for user in ("bob@hamburger.edu", "dave@hamburger.edu"):
        (stored,) = inbox(daemon, user)
        assert stored.startswith(b"Return-Path: <alice@crepes.fr>\r\nReceived: from ")
        assert b"\tby mail.hamburger.edu with ESMTP" in stored  # two recipients: no "for"
        assert stored.endswith(MESSAGE)
    assert daemon.stats([])["stats"]["deliveries"] == 2  # type: ignore[index]


async def test_unknown_users_and_other_domains_are_refused(daemon: MailDaemon) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        await threaded(send, daemon, ["nobody@hamburger.edu", "x@crepes.fr"])
    codes = {k: v[1].decode() for k, v in e.value.recipients.items()}
    assert codes["nobody@hamburger.edu"].startswith("5.1.1")
    assert codes["x@crepes.fr"] == "5.7.1 relaying denied"


async def test_a_delivery_wakes_the_users_inbox_waiters(daemon: MailDaemon) -> None:
    assert daemon.ctx is not None
    waiter = asyncio.ensure_future(daemon.ctx.notifier.wait("bob@hamburger.edu", "INBOX", 5.0))
    await asyncio.sleep(0)
    await threaded(send, daemon, ["bob@hamburger.edu"])
    assert await asyncio.wait_for(waiter, 1.0) is True


def pop_stls(d: MailDaemon, user: str, password: str) -> tuple[bytes, list[bytes], bytes]:
    p = poplib.POP3("127.0.0.1", port(d, "pop3"), timeout=10)
    try:
        p.stls(ca_context(d.config))
        p.user(user)
        p.pass_(password)
        _, lines, _ = p.retr(1)
        uidl = p.uidl(1)
        p.dele(1)
        return p.stat(), lines, uidl  # type: ignore[return-value]
    finally:
        p.quit()


async def test_pop3_with_stls_verifies_the_certificate_and_retrieves_then_deletes(
    daemon: MailDaemon,
) -> None:
    await threaded(send, daemon, ["bob@hamburger.edu"])
    assert daemon.ctx is not None
    woken = asyncio.ensure_future(daemon.ctx.notifier.wait("bob@hamburger.edu", "INBOX", 5.0))
    await asyncio.sleep(0)
    stat, lines, uidl = await threaded(pop_stls, daemon, "bob@hamburger.edu", "bob-in-hamburg")
    assert stat == (0, 0)  # DELE'd: counted out
    assert lines[-2:] == [b"Bonjour Bob.", b".line with a dot"]  # poplib unstuffs the dot
    assert uidl.startswith(b"+OK 1 ")
    assert inbox(daemon, "bob@hamburger.edu") == []  # QUIT expunged it
    assert await asyncio.wait_for(woken, 1.0) is True  # and IMAP sessions were told


def pop_ssl(d: MailDaemon, user: str, password: str) -> tuple[int, int]:
    p = poplib.POP3_SSL("127.0.0.1", port(d, "pop3s"), context=ca_context(d.config), timeout=10)
    try:
        p.user(user)
        p.pass_(password)
        return p.stat()
    finally:
        p.quit()


async def test_pop3s_is_tls_from_the_start(daemon: MailDaemon) -> None:
    await threaded(send, daemon, ["dave@hamburger.edu"])
    count, octets = await threaded(pop_ssl, daemon, "dave@hamburger.edu", "dave-in-bremen")
    assert count == 1
    assert octets == len(inbox(daemon, "dave@hamburger.edu")[0])


async def test_a_failed_pop3_login_waits_the_failure_delay(daemon: MailDaemon) -> None:
    start = time.monotonic()
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Authentication failed"):
        await threaded(pop_ssl, daemon, "bob@hamburger.edu", "wrong")
    assert time.monotonic() - start >= 0.2  # Auth(failure_delay=0.2)
    stats = daemon.stats([])["stats"]
    assert stats["login_failures"] == 1  # type: ignore[index]


@pytest.mark.parametrize("daemon", [{"max_connections_per_user": 2}], indirect=True)
async def test_a_users_sessions_are_limited(daemon: MailDaemon) -> None:
    cfg = daemon.config

    def login() -> poplib.POP3_SSL:
        p = poplib.POP3_SSL("127.0.0.1", port(daemon, "pop3s"), context=ca_context(cfg))
        try:
            p.user("bob@hamburger.edu")
            p.pass_("bob-in-hamburg")
        except poplib.error_proto:
            p.close()
            raise
        return p

    first = await threaded(login)
    second = await threaded(login)
    assert daemon.stats([])["sessions_by_user"] == {"bob@hamburger.edu": 2}
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[IN-USE\] 2 sessions of this user"):
        await threaded(login)
    await threaded(first.quit)
    for _ in range(100):  # the server sees the close a moment later
        if daemon.stats([])["sessions_by_user"] == {"bob@hamburger.edu": 1}:
            break
        await asyncio.sleep(0.02)
    third = await threaded(login)
    await threaded(second.quit)
    await threaded(third.quit)
    assert daemon.stats([])["stats"]["logins_refused"] == 1  # type: ignore[index]


def submit(d: MailDaemon, kind: str, to: list[str]) -> dict[str, Any]:
    tls = ca_context(d.config)
    if kind == "submissions":
        client: smtplib.SMTP = smtplib.SMTP_SSL("127.0.0.1", port(d, kind), timeout=10, context=tls)
    else:
        client = smtplib.SMTP("127.0.0.1", port(d, kind), timeout=10)
    with client as s:
        if kind == "submission":
            s.starttls(context=tls)
        s.login("dave@hamburger.edu", "dave-in-bremen")
        data = b"From: dave@hamburger.edu\r\nSubject: hi Bob\r\n\r\nfrom Dave\r\n"
        return s.sendmail("dave@hamburger.edu", to, data)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
async def test_a_logged_in_user_submits_to_a_local_user(daemon: MailDaemon, kind: str) -> None:
    assert await threaded(submit, daemon, kind, ["bob@hamburger.edu"]) == {}
    (stored,) = inbox(daemon, "bob@hamburger.edu")
    assert stored.startswith(b"Return-Path: <dave@hamburger.edu>\r\nReceived: from ")
    assert b"\tby mail.hamburger.edu with ESMTPSA (using TLSv1.3" in stored
    assert b"\r\nMessage-ID: <" in stored and b"\r\nDate: " in stored  # added
    assert stored.endswith(b"\r\n\r\nfrom Dave\r\n")
    assert daemon.stats([])["stats"][f"{kind}_accepted"] == 1  # type: ignore[index]


async def test_without_a_queue_submission_refuses_other_domains(daemon: MailDaemon) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        await threaded(submit, daemon, "submissions", ["x@crepes.fr"])
    assert e.value.recipients["x@crepes.fr"] == (
        550,
        b"5.7.1 this server does not send mail to other domains (no queue configured)",
    )


async def test_the_control_endpoint_reports_counters_sessions_and_listeners(
    daemon: MailDaemon,
) -> None:
    await threaded(send, daemon, ["bob@hamburger.edu"])
    reply = await threaded(control.request, f"127.0.0.1:{port(daemon, 'control')}", "stats")
    assert reply["stats"]["deliveries"] == 1
    assert reply["stats"]["smtp_accepted"] == 1
    assert reply["stats"]["sessions"] == 0
    assert set(reply["listeners"]) == {
        "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
    }  # fmt: skip
    assert reply["sessions_by_user"] == {}


async def test_a_store_that_cannot_take_the_message_gets_451_and_nothing_is_acknowledged(
    daemon: MailDaemon,
) -> None:
    assert daemon.ctx is not None

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    daemon.ctx.store.deliver_batch = broken  # type: ignore[method-assign]
    with pytest.raises(smtplib.SMTPDataError) as e:
        await threaded(send, daemon, ["bob@hamburger.edu"])
    assert e.value.smtp_code == 451
    assert daemon.stats([])["stats"]["deliveries"] == 0  # type: ignore[index]


async def test_a_connection_gone_during_its_login_leaves_no_session_counted(
    daemon: MailDaemon,
) -> None:
    ctx = daemon.ctx
    assert ctx is not None
    login = ctx.login
    checked = asyncio.Event()

    async def login_then_drop(*args: Any) -> str | None:
        for conn in list(daemon.streams["pop3"].connections):
            conn.abort()  # gone (a deadline, a shutdown) while the password is checked
        await asyncio.sleep(0.05)
        try:
            return await login(*args)
        finally:
            checked.set()

    ctx.login = login_then_drop  # type: ignore[method-assign]
    reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, "pop3"))
    await reader.readline()
    writer.write(b"USER bob@hamburger.edu\r\nPASS bob-in-hamburg\r\n")
    await asyncio.wait_for(checked.wait(), 5.0)
    writer.close()
    for _ in range(250):  # (a count that leaked stays: polled, not a fixed sleep, for load)
        if not daemon.stats([])["sessions_by_user"]:
            break
        await asyncio.sleep(0.02)
    assert daemon.stats([])["sessions_by_user"] == {}
    assert ctx.sessions("bob@hamburger.edu") == 0


@pytest.mark.parametrize("daemon", [{"max_connections": 2}], indirect=True)
async def test_max_connections_holds_for_every_listener_together(daemon: MailDaemon) -> None:
    clients = []
    for kind in ("imap", "pop3"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, kind))
        clients.append(writer)
        assert not (await asyncio.wait_for(reader.readline(), 5.0)).startswith((b"-ERR", b"* BYE"))
    for kind, refusal in (
        ("pop3s", b"-ERR [SYS/TEMP] too many connections, try later\r\n"),
        ("imap", b"* BYE Too many connections, try later\r\n"),
    ):
        tls = ca_context(daemon.config) if kind == "pop3s" else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, kind), ssl=tls)
        assert await asyncio.wait_for(reader.read(), 5.0) == refusal  # then closed
        writer.close()
    stats = daemon.stats([])["stats"]
    assert stats["connections_refused"] == 2  # type: ignore[index]
    for writer in clients:
        writer.close()


@pytest.mark.parametrize("daemon", [{"login_timeout": 0.3}], indirect=True)
async def test_pop3_login_timeout(daemon: MailDaemon) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(daemon, "pop3"))
    await reader.readline()
    writer.write(b"CAPA\r\n")  # a command is activity: the timer starts again
    loop = asyncio.get_running_loop()
    start = loop.time()
    rest = await asyncio.wait_for(reader.read(), 5.0)
    assert rest.endswith(b".\r\n-ERR timed out, closing\r\n")
    assert loop.time() - start >= 0.3
    writer.close()


async def test_start_reconciles_every_store_and_logs_what_it_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(tmp_path / "state")
    add_users(cfg)
    maildir = cfg.paths().mail / "hamburger.edu" / "bob" / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1700000000.M1P1.elsewhere").write_bytes(b"Subject: by hand\r\n\r\nhi\r\n")
    caplog.set_level("INFO", logger="mailserver")
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=2)
    await d.start()
    try:
        lines = [r.getMessage() for r in caplog.records if r.name == "mailserver"]
        reconciled = [m for m in lines if m.startswith("store of bob@hamburger.edu reconciled: ")]
        assert len(reconciled) == 1 and "adopted 1" in reconciled[0], lines
        assert inbox(d, "bob@hamburger.edu") == [b"Subject: by hand\r\n\r\nhi\r\n"]
    finally:
        await d.stop()


def pending_rows(d: MailDaemon, address: str) -> int:
    assert d.ctx is not None
    user = d.ctx.store.user(address)
    with user._lock:
        return int(user.db.execute("SELECT count(*) FROM pending").fetchone()[0])


async def test_smtp_deliveries_settle_into_new_after_the_250(daemon: MailDaemon) -> None:
    await threaded(send, daemon, ["bob@hamburger.edu"])
    assert daemon.ctx is not None
    maildir = Path(daemon.ctx.store.user("bob@hamburger.edu").maildir)
    for _ in range(500):
        if pending_rows(daemon, "bob@hamburger.edu") == 0:
            break
        await asyncio.sleep(0.01)
    assert pending_rows(daemon, "bob@hamburger.edu") == 0
    (name,) = os.listdir(maildir / "new")
    assert os.listdir(maildir / "tmp") == []
    assert (maildir / "new" / name).read_bytes().endswith(MESSAGE)


async def test_stop_settles_what_the_background_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path / "state")
    add_users(cfg)
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=2)
    d.ports = await d.start()  # type: ignore[attr-defined]
    assert d.ctx is not None
    monkeypatch.setattr(d.ctx, "settle_later", lambda addresses: None)
    await threaded(send, d, ["bob@hamburger.edu"])
    assert pending_rows(d, "bob@hamburger.edu") == 1
    await d.stop()
    store = Store(str(cfg.paths().mail))
    try:
        user = store.user("bob@hamburger.edu")
        assert store.reports["bob@hamburger.edu"].recovered == 0
        assert user.db.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
        assert len(os.listdir(Path(user.maildir, "new"))) == 1
    finally:
        store.close()


async def test_start_puts_in_place_what_a_crash_left_pending_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(tmp_path / "state")
    add_users(cfg)
    store = Store(str(cfg.paths().mail), host="crashed.test")
    (uid,) = store.deliver_batch([Delivery(address="bob@hamburger.edu", data=MESSAGE)])
    store.user("bob@hamburger.edu")._unsettled.clear()  # killed: nothing settled on the way out
    store.close()
    caplog.set_level("INFO", logger="mailserver")
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=2)
    await d.start()
    try:
        lines = [r.getMessage() for r in caplog.records if r.name == "mailserver"]
        assert "store of bob@hamburger.edu reconciled: recovered 1" in lines, lines
        assert any(
            m.startswith(f"store of bob@hamburger.edu: INBOX UID {uid} recovered: file new/")
            for m in lines
        ), lines
        assert inbox(d, "bob@hamburger.edu") == [MESSAGE]
    finally:
        await d.stop()


@pytest.fixture
async def queued(tmp_path: Path) -> AsyncIterator[MailDaemon]:
    """A daemon whose queue asks a resolver that is not there: remote mail waits in it."""
    cfg = config(tmp_path / "state")
    cfg = dataclasses.replace(cfg, queue=Queue(resolver=f"127.0.0.1:{free_port()}", timeout=2.0))
    add_users(cfg)
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=4)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


async def test_the_queue_is_seen_and_handled_through_the_control_endpoint(
    queued: MailDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await threaded(submit, queued, "submissions", ["x@crepes.fr"]) == {}
    assert queued.queue is not None
    [ident] = list(queued.queue.entries)
    addr = f"127.0.0.1:{port(queued, 'control')}"

    async def ask(line: str) -> dict[str, Any]:
        return await threaded(control.request, addr, line)

    deadline = time.monotonic() + 10
    while queued.queue.entries[ident].attempts == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the first attempt: the resolver does not answer
    [row] = (await ask("queue list"))["queue"]
    assert (row["id"], row["sender"], row["recipients"], row["attempts"]) == (
        ident, "dave@hamburger.edu", ["x@crepes.fr"], 1,
    )  # fmt: skip
    assert row["last_error"] == "no answer from the resolver for crepes.fr MX"
    assert 290 <= row["next_attempt_in"] <= 300
    shown = (await ask(f"queue show {ident}"))["entry"]
    assert shown["recipients"] == [
        {"address": "x@crepes.fr", "status": "4.4.3", "remote": None,
         "error": "no answer from the resolver for crepes.fr MX"},
    ]  # fmt: skip
    assert (await ask("queue show NOPE")) == {"error": "no queued message 'NOPE'"}
    assert (await ask("queue frobnicate")) == {
        "error": "usage: queue [list | show ID | retry [ID] | delete ID]"
    }
    assert queued.stats([])["stats"]["queue"] == 1  # type: ignore[index]
    # the same through `mailserver queue`
    assert await threaded(cli.main, ["queue", "--control", addr, "list"]) == 0
    out = capsys.readouterr().out
    assert f"{ident}" in out and "<dave@hamburger.edu> -> <x@crepes.fr>" in out
    assert "attempt 1, next in" in out and "no answer from the resolver" in out
    assert await threaded(cli.main, ["queue", "--control", addr, "show", "NOPE"]) == 1
    assert "no queued message 'NOPE'" in capsys.readouterr().err
    assert (await ask("queue retry")) == {"retried": 1}
    assert (await ask(f"queue delete {ident}")) in ({"deleted": ident}, {
        "error": f"no queued message {ident!r} (or it is being tried now)"})  # fmt: skip
    deadline = time.monotonic() + 10
    while queued.queue.entries and time.monotonic() < deadline:
        if (await ask(f"queue delete {ident}")).get("deleted") == ident:
            break
        await asyncio.sleep(0.1)
    assert queued.queue.entries == {}
    assert (await ask("queue list")) == {"queue": []}


async def test_without_a_queue_the_control_endpoint_says_so(daemon: MailDaemon) -> None:
    addr = f"127.0.0.1:{port(daemon, 'control')}"
    assert await threaded(control.request, addr, "queue list") == {
        "error": "this server has no outbound queue ([queue] resolver is not set)"
    }


def starttls_then(d: MailDaemon, garbage: bytes | None) -> bytes:
    """EHLO, STARTTLS, then instead of a TLS handshake: `garbage`, or a reset (None)."""
    with socket.create_connection(("127.0.0.1", port(d, "smtp")), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()  # the greeting
        s.sendall(b"EHLO client.example\r\n")
        while f.readline()[3:4] == b"-":  # the EHLO lines, up to the last
            pass
        s.sendall(b"STARTTLS\r\n")
        ready = f.readline()
        if garbage is None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            s.sendall(garbage)
            s.settimeout(5)
            with contextlib.suppress(OSError):
                s.recv(100)  # until the server closes
    return ready


@pytest.mark.parametrize("garbage", [None, b"MAIL FROM:<x@y>\r\n" * 20])
async def test_a_failed_starttls_handshake_is_one_line_not_a_traceback(
    daemon: MailDaemon, garbage: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert (await threaded(starttls_then, daemon, garbage)).startswith(b"220 ")
    async with asyncio.timeout(10):
        while not any("STARTTLS handshake failed" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.02)
    (line,) = [r for r in caplog.records if "STARTTLS handshake failed" in r.getMessage()]
    assert line.getMessage().startswith("127.0.0.1: STARTTLS handshake failed: ")
    assert line.exc_info is None and line.levelno == logging.WARNING
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert await threaded(send, daemon, ["bob@hamburger.edu"]) == {}  # and it goes on serving


@pytest.fixture
async def quota_daemon(tmp_path: Path) -> AsyncIterator[MailDaemon]:
    """Bob may keep two messages; Dave has no limit of his own but the default's size."""
    cfg = dataclasses.replace(
        config(tmp_path / "state"),
        quota=Quotas(storage=10**6, users={"bob@hamburger.edu": Quota(messages=2)}),
    )
    add_users(cfg)
    d = MailDaemon(cfg, imap_factory=FakeFactory(), threads=4)
    d.ports = await d.start()  # type: ignore[attr-defined]
    yield d
    await d.stop()


def send_sized(d: MailDaemon, to: str, size: int) -> tuple[int, bytes]:
    """RCPT TO after a MAIL FROM that declares SIZE=size: the reply."""
    with smtplib.SMTP("127.0.0.1", port(d, "smtp"), timeout=10) as s:
        s.ehlo()
        s.mail("alice@crepes.fr", [f"SIZE={size}"])
        return s.rcpt(to)


async def test_a_recipient_over_quota_gets_452_at_rcpt_and_the_others_their_mail(
    quota_daemon: MailDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    d = quota_daemon
    bob, dave = "bob@hamburger.edu", "dave@hamburger.edu"
    assert await threaded(send, d, [bob]) == {}
    assert await threaded(send, d, [bob, dave]) == {}
    assert len(inbox(d, bob)) == 2  # at his limit now
    refused = await threaded(send, d, [bob, dave])  # Dave still gets his
    assert refused == {bob: (452, b"4.2.2 <bob@hamburger.edu>: mailbox full: 2 messages of 2 kept")}
    assert len(inbox(d, bob)) == 2 and len(inbox(d, dave)) == 2
    assert "refused RCPT TO:<bob@hamburger.edu>: 452 4.2.2" in caplog.text
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:  # submission: the same answer
        await threaded(submit, d, "submissions", [bob])
    assert e.value.recipients[bob][0] == 452
    # Dave is under the default 1 MB: a declared SIZE that would not fit is refused at RCPT
    assert await threaded(send_sized, d, dave, 10**6) == (
        452,
        b"4.2.2 <dave@hamburger.edu>: mailbox full: %d octets of 1000000 used"
        % sum(map(len, inbox(d, dave))),
    )
    assert (await threaded(send_sized, d, dave, 1000))[0] == 250
    # Bob makes room (POP3 deletes one): mail for him is taken again
    assert d.ctx is not None
    user = d.ctx.store.user(bob)
    user.pop3_delete([user.pop3_snapshot()[0].uid])
    assert await threaded(send, d, [bob]) == {}
