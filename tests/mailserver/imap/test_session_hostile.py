"""Hostile input to the IMAP session: random and mutated command frames in every state
(before login, logged in, selected, read-only, idling, mid-AUTHENTICATE) on a real store.
Every call returns actions; every byte sent is one or more whole responses, each untagged
(`* `), a continuation (`+ `) or tagged with the command's tag; nothing raises and no
internal error is logged."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailserver.imap.commands import peek_tag
from mailserver.imap.session import (
    Action,
    CheckPassword,
    Close,
    Idle,
    Log,
    Notify,
    Send,
    Session,
    StartTls,
    Stream,
)
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, SETTINGS, deliver, drop_store, make_store

CORPUS = [
    b"a1 CAPABILITY",
    b"a1 NOOP",
    b"a1 LOGOUT",
    b"a1 STARTTLS",
    b"a1 LOGIN bob@hamburger.edu secret",
    b'a1 LOGIN {17}\r\nbob@hamburger.edu "secret"',
    b"a1 AUTHENTICATE PLAIN AGJvYkBoYW1idXJnZXIuZWR1AHNlY3JldA==",
    b"a1 AUTHENTICATE PLAIN",
    b"a1 ID NIL",
    b"a1 ENABLE CONDSTORE",
    b"a1 NAMESPACE",
    b"a1 IDLE",
    b"DONE",
    b"a1 SELECT INBOX (CONDSTORE)",
    b"a1 EXAMINE Trash",
    b"a1 CREATE Work/&ZeVnLIqe-/",
    b"a1 DELETE Work",
    b"a1 RENAME INBOX Old",
    b"a1 RENAME Sent Archive/Sent",
    b"a1 SUBSCRIBE Lists",
    b"a1 UNSUBSCRIBE Junk",
    b'a1 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES))',
    b'a1 LIST (SPECIAL-USE) "" * RETURN (SUBSCRIBED)',
    b'a1 LIST "" ""',
    b'a1 LSUB "" *',
    b"a1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
    b'a1 APPEND INBOX (\\Seen $x) "14-Nov-2023 10:00:00 +0100" {5}\r\nhello',
    b"a1 APPEND Nope {3}\r\nabc",
    b"a1 NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))"
    b" (SUBTREE (Work INBOX) (MessageNew MessageExpunge MailboxName SubscriptionChange))",
    b"a1 NOTIFY NONE",
    b'a1 APPEND Sent CATENATE (TEXT {3}\r\nabc URL "/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=1.MIME")',
    b"a1 APPEND Sent CATENATE (URL ;UID=2/;SECTION=HEADER/;PARTIAL=0.9 TEXT ~{2}\r\n\x00x)",
    b"a1 CHECK",
    b"a1 CLOSE",
    b"a1 UNSELECT",
    b"a1 EXPUNGE",
    b"a1 UID EXPUNGE 1:*",
    b"a1 SEARCH RETURN (MIN MAX COUNT ALL) OR UNSEEN (SUBJECT msg) NOT 2:*",
    b"a1 UID SEARCH MODSEQ 2 BODY hello",
    b"a1 FETCH 1:* (FLAGS UID ENVELOPE BODYSTRUCTURE BODY[1.MIME] RFC822.SIZE)",
    b"a1 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.10>) (CHANGEDSINCE 1)",
    b"a1 FETCH 2 (RFC822 INTERNALDATE MODSEQ)",
    b"a1 STORE 1:2 +FLAGS.SILENT (\\Deleted $Junk)",
    b"a1 UID STORE 1:* (UNCHANGEDSINCE 3) FLAGS (\\Seen)",
    b"a1 COPY 1:* Trash",
    b"a1 UID MOVE 2:3 Archive",
    b"a1 MOVE 1 Nope",
]

TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')  # what commands.py reads as a tag
RESPONSE_START = re.compile(rb"(\* |\+ |([^ ]+) (OK|NO|BAD) )")
LITERAL_END = re.compile(rb"\{(\d+)\}\Z")


def split_responses(data: bytes) -> list[bytes]:
    """Whole responses, literals followed; AssertionError when a response is cut off."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        while True:
            end = data.find(b"\r\n", pos)
            assert end >= 0, f"response without CRLF: {data[start:]!r}"
            m = LITERAL_END.search(data, pos, end)
            if m is None:
                pos = end + 2
                break
            pos = end + 2 + int(m.group(1))
            assert pos <= len(data), "literal cut off"
        out.append(data[start:pos])
    return out


def check(actions: object, tags: set[str]) -> list[Action]:
    assert isinstance(actions, list)
    for a in actions:
        assert isinstance(a, (Send, Stream, StartTls, CheckPassword, Notify, Idle, Log, Close))
        if isinstance(a, Log):
            assert "internal error" not in a.text, a.text
        data = a.data if isinstance(a, Send) else b""
        if isinstance(a, Stream):
            data = b"".join(a.chunks)
        for response in split_responses(data):
            m = RESPONSE_START.match(response)
            assert m is not None, response
            if m.group(2) is not None and m.group(2) != b"*":
                assert m.group(2).decode() in tags, (response, tags)
    return actions


