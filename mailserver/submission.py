"""Message submission without I/O (RFC 6409; RFC 8314 for the implicit-TLS port): who may send
what through this server once logged in, and what a submitted message gets before it is
delivered or queued.

The shell (aiosmtpd with AUTH) asks this module every question:

- **No login, no mail**: MAIL before AUTH gets `530 5.7.0` (RFC 4954 §6).
- **Nobody sends as another** (`sender`, `header_sender`): the envelope sender must be the
  logged-in user's own address (`553 5.7.1`), as must every address of the message's From:
  and its Sender: when there is one. The null sender is for notices, which users do not send.
  Local parts compare exactly, domains without case (users.normalise). A message without
  From: passes (it claims nobody), as Postfix lets it.
- **Recipients** (`recipient`): an address at one of our domains is delivered here, straight
  into the mailbox, and must exist (`550 5.1.1`); any other goes into the outbound queue. At
  most `max_recipients`, each once.
- **The message** (`complete`): a missing Message-ID or Date is added at the end of the
  header (RFC 6409 §8.3; Postfix's cleanup does the same), the sender's own header otherwise
  untouched; more than `max_hops` Received fields is a loop. The Received field itself is
  smtp.received_header with the ESMTPSA protocol (RFC 3848): it names the client's address
  and the TLS in use, never the login or anything of the credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailserver import smtp
from mailserver.message.address import parse_addresses
from mailserver.message.header import parse_header
from mailserver.users import UserError, normalise

__all__ = [
    "AUTH_REQUIRED",
    "Local",
    "Remote",
    "SubmissionPolicy",
    "complete",
]

AUTH_REQUIRED = "530 5.7.0 Authentication required"
NULL_SENDER = "553 5.7.1 The null sender is for delivery notices, not for users"


def not_yours(what: str) -> str:
    return f"553 5.7.1 {what} is not an address of the logged-in user"


@dataclass(frozen=True, slots=True)
class Local:
    """A recipient with a mailbox here."""

    address: str


@dataclass(frozen=True, slots=True)
class Remote:
    """A recipient elsewhere: the outbound queue's."""

    address: str
    domain: str


def _normal(address: str) -> str | None:
    try:
        return normalise(address)
    except UserError:
        return None


class SubmissionPolicy:
    """The answers to MAIL, RCPT and the message on the submission ports."""

    def __init__(self, settings: smtp.MxSettings, users: smtp.Users) -> None:
        self.users = users
        self.domains = frozenset(d.lower() for d in settings.domains)
        self.max_recipients = settings.max_recipients

    def sender(self, user: str | None, address: str, *, utf8: bool) -> str | None:
        """The refusal of MAIL FROM:<address> from logged-in `user` (None: no login)."""
        if user is None:
            return AUTH_REQUIRED
        if address == "<>":
            return NULL_SENDER
        if not smtp.well_formed(address) or "@" not in address:
            return smtp.BAD_SENDER
        if not utf8 and not address.isascii():
            return smtp.NEEDS_SMTPUTF8
        if _normal(address) != user:
            return not_yours(f"<{address}>")
        return None

    def recipient(
        self, address: str, *, utf8: bool, accepted: Sequence[Local | Remote]
    ) -> tuple[str, Local | Remote | None]:
        """The reply to RCPT TO:<address>, and the recipient to add (None: add nothing)."""
        if not smtp.well_formed(address):
            return smtp.BAD_RECIPIENT, None
        if not utf8 and not address.isascii():
            return smtp.NEEDS_SMTPUTF8, None
        normal = _normal(address)
        if normal is None:
            return smtp.BAD_RECIPIENT, None
        domain = normal.rpartition("@")[2]
        rcpt: Local | Remote = Local(normal) if domain in self.domains else Remote(normal, domain)
        if rcpt in accepted:
            return smtp.RECIPIENT_OK, None  # one copy for a recipient named twice
        if len(accepted) >= self.max_recipients:
            return smtp.TOO_MANY_RECIPIENTS, None
        if isinstance(rcpt, Local) and not self.users.exists(normal):
            return smtp.no_such_user(normal), None
        return smtp.RECIPIENT_OK, rcpt

    def header_sender(self, user: str, data: bytes) -> str | None:
        """The refusal of a message whose From: or Sender: names someone else, or None."""
        header = parse_header(data, 0)
        for field in (b"from", b"sender"):
            for value in header.get_all(field):
                for _name, _adl, mailbox, host in parse_addresses(value):
                    if host is None:  # a group's marker
                        continue
                    spec = ((mailbox or b"") + b"@" + host).decode("utf-8", "replace")
                    if _normal(spec) != user:
                        return not_yours(f"{field.decode().capitalize()}: {spec}")
        return None


def complete(data: bytes, *, now: float, message_id: Callable[[], str]) -> bytes:
    """`data` (CRLF lines) with a Date and a Message-ID field added when it has none: at the
    end of its header; `message_id()` gives an id without angle brackets."""
    header = parse_header(data, 0)
    added = b""
    if header.find(b"date") is None:
        added += b"Date: " + smtp.rfc5322_date(now).encode() + b"\r\n"
    if header.find(b"message-id") is None:
        added += b"Message-ID: <" + message_id().encode() + b">\r\n"
    if not added:
        return data
    at = header.fields_end
    if at > 0 and not data[:at].endswith(b"\n"):  # a header that ends the message unended
        added = b"\r\n" + added
    return data[:at] + added + data[at:]
