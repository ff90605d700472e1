"""APPEND's grammar (RFC 3501 §6.3.11) with what extends it: several messages in one command
(MULTIAPPEND, RFC 3502), a literal8 message with NUL octets (BINARY, RFC 3516 §4.4), a
message built from TEXT literals and URLs (CATENATE, RFC 4469), and `UTF8 (~{n})` for a
message with UTF-8 in its header once the client has enabled it (UTF8=ACCEPT, RFC 6855 §4).
What the messages become is mailboxes.append's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailserver.imap.command import Command
from mailserver.imap.syntax import ParseError, Reader

__all__ = [
    "MAX_APPEND_MESSAGES",
    "MAX_CATENATE_PARTS",
    "Append",
    "AppendMessage",
    "parse_append",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendMessage:
    """One message of an APPEND: `date` is None when the client gave none (the server uses the
    time of receipt); `data` is the literal as sent. A CATENATE message (RFC 4469) has no
    literal but its parts, in order: ("TEXT", octets) or ("URL", the URL as sent)."""

    flags: tuple[str, ...]
    date: datetime | None
    data: bytes = b""
    catenate: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Append(Command):
    """APPEND: one message, or several in one command (MULTIAPPEND, RFC 3502), which are
    stored all or none, in this order."""

    mailbox: str
    messages: tuple[AppendMessage, ...]


#: The most messages one APPEND may carry (MULTIAPPEND). Their octets together are bounded by
#: the size of a command (session.command_limit); this bounds the work per message, from the
#: parser's objects to the store's files, which a command of empty literals would multiply.
MAX_APPEND_MESSAGES = 1000
#: The most CATENATE parts (TEXT and URL, RFC 4469) in one APPEND: each URL is a message read.
MAX_CATENATE_PARTS = 1000


def parse_append(r: Reader, tag: str, name: str) -> Append:
    """`APPEND mailbox 1*([SP flag-list] [SP date-time] SP literal)`: RFC 3502 §6.3.11 makes
    the message repeatable; one past MAX_APPEND_MESSAGES is `NO [LIMIT]`, the rest unread."""
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    messages = [_append_message(r, "the message")]
    while r.skip(0x20):
        if len(messages) == MAX_APPEND_MESSAGES:
            raise r.error(
                f"more than {MAX_APPEND_MESSAGES} messages in one APPEND", kind="NO", code=b"LIMIT"
            )
        messages.append(_append_message(r, f"message {len(messages) + 1}"))
    if sum(len(m.catenate) for m in messages) > MAX_CATENATE_PARTS:
        raise r.error(
            f"more than {MAX_CATENATE_PARTS} CATENATE parts in one APPEND", kind="NO", code=b"LIMIT"
        )
    return Append(tag=tag, name=name, mailbox=mailbox, messages=tuple(messages))


def _append_message(r: Reader, which: str) -> AppendMessage:
    """`[flag-list SP] [date-time SP] literal`, the space before it read; the literal may be a
    literal8 (`~{n}`, RFC 3516 §4.4: a message with binary parts, NUL octets allowed)."""
    flags: tuple[str, ...] = ()
    if r.peek() == 0x28:
        flags = r.flag_list()
        r.sp()
    when = None
    if r.peek() == 0x22:
        when = r.date_time()
        r.sp()
    if not r.at_string():
        try:
            word = r.atom().upper()
        except ParseError:
            raise r.error(f"APPEND needs {which} as a literal or CATENATE") from None
        if word == b"CATENATE":
            r.sp()
            return AppendMessage(flags=flags, date=when, catenate=_cat_parts(r))
        if word == b"UTF8":
            return AppendMessage(flags=flags, date=when, data=_utf8_literal(r, space=True))
        raise r.error(f"APPEND needs {which} as a literal or CATENATE")
    if r.peek() == 0x22:
        raise r.error(f"APPEND needs {which} as a literal or CATENATE")
    return AppendMessage(flags=flags, date=when, data=r.literal(binary=True))


def _utf8_literal(r: Reader, *, space: bool = False) -> bytes:
    """`UTF8 (literal8)`, the word read (RFC 6855 §4: a message with UTF-8 in its header,
    once the client has enabled UTF8=ACCEPT); a plain literal is taken too. With `space`, the
    SP after the word is still to read (APPEND's message; a CATENATE part has read it)."""
    if not r.utf8:
        raise r.error("APPEND UTF8 (...) needs ENABLE UTF8=ACCEPT first")
    if space:
        r.sp()
    r.expect(0x28, '"(" and a literal8')
    data = r.literal(binary=True)
    r.expect(0x29, '")" after the literal8')
    return data


def _cat_parts(r: Reader) -> tuple[tuple[str, bytes], ...]:
    """`"(" cat-part *(SP cat-part) ")"` (RFC 4469 §5): `TEXT literal` (a literal8 too, as
    for APPEND's message) or `URL astring`."""
    r.expect(0x28, '"(" and the CATENATE parts')
    parts: list[tuple[str, bytes]] = []
    while True:
        kind = r.atom("TEXT or URL").upper()
        r.sp()
        if kind == b"TEXT":
            if not r.at_string() or r.peek() == 0x22:
                raise r.error("CATENATE TEXT needs a literal")
            parts.append(("TEXT", r.literal(binary=True)))
        elif kind == b"URL":
            parts.append(("URL", r.astring()))
        elif kind == b"UTF8":
            parts.append(("TEXT", _utf8_literal(r)))
        else:
            raise r.error(f"a CATENATE part is TEXT or URL, not {kind.decode()}")
        if r.skip(0x29):
            return tuple(parts)
        r.sp()
