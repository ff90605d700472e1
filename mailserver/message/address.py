"""Address lists (RFC 5322 §3.4, with the obsolete forms of §4.4) as IMAP ENVELOPE addresses.

An address is `[name, adl, mailbox, host]` (RFC 3501 §7.4.2), each bytes or None, the text
raw as in the header (encoded words are not decoded; quoting is removed). A group is a start
marker `[None, None, group-name, None]`, its members, and an end marker `[None]*4`.

Mail in the wild is often not RFC 5322, and an ENVELOPE must still be given. The parser never
fails; what it cannot read it reads as Dovecot does:

- an address without "@" (`To: undisclosed-recipients`) has that text as mailbox and the host
  `MISSING_DOMAIN`; an empty local part is `MISSING_MAILBOX` (a host of NIL would mean a
  group in IMAP, so it is never NIL for a mailbox);
- with no display name, a comment after the address (`bob@x (Bob Smith)`) is the name;
- empty list members (`a@x,,b@y`) are skipped; an unclosed `<`, quote or comment runs to the
  end of the field; a group never closed with ";" is closed at the end;
- a route (`<@a,@b:user@host>`) is the adl `@a,@b`.
"""

from __future__ import annotations

from collections.abc import Iterator

MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"

Address = list[bytes | None]

# Token kinds.
_ATOM = 0
_QUOTED = 1
_COMMENT = 2
_LITERAL = 3  # domain literal "[...]"
_SPECIAL = 4

_SPECIALS = frozenset(b'()<>@,;:\\".[]')
_Token = tuple[int, bytes, bool]  # kind, text, white space (or a comment) before it


def tokenize(value: bytes) -> list[_Token]:
    """Split a structured header value into atoms, quoted strings, comments, specials."""
    tokens: list[_Token] = []
    i, n = 0, len(value)
    space = False
    while i < n:
        c = value[i]
        if c in b" \t\r\n":
            space = True
            i += 1
        elif c == 0x22:  # quoted string
            i, text = _quoted(value, i + 1, 0x22)
            tokens.append((_QUOTED, text, space))
            space = False
        elif c == 0x28:  # comment, nested
            depth, j = 1, i + 1
            out = bytearray()
            while j < n and depth:
                d = value[j]
                if d == 0x5C and j + 1 < n:
                    out.append(value[j + 1])
                    j += 2
                    continue
                depth += (d == 0x28) - (d == 0x29)
                if depth:
                    out.append(d)
                j += 1
            tokens.append((_COMMENT, bytes(out), space))
            i, space = j, True
        elif c == 0x5B:  # domain literal, kept with its brackets
            j = value.find(b"]", i)
            j = n if j < 0 else j + 1
            tokens.append((_LITERAL, value[i:j].replace(b"\r\n", b"").replace(b"\n", b""), space))
            i, space = j, False
        elif c in _SPECIALS:
            tokens.append((_SPECIAL, value[i : i + 1], space))
            i, space = i + 1, False
        else:
            j = i
            while j < n and value[j] not in _SPECIALS and value[j] not in b" \t\r\n":
                j += 1
            tokens.append((_ATOM, value[i:j], space))
            i, space = j, False
    return tokens


def _quoted(value: bytes, i: int, close: int) -> tuple[int, bytes]:
    out = bytearray()
    n = len(value)
    while i < n:
        c = value[i]
        if c == close:
            return i + 1, bytes(out)
        if c == 0x5C and i + 1 < n:
            i += 1
            c = value[i]
        if c not in b"\r\n":
            out.append(c)
        i += 1
    return n, bytes(out)


def _is(token: _Token, char: bytes) -> bool:
    return token[0] == _SPECIAL and token[1] == char


def _phrase(tokens: list[_Token]) -> bytes | None:
    """Display-name words joined as written: one space where there was white space."""
    out = bytearray()
    for kind, text, space in tokens:
        if kind == _COMMENT:
            continue
        if out and space:
            out += b" "
        out += text
    return bytes(out) if out else None


def _joined(tokens: list[_Token]) -> bytes:
    """Local part or domain: the words run together, comments and white space dropped."""
    return b"".join(text for kind, text, _ in tokens if kind != _COMMENT)


def _comment_name(tokens: list[_Token]) -> bytes | None:
    for kind, text, _ in reversed(tokens):
        if kind == _COMMENT and text.strip():
            return text.strip()
    return None


def _addr_spec(tokens: list[_Token]) -> tuple[bytes, bytes]:
    at = next((i for i, t in enumerate(tokens) if _is(t, b"@")), None)
    if at is None:
        local, domain = _joined(tokens), b""
    else:
        local, domain = _joined(tokens[:at]), _joined(tokens[at + 1 :])
    return local or MISSING_MAILBOX, domain or MISSING_DOMAIN


def _mailbox(tokens: list[_Token]) -> Address | None:
    """One mailbox from its tokens, or None when there is nothing in it."""
    if all(kind == _COMMENT for kind, _, _ in tokens):
        return None
    lt = next((i for i, t in enumerate(tokens) if _is(t, b"<")), None)
    if lt is None:
        mailbox, host = _addr_spec(tokens)
        return [_comment_name(tokens), None, mailbox, host]
    name = _phrase(tokens[:lt])
    gt = next((i for i in range(lt + 1, len(tokens)) if _is(tokens[i], b">")), len(tokens))
    inner = tokens[lt + 1 : gt]
    adl = None
    colon = next((i for i, t in enumerate(inner) if _is(t, b":")), None)
    if colon is not None and inner and _is(inner[0], b"@"):
        adl = _joined(inner[:colon]) or None
        inner = inner[colon + 1 :]
    if name is None:
        name = _comment_name(tokens[gt:])
    mailbox, host = _addr_spec(inner)
    return [name, adl, mailbox, host]


def _split(tokens: list[_Token], stops: bytes) -> Iterator[tuple[list[_Token], bytes]]:
    """Cut tokens at top-level specials in `stops` (not inside <...>): (chunk, stop)."""
    chunk: list[_Token] = []
    angle = False
    for token in tokens:
        if token[0] == _SPECIAL:
            if token[1] == b"<":
                angle = True
            elif token[1] == b">":
                angle = False
            elif not angle and token[1] in stops:
                yield chunk, token[1]
                chunk = []
                continue
        chunk.append(token)
    yield chunk, b""


def parse_addresses(value: bytes | None) -> list[Address]:
    """Every address of an address-list header value, group markers included."""
    if value is None:
        return []
    out: list[Address] = []
    group = False
    pending: list[_Token] = []
    for chunk, stop in _split(tokenize(value), b",:;"):
        chunk, pending = pending + chunk, []
        if stop == b":":
            if not group and not any(_is(t, b"<") or _is(t, b"@") for t in chunk):
                out.append([None, None, _phrase(chunk) or b"", None])
                group = True
            else:  # no group can begin here: the colon is part of the address text
                pending = [*chunk, (_SPECIAL, b":", False)]
            continue
        address = _mailbox(chunk)
        if address is not None:
            out.append(address)
        if stop == b";" and group:
            out.append([None, None, None, None])
            group = False
    if group:
        out.append([None, None, None, None])
    return out


def format_address(address: Address) -> bytes:
    """`name <mailbox@host>` (or `mailbox@host`) for text search; b"" for a group marker."""
    name, _adl, mailbox, host = address
    if host is None:  # a group's start (its name) or end (nothing)
        return mailbox or b""
    spec = (mailbox or b"") + b"@" + host
    return spec if not name else name + b" <" + spec + b">"
