"""WITHIN (RFC 5032) over real sockets: OLDER and YOUNGER count seconds back from when the
command comes, on internal dates an APPEND set. The same assertions pass against Dovecot
(MAIL_INTEROP_REFERENCE=dovecot)."""

from __future__ import annotations

import time

import pytest

from .conftest import MailServer
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop


def test_older_and_younger(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("within")
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        assert "WITHIN" in capabilities(wire.ok("CAPABILITY"))
        now = time.time()
        for age in (7200, 1800, 0):  # two hours, half an hour, none
            when = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(now - age))
            data = f"Subject: within {age}\r\n\r\nhello\r\n".encode()
            wire.ok(f'APPEND INBOX "{when}" {{{len(data)}+}}\r\n'.encode() + data)
        wire.ok("SELECT INBOX")
        assert wire.ok("SEARCH YOUNGER 3600") == [b"* SEARCH 2 3\r\n"]
        assert wire.ok("SEARCH OLDER 3600") == [b"* SEARCH 1\r\n"]
        assert wire.ok("SEARCH OLDER 600 YOUNGER 36000") == [b"* SEARCH 1 2\r\n"]
        assert wire.ok("UID SEARCH NOT OLDER 3600") == [b"* SEARCH 2 3\r\n"]
        tagged, _ = wire.command("SEARCH OLDER 0")
        assert tagged.split()[1] == b"BAD", tagged
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()
