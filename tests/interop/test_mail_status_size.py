"""STATUS=SIZE (RFC 8438) and CREATE-SPECIAL-USE (RFC 6154 §3) over real sockets. The SIZE
test passes against Dovecot too (MAIL_INTEROP_REFERENCE=dovecot); Dovecot 2.3 does not offer
CREATE-SPECIAL-USE by default, so that test runs against ours only."""

from __future__ import annotations

import re

import pytest

from .conftest import DovecotReference, MailServer
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop


def test_status_size_adds_up_the_message_sizes(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("size")
    for n in range(1, 4):
        mail_server.deliver(address, f"size {n}", "x" * (100 * n))
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        assert "STATUS=SIZE" in capabilities(wire.ok("CAPABILITY"))
        status = wire.ok("STATUS INBOX (MESSAGES SIZE)")
        m = re.match(rb"\* STATUS INBOX \(MESSAGES 3 SIZE (\d+)\)\r\n$", status[0])
        assert m is not None, status
        wire.ok("EXAMINE INBOX")
        sizes = [
            int(x)
            for x in re.findall(rb"RFC822\.SIZE (\d+)", b"".join(wire.ok("FETCH 1:* RFC822.SIZE")))
        ]
        assert len(sizes) == 3 and int(m.group(1)) == sum(sizes)
        listed = wire.ok('LIST "" INBOX RETURN (STATUS (SIZE))')
        assert listed[-1] == b"* STATUS INBOX (SIZE %d)\r\n" % sum(sizes), listed
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()


def test_create_with_a_special_use(mail_server: MailServer) -> None:
    if isinstance(mail_server, DovecotReference):
        pytest.skip("Dovecot 2.3 does not offer CREATE-SPECIAL-USE by default")
    address, password = mail_server.add_user("createuse")
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        assert "CREATE-SPECIAL-USE" in capabilities(wire.ok("CAPABILITY"))
        wire.ok("CREATE Receipts (USE (\\Archive))")
        assert wire.ok('LIST (SPECIAL-USE) "" *') == [
            b'* LIST (\\HasNoChildren \\Archive) "/" Archive\r\n',
            b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n',
            b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n',
            b'* LIST (\\HasNoChildren \\Archive) "/" Receipts\r\n',
            b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n',
            b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n',
        ]
        tagged, _ = wire.command("CREATE Everything (USE (\\All))")
        assert tagged.endswith(b" NO [USEATTR] no mailbox may be \\All here\r\n"), tagged
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()
