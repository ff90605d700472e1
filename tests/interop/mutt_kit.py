"""What the mutt interop tests share: the muttrc that logs a user in to the test server over
IMAPS, with the certificate verified against the test CA, and nothing written to disk
beyond the test's folder (no header or message cache, no sent mail)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import MailServer

#: The marks of a test that runs mutt on a pseudo-terminal.
NEEDS_MUTT = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt missing: apt-get install mutt"),
]


def muttrc(server: MailServer, home: Path, address: str, password: str, extra: str) -> Path:
    """`home`/muttrc: the INBOX of `address` on `server` over IMAPS, then the lines `extra`."""
    url = f"imaps://localhost:{server.ports['imaps']}"
    rc = home / "muttrc"
    rc.write_text(
        f"""set folder="{url}/"
set spoolfile="{url}/INBOX"
set imap_user="{address}"
set imap_pass="{password}"
set ssl_ca_certificates_file="{server.ca}"
set ssl_verify_host=yes
set ssl_force_tls=yes
set certificate_file="{home}/certificates"
set header_cache=""
set message_cachedir=""
set mbox_type=Maildir
set record=""
set wait_key=no
set quit=yes
set confirmappend=no
set pipe_decode=no
set timeout=5
{extra}
"""
    )
    return rc
