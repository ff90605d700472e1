"""mbsync (Debian isync) syncing a mailbox both ways with the server, over IMAP with
STARTTLS and over IMAPS, verifying the certificate against the test CA: the download, a
flag change on either side, a deletion on either side, a message appended by the client,
and a second sync that changes nothing on either side."""

from __future__ import annotations

import email
import imaplib
import os
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
        shutil.which("mbsync") is None, reason="mbsync missing: apt-get install isync"
    ),
]


def write_rc(tmp: Path, server: MailServer, address: str, password: str, how: str) -> Path:
    """mbsync's config. Host is localhost, a name in the certificate: mbsync matches the
    certificate against DNS names only ("certificate owner does not match hostname
    127.0.0.1"); it tries each address of the name, so a ::1 first does no harm."""
    local = tmp / "local"
    local.mkdir()
    port = server.ports["imap" if how == "starttls" else "imaps"]
    rc = tmp / "mbsyncrc"
    rc.write_text(
        f"""IMAPAccount acc
Host localhost
Port {port}
User "{address}"
Pass "{password}"
SSLType {"STARTTLS" if how == "starttls" else "IMAPS"}
CertificateFile {server.ca}
AuthMechs LOGIN
Timeout 20

IMAPStore remote
Account acc

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
Sync All
SyncState *
"""
    )
    return rc


def mbsync(rc: Path) -> str:
    done = subprocess.run(["mbsync", "-V", "-c", str(rc), "-a"], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, f"mbsync failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def local_messages(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Subject -> (file, Maildir flag letters) of the client's INBOX."""
    out = {}
    for sub in ("cur", "new"):
        for path in (tmp / "local" / "INBOX" / sub).iterdir():
            subject = email.message_from_bytes(path.read_bytes())["Subject"]
            info = path.name.partition(":2,")[2]
            out[str(subject)] = (path, info)
    return out


def server_state(
    server: MailServer, address: str, password: str
) -> tuple[dict[str, tuple[int, str]], bytes]:
    """Subject -> (UID, flags) on the server, and STATUS (UIDNEXT HIGHESTMODSEQ MESSAGES)."""
    with imaplib.IMAP4_SSL(
        server.host, server.ports["imaps"], ssl_context=server.client_context()
    ) as m:
        m.login(address, password)
        typ, status = m.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)")
        assert typ == "OK", status
        m.select("INBOX", readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        out: dict[str, tuple[int, str]] = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            uid = int(re.search(rb"UID (\d+)", meta).group(1))  # type: ignore[union-attr]
            flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode()  # type: ignore[union-attr]
            subject = header.decode().partition(":")[2].strip()
            out[subject] = (uid, " ".join(sorted(flags.split())))
        return out, status[0]


def imap_do(server: MailServer, address: str, password: str, *commands: tuple[str, ...]) -> None:
    with imaplib.IMAP4_SSL(
        server.host, server.ports["imaps"], ssl_context=server.client_context()
    ) as m:
        m.login(address, password)
        m.select("INBOX")
        for args in commands:
            typ, data = m.uid(*args) if args[0] != "EXPUNGE" else m.expunge()
            assert typ == "OK", (args, data)


@pytest.mark.parametrize("how", ["starttls", "imaps"])
def test_mbsync_both_ways(mail_server: MailServer, tmp_path: Path, how: str) -> None:
    address, password = mail_server.add_user("mbsync")
    for n in range(1, 6):
        mail_server.deliver(address, f"m{n}")
    rc = write_rc(tmp_path, mail_server, address, password, how)

    # download
    mbsync(rc)
    local = local_messages(tmp_path)
    assert sorted(local) == ["m1", "m2", "m3", "m4", "m5"]
    remote, _ = server_state(mail_server, address, password)
    assert sorted(remote) == ["m1", "m2", "m3", "m4", "m5"]

    # a flag on either side: \Flagged on the server for m1, Seen in the client for m2
    imap_do(
        mail_server, address, password, ("STORE", str(remote["m1"][0]), "+FLAGS", "(\\Flagged)")
    )
    path, info = local["m2"]
    os.rename(
        path,
        path.parent.parent
        / "cur"
        / (path.name.partition(":2,")[0] + ":2," + "".join(sorted(info + "S"))),
    )
    mbsync(rc)
    local = local_messages(tmp_path)
    remote, _ = server_state(mail_server, address, password)
    assert "F" in local["m1"][1], local
    assert "\\Seen" in remote["m2"][1].split(), remote
    assert "\\Flagged" in remote["m1"][1].split(), remote

    # a deletion on either side: m3 expunged on the server, m4's file removed in the client
    imap_do(mail_server, address, password,
            ("STORE", str(remote["m3"][0]), "+FLAGS", "(\\Deleted)"), ("EXPUNGE",))  # fmt: skip
    local["m4"][0].unlink()
    mbsync(rc)
    local = local_messages(tmp_path)
    remote, _ = server_state(mail_server, address, password)
    assert sorted(local) == ["m1", "m2", "m5"], local
    assert sorted(remote) == ["m1", "m2", "m5"], remote

    # a message the client appends (a file in its Maildir)
    new = tmp_path / "local" / "INBOX" / "new" / f"{time.time_ns()}.client.test"
    new.write_bytes(
        b"From: Client <client@example.org>\r\nTo: <" + address.encode() + b">\r\n"
        b"Subject: from the client\r\nMessage-ID: <client.1@example.org>\r\n\r\nhello\r\n"
    )
    mbsync(rc)
    remote, status_before = server_state(mail_server, address, password)
    assert sorted(remote) == ["from the client", "m1", "m2", "m5"], remote
    local = local_messages(tmp_path)
    assert sorted(local) == ["from the client", "m1", "m2", "m5"], local

    # a second sync is a no-op: the same files, the same UIDs and flags, no new MODSEQ
    files_before = sorted(p.name for p, _ in local.values())
    mbsync(rc)
    remote_after, status_after = server_state(mail_server, address, password)
    assert remote_after == remote
    assert status_after == status_before
    assert sorted(p.name for p, _ in local_messages(tmp_path).values()) == files_before
