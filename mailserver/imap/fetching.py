"""FETCH's answer for one message (RFC 3501 §6.4.5, §7.4.2; RFC 7162 MODSEQ): the (name, value)
pairs that `encode.fetch` writes, from the index data, the cached Summary and the raw message.

The session asks first what a FETCH needs, so that it reads no more than that:
`needs_summary` (ENVELOPE, BODY, BODYSTRUCTURE: the store's cached Summary has them, or the
message is parsed when there is none), `needs_message` (BODY[section], RFC822...: the bytes),
and `sets_seen` (the items that set \\Seen, §6.4.5). FLAGS, INTERNALDATE, RFC822.SIZE, UID and
MODSEQ come from the index (MessageMeta) alone.

Message content (BODY[section]<partial>, RFC822, RFC822.HEADER, RFC822.TEXT) is a memoryview
slice of the stored message (no copy), which the encoder always writes as a literal.
BINARY[part]<partial> (RFC 3516) is the part decoded (message.binary), an `encode.Binary`: a
literal8 when it holds NUL; BINARY.SIZE is its length. A part whose transfer encoding this
server does not know raises UnknownEncoding, for the session's NO [UNKNOWN-CTE]. A part
that does not exist, or a specifier that does not apply to a part (TEXT of a text/plain part),
is the empty string, as RFC 3501's author advised and Dovecot does; a broken MIME structure
still has the structure the parser's fallbacks give it, so no message makes FETCH fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from mailserver.imap import encode
from mailserver.imap.fetchatt import FetchItem
from mailserver.imap.fetchatt import Section as ItemSection
from mailserver.message import Message, Section, Summary
from mailserver.store.records import MessageMeta

__all__ = ["Plan", "fetch_values", "needs_message", "needs_summary", "rereads", "sets_seen"]

# Without a section, these come from the Summary (BODY is BODYSTRUCTURE without extensions).
_SUMMARY_ITEMS = frozenset(("ENVELOPE", "BODY", "BODYSTRUCTURE"))
_GLOBAL = re.compile(rb'"message" "global"', re.IGNORECASE)
# RFC 3501 §6.4.5: RFC822 is BODY[], RFC822.HEADER is BODY.PEEK[HEADER], RFC822.TEXT BODY[TEXT].
_RFC822 = {
    "RFC822": Section(),
    "RFC822.HEADER": Section(text="HEADER"),
    "RFC822.TEXT": Section(text="TEXT"),
}
_SEEN = frozenset(("RFC822", "RFC822.TEXT"))
_PREVIEWS = ("PREVIEW", "PREVIEW.FUZZY", "SNIPPET")
_NEEDS_MESSAGE = frozenset((*_RFC822, *_PREVIEWS))


def needs_summary(items: Sequence[FetchItem]) -> bool:
    """Whether an item is served from the Summary: ENVELOPE, BODY (no section), BODYSTRUCTURE."""
    return any(i.section is None and i.name in _SUMMARY_ITEMS for i in items)


def needs_message(items: Sequence[FetchItem]) -> bool:
    """Whether an item needs the raw message: BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER,
    RFC822.TEXT, PREVIEW."""
    return any(i.section is not None or i.name in _NEEDS_MESSAGE for i in items)


def rereads(items: Sequence[FetchItem], summary: Summary) -> bool:
    """Whether a message whose Summary is cached is read all the same: BODY or BODYSTRUCTURE
    asked of one with a message/global part, which IMAP4rev1 and IMAP4rev2 sessions are told
    in two forms (bodystructure.py), so it is described from the message, for the session."""
    names = {i.name for i in items if i.section is None}
    return ("BODY" in names and _describes_global(summary.body)) or (
        "BODYSTRUCTURE" in names and _describes_global(summary.bodystructure)
    )


def _describes_global(structure: bytes) -> bool:
    """Whether a cached BODY or BODYSTRUCTURE has a message/global part (or seems to: a
    parameter that reads so costs a read of the message, nothing more)."""
    return _GLOBAL.search(structure) is not None


def sets_seen(items: Sequence[FetchItem]) -> bool:
    """Whether fetching the items sets \\Seen (§6.4.5): BODY[...] without PEEK, RFC822,
    RFC822.TEXT (not RFC822.HEADER, which is BODY.PEEK[HEADER])."""
    return any((i.section is not None and not i.peek) or i.name in _SEEN for i in items)


def fetch_values(
    items: Sequence[FetchItem],
    meta: MessageMeta,
    *,
    summary: Summary | None,
    message: Message | None,
    modseq: bool,
    rev2: bool = False,
) -> list[tuple[bytes, object]]:
    """The (response name, value) pairs for `encode.fetch`, in the items' order; an item asked
    twice is answered once. With `modseq` (CONDSTORE in use, RFC 7162 §3.1.4) MODSEQ is added
    at the end when not asked. ENVELOPE, BODY and BODYSTRUCTURE come from `summary` when given,
    else from `message` (and BODY and BODYSTRUCTURE from `message` when `rereads` says so, for
    an IMAP4rev1 session); content needs `message`. A message/global part is described as
    IMAP4rev1 describes it unless `rev2` (bodystructure.py). ValueError when what an item needs
    is missing (the session's mistake, see needs_summary/needs_message)."""
    return Plan(items, rev2=rev2).values(meta, summary=summary, message=message, modseq=modseq)


# Items the index alone answers with a number or a flag list, and MessageMeta's field for each:
# a FETCH of only these (UID FETCH 1:* (FLAGS), Thunderbird's resync) has a line template.
_INDEX_FIELDS = {"UID": "uid", "FLAGS": "flags", "RFC822.SIZE": "size", "MODSEQ": "modseq"}


class Plan:
    """A FETCH's items with their response names, one per name in the items' order (an item
    asked twice is answered once): worked out once per FETCH, not once per message."""

    __slots__ = ("_fields", "_flag_lists", "_forms", "has_modseq", "index_only", "named", "rev2")

    def __init__(self, items: Sequence[FetchItem], *, rev2: bool) -> None:
        self.rev2 = rev2  # an IMAP4rev2 session: message/global parts told as messages
        named: dict[bytes, FetchItem] = {}
        for item in items:
            named.setdefault(item.response_name(), item)
        self.named = tuple(named.items())
        self.has_modseq = b"MODSEQ" in named
        # index_line's template (with MODSEQ added, and without), when every item has one
        self.index_only = all(i.section is None and i.name in _INDEX_FIELDS for i in named.values())
        pairs = [(n, _INDEX_FIELDS[i.name]) for n, i in named.items()] if self.index_only else []
        self._fields = tuple(field for _, field in pairs)
        forms = [
            name + (b" %b" if field == "flags" else b" (%d)" if field == "modseq" else b" %d")
            for name, field in pairs
        ]
        self._forms = (
            b"* %d FETCH (" + b" ".join(forms) + b")\r\n",
            b"* %d FETCH (" + b" ".join([*forms, b"MODSEQ (%d)"]) + b")\r\n",
        )
        self._flag_lists: dict[tuple[str, ...], bytes] = {}  # most messages share a few

    def index_line(self, seq: int, meta: MessageMeta, modseq: bool) -> bytes:
        """The FETCH response of message `seq` when the items are `index_only`: what
        `encode.fetch(seq, self.values(meta, ...))` gives, at a fraction of the cost."""
        values: list[object] = [seq]
        for field in self._fields:
            value = getattr(meta, field)
            if field == "flags":
                flags = self._flag_lists.get(value)
                if flags is None:
                    flags = self._flag_lists[value] = encode.flags(value)
                value = flags
            values.append(value)
        if modseq and not self.has_modseq:
            values.append(meta.modseq)
            return self._forms[1] % tuple(values)
        return self._forms[0] % tuple(values)

    def values(
        self, meta: MessageMeta, *, summary: Summary | None, message: Message | None, modseq: bool
    ) -> list[tuple[bytes, object]]:
        """What `fetch_values` says of one message."""
        rev2 = self.rev2
        out = [(name, _value(item, meta, summary, message, rev2)) for name, item in self.named]
        if modseq and not self.has_modseq:
            out.append((b"MODSEQ", [meta.modseq]))
        return out


def _value(
    item: FetchItem,
    meta: MessageMeta,
    summary: Summary | None,
    message: Message | None,
    rev2: bool,
) -> object:
    name = item.name
    if item.section is not None:
        start, length = item.partial if item.partial is not None else (None, None)
        if name == "BINARY":
            return encode.Binary(_need(message, name).binary(item.section.part, start, length))
        if name == "BINARY.SIZE":
            return len(_need(message, name).binary(item.section.part))
        return memoryview(_need(message, name).section(_section(item.section), start, length))
    if name == "FLAGS":
        return encode.flags(meta.flags)
    if name == "UID":
        return meta.uid
    if name == "RFC822.SIZE":
        return meta.size
    if name in _PREVIEWS:  # RFC 8970: UTF-8 text, "" when there is none
        text = _need(message, name).preview().encode()
        return text if name == "PREVIEW" else [_FUZZY, text]  # the drafts' (FUZZY "text")
    if name == "SAVEDATE":  # RFC 8514 §3: NIL where the mailbox keeps none
        if meta.savedate is None:
            return None
        return encode.internaldate(datetime.fromtimestamp(meta.savedate, UTC))
    if name == "INTERNALDATE":
        return encode.internaldate(datetime.fromtimestamp(meta.internaldate, UTC))
    if name == "MODSEQ":
        return [meta.modseq]  # `MODSEQ (n)`, RFC 7162 §3.1.4
    if name in _RFC822:
        return memoryview(_need(message, name).section(_RFC822[name]))
    # a Summary's values are IMAP syntax already
    if name == "ENVELOPE":
        if summary is not None:
            return encode.Raw(summary.envelope)
        return _need(message, name).envelope()
    if name == "BODY":
        if summary is not None and not _describes_global(summary.body):
            return encode.Raw(summary.body)
        return _need(message, name).body(rev2=rev2)
    if name == "BODYSTRUCTURE":
        if summary is not None and not _describes_global(summary.bodystructure):
            return encode.Raw(summary.bodystructure)
        return _need(message, name).bodystructure(rev2=rev2)
    raise ValueError(f"no FETCH item {name}")


_FUZZY = encode.Raw(b"FUZZY")


def _need(message: Message | None, name: str) -> Message:
    if message is None:
        raise ValueError(f"FETCH {name} needs the message")
    return message


@lru_cache(maxsize=256)
def _section(s: ItemSection) -> Section:
    """The parser's Section as the message core's (field names as bytes)."""
    return Section(s.part, s.text, tuple(f.encode() for f in s.fields))
