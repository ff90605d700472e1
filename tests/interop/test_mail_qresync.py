"""QRESYNC (RFC 7162) with Python's imaplib, as a mail client's offline cache uses it: the client
keeps the mailbox's UIDs, flags, UIDVALIDITY and HIGHESTMODSEQ, goes offline while another
client flags, expunges and receives mail, then reconnects with one SELECT (QRESYNC ...) and
applies the VANISHED (EARLIER) and FETCH responses; its cache then equals a full resync. The
same assertions pass against Dovecot (MAIL_INTEROP_REFERENCE=dovecot)."""

from __future__ import annotations

import imaplib
import re

import pytest

from .conftest import MailServer

pytestmark = pytest.mark.interop

_FETCH = re.compile(rb"\d+ \((.*)\)$")
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def login(server: MailServer, address: str, password: str) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(
        server.host, server.ports["imaps"], ssl_context=server.client_context(), timeout=30
    )
    imap.login(address, password)
    return imap


def flags_by_uid(data: list[object]) -> dict[int, frozenset[bytes]]:
    """UID -> flags (without \\Recent) from imaplib's FETCH data."""
    out: dict[int, frozenset[bytes]] = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        assert isinstance(line, bytes), data
        m = _FETCH.match(line)
        uid, flags = _UID.search(line), _FLAGS.search(line)
        if m is None or uid is None or flags is None:
            continue
        out[int(uid.group(1))] = frozenset(flags.group(1).split()) - {b"\\Recent"}
    return out


def uid_set(text: bytes) -> set[int]:
    out: set[int] = set()
    for part in text.split(b","):
        lo, _, hi = part.partition(b":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def test_an_offline_cache_resyncs_in_one_select(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("qresync")
    for n in range(1, 9):
        mail_server.deliver(address, f"cached {n}", "kept offline")
    # online: the cache is filled, and the client notes where the mailbox was
    client = login(mail_server, address, password)
    assert (
        b"QRESYNC" in client.capability()[1][0].split()
    )  # (after login: Dovecot's greeting has less)
    assert client.enable("QRESYNC")[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    uidvalidity = int(client.response("UIDVALIDITY")[1][0])
    modseq = int(client.response("HIGHESTMODSEQ")[1][0])
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK"
    cache = flags_by_uid(data)
    assert sorted(cache) == list(range(1, 9))
    client.logout()
    # offline: another client flags, expunges and moves; new mail comes
    other = login(mail_server, address, password)
    other.select("INBOX")
    other.uid("STORE", "2,5", "+FLAGS", "(\\Seen)")
    other.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
    other.uid("STORE", "4,6", "+FLAGS", "(\\Deleted)")
    other.expunge()
    other.uid("MOVE", "7", "Trash")
    mail_server.deliver(address, "cached 9", "arrived offline")
    other.noop()  # (it learns of the new message)
    other.uid("STORE", "9", "+FLAGS", "(\\Answered)")
    other.logout()
    # back online: one SELECT tells what changed
    client = login(mail_server, address, password)
    assert client.enable("QRESYNC")[0] == "OK"
    typ, _ = client.select(f"INBOX (QRESYNC ({uidvalidity} {modseq}))")
    assert typ == "OK", client.response("SELECT")
    vanished = client.response("VANISHED")[1]
    assert [v for v in vanished if v is not None] == [b"(EARLIER) 4,6:7"]
    for v in vanished:
        if v is not None:
            for uid in uid_set(v.split()[-1]):
                cache.pop(uid, None)
    changes = flags_by_uid(client.response("FETCH")[1])
    assert sorted(changes) == [2, 3, 5, 9]
    cache.update(changes)
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK"
    full = flags_by_uid(data)
    assert cache == full
    assert full == {
        1: frozenset(),
        2: frozenset({b"\\Seen"}),
        3: frozenset({b"\\Flagged"}),
        5: frozenset({b"\\Seen"}),
        8: frozenset(),
        9: frozenset({b"\\Answered"}),
    }
    # and once more, from the MODSEQ the reconnect gave: nothing new
    again = int(client.response("HIGHESTMODSEQ")[1][0] or modseq)
    client.unselect()
    typ, _ = client.select(f"INBOX (QRESYNC ({uidvalidity} {again}))")
    assert typ == "OK"
    assert client.response("VANISHED")[1] == [None]
    assert client.response("FETCH")[1] == [None]
    client.logout()
