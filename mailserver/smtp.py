"""The MX side of SMTP without I/O: who may receive mail here, replies that carry enhanced status
codes, the trace headers, and what a message's bytes become before they are stored.

aiosmtpd is the protocol layer (DESIGN.md: our SMTP code is its handlers, not a new parser); its
shell, mailserver/aio/smtp.py, asks this module every question and writes what it answers:

- **Recipients** (`MxPolicy.recipient`): a user of one of our domains is accepted; an unknown
  local part gets `550 5.1.1`; any other domain `550 5.7.1 relaying denied`, whoever the sender
  claims to be (a forged local sender is the classic open-relay probe, and the MX has no AUTH).
  At most `max_recipients` per message (`452 4.5.3`, RFC 5321 §4.5.3.1.10); a repeated
  recipient is acknowledged once and gets one copy.
- **Addresses** with control characters or spaces are refused before they reach a header
  (aiosmtpd unquotes `"a\\rb"@x` into `a\\rb@x`); non-ASCII ones need SMTPUTF8 (RFC 6531 §3.4).
- **Replies** (`enhance`): with ENHANCEDSTATUSCODES every 2xx/4xx/5xx reply but the greeting and
  the HELO/EHLO answer carries an RFC 3463 code (RFC 2034 §4). Ours are written with one;
  aiosmtpd's own ("503 Error: need MAIL command") get the right one here.
- **Content** (`prepare`): bare LF and bare CR become CRLF before storing (aiosmtpd ends DATA
  only at CRLF.CRLF, so `\\n.\\n` and friends stay inside the one message: no smuggling, but
  no bare line ends in a mailbox either); NUL is refused (RFC 6152 §3: 8BITMIME data holds
  none, and BINARYMIME is not offered); more than `max_hops` Received fields is a loop
  (RFC 5321 §6.3, `554 5.4.6`).
- **Trace** (`received_header`, `return_path`): RFC 5321 §4.4, the protocol named as RFC 3848
  and RFC 6531 §3.7.3 say, TLS version and cipher in a comment (RFC 8314 §4.3).
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# -- the interfaces the MX is given ----------------------------------------------------------


class Users(Protocol):
    """Who has a mailbox here (mailserver/users.py gives the real one)."""

    def exists(self, address: str) -> bool: ...


#: Why a local recipient takes no more mail (its quota), given the size the sender declared
#: (0: none), or None; the store gives the real one. Asked at RCPT, before the message comes.
Full = Callable[[str, int], Awaitable[str | None]]


class Deliver(Protocol):
    """Where accepted mail goes (the store gives the real one)."""

    async def deliver(
        self, recipients: list[str], data: bytes, *, envelope_from: str, received_header: bytes
    ) -> None:
        """Store one copy of `data` per recipient, with `Return-Path: <envelope_from>` and
        `received_header` (a whole `Received:` field, CRLF-ended) before it. Returns only once
        every copy is durable; raises if any could not be stored (the client then gets 451)."""
        ...


# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MxSettings:
    """The MX listener's bounds. Times are seconds, sizes octets."""

    hostname: str  # our name in greetings and Received fields (never socket.getfqdn())
    domains: tuple[str, ...]  # the domains whose users receive mail here
    max_message_size: int = 50 * 1024 * 1024  # SIZE (RFC 1870), declared and actual
    max_recipients: int = 100  # per message: RFC 5321 §4.5.3.1.8's minimum buffer
    timeout: float = 300.0  # a command, or silence within DATA (§4.5.3.2: 5 and 3 minutes)
    data_timeout: float = 600.0  # a whole DATA, from its command (§4.5.3.2.6: 10 minutes)
    max_connections: int = 1000
    max_hops: int = 50  # Received fields before a message is taken for a loop (§6.3)
    handshake_timeout: float = 10.0  # STARTTLS

    def __post_init__(self) -> None:
        if not self.hostname or not _DOMAIN.fullmatch(self.hostname.rstrip(".")):
            raise ValueError(f"hostname {self.hostname!r} is not a domain name")
        if not self.domains:
            raise ValueError("an MX needs at least one domain")
        for d in self.domains:
            if not _DOMAIN.fullmatch(d):
                raise ValueError(f"domain {d!r} is not a domain name")
        counts = (self.max_message_size, self.max_recipients, self.max_connections)
        if min(counts) < 1 or self.max_hops < 1:
            raise ValueError("limits must be at least 1")
        timeouts = (self.timeout, self.data_timeout, self.handshake_timeout)
        if not all(t > 0 for t in timeouts):  # also refuses NaN
            raise ValueError("timeouts must be positive")


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

