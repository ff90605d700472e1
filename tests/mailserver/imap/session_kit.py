"""Helpers for the IMAP session tests: a real store in a scratch directory, a clock the test
moves, and a Client that drives a Session with frames and returns the bytes it would send."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

from mailserver.imap.session import (
    Action,
    CheckPassword,
    Send,
    Session,
    Settings,
    Stream,
)
from mailserver.message.summary import store_summary
from mailserver.store import Store

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z: the INBOX's UIDVALIDITY, the internal dates
BOB = "bob@hamburger.edu"
PASSWORD = b"secret"
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

CAPS = (  # what CAPABILITY lists in every state, but APPENDLIMIT (the tests' own)
    b"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
    b"SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE ESEARCH CONDSTORE"
    b" QRESYNC SORT SORT=DISPLAY ESORT SEARCHRES CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT"
    b" THREAD=REFERENCES THREAD=REFS I18NLEVEL=1 UTF8=ACCEPT WITHIN MULTIAPPEND CATENATE"
    b" URL-PARTIAL BINARY QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE SAVEDATE"
    b" SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW NOTIFY"
)

SETTINGS = Settings(
    hostname="mail.test",
    plaintext_ok=True,
    starttls=True,
    max_literal=1000,
    max_message_size=5000,
)


class Clock:
    """A clock that moves only when told to (and by a microsecond per read)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 0.000001
        return self.now


def make_store() -> Store:
    root = tempfile.mkdtemp(prefix="imap-session-", dir=SCRATCH)
    return Store(root, summarize=store_summary, clock=Clock(), host="mx.test")


def drop_store(store: Store) -> None:
    store.close()
    shutil.rmtree(store.root, ignore_errors=True)


def store_fixture() -> Iterator[Store]:
    store = make_store()
    yield store
    drop_store(store)


def wire(actions: list[Action]) -> bytes:
    """Everything the actions would write, Streams drained."""
    out = b""
    for a in actions:
        if isinstance(a, Send):
            out += a.data
        elif isinstance(a, Stream):
            out += b"".join(a.chunks)
    return out


def message(n: int = 1, body: str = "hello", subject: str | None = None) -> bytes:
    subject = f"msg {n}" if subject is None else subject
    return (
        f"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: {subject}\r\n"
        f"Date: Tue, 14 Nov 2023 10:00:00 +0100\r\nMessage-ID: <m{n}@crepes.fr>\r\n\r\n"
        f"{body} {n}\r\n"
    ).encode()


class Client:
    """One session and what it said; CheckPassword is answered at once (PASSWORD is right)."""

    def __init__(self, store: Store, settings: Settings = SETTINGS, *, tls: bool = False):
        self.store = store
        self.session = Session(settings, tls_active=tls)
        self.last: list[Action] = []

    def run(self, actions: list[Action]) -> list[Action]:
        out: list[Action] = []
        for a in actions:
            out.append(a)
            if isinstance(a, CheckPassword):
                if a.user.decode() == BOB and a.password == PASSWORD:
                    out += self.run(self.session.login_result(BOB, self.store.user(BOB)))
                else:
                    out += self.run(self.session.login_result(None, None))
        self.last = out
        return out

    def actions(self, frame: bytes) -> list[Action]:
        return self.run(self.session.receive(frame + b"\r\n"))

    def __call__(self, frame: bytes) -> bytes:
        return wire(self.actions(frame))

    def login(self) -> bytes:
        return self(b"L LOGIN " + BOB.encode() + b" " + PASSWORD)

    def select(self, mailbox: bytes = b"INBOX") -> bytes:
        self.login()
        return self(b"S SELECT " + mailbox)


def deliver(store: Store, n: int = 1, mailbox: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
    return store.deliver(BOB, mailbox, message(n), flags)
