"""IMAP URLs of a message or a part of one (RFC 5092), as CATENATE takes them (RFC 4469 §3).

The forms this server resolves, all on itself and for the logged-in user:

    /MAILBOX[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
    ;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]          (in the selected mailbox)

Keywords are case-insensitive; the mailbox and the section are percent-encoded UTF-8. An
absolute `imap://` URL names a server and a user, which a client gains nothing by naming to
the server it is talking to: like Dovecot, this server asks for the relative form. PARTIAL is
RFC 5550's URL-PARTIAL: a length must not be 0. Anything else, URLAUTH (;EXPIRE=, ;URLAUTH=)
and message lists (?SEARCH) included, is an UrlError, which the server answers with
`NO [BADURL url]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailserver.message.errors import SectionError
from mailserver.message.section import Section, parse_section

__all__ = ["MAX_URL", "MessageUrl", "UrlError", "parse_url", "resp_text"]

#: The longest URL looked at (a mailbox name and a section fit many times over).
MAX_URL = 2048

# RFC 5092 bchar: unreserved / pct-encoded / sub-delims-sh / "&" / "=" / ":" / "@" / "/".
_BCHARS = rb"A-Za-z0-9\-._~!$'()*+,&=:@/"
_ENCODED = re.compile(rb"(?:[;" + _BCHARS + rb"]|%[0-9A-Fa-f]{2})+\Z")  # ";" starts a keyword
_PATH = re.compile(
    rb"(?:/(?P<mailbox>[^;]+?)(?:;UIDVALIDITY=(?P<uidvalidity>[0-9]+))?/)?"
    rb";UID=(?P<uid>[0-9]+)"
    rb"(?:/;SECTION=(?P<section>[^;]+))?"
    rb"(?:/;PARTIAL=(?P<offset>[0-9]+)(?:\.(?P<length>[0-9]+))?)?\Z",
    re.IGNORECASE,
)
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_NUMBER = re.compile(rb"[1-9][0-9]{0,9}\Z|0\Z")
_MAX_NZ = 2**32 - 1  # nz-number in RFC 3501: a 32-bit unsigned


class UrlError(ValueError):
    """A URL this server does not resolve; str() says why."""


@dataclass(frozen=True, slots=True)
class MessageUrl:
    """A message, or a section of one, and a range of it: `mailbox` None means the selected
    mailbox, `uidvalidity` None that the client did not say, `partial` (offset, length)."""

    mailbox: str | None
    uidvalidity: int | None
    uid: int
    section: Section | None = None
    partial: tuple[int, int | None] | None = None


def parse_url(url: bytes) -> MessageUrl:
    """The MessageUrl of `url` (an astring's bytes), or UrlError."""
    if len(url) > MAX_URL:
        raise UrlError(f"URL longer than {MAX_URL} octets")
    if not url:
        raise UrlError("empty URL")
    if url[:7].lower() == b"imap://":
        raise UrlError("relative URL required (/MAILBOX;UIDVALIDITY=n/;UID=n)")
    if not _ENCODED.match(url):
        raise UrlError("invalid IMAP URL: a character that must be percent-encoded")
    m = _PATH.match(url)
    if m is None:
        raise UrlError("invalid IMAP URL: not a message (/MAILBOX/;UID=n[/;SECTION=s])")
    mailbox = None if m["mailbox"] is None else _text(m["mailbox"], "mailbox name")
    section = None
    if m["section"] is not None:
        try:
            section = parse_section(_text(m["section"], "section").encode())
        except SectionError as e:
            raise UrlError(f"invalid IMAP URL: {e}") from None
    partial = None
    if m["offset"] is not None:
        length = None if m["length"] is None else _number(m["length"], "PARTIAL length")
        partial = (_number(m["offset"], "PARTIAL offset", zero=True), length)
    uidvalidity = None if m["uidvalidity"] is None else _number(m["uidvalidity"], "UIDVALIDITY")
    return MessageUrl(mailbox, uidvalidity, _number(m["uid"], "UID"), section, partial)


def _text(raw: bytes, what: str) -> str:
    """Percent-decoded UTF-8."""
    try:
        return _PERCENT.sub(lambda m: bytes([int(m[1], 16)]), raw).decode()
    except UnicodeDecodeError:
        raise UrlError(f"invalid IMAP URL: the {what} is not UTF-8") from None


def _number(raw: bytes, what: str, *, zero: bool = False) -> int:
    """A number (RFC 3501: 32-bit unsigned); nz-number unless `zero`."""
    if not _NUMBER.match(raw) or int(raw) > _MAX_NZ or (int(raw) == 0 and not zero):
        raise UrlError(f"invalid IMAP URL: bad {what} {raw.decode()}")
    return int(raw)


# url-resp-text (RFC 4469 §5, erratum 2002): TEXT-CHAR except "]".
_NOT_RESP_TEXT = re.compile(rb"[^\x01-\x09\x0b\x0c\x0e-\x5c\x5e-\x7e]")


def resp_text(url: bytes) -> bytes:
    """`url` as it may stand in `[BADURL url]`: the octets it may not hold percent-encoded
    (a "]" would end the response code, a CR or LF the response), at most MAX_URL of them."""
    return _NOT_RESP_TEXT.sub(lambda m: b"%%%02X" % m[0][0], url[:MAX_URL]) or b"%20"