# -- replies ---------------------------------------------------------------------------------

RELAY_DENIED = "550 5.7.1 relaying denied"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
BAD_SENDER = "553 5.1.7 Bad sender address syntax"
BAD_RECIPIENT = "553 5.1.3 Bad recipient address syntax"
NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address needs SMTPUTF8"
SENDER_OK = "250 2.1.0 Ok"
RECIPIENT_OK = "250 2.1.5 Ok"
HAS_NUL = "554 5.6.0 Message contains NUL characters (not allowed without BINARYMIME)"
TOO_MANY_HOPS = "554 5.4.6 Too many hops (Received fields): mail loop?"
NOT_STORED = "451 4.3.0 Message not stored; try again later"
INTERNAL_ERROR = "451 4.3.0 Internal error; try again later"
NO_AUTH = "503 5.5.1 AUTH not available on this port (use submission)"


def no_such_user(address: str) -> str:
    return f"550 5.1.1 <{address}>: no such user here"


def mailbox_full(address: str, why: str) -> str:
    """RCPT for a user over their quota: 452, not 552 (RFC 5321 §4.5.3.1.10 asks clients to
    take a 552 to RCPT as temporary anyway): the sender's queue tries again, and the mail goes
    through once the user has made room; 4.2.2 is "mailbox full" (RFC 3463)."""
    return f"452 4.2.2 <{address}>: {why}"


def declared_size(options: Sequence[str]) -> int:
    """The SIZE= a client gave with MAIL FROM (RFC 1870), 0 if none or not a number."""
    for option in options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isascii() and value.isdigit() and len(value) < 20:
            return int(value)
    return 0


def stored(message_id: str) -> str:
    return f"250 2.0.0 Ok: stored as {message_id}"


def cap_refusal(hostname: str) -> bytes:
    """What a connection over the cap gets before the close (RFC 5321 §3.1: 421 may greet)."""
    return f"421 4.7.0 {hostname} Too many connections; try again later\r\n".encode()


def timed_out(hostname: str) -> bytes:
    return f"421 4.4.2 {hostname} Error: timeout exceeded\r\n".encode()


