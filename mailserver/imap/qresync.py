"""QRESYNC (RFC 7162 §3.2): which UIDs a resynchronising client is told have vanished.

A client that reconnects sends SELECT ... (QRESYNC (uidvalidity modseq [known-uids]
[seq-match-data])) or UID FETCH ... (CHANGEDSINCE modseq VANISHED); the server answers with
`* VANISHED (EARLIER) uids`, the messages expunged since `modseq` among those the client may
know, then the flag changes as FETCH responses (selected.py).

The store's expunge log (mailserver/store, EXPUNGE_LOG_MAX UIDs per mailbox) answers "expunged
since `modseq`" exactly while it reaches back that far. When it does not, the server cannot
tell an old expunge from a recent one, and reports every UID the client may know that is not
in the mailbox any more (§3.2.5.2): a superset, which a client treats as "already gone" for the
UIDs it had forgotten. The sequence match data narrows that: a pair (message number n, UID u)
that still holds, the n-th message having UID u, means that no message below u was expunged
since the client learnt the pair (UIDs only grow, so only an expunge below u moves it); and
since an expunge below one pair moves every pair above it, the pairs that hold are the lowest
ones, up to the first that does not.

Everything here is sets of UIDs as sorted, disjoint (first, last) spans (seqset.Ranges), so a
mailbox of 100,000 messages with a few gaps costs a few spans, not 100,000 numbers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from mailserver.imap.seqset import Ranges, SeqSet

__all__ = ["known_uids", "matched_below", "vanished"]


def known_uids(known: SeqSet | None, uidnext: int) -> Ranges:
    """The UIDs a client may know: its known-uids, else every UID given so far (1 to
    UIDNEXT - 1: §3.2.5 lets it leave the set out to mean all)."""
    if known is None:
        return Ranges.merge([(1, uidnext - 1)] if uidnext > 1 else [])
    return Ranges.merge((min(a, b), max(a, b)) for a, b in known.ranges)


def matched_below(present: Sequence[int], match: tuple[SeqSet, SeqSet] | None) -> int:
    """The highest UID up to which nothing was expunged, by the sequence match data: the
    highest UID of the pairs whose message number still names that UID, taken in the order
    written up to the first that does not (0 when the first does not, or without match
    data). A pair that holds after one that does not is not trusted: the client's data
    contradicts itself there."""
    if match is None:
        return 0
    numbers, uids = (_listed(s) for s in match)
    floor = 0
    for n, u in zip(numbers, uids, strict=True):  # (equal lengths: the parser checks)
        if n > len(present) or present[n - 1] != u:
            break
        floor = max(floor, u)
    return floor


def _listed(seqset: SeqSet) -> Iterator[int]:
    """The numbers of a set without `*`, in the order written (the pairs' order), one at a
    time: `1:4294967295` costs nothing until walked, and the walk stops at the mailbox's end."""
    for a, b in seqset.ranges:
        yield from range(a, b + 1) if a <= b else range(a, b - 1, -1)


def vanished(
    present: Sequence[int],
    uidnext: int,
    known: Ranges,
    logged: Sequence[int] | None,
    floor: int = 0,
) -> Ranges:
    """The UIDs to report in `VANISHED (EARLIER)`: of `known`, those under `uidnext` and not in
    `present` (the mailbox's UIDs, ascending) that the expunge log says went since the
    client's MODSEQ (`logged`, ascending); when the log does not reach back (`logged` None),
    every such UID above `floor` (matched_below)."""
    if logged is not None:
        gone = [u for u in logged if u < uidnext and u in known and not _has(present, u)]
        return Ranges.merge((u, u) for u in gone)
    spans: list[tuple[int, int]] = []
    for a, b in known.spans:
        a, b = max(a, floor + 1), min(b, uidnext - 1)
        if a > b:
            continue
        # the gaps between the present UIDs in a..b
        at = a
        for i in range(bisect_left(present, a), len(present)):
            u = present[i]
            if u > b:
                break
            if u > at:
                spans.append((at, u - 1))
            at = u + 1
        if at <= b:
            spans.append((at, b))
    return Ranges.merge(spans)


def _has(present: Sequence[int], uid: int) -> bool:
    i = bisect_left(present, uid)
    return i < len(present) and present[i] == uid
