"""Messages and a tiny IMAP renderer shared by the message-core tests."""

from __future__ import annotations

from mailserver.message import Part
from mailserver.message.envelope import ImapValue


def crlf(text: str) -> bytes:
    """A message written with "\\n" line ends, as the store keeps it: CRLF, UTF-8."""
    return text.replace("\n", "\r\n").encode("utf-8")


def imap(value: ImapValue) -> str:
    """The IMAP wire text of a value, every string quoted (for golden values that read like
    the RFC's examples)."""
    if value is None:
        return "NIL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    return "(" + " ".join(imap(v) for v in value) + ")"


# RFC 3501 §7.4.2's FETCH example: its ENVELOPE and BODY, with a body of 3028 octets in 92 lines.
RFC3501_BODY = ("x" * 30 + "\n") * 91 + "y" * (3028 - 91 * 32 - 2) + "\n"
RFC3501_MESSAGE = crlf(
    "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
    "From: Terry Gray <gray@cac.washington.edu>\n"
    "Subject: IMAP4rev1 WG mtg summary and minutes\n"
    "To: imap@cac.washington.edu\n"
    "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n"
    "Message-Id: <B27397-0100000@cac.washington.edu>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
    "Content-Transfer-Encoding: 7BIT\n"
    "\n" + RFC3501_BODY
)

# The part layout of RFC 3501 §6.4.5's example (HEADER, TEXT, 1, 2, 3, 3.1, ..., 4.2.2.2).
NESTED = crlf(
    """From: a@example.org
Subject: nested
MIME-Version: 1.0
Content-Type: MULTIPART/MIXED; boundary="outer"

preamble
--outer
Content-Type: TEXT/PLAIN

part 1
--outer
Content-Type: APPLICATION/OCTET-STREAM
Content-Transfer-Encoding: base64

cGFydCAy
--outer
Content-Type: MESSAGE/RFC822

From: b@example.org
Subject: part 3
Content-Type: MULTIPART/MIXED; boundary="m3"

--m3
Content-Type: TEXT/PLAIN

part 3.1
--m3
Content-Type: APPLICATION/OCTET-STREAM

part 3.2
--m3--
--outer
Content-Type: MULTIPART/MIXED; boundary="m4"

--m4
Content-Type: IMAGE/GIF

part 4.1
--m4
Content-Type: MESSAGE/RFC822

From: c@example.org
Subject: part 4.2
Content-Type: MULTIPART/MIXED; boundary="m42"

--m42
Content-Type: TEXT/PLAIN

part 4.2.1
--m42
Content-Type: MULTIPART/ALTERNATIVE; boundary="m422"

--m422
Content-Type: TEXT/PLAIN

part 4.2.2.1
--m422
Content-Type: TEXT/RICHTEXT

part 4.2.2.2
--m422--
--m42--
--m4--
--outer--
epilogue
"""
)

# Thunderbird: HTML with an inline image, and a plain text alternative.
THUNDERBIRD = crlf(
    """Message-ID: <5a6f1d2e-1b3c-4d5e-8f90-123456789abc@crepes.fr>
Date: Sun, 29 Nov 2026 10:15:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Language: en-US
To: Bob <bob@hamburger.edu>
From: Alice <alice@crepes.fr>
Subject: =?UTF-8?Q?Cr=C3=AApes_recipe?=
Content-Type: multipart/alternative;
 boundary="------------alt0123"

This is a multi-part message in MIME format.
--------------alt0123
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Here is the picture of the crêpes.

--------------alt0123
Content-Type: multipart/related;
 boundary="------------rel4567"

--------------rel4567
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 8bit

<html><body><img src="cid:part1.abc@crepes.fr"></body></html>

--------------rel4567
Content-Type: image/png; name="crepes.png"
Content-Disposition: inline; filename="crepes.png"
Content-Id: <part1.abc@crepes.fr>
Content-Transfer-Encoding: base64

iVBORw0KGgo=

--------------rel4567--

--------------alt0123--
"""
)

# A message forwarded as an attachment (message/rfc822).
FORWARDED = crlf(
    """From: Bob <bob@hamburger.edu>
To: carol@hamburger.edu
Subject: Fwd: lunch
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain; charset=us-ascii

See below.
--fwd
Content-Type: message/rfc822; name="lunch.eml"
Content-Disposition: attachment; filename="lunch.eml"

From: Alice <alice@crepes.fr>
To: Bob <bob@hamburger.edu>
Subject: lunch
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <lunch@crepes.fr>

Lunch at noon?
--fwd--
"""
)

# A mailing-list digest: parts without Content-Type are message/rfc822 (RFC 2046 §5.1.5).
DIGEST = crlf(
    """From: list@example.org
Subject: digest
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="top"

--top
Content-Type: text/plain

Today's topics
--top
Content-Type: multipart/digest; boundary="dig"

--dig

From: one@example.org
Subject: first

first body
--dig

From: two@example.org
Subject: second

second body
--dig
Content-Type: text/plain

not a message
--dig--
--top--
"""
)


def nested_messages(depth: int) -> bytes:
    return b"Subject: 0\r\nContent-Type: message/rfc822\r\n\r\n" * depth + b"Subject: last\r\n\r\nx"


def nested_multiparts(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return head + b"\r\nleaf" + tail


def depth_of(part: Part) -> int:
    depth = 0
    while True:
        inner = part.message or (part.children[0] if part.children else None)
        if inner is None:
            return depth
        part, depth = inner, depth + 1


def many_parts(n: int) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    return b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