class Driver:
    """A session in a chosen state, answering CheckPassword and StartTls as a shell would."""

    def __init__(self, store: Store, state: str, accept: bool) -> None:
        self.store = store
        self.accept = accept
        self.session = Session(SETTINGS, tls_active=state == "tls")
        if state in ("auth", "selected", "examined", "idle", "idle-auth"):
            self.feed(b"L LOGIN bob@hamburger.edu secret\r\n", force=True)
        if state in ("selected", "idle"):
            self.feed(b"S SELECT INBOX\r\n")
        if state == "examined":
            self.feed(b"S EXAMINE INBOX\r\n")
        if state in ("idle", "idle-auth"):
            self.feed(b"I IDLE\r\n")
        if state == "sasl":
            self.feed(b"A AUTHENTICATE PLAIN\r\n")
        assert self.session.authenticated == (state not in ("none", "tls", "sasl"))
        assert (self.session.selected == "INBOX") == (state in ("selected", "examined", "idle"))
        assert self.session.idling == state.startswith("idle")

    def feed(self, frame: bytes, force: bool = False) -> None:
        tag = TAG.match(frame)
        tags = {t for t in (tag and tag.group().decode(), self.session.pending_tag) if t}
        self.run(self.session.receive(frame), tags, force)
        self.run(self.session.poll(), tags | {"I"}, force)

    def run(self, actions: list[Action], tags: set[str], force: bool = False) -> None:
        for a in check(actions, tags):
            if isinstance(a, CheckPassword):
                if force or self.accept:
                    result = self.session.login_result(BOB, self.store.user(BOB))
                else:
                    result = self.session.login_result(None, None)
                self.run(result, tags)
            elif isinstance(a, StartTls):
                self.run(self.session.tls_started(), tags)


STATES = ["none", "tls", "sasl", "auth", "selected", "examined", "idle", "idle-auth"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.integers(0, 3))
        if kind == 0 and at < len(line):
            del line[at]
        elif kind == 1:
            line[at:at] = draw(
                st.sampled_from(
                    [b" ", b"*", b"(", b")", b"{3}\r\n", b"\x00", b"\xff", b'"', b"1:*", b"\\"]
                )
            )
        elif kind == 2 and at < len(line):
            line[at] = draw(st.integers(0, 255))
        else:
            line[at:at] = draw(st.binary(max_size=6))
    return bytes(line)


frames = st.one_of(mutated(), st.binary(max_size=60), st.sampled_from(CORPUS))


@pytest.fixture(scope="module")
def shared_store() -> Iterator[Store]:
    store = make_store()
    yield store
    drop_store(store)


@settings(
    max_examples=int(os.environ.get("IMAP_HOSTILE_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    state=st.sampled_from(STATES),
    accept=st.booleans(),
    commands=st.lists(frames, min_size=1, max_size=5),
)
def test_random_and_mutated_frames(
    shared_store: Store, state: str, accept: bool, commands: list[bytes]
):
    store = shared_store
    user = store.user(BOB)
    if not user.fetch("INBOX"):
        for n in (1, 2, 3):
            deliver(store, n)
    driver = Driver(store, state, accept)
    for frame in commands:
        driver.feed(frame + b"\r\n")
    driver.session.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(0, 10_000), fits=st.booleans(), command=st.binary(max_size=40))
def test_literal_answers_are_responses(shared_store: Store, size: int, fits: bool, command: bytes):
    for state in ("none", "auth", "sasl"):
        driver = Driver(shared_store, state, True)
        data, accept = driver.session.literal(size, fits, command + b"{%d}\r\n" % size)
        assert isinstance(accept, bool)
        tags = {t for t in (peek_tag(command), driver.session.pending_tag) if t}
        [response] = split_responses(data)
        m = RESPONSE_START.match(response)
        assert m is not None
        if accept:
            assert response == b"+ Ready for literal data\r\n"
        elif m.group(2) not in (None, b"*"):
            assert m.group(2).decode() in tags


def test_the_checker_catches_bad_output():
    with pytest.raises(AssertionError, match="response without CRLF"):
        split_responses(b"* OK x")
    with pytest.raises(AssertionError, match="literal cut off"):
        split_responses(b"* 1 FETCH (BODY[] {10}\r\nabc")
    assert split_responses(b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\nt OK done\r\n") == [
        b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\n",
        b"t OK done\r\n",
    ]
    with pytest.raises(AssertionError):
        check([Send(data=b"zz OK wrong tag\r\n")], {"a1"})
    with pytest.raises(AssertionError):
        check([Send(data=b"garbage\r\n")], {"a1"})