_CODE = re.compile(r"[0-9]{3}")  # ASCII digits: str.isdigit() takes '¹' too
_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}(?: |\Z)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: The enhanced code (RFC 3463, RFC 5248's registry) a reply without one gets, by reply code;
#: any other reply gets its class's "other" code (X.0.0).
_BY_CODE = {
    220: "2.0.0",  # after STARTTLS: "220 2.0.0 Ready to start TLS"
    221: "2.0.0",
    250: "2.0.0",
    252: "2.0.0",
    421: "4.3.2",  # system not accepting network messages
    451: "4.3.0",
    454: "4.7.0",
    500: "5.5.2",  # syntax error
    501: "5.5.4",  # invalid command arguments
    502: "5.5.1",  # invalid command
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    552: "5.3.4",  # message too big for system
    553: "5.1.3",
    555: "5.5.4",
}
#: aiosmtpd's replies whose code alone says too little: (prefix of the text, code).
_BY_TEXT = (
    ("500 Error: command ", "5.5.1"),  # ... not recognized
    ("500 Line too long", "5.5.2"),
)


def enhance(reply: str) -> str:
    """`reply` with an enhanced status code after the reply code if it has none, and any
    control character of its text (aiosmtpd echoes what the client sent) made a '?'.

    Not for the greeting or the answer to HELO/EHLO, which carry none (RFC 2034 §4), nor for
    3xx replies (354), which the shell does not pass here.
    """
    reply = _CONTROL.sub("?", reply)
    code_text, sep, text = reply[:3], reply[3:4], reply[4:]
    if not _CODE.fullmatch(code_text) or sep not in (" ", "") or _ENHANCED.match(text):
        return reply
    code = int(code_text)
    enhanced = next(
        (e for prefix, e in _BY_TEXT if reply.startswith(prefix)),
        _BY_CODE.get(code, f"{code // 100}.0.0"),
    )
    return f"{code_text} {enhanced} {text}" if text else f"{code_text} {enhanced}"


def loggable(text: str) -> str:
    """Client-supplied text as it may stand in a log line: control characters made '?', cut
    at 300 characters (a log line per refusal must not let the client write lines of its own)."""
    return _CONTROL.sub("?", text[:300])


def ehlo_lines(hostname: str, *, max_size: int, starttls: bool, auth: bool = False) -> list[str]:
    """The EHLO reply, a line each (RFC 5321 §4.1.1.1): no AUTH on the MX; on submission, AUTH
    PLAIN and LOGIN once the connection is encrypted (RFC 4954 §4, RFC 8314 §3)."""
    keywords = [hostname, f"SIZE {max_size}", "8BITMIME", "SMTPUTF8", "PIPELINING"]
    keywords.append("ENHANCEDSTATUSCODES")
    if starttls:
        keywords.append("STARTTLS")
    if auth:
        keywords.append("AUTH PLAIN LOGIN")
    last = len(keywords) - 1
    return [f"250{' ' if i == last else '-'}{k}" for i, k in enumerate(keywords)]


# -- addresses -------------------------------------------------------------------------------

_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")


def well_formed(address: str) -> bool:
    """No control character, space or angle bracket; at most 254 octets (RFC 5321 §4.5.3.1.3)."""
    return not _FORBIDDEN_IN_ADDRESS.search(address) and len(address.encode()) <= 254


def _split(address: str) -> tuple[str, str]:
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, "")


class MxPolicy:
    """The answers to MAIL and RCPT on the MX: `sender` and `recipient`."""

    def __init__(self, settings: MxSettings, users: Users) -> None:
        self.users = users
        self.domains = frozenset(d.lower() for d in settings.domains)
        self.first_domain = settings.domains[0]
        self.max_recipients = settings.max_recipients

    def sender(self, address: str, *, utf8: bool) -> str | None:
        """The refusal of MAIL FROM:<address>, or None. "<>" is the null reverse-path that
        bounces carry (RFC 5321 §4.5.5): always taken. The sender proves nothing here, so
        nothing else about it is checked."""
        if address == "<>":
            return None
        if not well_formed(address) or "@" not in address:
            return BAD_SENDER
        if not utf8 and not address.isascii():
            return NEEDS_SMTPUTF8
        return None

    def recipient(
        self, address: str, *, utf8: bool, accepted: Sequence[str]
    ) -> tuple[str, str | None]:
        """The reply to RCPT TO:<address>, and the recipient to add (None: add nothing)."""
        if not well_formed(address):
            return BAD_RECIPIENT, None
        if not utf8 and not address.isascii():
            return NEEDS_SMTPUTF8, None
        local, domain = _split(address)
        if not domain and local.lower() == "postmaster":  # RFC 5321 §4.1.1.3: no domain
            local, domain = "postmaster", self.first_domain
        if not local or not domain:
            return BAD_RECIPIENT, None
        domain = domain.lower().rstrip(".")
        if domain not in self.domains:
            return RELAY_DENIED, None
        address = f"{local}@{domain}"
        if address in accepted:
            return RECIPIENT_OK, None  # one copy for a recipient named twice
        if len(accepted) >= self.max_recipients:
            return TOO_MANY_RECIPIENTS, None
        if not self.users.exists(address):
            return no_such_user(address), None
        return RECIPIENT_OK, address


