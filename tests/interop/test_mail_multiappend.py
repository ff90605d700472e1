"""MULTIAPPEND (RFC 3502) over IMAPS, as a client that uploads a batch sends it: three messages
with their flags in one APPEND, each literal after the server's `+`, into the selected INBOX
(APPENDUID with the three new UIDs, EXISTS); then two APPENDs that must store nothing, one to a
mailbox that does not exist (TRYCREATE) and one cancelled by an empty message. The same
assertions pass against Dovecot (MAIL_INTEROP_REFERENCE=dovecot), which may refuse before it
has read every message (RFC 3502 allows it), so the client stops at the first tagged answer."""

from __future__ import annotations

import re

import pytest

from .conftest import MailServer, Wire
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop

FLAGS = [("\\Seen",), ("\\Flagged", "$Forwarded"), ()]
_BODY = re.compile(rb"\* \d+ FETCH \(.*BODY\[\] \{(\d+)\}\r\n", re.S)


def letter(n: int) -> bytes:
    return (
        f"From: Batch <batch@example.org>\r\nSubject: batch {n}\r\n"
        f"Message-ID: <batch.{n}@example.org>\r\n\r\nmessage {n} of the batch\r\n"
    ).encode()


def append(
    wire: Wire, mailbox: str, messages: list[tuple[tuple[str, ...], bytes]]
) -> tuple[bytes, list[bytes]]:
    """One APPEND of every message, each literal sent after the server's `+`, or the tagged
    answer as soon as one comes (a server may refuse before it has every message); (the
    tagged answer, the untagged ones before it)."""
    wire.n += 1
    tag = b"t%d" % wire.n
    untagged: list[bytes] = []
    head = tag + b" APPEND " + mailbox.encode()
    for flags, data in messages:
        wire.send(head + b" (%s) {%d}\r\n" % (" ".join(flags).encode(), len(data)))
        answer = wire.response()
        if not answer.startswith(b"+"):
            return answer, untagged
        head = data
    wire.send(head + b"\r\n")
    while not (answer := wire.response()).startswith(tag + b" "):
        untagged.append(answer)
    return answer, untagged


def status(wire: Wire, mailbox: str) -> bytes:
    (line,) = wire.ok(f"STATUS {mailbox} (MESSAGES UIDNEXT)")
    return line


def test_multiappend_stores_all_or_nothing(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("batch")
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        assert {"MULTIAPPEND", "UIDPLUS"} <= capabilities(wire.ok("CAPABILITY"))
        selected = b"".join(wire.ok("SELECT INBOX"))
        validity = re.search(rb"\[UIDVALIDITY (\d+)\]", selected)
        assert validity is not None, wire.dump()

        letters = [letter(n) for n in (1, 2, 3)]
        done, untagged = append(wire, "INBOX", list(zip(FLAGS, letters, strict=True)))
        assert re.match(rb"t\d+ OK \[APPENDUID %s 1:3\] " % validity.group(1), done), wire.dump()
        assert b"* 3 EXISTS\r\n" in untagged, wire.dump()
        fetched = wire.ok("UID FETCH 1:3 (FLAGS BODY.PEEK[])")
        bodies = [f[m.end() : m.end() + int(m.group(1))] for f in fetched if (m := _BODY.match(f))]
        assert bodies == letters, wire.dump()
        flags = [re.search(rb"FLAGS \(([^)]*)\)", f) for f in fetched]
        assert [set(m.group(1).decode().split()) - {"\\Recent"} for m in flags if m] == [
            set(f) for f in FLAGS
        ], wire.dump()

        missing, _ = append(wire, "Nowhere", [((), letter(4)), ((), letter(5))])
        assert re.match(rb"t\d+ NO \[TRYCREATE\] ", missing), wire.dump()
        tagged, _ = wire.command("STATUS Nowhere (MESSAGES)")
        assert tagged.split()[1] == b"NO", wire.dump()  # not created by the APPEND

        cancelled, _ = append(wire, "INBOX", [((), letter(6)), ((), b""), ((), letter(7))])
        assert re.match(rb"t\d+ NO ", cancelled), wire.dump()
        assert status(wire, "INBOX") == b"* STATUS INBOX (MESSAGES 3 UIDNEXT 4)\r\n", wire.dump()
    finally:
        wire.close()
