"""SORT (RFC 5256 §3) and its DISPLAYFROM/DISPLAYTO keys (RFC 5957): the order in which to
answer the messages a search found.

- The keys: ARRIVAL (the internal date), DATE (the sent date of the Date: field in UTC, or the
  internal date when the message has none that parses, §2.2), SIZE (RFC822.SIZE), FROM, TO
  and CC (the addr-mailbox, the part before the @, of the field's first address, §3; "" when
  there is none), SUBJECT (the base subject of §2.1, which the store keeps in each message's
  summary) and DISPLAYFROM/DISPLAYTO (the first address's display name, else its addr-spec).
- Strings compare with the i;unicode-casemap comparator of RFC 5051, as the RFC asks: each
  character mapped to its titlecase, the result decomposed (NFKD), then compared octet by octet
  (in UTF-8, which orders as code points do). An empty string sorts first.
- REVERSE turns one key's order around, not the others'. Messages that no key tells apart
  keep their mailbox order (§3: "sorted according to the order in which they appear in the
  mailbox"), whatever REVERSE says.
- A message's header values come as `Fields`: from the store's index columns (the sent date,
  base subject and addr-mailboxes it keeps for SORT and THREAD: one query, no summary to
  unpack), or from its Summary (`fields_of`, for DISPLAYFROM/DISPLAYTO, which have no
  column). Addresses are text as the columns hold them: UTF-8, else Latin-1. A message whose
  summary cannot be read (gone from the store meanwhile) sorts as one with no headers: ""
  for the strings, its internal date for DATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailserver.message.casemap import casemap
from mailserver.message.charsets import decode_bytes
from mailserver.message.summary import Summary

__all__ = [
    "COLUMN_KEYS",
    "KEYS",
    "KEY_COLUMNS",
    "NO_FIELDS",
    "Criterion",
    "Fields",
    "Ranking",
    "Sortable",
    "casemap",
    "effective",
    "fields_of",
    "order",
    "positions",
    "sortable",
    "string_keys",
    "value",
]

#: The sort keys, RFC 5256's and RFC 5957's.
KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)


#: The keys the store's index columns answer (with ARRIVAL and SIZE, from its message rows).
COLUMN_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO"})

#: The keys whose values the index keeps ready to compare (store `sort_keys`: the sent date,
#: and the string keys already in the casemap form), and the column of each.
KEY_COLUMNS = {
    "DATE": "date",
    "SUBJECT": "subject_key",
    "FROM": "from_key",
    "TO": "to_key",
    "CC": "cc_key",
}


@dataclass(frozen=True, slots=True)
class Fields:
    """A message's header values for SORT (the defaults: a message with no such header)."""

    sent: int | None = None  # the Date: field, UTC seconds
    subject: str = ""  # the base subject, not case-folded
    from_: str = ""  # addr-mailboxes
    to: str = ""
    cc: str = ""
    display_from: str = ""
    display_to: str = ""


NO_FIELDS = Fields()


def fields_of(summary: Summary | None) -> Fields:
    """The Fields of a Summary (None: unreadable, no headers)."""
    if summary is None:
        return NO_FIELDS
    return Fields(
        summary.sent,
        summary.base_subject,
        decode_bytes(summary.sort_from, None),
        decode_bytes(summary.sort_to, None),
        decode_bytes(summary.sort_cc, None),
        summary.display_from,
        summary.display_to,
    )


@dataclass(frozen=True, slots=True)
class Criterion:
    """One sort-criterion: a key of KEYS, REVERSE or not."""

    key: str
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sortable:
    """A message as SORT sees it: its numbers, and its value for each criterion (`sortable`)."""

    seq: int
    uid: int
    values: tuple[int | str, ...]


def effective(criteria: Sequence[Criterion]) -> tuple[Criterion, ...]:
    """The criteria that can change an order: a key given again can only compare messages
    its first occurrence found equal, so it is dropped (which also bounds the work at one pass
    per key, whatever the client sends). ValueError for none."""
    if not criteria:
        raise ValueError("SORT needs at least one criterion")
    seen: set[str] = set()
    out = []
    for c in criteria:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return tuple(out)


