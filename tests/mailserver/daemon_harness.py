"""What the mail daemon's socket tests share: ports in this suite's range, a config, users with
cheap hashes, a running MailDaemon or `mailserver serve` process, and a small stand-in IMAP
session core that speaks the interface of mailserver/imap/session.py (to test the shell's side
of it)."""

from __future__ import annotations

import base64
import itertools
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mailserver.aio.context import MailContext
from mailserver.config import Auth, Limits, MailConfig
from mailserver.imap.actions import (
    CheckPassword,
    Close,
    Idle,
    Log,
    Notify,
    Send,
    StartTls,
    Stream,
)
from mailserver.store import UserStore
from mailserver.users import ScryptParams, UserDb

#: Sockets of these tests stay in 31000-32999 (other suites on this machine use other ranges).
PORT_BASE = int(os.environ.get("MAIL_DAEMON_TEST_PORT_BASE", "31000"))
_ports = itertools.count()
FAST = ScryptParams(ln=4, r=1, p=1)
USERS = {"bob@hamburger.edu": "bob-in-hamburg", "dave@hamburger.edu": "dave-in-bremen"}
KINDS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "control")


def free_port() -> int:
    """A port of 127.0.0.1 in PORT_BASE+100 .. PORT_BASE+1899 that nothing listens on now."""
    for _ in range(1800):
        port = PORT_BASE + 100 + next(_ports) % 1800
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the test range")


def config(state: Path, **limits: Any) -> MailConfig:
    listen: dict[str, int | str] = {k: f"127.0.0.1:{free_port()}" for k in KINDS}
    return MailConfig(
        hostname="mail.hamburger.edu",
        domains=("hamburger.edu",),
        address="127.0.0.1",
        listen=listen,
        state_dir=str(state),
        limits=Limits(**limits),
        auth=Auth(failure_delay=0.2),
    )


def serve_process(config: Path, ready: Path, log: Path) -> subprocess.Popen[bytes]:
    """`mailserver serve --config CONFIG` as a process, its output appended to `log`, once it
    has written its ready file (the test fails, with the log, if it exits first)."""
    ready.unlink(missing_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailserver", "serve", "--config", str(config),
             "--ready-file", str(ready)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.05)
    return proc


def add_users(cfg: MailConfig) -> None:
    db = UserDb(cfg.paths().users, params=FAST)
    for address, password in USERS.items():
        db.add(address, password.encode())


# -- a stand-in IMAP session core, with the interface's actions ----------------------------


_COMMAND = re.compile(rb"(\S+) (\S+) ?(.*)\r\n\Z", re.S)


