"""SEARCH's evaluation (RFC 3501 §6.4.4, RFC 7162 §3.1.5): which messages a key tree matches.

The tree (search.py) is compiled once per search into nested closures, each with a cost:
index data (flags, size, numbers, internal date, modseq) costs nothing (the caller reads it
for every message at once, and only when `needs_meta`), the sent date needs the store's
cached Summary and SUBJECT (HEADER Subject) the store's cached subject text
(textsearch.index_text; the message is read where there is none), other header keys and
text keys need the raw message. An AND tries its keys cheapest first and an OR its cheaper
side first, so a message is read only when the cheap keys did not already decide; what one
message needs is loaded at most once per search, and forgotten when the next message is
looked at (memory stays that of one message).

Matching rules:
- flags and keywords compare case-insensitively (as the store keeps keywords); \\Recent is
  the session's own (a Candidate's `recent`);
- BEFORE/ON/SINCE compare the internal date's day in UTC (the store keeps it in UTC);
  SENTBEFORE/SENTON/SENTSINCE the Date: header's day as written, "disregarding time and
  timezone" (§6.4.4); a message without a readable Date: matches none of them;
- LARGER and SMALLER are strict; MODSEQ n matches modseq >= n;
- sets: `*` is the highest sequence number (or UID); numbers beyond it name nothing (a search
  never fails on them, unlike FETCH); `$` (SEARCHRES, not offered) names nothing;
- header and text keys: case-insensitive substrings of the decoded text (mailserver.message
  textsearch); an empty string matches every message with that header field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import NamedTuple

from mailserver.imap.search import (
    AgeKey,
    All,
    And,
    DateKey,
    FlagKey,
    HeaderKey,
    ModSeqKey,
    Not,
    Or,
    SearchKey,
    SeqKey,
    SizeKey,
    TextKey,
    any_leaf,
)
from mailserver.imap.seqset import Ranges
from mailserver.message import Message, Summary
from mailserver.message.textsearch import index_matcher
from mailserver.store.flags import SYSTEM
from mailserver.store.records import MessageMeta

__all__ = ["Candidate", "flag_masks", "needs_message", "needs_meta", "search"]

_DAY = 86400
_EPOCH = date(1970, 1, 1).toordinal()  # day ordinals of POSIX times: _EPOCH + t // _DAY
# What a key needs, cheapest first.
_META, _SUMMARY, _MESSAGE = 0, 1, 2


class Candidate(NamedTuple):
    """A message the search looks at: its sequence number, UID, and whether this session
    holds its \\Recent. (A named tuple: a SEARCH makes one per message, and a tuple is made
    at a third of a frozen dataclass's cost.)"""

    seq: int
    uid: int
    recent: bool


def needs_meta(key: SearchKey) -> bool:
    """Whether a key reads index data (flags but \\Recent, size, internal date, modseq):
    without one, the search needs no MessageMeta (sequence numbers, UIDs, \\Recent and the
    cached Subject are the candidates' own or loaded apart)."""
    return any_leaf(key, _reads_meta)


def _reads_meta(key: SearchKey) -> bool:
    if isinstance(key, FlagKey):
        return key.flag.lower() != "\\recent"
    if isinstance(key, DateKey):
        return not key.sent
    return isinstance(key, (SizeKey, AgeKey, ModSeqKey))


_BIT_OF = {name.lower(): bit for name, bit in SYSTEM.items()}
_MASKS = range(1 << len(SYSTEM))  # every combination of the system flags' bits


def flag_masks(key: SearchKey) -> frozenset[int] | None:
    """When only the system flags decide `key` (SEEN, UNSEEN, DELETED... and ALL, and NOT, OR
    and lists of them), the combinations of the index's flag bits it matches: SEARCH UNSEEN
    then asks the index for the UIDs with those bits instead of testing each message's index
    data. None for any other key (a keyword, \\Recent, a date...)."""
    tests = _bits_test(key)
    return None if tests is None else frozenset(m for m in _MASKS if tests(m))


def _bits_test(key: SearchKey) -> Callable[[int], bool] | None:
    if isinstance(key, All):
        return lambda bits: True
    if isinstance(key, FlagKey):
        bit = _BIT_OF.get(key.flag.lower())
        if bit is None:
            return None
        present = key.present
        return lambda bits: (bits & bit != 0) is present
    if isinstance(key, Not):
        inner = _bits_test(key.key)
        return None if inner is None else lambda bits: not inner(bits)
    if isinstance(key, Or):
        parts: Sequence[SearchKey] = (key.left, key.right)
    elif isinstance(key, And):
        parts = key.keys
    else:
        return None
    tests = [_bits_test(k) for k in parts]
    if None in tests:
        return None
    if isinstance(key, Or):
        return lambda bits: any(t(bits) for t in tests)  # type: ignore[misc]
    return lambda bits: all(t(bits) for t in tests)  # type: ignore[misc]


def needs_message(key: SearchKey) -> bool:
    """Whether some message may have to be read, whatever the store caches: a header key
    other than SUBJECT, BODY or TEXT."""
    return _compile(key, 0, 0)[0] == _MESSAGE


def search(
    key: SearchKey,
    candidates: Sequence[Candidate],
    *,
    load_meta: Callable[[int], MessageMeta],
    load_summary: Callable[[int], Summary | None],
    load_subject: Callable[[int], str | None],
    load_message: Callable[[int], Message],
    max_seq: int,
    max_uid: int,
) -> list[Candidate]:
    """The candidates `key` matches, in their order. `load_meta(uid)` gives the index data
    (a lookup: asked by every key that reads it, and only when needs_meta(key)),
    `load_summary(uid)` the cached Summary and `load_subject(uid)` the cached subject text
    (None when there is none: the message is read instead), `load_message(uid)` the
    message; these three are called at most once per message, and only when a key needs
    it. `max_seq` and `max_uid` are what `*` stands for. Whatever they raise (a message file
    vanished) is the caller's to answer."""
    test = _compile(key, max_seq, max_uid)[1]
    out = []
    target = _Target(load_meta, load_summary, load_subject, load_message)
    look_at = target.look_at
    for candidate in candidates:
        look_at(candidate)
        if test(target):
            out.append(candidate)
    return out


class _Target:
    """The candidate being looked at and what has been loaded of it (forgotten for the next)."""

    __slots__ = (
        "_load_message",
        "_load_meta",
        "_load_subject",
        "_load_summary",
        "_message",
        "_subject",
        "_summary",
        "candidate",
        "uid",
    )

    def __init__(
        self,
        load_meta: Callable[[int], MessageMeta],
        load_summary: Callable[[int], Summary | None],
        load_subject: Callable[[int], str | None],
        load_message: Callable[[int], Message],
    ) -> None:
        self._load_meta = load_meta
        self._load_summary = load_summary
        self._load_subject = load_subject
        self._load_message = load_message

    def look_at(self, candidate: Candidate) -> None:
        self.candidate = candidate
        self.uid = candidate.uid
        self._summary: Summary | bool | None = False  # False: not loaded yet
        self._subject: str | bool | None = False
        self._message: Message | None = None

    def meta(self) -> MessageMeta:
        return self._load_meta(self.uid)

    def message(self) -> Message:
        if self._message is None:
            self._message = self._load_message(self.uid)
        return self._message

    def sent_day(self) -> int | None:
        """The Date: header's day as written, as a proleptic ordinal; None without one."""
        if self._summary is False:
            self._summary = self._load_summary(self.uid)
        summary = self._summary
        if isinstance(summary, Summary):
            if summary.sent is None:
                return None
            return _EPOCH + (summary.sent + summary.sent_offset) // _DAY
        sent = self.message().date()
        return None if sent is None else sent.toordinal()

    def subject_matches(self, matches: Callable[[str], bool], needle: str) -> bool:
        """SUBJECT needle: `matches` (its index_matcher) on the cached subject text, else
        the message's Subject fields."""
        subject = self._subject
        if subject is False:
            subject = self._subject = self._load_subject(self.uid)
        if isinstance(subject, str):
            return matches(subject)
        return self.message().header_matches(b"subject", needle)


Test = Callable[[_Target], bool]


def _compile(key: SearchKey, max_seq: int, max_uid: int) -> tuple[int, Test]:
    """(cost, test) for a key."""
    if isinstance(key, And):
        parts = sorted((_compile(k, max_seq, max_uid) for k in key.keys), key=_by_cost)
        tests = tuple(t for _, t in parts)
        return max((c for c, _ in parts), default=_META), lambda m: all(t(m) for t in tests)
    if isinstance(key, Or):
        a, b = sorted(
            (_compile(key.left, max_seq, max_uid), _compile(key.right, max_seq, max_uid)),
            key=_by_cost,
        )
        first, second = a[1], b[1]
        return b[0], lambda m: first(m) or second(m)
    if isinstance(key, Not):
        cost, inner = _compile(key.key, max_seq, max_uid)
        return cost, lambda m: not inner(m)
    if isinstance(key, HeaderKey):
        name, needle = key.field.encode(), key.value
        if name.lower() == b"subject":
            matches = index_matcher(needle)
            return _SUMMARY, lambda m: m.subject_matches(matches, needle)
        return _MESSAGE, lambda m: m.message().header_matches(name, needle)
    if isinstance(key, TextKey):
        needle = key.value
        if key.where == "BODY":
            return _MESSAGE, lambda m: m.message().body_matches(needle)
        return _MESSAGE, lambda m: m.message().text_matches(needle)
    if isinstance(key, DateKey):
        return _date(key)
    return _META, _meta_test(key, max_seq, max_uid)


def _by_cost(compiled: tuple[int, Test]) -> int:
    return compiled[0]


def _date(key: DateKey) -> tuple[int, Test]:
    day = key.day.toordinal()
    if key.op == "BEFORE":
        ok: Callable[[int], bool] = lambda d: d < day  # noqa: E731
    elif key.op == "ON":
        ok = lambda d: d == day  # noqa: E731
    else:
        ok = lambda d: d >= day  # noqa: E731
    if key.sent:

        def sent(m: _Target) -> bool:
            d = m.sent_day()
            return d is not None and ok(d)

        return _SUMMARY, sent
    if key.saved:

        def saved(m: _Target) -> bool:
            when = m.meta().savedate
            return when is not None and ok(_EPOCH + when // _DAY)

        return _META, saved
    return _META, lambda m: ok(_EPOCH + m.meta().internaldate // _DAY)


def _meta_test(key: SearchKey, max_seq: int, max_uid: int) -> Test:
    """The test of a key that the index data answers."""
    if isinstance(key, FlagKey):
        flag, present = key.flag.lower(), key.present
        if flag == "\\recent":
            return lambda m: m.candidate.recent is present
        folded: dict[tuple[str, ...], frozenset[str]] = {}  # most messages share a few

        def has(m: _Target) -> bool:
            flags = m.meta().flags
            found = folded.get(flags)
            if found is None:
                found = folded[flags] = frozenset(f.lower() for f in flags)
            return (flag in found) is present

        return has
    if isinstance(key, SizeKey):
        size = key.size
        if key.larger:
            return lambda m: m.meta().size > size
        return lambda m: m.meta().size < size
    if isinstance(key, SeqKey):
        numbers = (
            Ranges(())
            if key.seqset.saved
            else key.seqset.resolve_uid(max_uid if key.uid else max_seq)
        )
        if key.uid:
            return lambda m: m.uid in numbers
        return lambda m: m.candidate.seq in numbers
    if isinstance(key, ModSeqKey):
        modseq = key.modseq
        return lambda m: m.meta().modseq >= modseq
    if isinstance(key, AgeKey):  # OLDER: more than n seconds old; YOUNGER: at most n
        if key.now is None:
            raise ValueError("OLDER and YOUNGER need the time the command came (search.dated)")
        limit = key.now - key.seconds
        if key.older:
            return lambda m: m.meta().internaldate < limit
        return lambda m: m.meta().internaldate >= limit
    if isinstance(key, All):
        return lambda m: True
    raise TypeError(f"not a search key: {key!r}")
