"""Message-IDs in Message-ID, In-Reply-To and References (RFC 5322 §3.6.4), for THREAD."""

from __future__ import annotations

import re

_ID = re.compile(rb"<([^<>]*)>")
_WSP = re.compile(rb"[ \t\r\n]+")


def message_ids(value: bytes | None) -> list[bytes]:
    """Every `<id>` in the value, in order, without its brackets or any white space inside;
    text outside brackets (phrases, comments) is ignored, and so is an id without "@" (RFC
    5322's msg-id is id-left "@" id-right: `<>` or `<nomail>` is none; Dovecot skips them)."""
    if value is None:
        return []
    out = []
    for m in _ID.finditer(value):
        ident = _WSP.sub(b"", m.group(1))
        if b"@" in ident:
            out.append(ident)
    return out


def message_id(value: bytes | None) -> bytes | None:
    """The first id of a Message-ID (or In-Reply-To) value, or None when it has none."""
    ids = message_ids(value)
    return ids[0] if ids else None
