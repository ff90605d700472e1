"""Content-Type and Content-Disposition values: type/subtype and parameters (RFC 2045 §5.1,
RFC 2183, RFC 2231).

Comments (nested, with quoted pairs) and white space may stand between any two tokens; a
quoted string's quoting is removed. Real mail is often looser than the grammar, so:

- a value runs to the next ";" (a file name with spaces in it is kept whole, and so is
  `"quoted" and more`), comments excepted;
- a parameter without "=" is dropped; a value never closed runs to the end;
- a Content-Type without a valid type/subtype is treated as absent (RFC 2045 §5.2).

RFC 2231 continuations (`name*0`, `name*1*`, ...) are merged into one parameter. For the IMAP
BODYSTRUCTURE the merged parameter keeps RFC 2231's wire form when any section was
extended (`name*` = `charset'lang'%XX...`), and is plain (`name` = value) otherwise, so it stays
7-bit and nothing is lost; `decode_param` turns either into text.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_from_bytes, unquote_to_bytes

from mailserver.message.charsets import decode_bytes

# RFC 2045 tspecials, plus white space and the comment/quote openers the tokenizer stops at.
_STOP = frozenset(b'()<>@,;:\\"/[]?= \t\r\n')
# RFC 2231 attribute-char punctuation: kept as is when a plain section is percent-encoded.
_ATTRIBUTE_CHARS = "!#$&+-.^_`|~"


@dataclass(frozen=True, slots=True)
class ContentType:
    """A parsed Content-Type (or Content-Disposition: `subtype` empty) with its parameters."""

    type: bytes  # as written
    subtype: bytes  # as written
    params: tuple[tuple[bytes, bytes], ...]  # RFC 2231-merged, in order of first appearance

    def param(self, name: bytes) -> bytes | None:
        """A parameter's raw value (RFC 2231 wire form for an extended one), or None; `name`
        in lower case (the message's case does not matter)."""
        for attr, value in self.params:
            if attr.lower().removesuffix(b"*") == name:
                return value
        return None

    def text_param(self, name: bytes) -> str | None:
        """A parameter's value as text (RFC 2231 charset applied), or None; `name` in lower
        case."""
        for attr, value in self.params:
            if attr.lower().removesuffix(b"*") == name:
                return decode_param(attr, value)
        return None


class _Reader:
    """A cursor over one header value that skips comments and white space."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def skip_cfws(self) -> None:
        data, n = self.data, len(self.data)
        while self.pos < n:
            c = data[self.pos]
            if c in b" \t\r\n":
                self.pos += 1
            elif c == 0x28:  # "(": a comment, nested, with quoted pairs
                depth = 0
                while self.pos < n:
                    c = data[self.pos]
                    if c == 0x5C:
                        self.pos += 2
                        continue
                    self.pos += 1
                    if c == 0x28:
                        depth += 1
                    elif c == 0x29:
                        depth -= 1
                        if depth == 0:
                            break
            else:
                break

    def peek(self) -> int:
        self.skip_cfws()
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def token(self) -> bytes:
        self.skip_cfws()
        start = self.pos
        data, n = self.data, len(self.data)
        while self.pos < n and data[self.pos] not in _STOP:
            self.pos += 1
        return data[start : self.pos]

    def quoted(self) -> bytes:
        """A quoted string starting at the cursor, unquoted; unterminated runs to the end."""
        data, n = self.data, len(self.data)
        self.pos += 1
        out = bytearray()
        while self.pos < n:
            c = data[self.pos]
            if c == 0x22:
                self.pos += 1
                break
            if c == 0x5C and self.pos + 1 < n:
                self.pos += 1
                c = data[self.pos]
            if c not in b"\r\n":
                out.append(c)
            self.pos += 1
        return bytes(out)

    def loose_value(self) -> bytes:
        """A parameter value up to the next ";": quoted strings unquoted, words (quoted or
        not) joined by one space, comments dropped."""
        words: list[bytes] = []
        data, n = self.data, len(self.data)
        while True:
            c = self.peek()
            if c in (-1, 0x3B):
                break
            if c == 0x22:
                words.append(self.quoted())
                continue
            start = self.pos
            while self.pos < n and data[self.pos] not in b' \t\r\n;("':
                self.pos += 1
            words.append(data[start : self.pos])
        return b" ".join(words)


def parse_params(reader: _Reader) -> tuple[tuple[bytes, bytes], ...]:
    """The `; name=value` list at the reader's position, RFC 2231 continuations merged."""
    raw: list[tuple[bytes, bytes]] = []
    data = reader.data
    while (c := reader.peek()) != -1:
        if c != 0x3B:  # garbage before the next ";": skip it
            nxt = data.find(b";", reader.pos)
            if nxt < 0:
                break
            reader.pos = nxt
        reader.pos += 1
        name = reader.token()
        if reader.peek() != 0x3D:  # no "=": not a parameter
            continue
        reader.pos += 1
        value = reader.loose_value()
        if name:
            raw.append((name, value))
    return merge_2231(raw)


def parse_content_type(value: bytes | None) -> ContentType | None:
    """`type/subtype; params`, or None when the value is absent or has no valid type."""
    if value is None:
        return None
    reader = _Reader(value)
    main = reader.token()
    if reader.peek() != 0x2F:
        return None
    reader.pos += 1
    sub = reader.token()
    if not main or not sub:
        return None
    return ContentType(type=main, subtype=sub, params=parse_params(reader))


def parse_disposition(value: bytes | None) -> ContentType | None:
    """`inline` or `attachment` (or any token) with its parameters, or None without one."""
    if value is None:
        return None
    reader = _Reader(value)
    kind = reader.token()
    if not kind:
        return None
    return ContentType(type=kind, subtype=b"", params=parse_params(reader))


def merge_2231(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """Merge RFC 2231 sections (`name*0`, `name*1*`...) into one parameter each."""
    if not any(b"*" in name for name, _ in raw):
        return tuple(raw)
    out: list[tuple[bytes, bytes] | bytes] = []  # a bytes entry stands for a merged name
    sections: dict[bytes, dict[int, tuple[bool, bytes]]] = {}
    names: dict[bytes, bytes] = {}
    for name, value in raw:
        base, star, rest = name.partition(b"*")
        if not star:
            out.append((name, value))
            continue
        key = base.lower()
        index_text, star2, _ = rest.partition(b"*")
        extended = bool(star2) or not index_text
        if not index_text:
            index = 0
        elif index_text.isdigit() and len(index_text) <= 4:
            index = int(index_text)
        else:
            out.append((name, value))
            continue
        if key not in sections:
            sections[key] = {}
            names[key] = base
            out.append(key)
        sections[key].setdefault(index, (extended, value))
    merged: list[tuple[bytes, bytes]] = []
    for entry in out:
        if isinstance(entry, tuple):
            merged.append(entry)
            continue
        parts = sections[entry]
        ordered = []
        for i in range(len(parts)):  # sections run 0, 1, 2, ... and stop at the first gap
            if i not in parts:
                break
            ordered.append(parts[i])
        if not ordered:
            continue
        if any(ext for ext, _ in ordered):
            pieces = []
            for i, (ext, value) in enumerate(ordered):
                if i == 0 and not ext:
                    pieces.append(b"''" + _pct(value))
                else:
                    pieces.append(value if ext else _pct(value))
            merged.append((names[entry] + b"*", b"".join(pieces)))
        else:
            merged.append((names[entry], b"".join(v for _, v in ordered)))
    return tuple(merged)


def _pct(value: bytes) -> bytes:
    return quote_from_bytes(value, safe=_ATTRIBUTE_CHARS).encode()


def decode_param(name: bytes, value: bytes) -> str:
    """A parameter's value as text: RFC 2231 `charset'lang'%XX` for a name ending in "*"."""
    if not name.endswith(b"*"):
        return decode_bytes(value, None)
    charset, q1, rest = value.partition(b"'")
    if not q1:
        return decode_bytes(unquote_to_bytes(value), None)
    _lang, _q2, encoded = rest.partition(b"'")
    return decode_bytes(unquote_to_bytes(encoded), charset.decode("ascii", "replace"))
