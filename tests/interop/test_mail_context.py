"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) over real sockets, two sessions on one mailbox: a
search kept up to date hears of another session's flag change (after its FETCH), of a new
message (after its EXISTS) and of an expunge (before its EXPUNGE, numbered as before it); a
sort kept up to date hears where in its order a message came and went. The search's
assertions pass against Dovecot too (MAIL_INTEROP_REFERENCE=dovecot), which has no
CONTEXT=SORT."""

from __future__ import annotations

import pytest

from .conftest import DovecotReference, MailServer
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop


def test_a_search_kept_up_to_date(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("context")
    for n in range(1, 5):
        mail_server.deliver(address, f"context {n}", "kept up to date")
    watcher, other = connect(mail_server, "imaps"), connect(mail_server, "imaps")
    try:
        for wire in (watcher, other):
            wire.ok(f'LOGIN "{address}" "{password}"')
            wire.ok("SELECT INBOX")
        assert "CONTEXT=SEARCH" in capabilities(watcher.ok("CAPABILITY"))
        assert watcher.ok("SEARCH RETURN (UPDATE COUNT) UNSEEN") == [
            b'* ESEARCH (TAG "t4") COUNT 4\r\n'
        ]
        # a flag change elsewhere: the FETCH, then the message leaves the result
        other.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
        lines = watcher.ok("NOOP")
        removed = lines.index(b'* ESEARCH (TAG "t4") REMOVEFROM (0 2)\r\n')
        fetches = [i for i, line in enumerate(lines) if line.startswith(b"* 2 FETCH ")]
        assert fetches and fetches[0] < removed, lines
        # a new message: its EXISTS, then it joins the result
        mail_server.deliver(address, "context 5", "kept up to date")
        lines = watcher.ok("NOOP")
        assert lines.index(b"* 5 EXISTS\r\n") < lines.index(b'* ESEARCH (TAG "t4") ADDTO (0 5)\r\n')
        # an expunge elsewhere: the result loses it first, by the number it had
        other.ok("NOOP")
        other.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        lines = watcher.ok("NOOP")
        removed = lines.index(b'* ESEARCH (TAG "t4") REMOVEFROM (0 3)\r\n')
        assert removed < lines.index(b"* 3 EXPUNGE\r\n"), lines
        # cancelled: no more news of it
        watcher.ok('CANCELUPDATE "t4"')
        mail_server.deliver(address, "context 6", "kept up to date")
        assert not [line for line in watcher.ok("NOOP") if b"ESEARCH" in line]
        watcher.ok("LOGOUT")
        other.ok("LOGOUT")
    finally:
        watcher.sock.close()
        other.sock.close()


def test_a_sort_kept_up_to_date(mail_server: MailServer) -> None:
    # CONTEXT=SORT (RFC 5267 §4.3): each change as a position in the sort order and a message;
    # Dovecot does not offer it (its parser takes the option, its answers use position 0)
    mail_server.needs("imaps")
    if isinstance(mail_server, DovecotReference):
        pytest.skip("Dovecot does not offer CONTEXT=SORT")
    address, password = mail_server.add_user("ranked")
    for subject in ("kiwi", "fig", "lime"):
        mail_server.deliver(address, subject, "kept in order")
    watcher, other = connect(mail_server, "imaps"), connect(mail_server, "imaps")
    try:
        for wire in (watcher, other):
            wire.ok(f'LOGIN "{address}" "{password}"')
            wire.ok("SELECT INBOX")
        assert "CONTEXT=SORT" in capabilities(watcher.ok("CAPABILITY"))
        assert watcher.ok("UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 ALL") == [
            b'* ESEARCH (TAG "t4") UID ALL 2,1,3\r\n'
        ]
        mail_server.deliver(address, "grape", "kept in order")  # UID 4, between fig and kiwi
        lines = watcher.ok("NOOP")
        added = lines.index(b'* ESEARCH (TAG "t4") UID ADDTO (2 4)\r\n')
        assert lines.index(b"* 4 EXISTS\r\n") < added, lines
        other.ok("NOOP")
        other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")  # fig, first in the order
        other.ok("EXPUNGE")
        lines = watcher.ok("NOOP")
        removed = lines.index(b'* ESEARCH (TAG "t4") UID REMOVEFROM (1 2)\r\n')
        assert removed < lines.index(b"* 2 EXPUNGE\r\n"), lines
        assert watcher.ok("UID SORT RETURN (ALL) (SUBJECT) UTF-8 ALL") == [
            b'* ESEARCH (TAG "t7") UID ALL 4,1,3\r\n'  # what the updates made of 2,1,3
        ]
        watcher.ok("LOGOUT")
        other.ok("LOGOUT")
    finally:
        watcher.sock.close()
        other.sock.close()