# -- content ---------------------------------------------------------------------------------

_LINE_END = re.compile(rb"\r\n|\r|\n")


def normalise_line_ends(data: bytes) -> bytes:
    """Every bare LF and bare CR made a CRLF (a mailbox holds CRLF lines only)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\r") == crlf and data.count(b"\n") == crlf:
        return data
    return _LINE_END.sub(b"\r\n", data)


def count_received(data: bytes) -> int:
    """How many Received fields the header section of `data` (CRLF lines) has."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    return sum(1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:")


def prepare(content: bytes, *, max_hops: int) -> tuple[str | None, bytes]:
    """The refusal of a message's DATA, or None and the bytes to store."""
    if b"\0" in content:
        return HAS_NUL, b""
    data = normalise_line_ends(content)
    if count_received(data) > max_hops:
        return TOO_MANY_HOPS, b""
    return None, data


# -- trace fields ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsInfo:
    version: str  # "TLSv1.3"
    cipher: str  # "TLS_AES_256_GCM_SHA384"
    bits: int | None = None


def with_protocol(*, esmtp: bool, tls: bool, auth: bool, utf8: bool) -> str:
    """The WITH clause's protocol: RFC 3848 (ESMTPS, ESMTPSA, ...), RFC 6531 §3.7.3 (UTF8SMTP)."""
    if not esmtp:
        return "SMTP"
    base = "UTF8SMTP" if utf8 else "ESMTP"
    return base + ("S" if tls else "") + ("A" if auth else "")


def address_literal(ip: str) -> str:
    """RFC 5321 §4.1.3: [192.0.2.1], [IPv6:2001:db8::1]; '[unknown]' for what is no address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "[unknown]"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return f"[{addr.ipv4_mapped}]"
        return f"[IPv6:{addr.compressed}]"
    return f"[{addr}]"


_HELO_UNSAFE = re.compile(r"[^\x21-\x7e]|[()\\;]")


def helo_text(name: str) -> str:
    """The client's HELO/EHLO name as it may stand in a header: at most 255 characters, each
    outside printable ASCII (or one that would end the clause or the comment) a '?'."""
    return _HELO_UNSAFE.sub("?", name[:255]) or "?"


def rfc5322_date(now: float) -> str:
    """'Sun, 29 Nov 2026 20:05:46 +0000' for the POSIX time `now`."""
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(now, datetime.UTC))


def received_header(
    *,
    helo: str,
    peer: str,
    hostname: str,
    protocol: str,
    message_id: str,
    recipients: Sequence[str],
    now: float,
    tls: TlsInfo | None = None,
) -> bytes:
    """The Received field this hop adds (RFC 5321 §4.4), folded, CRLF-ended; `for` names the
    recipient only when there is one (a list would tell each recipient about the others)."""
    tls_comment = ""
    if tls is not None:
        bits = f" ({tls.bits} bits)" if tls.bits else ""
        tls_comment = f" (using {tls.version} with cipher {tls.cipher}{bits})"
    recipient = f"\r\n\tfor <{recipients[0]}>" if len(recipients) == 1 else ""
    return (
        f"Received: from {helo_text(helo)} ({address_literal(peer)})\r\n"
        f"\tby {hostname} with {protocol}{tls_comment}\r\n"
        f"\tid {message_id}{recipient}; {rfc5322_date(now)}\r\n"
    ).encode()


def return_path(envelope_from: str) -> bytes:
    """The Return-Path field a final delivery adds (RFC 5321 §4.4): `<>` for a bounce."""
    path = "" if envelope_from == "<>" else envelope_from
    return f"Return-Path: <{path}>\r\n".encode()
