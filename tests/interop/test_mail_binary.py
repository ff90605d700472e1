"""BINARY (RFC 3516) over real sockets: APPEND of a literal8 that holds NUL, FETCH BINARY and
BINARY.SIZE of decoded parts (base64, quoted-printable, a message/rfc822 part converted), a
partial range of decoded octets, \\Seen as BODY sets it, and NO [UNKNOWN-CTE]. The same
assertions pass against Dovecot (MAIL_INTEROP_REFERENCE=dovecot)."""

from __future__ import annotations

import base64
import re

import pytest

from .conftest import MailServer, Wire
from .test_mail_thunderbird import capabilities, connect

pytestmark = pytest.mark.interop

BLOB = bytes(range(256))
NUL = b"From: a@crepes.fr\r\nSubject: nul\r\n\r\nnul\x00here\r\n"
MIXED = (
    b"From: a@crepes.fr\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =3D soft=\r\nbreak\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BLOB).replace(b"\n", b"\r\n")
    + b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: x@y\r\nSubject: inner\r\nContent-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"inner body") + b"\r\n"
    b"--XX--\r\n"
)
UUENCODED = (
    b"From: a@crepes.fr\r\nSubject: old\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 f\r\nend\r\n"
)


def content(line: bytes, item: bytes) -> bytes:
    """The octets of `item` (b"BINARY[1]") in one FETCH response line: a literal, a literal8
    (which servers choose differs when there is no NUL) or an empty string."""
    m = re.search(re.escape(item) + rb' (?:~?\{(\d+)\}\r\n|"")', line)
    assert m is not None, line
    if m.group(1) is None:
        return b""
    return line[m.end() : m.end() + int(m.group(1))]


def flags(lines: list[bytes]) -> bytes:
    (line,) = lines
    m = re.search(rb"FLAGS \(([^)]*)\)", line)
    assert m is not None, line
    return m.group(1)


def append(wire: Wire, raw: bytes, literal8: bool = True) -> None:
    head = b"APPEND INBOX ~{%d+}\r\n" if literal8 else b"APPEND INBOX {%d+}\r\n"
    wire.ok(head % len(raw) + raw)


def test_binary_fetch_of_decoded_parts(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("binary")
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        assert "BINARY" in capabilities(wire.ok("CAPABILITY"))
        append(wire, NUL)
        append(wire, MIXED, literal8=False)
        wire.ok("SELECT INBOX")
        # the literal8's NUL kept: BINARY sends it in a literal8, BODY[] as 0x80
        assert wire.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])") == [
            b"* 1 FETCH (BINARY[1] ~{10}\r\nnul\x00here\r\n BINARY.SIZE[1] 10)\r\n"
        ]
        assert wire.ok("FETCH 1 BODY.PEEK[1]") == [
            b"* 1 FETCH (BODY[1] {10}\r\nnul\x80here\r\n)\r\n"
        ]
        assert wire.ok("FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2])") == [
            b"* 2 FETCH (BINARY[2] ~{256}\r\n" + BLOB + b" BINARY.SIZE[2] 256)\r\n"
        ]
        (line,) = wire.ok("FETCH 2 BINARY.PEEK[2]<10.20>")
        assert content(line, b"BINARY[2]<10>") == BLOB[10:30]  # (no NUL: a literal for ours)
        (line,) = wire.ok("FETCH 2 BINARY.PEEK[1]")
        assert content(line, b"BINARY[1]") == b"caf\xc3\xa9 = softbreak"
        (line,) = wire.ok("FETCH 2 BINARY.PEEK[3]")
        assert content(line, b"BINARY[3]") == (
            b"From: x@y\r\nSubject: inner\r\nContent-Type: text/plain\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\ninner body"
        )
        (line,) = wire.ok("FETCH 2 BINARY.PEEK[9]")
        assert content(line, b"BINARY[9]") == b""
        assert b"\\Seen" not in flags(wire.ok("FETCH 2 FLAGS"))  # the PEEKs left it alone
        (line,) = wire.ok("FETCH 2 BINARY[3.1]")
        assert content(line, b"BINARY[3.1]") == b"inner body"
        assert b"\\Seen" in flags([line])
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()


def test_an_unknown_transfer_encoding_is_no_unknown_cte(mail_server: MailServer) -> None:
    mail_server.needs("imaps")
    address, password = mail_server.add_user("unknowncte")
    wire = connect(mail_server, "imaps")
    try:
        wire.ok(f'LOGIN "{address}" "{password}"')
        append(wire, UUENCODED, literal8=False)
        wire.ok("SELECT INBOX")
        for item in ("BINARY.PEEK[1]", "BINARY.SIZE[1]", "BINARY.PEEK[]"):
            tagged, _ = wire.command(f"FETCH 1 {item}")
            assert re.match(rb"t\d+ NO \[UNKNOWN-CTE\] ", tagged), tagged
        (line,) = wire.ok("FETCH 1 BODY.PEEK[1]")  # not decoded: as it is
        assert line == b"* 1 FETCH (BODY[1] {18}\r\nbegin 644 f\r\nend\r\n)\r\n"
        wire.ok("LOGOUT")
    finally:
        wire.sock.close()