class FakeSession:
    """Just enough IMAP for the shell's tests: LOGIN, AUTHENTICATE PLAIN, STARTTLS, SELECT,
    NOOP, IDLE (EXISTS from the store's INBOX count), FETCH (a Stream of `big` octets),
    APPEND (literal up to 100 octets), TOUCH (a Notify), LOGOUT. Records every call."""

    def __init__(self, tls_active: bool) -> None:
        self.tls_active = tls_active
        self.calls: list[str] = []
        self._address: str | None = None
        self._selected: str | None = None
        self._idling = False
        self._idle_tag = b""
        self._store: UserStore | None = None
        self._login_tag = b""
        self._exists = 0
        self.closed = False

    @property
    def address(self) -> str | None:
        return self._address

    @property
    def selected(self) -> str | None:
        return self._selected

    @property
    def idling(self) -> bool:
        return self._idling

    @property
    def authenticated(self) -> bool:
        return self._address is not None

    def greeting(self) -> bytes:
        return b"* OK [CAPABILITY IMAP4rev1] fake ready\r\n"

    def literal(self, size: int, fits: bool, first_line: bytes) -> tuple[bytes, bool]:
        self.calls.append(f"literal {size} {fits}")
        if size > 100 or not fits:
            tag = first_line.split(b" ", 1)[0]
            return tag + b" NO [TOOBIG] too big\r\n", False
        return b"+ go ahead\r\n", True

    def _count(self) -> int:
        assert self._store is not None
        return len(self._store.pop3_snapshot())

    def receive(self, frame: bytes) -> list[Any]:
        self.calls.append(frame.decode(errors="replace"))
        if self._idling:
            self._idling = False
            return [Send(data=self._idle_tag + b" OK IDLE terminated\r\n")]
        m = _COMMAND.match(frame)
        if m is None:
            return [Send(data=b"* BAD what\r\n")]
        tag, name, rest = m.group(1), m.group(2).upper(), m.group(3)
        if name == b"LOGIN":
            user, password = rest.split(b" ", 1)
            self._login_tag = tag
            return [CheckPassword(user=user, password=password, mechanism="LOGIN")]
        if name == b"AUTHENTICATE":
            _, _, response = rest.partition(b" ")
            _, user, password = base64.b64decode(response).split(b"\0")
            self._login_tag = tag
            return [CheckPassword(user=user, password=password, mechanism="PLAIN")]
        if name == b"STARTTLS":
            return [Send(data=tag + b" OK begin TLS\r\n"), StartTls()]
        if name == b"LOGOUT":
            return [Send(data=b"* BYE bye\r\n" + tag + b" OK LOGOUT\r\n"), Close(reason="logout")]
        if self._address is None:
            return [Send(data=tag + b" NO log in first\r\n")]
        if name == b"SELECT":
            self._selected = rest.decode()
            self._exists = self._count()
            return [
                Send(data=b"* %d EXISTS\r\n" % self._exists + tag + b" OK [READ-WRITE] done\r\n")
            ]
        if name == b"IDLE":
            self._idling, self._idle_tag = True, tag
            return [Send(data=b"+ idling\r\n"), Idle()]
        if name == b"FETCH":
            size = int(rest)
            chunks = (b"x" * 1000 for _ in range(size // 1000))
            head = b"* 1 FETCH (BODY[] {%d}\r\n" % size
            return [
                Send(data=head),
                Stream(chunks=chunks),
                Send(data=b")\r\n" + tag + b" OK FETCH done\r\n"),
            ]
        if name == b"APPEND":
            return [Send(data=tag + b" OK APPEND " + str(len(frame)).encode() + b"\r\n")]
        if name == b"TOUCH":
            return [
                Notify(mailbox="INBOX"),
                Log(text="touched"),
                Send(data=tag + b" OK touched\r\n"),
            ]
        return [Send(data=tag + b" OK " + name + b"\r\n")]

    def tls_started(self) -> list[Any]:
        self.calls.append("tls_started")
        self.tls_active = True
        return []

    def login_result(
        self, address: str | None, store: UserStore | None, why: str = ""
    ) -> list[Any]:
        self.calls.append(f"login_result {address} {why}")
        tag = self._login_tag
        if address is None:
            if why:
                return [Send(data=tag + b" NO [LIMIT] " + why.encode() + b"\r\n")]
            return [Send(data=tag + b" NO [AUTHENTICATIONFAILED] failed\r\n")]
        self._address, self._store = address, store
        return [Send(data=tag + b" OK logged in\r\n")]

    def poll(self) -> list[Any]:
        self.calls.append("poll")
        count = self._count()
        if count != self._exists:
            self._exists = count
            return [Send(data=b"* %d EXISTS\r\n" % count)]
        return []

    def notify_poll(self) -> list[Any]:
        return []

    @property
    def notifying(self) -> bool:
        return False

    @property
    def watching(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class FakeFactory:
    """MailDaemon's imap_factory: FakeSessions, kept for the test to look at."""

    def __init__(self) -> None:
        self.sessions: list[FakeSession] = []

    def __call__(self, ctx: MailContext, kind: str, host: str, idle_poll: float) -> Any:
        def make(tls_active: bool) -> FakeSession:
            session = FakeSession(tls_active)
            self.sessions.append(session)
            return session

        return make
