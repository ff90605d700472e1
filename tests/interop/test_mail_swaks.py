"""swaks delivering over SMTP to the MX, in the clear and with STARTTLS (the certificate
verified against the test CA): the message lands whole in the user's Maildir with the
trace headers the MX adds, and a recipient of another domain is refused (no open relay)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import MailServer

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("swaks") is None, reason="swaks missing: apt-get install swaks"
    ),
]


def swaks(
    server: MailServer, to: str, subject: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    cmd = ["swaks", "--to", to, "--from", "sender@example.org", "--helo", "client.example.org",
           "--server", server.host, "--port", str(server.ports["smtp"]),
           "--header", f"Subject: {subject}", "--body", f"Body of {subject}.",
           "--timeout", "20", *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def delivered(maildir: Path) -> list[bytes]:
    """The messages in new/ and cur/. The 250 came once the message was durable in the index;
    its file is put in new/ just after (mailserver/store/settle.py): wait for it, a while."""
    deadline = time.monotonic() + 10
    while True:
        found = [p for sub in ("new", "cur") for p in sorted((maildir / sub).iterdir())]
        if found or time.monotonic() > deadline:
            return [p.read_bytes() for p in found]
        time.sleep(0.02)


def trace(message: bytes) -> str:
    """The first Received: header, unfolded."""
    head = message.split(b"\r\n\r\n", 1)[0].decode()
    m = re.search(r"^Received:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE)
    assert m, head
    return " ".join(m.group(1).split())


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_swaks_delivers(mail_server: MailServer, mail_user: tuple[str, str], tls: bool) -> None:
    mail_server.needs("smtp")
    address = mail_user[0]
    extra = ["--tls", "--tls-verify", "--tls-ca-path", str(mail_server.ca)] if tls else []
    done = swaks(mail_server, address, f"swaks {tls}", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^<[-~] +250 2\.0\.0 ", done.stdout, re.MULTILINE), done.stdout
    if tls:
        assert re.search(r"^ -> STARTTLS$", done.stdout, re.MULTILINE), done.stdout
        assert re.search(r"^ ~> MAIL FROM:", done.stdout, re.MULTILINE), done.stdout
    messages = delivered(mail_server.maildir(address))
    assert len(messages) == 1, messages
    (message,) = messages
    assert f"Subject: swaks {tls}\r\n".encode() in message
    assert f"Body of swaks {tls}.".encode() in message
    assert message.startswith(b"Return-Path: <sender@example.org>\r\n"), message[:300]
    received = trace(message)
    assert "client.example.org" in received and mail_server.hostname in received, received
    # RFC 3848: ESMTPS is ESMTP over TLS
    assert re.search(r"\bwith ESMTPS\b" if tls else r"\bwith ESMTP\b", received), received


def test_swaks_relay_refused(mail_server: MailServer) -> None:
    mail_server.needs("smtp")
    done = swaks(mail_server, "someone@elsewhere.example", "relay")
    assert done.returncode != 0
    assert re.search(r"^<\*\* +550 5\.7\.1 ", done.stdout, re.MULTILINE), done.stdout
