"""The IMAP response encoder (RFC 3501 §7, §9): responses, response codes and values as bytes.

Values are Python values (the contract with mime.py and the store): None is NIL, an int a
number, bytes or str a string, a list or tuple a parenthesised list, `Atom` a bare atom or
flag, `Raw` bytes already encoded (a cached ENVELOPE, a flag list) copied as they are, and a
memoryview message content (BODY[section], RFC822...), always a literal (see `literal`), and
`Binary` decoded content (BINARY[part], RFC 3516), a literal8 when it holds NUL.

A string is quoted only when that is safe: at most QUOTED_MAX octets of 7-bit text without
CR, LF or NUL; otherwise it is a literal (8-bit text, line breaks, long values). NUL may not
appear even in a literal (RFC 3501 `CHAR8`), so it is sent as 0x80 as Dovecot does; only
BINARY's content keeps its NULs, in a literal8 (`~{n}`).

This is the hot path of FETCH: every function builds bytes with joins and %-formatting, no
intermediate objects, and `fetch()` assembles one response from (name, value) pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from mailserver.imap import utf7

__all__ = [
    "CRLF",
    "QUOTED_MAX",
    "Atom",
    "Binary",
    "Raw",
    "astring",
    "binary",
    "capability",
    "code",
    "continuation",
    "esearch",
    "fetch",
    "flags",
    "internaldate",
    "list_response",
    "literal",
    "mailbox_name",
    "search",
    "status_response",
    "string",
    "tagged",
    "untagged",
    "untagged_status",
    "value",
]

CRLF = b"\r\n"
QUOTED_MAX = 1024  # a longer string is sent as a literal


class Atom(str):
    """A value written bare, as an atom or a flag: Atom("\\\\Seen"), Atom("NIL") is not NIL."""

    __slots__ = ()


class Raw(bytes):
    """Bytes that are already IMAP syntax (a cached ENVELOPE, a flag list): copied as they are."""

    __slots__ = ()


class Binary(bytes):
    """BINARY[part]'s decoded content (RFC 3516 §4.3): a literal8 (`~{n}`) when it holds NUL,
    otherwise a literal as BODY[...]'s (the RFC's SHOULD: a client then knows there is no
    NUL without looking); `""` when empty."""

    __slots__ = ()


def binary(b: bytes) -> bytes:
    """A `Binary` value as IMAP syntax."""
    if 0 in b:
        return b"~{%d}\r\n" % len(b) + b
    return literal(b)


def string(b: bytes) -> bytes:
    """A string value: quoted when safe, else a literal (NUL sent as 0x80)."""
    # Octet membership (`13 in b`) is a memchr; `b"\r" in b` is a substring search, 6x slower.
    if len(b) <= QUOTED_MAX and b.isascii() and 13 not in b and 10 not in b and 0 not in b:
        if 92 in b or 34 in b:  # backslash, double quote
            b = b.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + b + b'"'
    if 0 in b:
        b = b.replace(b"\x00", b"\x80")
    return b"{%d}\r\n" % len(b) + b


def literal(b: bytes | memoryview) -> bytes:
    """Message content (BODY[section], RFC822...): a literal whatever its length or octets, as
    Dovecot sends it and as clients such as curl expect (curl reads a FETCH body only from a
    literal); the empty string is `""` (RFC 3501's author's advice for an empty section).
    NUL is sent as 0x80, as in `string`."""
    if not b:
        return b'""'
    data = b.tobytes() if isinstance(b, memoryview) else b
    if 0 in data:
        data = data.replace(b"\x00", b"\x80")
    return b"{%d}\r\n" % len(data) + data


def astring(b: bytes) -> bytes:
    """An astring: bare when every octet is an ASTRING-CHAR (and it is not NIL), else string."""
    if b and b.upper() != b"NIL" and not b.translate(None, _ASTRING_CHARS):
        return b
    return string(b)


# RFC 3501 §9: ASTRING-CHAR = ATOM-CHAR / "]"; ATOM-CHAR = CHAR except atom-specials.
_ASTRING_CHARS = bytes(c for c in range(0x21, 0x7F) if c not in b'(){%*"\\')


def value(v: object) -> bytes:
    """Any value of the contract (see the module docstring) as bytes."""
    t = type(v)
    if t is bytes:
        return string(v)  # type: ignore[arg-type]
    if v is None:
        return b"NIL"
    if t is list or t is tuple:
        # Leaves inline: an ENVELOPE is mostly strings and NILs, and a call each is the cost.
        parts = []
        for x in v:  # type: ignore[attr-defined]
            if type(x) is bytes:
                parts.append(string(x))
            elif x is None:
                parts.append(b"NIL")
            else:
                parts.append(value(x))
        return b"(" + b" ".join(parts) + b")"
    if t is int:
        return b"%d" % v  # type: ignore[str-format]
    if t is Raw:
        return v  # type: ignore[return-value]
    if t is Atom:
        return v.encode()  # type: ignore[attr-defined, no-any-return]
    if t is memoryview:
        return literal(v)  # type: ignore[arg-type]
    if t is Binary:
        return binary(v)  # type: ignore[arg-type]
    if t is str:
        return string(v.encode())  # type: ignore[attr-defined]
    raise TypeError(f"no IMAP form for {t.__name__}")


def flags(names: Iterable[str]) -> Raw:
    """A flag list: (\\Seen $Forwarded)."""
    return Raw(b"(" + b" ".join([n.encode() for n in names]) + b")")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def internaldate(when: datetime) -> Raw:
    """An aware datetime as `date-time`: "02-Jan-2026 15:04:05 +0100" (RFC 3501 §9)."""
    offset = when.utcoffset()
    if offset is None:
        raise ValueError("INTERNALDATE needs an aware datetime")
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    month = _MONTHS[when.month - 1]
    text = (
        f'"{when.day:02d}-{month}-{when.year:04d} '
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} "
        f'{sign}{minutes // 60:02d}{minutes % 60:02d}"'
    )
    return Raw(text.encode())


def mailbox_name(name: str, *, utf8: bool = False) -> bytes:
    """A mailbox name on the wire: modified UTF-7 (or UTF-8 under UTF8=ACCEPT), as an astring."""
    return astring(name.encode() if utf8 else utf7.encode(name).encode())


# -- responses -------------------------------------------------------------------------------


def _text(text: str) -> bytes:
    """Human-readable text (RFC 3501 `text`): one line of 7-bit characters, never empty."""
    b = text.encode("ascii", "replace").replace(b"\r", b" ").replace(b"\n", b" ")
    return b.replace(b"\x00", b" ") or b"done"


def tagged(tag: str, status: str, text: str, code: bytes | None = None) -> bytes:
    """`tag OK|NO|BAD [code] text`."""
    head = tag.encode() + b" " + status.encode() + b" "
    if code is not None:
        head += b"[" + code + b"] "
    return head + _text(text) + CRLF


def with_code(tagged_line: bytes, code: bytes | None) -> bytes:
    """A tagged OK with `code` added, unless it has a code already (or there is none to add,
    or the line is not an OK): `a1 OK done` -> `a1 OK [code] done`."""
    tag, sep, rest = tagged_line.partition(b" OK ")
    if code is None or not sep or rest.startswith(b"[") or b" " in tag:
        return tagged_line
    return tag + b" OK [" + code + b"] " + rest


def untagged_status(status: str, text: str, code: bytes | None = None) -> bytes:
    """`* OK|NO|BAD|BYE|PREAUTH [code] text`."""
    return tagged("*", status, text, code)


def _part(p: object) -> bytes:
    t = type(p)
    if t is bytes or t is Raw:
        return p  # type: ignore[return-value]
    return value(p)


def untagged(*parts: object) -> bytes:
    """`* part part ...`: top-level bytes are syntax as they are (b"EXISTS", a compacted set);
    anything else is a value (ints, Atom, lists whose bytes are strings, None)."""
    return b"* " + b" ".join([_part(p) for p in parts]) + CRLF


def code(name: str, *args: object) -> bytes:
    """A response code's contents for tagged()/untagged_status(): code("UIDNEXT", 5),
    code("COPYUID", 7, compact(src), compact(dst)), code("PERMANENTFLAGS", flags(...));
    arguments as in untagged()."""
    if not args:
        return name.encode()
    return name.encode() + b" " + b" ".join([_part(a) for a in args])


def continuation(text: str | bytes = b"") -> bytes:
    """`+ text`: bytes are sent as they are (a base64 SASL challenge), str as human text."""
    return b"+ " + (text if isinstance(text, bytes) else _text(text)) + CRLF


def capability(caps: Iterable[str]) -> bytes:
    """`* CAPABILITY IMAP4rev1 ...`."""
    return b"* CAPABILITY " + " ".join(caps).encode() + CRLF


def fetch(seq: int, items: Iterable[tuple[bytes, object]]) -> bytes:
    """`* seq FETCH (name value ...)` from (response item name, value) pairs."""
    return (
        b"* %d FETCH (" % seq + b" ".join([name + b" " + value(v) for name, v in items]) + b")\r\n"
    )


def list_response(
    name: str,
    attributes: Iterable[str],
    delimiter: str | None,
    mailbox: str,
    *,
    extended: Sequence[tuple[str, object]] = (),
    utf8: bool = False,
) -> bytes:
    """`* LIST (\\HasNoChildren) "/" name` (or LSUB), with RFC 5258 extended data items."""
    out = (
        b"* "
        + name.encode()
        + b" "
        + flags(attributes)
        + b" "
        + (b"NIL" if delimiter is None else string(delimiter.encode()))
        + b" "
        + mailbox_name(mailbox, utf8=utf8)
    )
    if extended:
        out += b" (" + b" ".join([string(k.encode()) + b" " + value(v) for k, v in extended])
        out += b")"
    return out + CRLF


def status_response(mailbox: str, items: Iterable[tuple[str, int]], *, utf8: bool = False) -> bytes:
    """`* STATUS name (MESSAGES 3 UIDNEXT 5)`."""
    body = b" ".join([b"%s %d" % (k.encode(), n) for k, n in items])
    return b"* STATUS " + mailbox_name(mailbox, utf8=utf8) + b" (" + body + b")" + CRLF


def search(numbers: Iterable[int], modseq: int | None = None, *, name: bytes = b"SEARCH") -> bytes:
    """`* SEARCH 2 5 9` (with `(MODSEQ n)` after a CONDSTORE search, RFC 7162 §3.1.5); with
    `name` b"SORT", SORT's answer, in the order given (RFC 5256 §4)."""
    out = b" ".join([b"%d" % n for n in numbers])
    line = b"* " + name + (b" " + out if out else b"")
    if modseq is not None and out:
        line += b" (MODSEQ %d)" % modseq
    return line + CRLF


def esearch(tag: str, uid: bool, results: Sequence[tuple[str, int | bytes]]) -> bytes:
    """`* ESEARCH (TAG "a1") UID MIN 2 COUNT 3 ALL 2:4` (RFC 4731); ALL's value is a compacted
    set from seqset.compact, the others numbers."""
    out = b'* ESEARCH (TAG "' + tag.encode() + b'")'
    if uid:
        out += b" UID"
    for name, v in results:
        out += b" " + name.encode() + b" " + (v if isinstance(v, bytes) else b"%d" % v)
    return out + CRLF
