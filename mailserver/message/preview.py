"""FETCH PREVIEW (RFC 8970): a short plain-text preview of a message, at most MAX_CHARS
characters, "" when there is nothing to show (§3.2: never NIL without LAZY).

The rules are Dovecot's (2.3, probed on 59 messages; tests/mailserver/test_preview.py):

- One part gives the text: the first leaf of type text/* (or with no Content-Type) met
  depth first; in a multipart/alternative, text/plain before text/html before any other
  text/*, whatever their order; a message/rfc822 part is never looked into. An empty chosen
  part gives "" (no other part is tried).
- Its body is decoded (base64, quoted-printable; the charset, UTF-8 when unknown), and only
  its first READ_LIMIT octets are read: a preview of a 50 MB part costs what one of 64 KiB
  does. A run of undecodable octets is one U+FFFD; BOM and NUL characters are dropped.
- text/html: comments, <style> and <script> with their content go, every other tag becomes a
  space (<title>'s text stays), then entities are decoded: a known HTML 4 name or a number
  with its ";", an unknown name of at most 9 characters with its ";" goes whole, any other
  "&" alone goes (so "&amp" without ";" shows "amp").
- Quoted text is left out: a text/plain line that begins with ">", the text of an HTML
  <blockquote>. When nothing else is left the quoted text is the preview, after one ">".
- Every run of ASCII white space (space, tab, CR, LF, VT, FF) is one space, none at either
  end; the first MAX_CHARS characters (code points, not octets) are kept, without a space
  that would end them. Signatures stay ("-- Alice").
"""

from __future__ import annotations

import re
from html.entities import name2codepoint

from mailserver.message.structure import Part
from mailserver.message.textsearch import part_text

__all__ = ["MAX_CHARS", "READ_LIMIT", "preview"]

MAX_CHARS = 200
READ_LIMIT = 64 * 1024

_WHITE = re.compile(r"[ \t\r\n\x0b\x0c]+")
_LINES = re.compile(r"\r\n|\r|\n")
_UNDECODABLE = re.compile("\ufffd+")
_DROPPED = str.maketrans("", "", "\ufeff\x00")
# HTML: a comment, a style or script element whole, a tag (its name for blockquote), or text
_HTML = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(style|script)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<(/?)([A-Za-z][A-Za-z0-9]*)?[^>]*(?:>|\Z)"
    r"|[^<]+|<",
    re.DOTALL | re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z0-9]{1,9}));|&")


def preview(buf: bytes, root: Part) -> str:
    """The preview of the message `buf` whose MIME tree is `root`."""
    part = _chosen(root)
    if part is None:
        return ""
    text = _text(buf, part)
    if part.subtype == b"html":
        own, quoted = _html(text)
    else:
        own, quoted = _plain(text)
    shown = _folded(own)
    if not shown:
        quoted = _folded(quoted)
        shown = ">" + quoted if quoted else ""
    return shown[:MAX_CHARS].rstrip(" ")


def _chosen(part: Part) -> Part | None:
    """The part whose text is the preview, or None."""
    if part.message is not None:
        return None
    if not part.is_multipart:
        return part if part.type == b"text" else None
    found = [c for c in map(_chosen, part.children) if c is not None]
    if part.subtype == b"alternative":
        for subtype in (b"plain", b"html"):
            for c in found:
                if c.subtype == subtype:
                    return c
    return found[0] if found else None


def _text(buf: bytes, part: Part) -> str:
    """The first READ_LIMIT octets of the part's body, decoded (as SEARCH decodes them)."""
    text = "".join(part_text(buf, part, READ_LIMIT))
    return _UNDECODABLE.sub("\ufffd", text).translate(_DROPPED)


def _plain(text: str) -> tuple[str, str]:
    """(own text, quoted text) of text/plain: quoted lines begin with ">"."""
    own, quoted = [], []
    for line in _LINES.split(text):
        if line.startswith(">"):
            quoted.append(line.lstrip(">"))
        else:
            own.append(line)
    return " ".join(own), " ".join(quoted)


def _html(text: str) -> tuple[str, str]:
    """(own text, quoted text) of text/html, tags and entities done with."""
    own: list[str] = []
    quoted: list[str] = []
    depth = 0  # inside how many <blockquote>
    for m in _HTML.finditer(text):
        token = m.group()
        if m.group(3) is not None:  # a tag
            if m.group(3).lower() == "blockquote":
                depth = max(depth + (-1 if m.group(2) else 1), 0)
            (quoted if depth else own).append(" ")
        elif token.startswith("<!--") or m.group(1) is not None:
            continue  # a comment, a style or script element
        elif token.startswith("<") and len(token) > 1:
            (quoted if depth else own).append(" ")  # a tag without a name: </>, <!x>
        else:
            (quoted if depth else own).append(token)
    return _entities("".join(own)), _entities("".join(quoted))


def _entities(text: str) -> str:
    return _ENTITY.sub(_entity, text) if "&" in text else text


def _entity(m: re.Match[str]) -> str:
    decimal, hexadecimal, name = m.groups()
    if name is not None:
        code = name2codepoint.get(name)
        return "" if code is None else chr(code)
    if decimal is None and hexadecimal is None:
        return ""  # an "&" that starts no entity
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""


def _folded(text: str) -> str:
    return _WHITE.sub(" ", text).strip(" ")
