"""A Roundcube-like session, replayed over IMAPS: the message list sorted and threaded on the
server (SORT, THREAD REFERENCES), a count of unseen messages (ESEARCH), a page of the sorted
list (PARTIAL), and a selection kept
on the server (SEARCHRES: SEARCH RETURN (SAVE), then FETCH, STORE and MOVE of `$`). The
same assertions pass against Dovecot (MAIL_INTEROP_REFERENCE=dovecot)."""

from __future__ import annotations

import re

import pytest

from .conftest import MailServer
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop

DOMAIN = "webmail.example"
# (subject, extra header lines): a conversation of three (References, then In-Reply-To
# only), a message alone, and two answers to a message the mailbox does not hold
MESSAGES = [
    ("plans", f"Message-ID: <plans@{DOMAIN}>\r\n"),
    ("invoice", ""),
    ("Re: plans", f"Message-ID: <r2@{DOMAIN}>\r\nReferences: <plans@{DOMAIN}>\r\n"),
    ("Re: plans", f"In-Reply-To: <r2@{DOMAIN}>\r\n"),
    ("Re: trip", f"References: <trip@{DOMAIN}>\r\n"),
    ("Re: trip", f"References: <trip@{DOMAIN}>\r\n"),
]


def numbers(untagged: list[bytes], name: bytes) -> list[int]:
    (line,) = [u for u in untagged if u.startswith(b"* " + name)]
    return [int(n) for n in line[len(name) + 2 :].split()]


_DATUM = re.compile(rb" ([A-Z]+) (\([^)]*\)|[0-9:,]+)")  # a name and a number, set or list


def esearch(untagged: list[bytes]) -> dict[str, str]:
    """The return data of the one `* ESEARCH` line, by name (they come in any order)."""
    (line,) = [u for u in untagged if u.startswith(b"* ESEARCH")]
    head = re.match(rb'\* ESEARCH \(TAG "[^"]+"\)( UID)?', line)
    assert head is not None and line.endswith(b"\r\n"), line
    rest = line[head.end() : -2]
    data = _DATUM.findall(rest)
    assert b"".join(b" %s %s" % pair for pair in data) == rest, line
    return {name.decode(): value.decode() for name, value in data}


def test_a_webmail_session(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("webmail")
    for subject, headers in MESSAGES:
        mail_server.deliver(address, subject, "from the webmail test", headers=headers)
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        caps = capabilities(wire.ok("CAPABILITY"))
        assert {"SORT", "THREAD=REFERENCES", "ESEARCH", "SEARCHRES"} <= caps, caps
        wire.ok("SELECT INBOX")
        # the list by subject, Z to A (ties in mailbox order, which REVERSE keeps), and as
        # threads
        sorted_uids = numbers(wire.ok("UID SORT (REVERSE SUBJECT) UTF-8 ALL"), b"SORT")
        assert sorted_uids == [5, 6, 1, 3, 4, 2]
        (line,) = [u for u in wire.ok("UID THREAD REFERENCES UTF-8 ALL") if u.startswith(b"* T")]
        assert line == b"* THREAD (1 3 4)(2)((5)(6))\r\n"
        assert esearch(wire.ok("UID SEARCH RETURN (COUNT) UNSEEN")) == {"COUNT": "6"}
        # a page of the list: positions 2 to 3 of the sorted result (RFC 5267 PARTIAL)
        page = esearch(wire.ok("UID SORT RETURN (PARTIAL 2:3) (REVERSE SUBJECT) UTF-8 ALL"))
        assert page == {"PARTIAL": "(2:3 6,1)"}
        # a selection kept on the server: SAVE answers nothing, `$` names it afterwards
        untagged = wire.ok("UID SEARCH RETURN (SAVE) SUBJECT plans")
        assert not [u for u in untagged if u.startswith((b"* SEARCH", b"* ESEARCH"))], untagged
        fetched = wire.ok("UID FETCH $ (FLAGS)")
        assert [re.search(rb"UID (\d+)", f).group(1) for f in fetched] == [b"1", b"3", b"4"]
        wire.ok("UID STORE $ +FLAGS.SILENT (\\Seen)")
        assert esearch(wire.ok("UID SEARCH RETURN (ALL) UNSEEN")) == {"ALL": "2,5:6"}
        # MIN alone with SAVE keeps only that message
        assert esearch(wire.ok("UID SEARCH RETURN (SAVE MIN) SUBJECT trip")) == {"MIN": "5"}
        wire.ok("UID MOVE $ Trash")
        assert numbers(wire.ok("UID SEARCH ALL"), b"SEARCH") == [1, 2, 3, 4, 6]
        assert numbers(wire.ok("SEARCH $"), b"SEARCH") == []  # its message is gone
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()
