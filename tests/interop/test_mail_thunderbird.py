"""What Thunderbird sends on connect, replayed byte for byte (over IMAPS and over STARTTLS,
the server's certificate verified against the test CA), and a delivery during IDLE that
must show as EXISTS within a second."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import MailServer, Wire

pytestmark = pytest.mark.interop

# RFC 3501 and the extensions the issue lists (what Thunderbird, mbsync and the rest rely on)
REQUIRED = {
    "IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "SPECIAL-USE",
    "LIST-EXTENDED", "LIST-STATUS", "LITERAL+", "UNSELECT", "CHILDREN", "ESEARCH", "SASL-IR",
    "CONDSTORE",
}  # fmt: skip
HEADERS = (
    "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
    "In-Reply-To Content-Type Reply-To"
)


def capabilities(lines: list[bytes]) -> set[str]:
    for line in lines:
        if line.upper().startswith(b"* CAPABILITY "):
            return {c.upper() for c in line.decode().split()[2:]}
    raise AssertionError(f"no CAPABILITY in {lines!r}")


def connect(server: MailServer, how: str) -> Wire:
    ctx = server.client_context()
    if how == "imaps":
        wire = Wire.open(
            server.host, server.ports["imaps"], tls=ctx, server_hostname=server.hostname
        )
    else:
        wire = Wire.open(server.host, server.ports["imap"])
    greeting = wire.response()
    assert greeting.startswith(b"* OK"), greeting
    if how == "starttls":
        caps = capabilities(wire.ok("capability"))
        assert "STARTTLS" in caps, wire.dump()
        wire.starttls(ctx, server.hostname)
    return wire


@pytest.mark.parametrize("how", ["imaps", "starttls"])
def test_thunderbird_connect_then_idle(mail_server: MailServer, how: str) -> None:
    address, password = mail_server.add_user("tb")
    mail_server.deliver(address, "first letter")
    mail_server.deliver(address, "second letter")
    wire = connect(mail_server, how)
    try:
        caps = capabilities(wire.ok("capability"))
        assert "IMAP4REV1" in caps and "AUTH=PLAIN" in caps, wire.dump()
        assert (
            "STARTTLS" not in caps and "LOGINDISABLED" not in caps
        )  # already encrypted: RFC 3501 §6.2.1
        wire.ok(f'login "{address}" "{password}"')
        caps = capabilities(wire.ok("capability"))
        assert caps >= REQUIRED, f"missing after login: {sorted(REQUIRED - caps)}"

        ids = wire.ok('ID ("name" "Thunderbird" "version" "128.5.0")')
        assert len(ids) == 1 and ids[0].startswith(b"* ID "), wire.dump()
        enabled = wire.ok("enable CONDSTORE")
        assert enabled == [b"* ENABLED CONDSTORE\r\n"], wire.dump()

        listed = wire.ok('list "" "*" return (special-use)')
        uses = {}
        for line in listed:
            m = re.match(rb'\* LIST \(([^)]*)\) "/" "?([^"\r]*)"?\r\n$', line)
            assert m, f"unexpected LIST line {line!r}\n{wire.dump()}"
            uses[m.group(2).decode()] = set(m.group(1).decode().split())
        assert "INBOX" in uses, wire.dump()
        for name, use in [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                          ("Junk", "\\Junk"), ("Archive", "\\Archive")]:  # fmt: skip
            assert use in uses.get(name, set()), f"{name} lacks {use}\n{wire.dump()}"

        selected = wire.command('select "INBOX" (CONDSTORE)')
        tagged, untagged = selected
        assert re.match(rb"t\d+ OK \[READ-WRITE\]", tagged), wire.dump()
        text = b"".join(untagged)
        assert b"* 2 EXISTS\r\n" in text, wire.dump()
        assert re.search(rb"\* OK \[UIDVALIDITY \d+\]", text), wire.dump()
        assert re.search(rb"\* OK \[UIDNEXT 3\]", text), wire.dump()
        assert re.search(rb"\* OK \[HIGHESTMODSEQ \d+\]", text), wire.dump()
        assert re.search(rb"\* FLAGS \(", text), wire.dump()
        assert re.search(rb"\* OK \[PERMANENTFLAGS \(.*\\\*\)\]", text), wire.dump()

        flags = wire.ok("UID fetch 1:* (FLAGS)")
        assert len(flags) == 2, wire.dump()
        for n, line in enumerate(flags, 1):
            assert re.match(rb"\* %d FETCH \(" % n, line), line
            assert b"UID %d" % n in line and b"FLAGS (" in line, line

        heads = wire.ok(
            f"UID fetch 1:2 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({HEADERS})])"
        )
        assert len(heads) == 2, wire.dump()
        for line, subject in zip(heads, [b"first letter", b"second letter"], strict=True):
            assert b"Subject: " + subject + b"\r\n" in line, line
            assert b"From: Sender <someone@example.org>\r\n" in line, line
            assert b"Hello from the interop tests" not in line, "headers only"
            assert b"\\Seen" not in line, "PEEK must not set \\Seen"
        flags_again = wire.ok("UID fetch 1:* (FLAGS)")
        assert all(b"\\Seen" not in line for line in flags_again), wire.dump()
        # marking a message read: with CONDSTORE enabled the answer carries UID and MODSEQ
        # (RFC 7162 §3.1)
        stored = wire.ok("UID store 1 +FLAGS (\\Seen)")
        assert len(stored) == 1, wire.dump()
        assert re.match(rb"\* 1 FETCH \(", stored[0]), wire.dump()
        for part in (rb"UID 1\b", rb"MODSEQ \(\d+\)", rb"FLAGS \([^)]*\\Seen"):
            assert re.search(part, stored[0]), wire.dump()

        wire.send(b"t99 IDLE\r\n")
        cont = wire.response()
        assert cont.startswith(b"+ "), wire.dump()
        t0 = time.monotonic()
        mail_server.deliver(address, "during idle")
        line, _ = wire.wait_for(rb"^\* 3 EXISTS\r\n$", 5.0)
        waited = time.monotonic() - t0
        assert waited < 1.0, f"EXISTS {waited:.2f} s after the delivery (250)\n{wire.dump()}"
        wire.send(b"DONE\r\n")
        done, _ = wire.wait_for(rb"^t99 ", 5.0)
        assert done.startswith(b"t99 OK"), wire.dump()
        fetched = wire.ok("UID fetch 3 (UID FLAGS)")
        assert any(b"UID 3" in x for x in fetched), wire.dump()
    finally:
        wire.close()