def sortable(
    seq: int, uid: int, internaldate: int, size: int, f: Fields, criteria: Sequence[Criterion]
) -> Sortable:
    """A message's values for the (effective) criteria, from its index data (the internal
    date in seconds since the epoch, RFC822.SIZE) and its header Fields. Only the values are
    kept: 100,000 summaries are not held at once."""
    return Sortable(seq, uid, tuple(value(c.key, internaldate, size, f) for c in criteria))


#: The string keys and the Fields attribute each one compares.
_TEXT_FIELDS = {
    "SUBJECT": "subject",
    "FROM": "from_",
    "TO": "to",
    "CC": "cc",
    "DISPLAYFROM": "display_from",
    "DISPLAYTO": "display_to",
}


def value(name: str, internaldate: int, size: int, f: Fields) -> int | str:
    """A message's value for the sort key `name`, from its index data and header Fields."""
    if name == "ARRIVAL":
        return internaldate
    if name == "SIZE":
        return size
    if name == "DATE":
        return internaldate if f.sent is None else f.sent
    field = _TEXT_FIELDS.get(name)
    if field is None:
        raise ValueError(f"not a sort key: {name}")
    text: str = getattr(f, field)
    return casemap(text)


def string_keys(f: Fields) -> tuple[str, str, str, str]:
    """The SUBJECT, FROM, TO and CC keys of header Fields, as the index keeps them (the
    summarizer's subject_key, from_key, to_key and cc_key)."""
    return casemap(f.subject), casemap(f.from_), casemap(f.to), casemap(f.cc)


def order(messages: Sequence[Sortable], criteria: Sequence[Criterion]) -> list[Sortable]:
    """The messages in the order the criteria give (ties in mailbox order); `criteria` are
    the effective ones their values were computed for."""
    ordered = sorted(messages, key=lambda m: m.seq)
    columns = [[m.values[i] for m in ordered] for i in range(len(criteria))]
    return [ordered[i] for i in positions(columns, criteria)]


def positions(columns: Sequence[Sequence[int | str]], criteria: Sequence[Criterion]) -> list[int]:
    """The order the criteria give to messages listed in mailbox order, as positions in that
    list: `columns[i]` holds every message's value for `criteria[i]` (the effective ones, of
    which there is always one at least: `effective` refuses none). Ties keep mailbox order,
    whatever REVERSE says (Python's sort is stable both ways)."""
    ordered = list(range(len(columns[0])))
    for i in reversed(range(len(criteria))):  # stable sorts, the least significant key first
        ordered.sort(key=columns[i].__getitem__, reverse=criteria[i].reverse)
    return ordered


class Ranking:
    """A SORT result kept in order as messages join and leave it (CONTEXT=SORT, RFC 5267
    §4.3): each member's values for the criteria, and the members in the order the criteria
    give them, ties by UID (mailbox order). `insert` and `remove` answer the 1-based position
    that RFC 5267's ADDTO and REMOVEFROM name: where the message is after it was inserted, or
    was before it was removed. A position is found by a binary search, with one comparison of
    values per step."""

    def __init__(
        self, criteria: Sequence[Criterion], members: Sequence[tuple[int, tuple[int | str, ...]]]
    ) -> None:
        """`members`: (UID, values) of the result, already in sort order."""
        self.reverse = tuple(c.reverse for c in criteria)
        self.order = [uid for uid, _ in members]
        self.values = dict(members)

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, uid: object) -> bool:
        return uid in self.values

    def _before(self, a: int, b: int) -> bool:
        """Whether message `a` sorts before message `b`."""
        va, vb = self.values[a], self.values[b]
        for x, y, reverse in zip(va, vb, self.reverse, strict=True):
            if x != y:
                return (x > y) if reverse else (x < y)  # type: ignore[operator]
        return a < b

    def _index(self, uid: int) -> int:
        """Where `uid` (its values known) goes: the number of members that sort before it."""
        lo, hi = 0, len(self.order)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._before(self.order[mid], uid):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def insert(self, uid: int, values: tuple[int | str, ...]) -> int:
        """Add a message (not a member) with its values; its position now."""
        if uid in self.values:
            raise ValueError(f"UID {uid} is in the result already")
        self.values[uid] = values
        at = self._index(uid)
        self.order.insert(at, uid)
        return at + 1

    def remove(self, uid: int) -> int:
        """Take a member out; the position it had."""
        if uid not in self.values:
            raise ValueError(f"UID {uid} is not in the result")
        at = self._index(uid)
        del self.order[at]
        del self.values[uid]
        return at + 1
