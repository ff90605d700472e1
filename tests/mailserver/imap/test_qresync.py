"""QRESYNC's VANISHED sets (mailserver/imap/qresync.py): the known UIDs, the sequence match
data, the expunge log and the fallback when it does not reach back, from the RFC 7162
examples and against a brute-force reference."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from mailserver.imap.qresync import known_uids, matched_below, vanished
from mailserver.imap.seqset import Ranges, SeqSet


def spans(r: Ranges) -> list[tuple[int, int]]:
    return list(r.spans)


def test_known_uids_default_to_every_uid_given_so_far() -> None:
    assert spans(known_uids(None, 11)) == [(1, 10)]
    assert spans(known_uids(None, 2)) == [(1, 1)]
    assert spans(known_uids(None, 1)) == []  # a mailbox that never had a message
    assert spans(known_uids(SeqSet.parse(b"41,43:211,214:541"), 11)) == [
        (41, 41),
        (43, 211),
        (214, 541),
    ]
    # as written: overlapping, adjacent and downward ranges are one set
    assert spans(known_uids(SeqSet.parse(b"9:5,1,2,3:4,7"), 3)) == [(1, 9)]


def pairs(numbers: bytes, uids: bytes) -> tuple[SeqSet, SeqSet]:
    return SeqSet.parse(numbers), SeqSet.parse(uids)


def test_sequence_match_keeps_the_pairs_that_hold_from_the_lowest_up() -> None:
    present = [2, 4, 5, 6, 8, 9, 10]  # UIDs 1, 3 and 7 expunged
    assert matched_below(present, None) == 0
    assert matched_below(present, pairs(b"1", b"2")) == 2
    assert matched_below(present, pairs(b"1,2,5", b"2,4,8")) == 8  # all hold
    assert matched_below(present, pairs(b"1:4", b"2,4,5,6")) == 6
    # the first pair fails: nothing is known to be unexpunged
    assert matched_below(present, pairs(b"1:3", b"1,2,4")) == 0
    # a pair that holds after one that fails does not count (Dovecot alike)
    assert matched_below(present, pairs(b"1,2,5", b"2,3,8")) == 2
    # a message number past the end fails, and so stops the walk
    assert matched_below(present, pairs(b"1,8", b"2,12")) == 2
    assert matched_below(present, pairs(b"7,8", b"10,11")) == 10
    assert matched_below([], pairs(b"1", b"1")) == 0
    # a downward range lists its numbers downwards, as written
    assert matched_below(present, pairs(b"2:1", b"4,2")) == 4
    assert matched_below(present, pairs(b"1:2", b"4:2")) == 0


def test_the_log_gives_the_expunges_since_among_the_known_uids() -> None:
    present = [1, 2, 4, 5, 6, 8, 9, 10]
    known = known_uids(None, 11)
    assert spans(vanished(present, 11, known, [3, 7])) == [(3, 3), (7, 7)]
    assert spans(vanished(present, 11, known_uids(SeqSet.parse(b"1:5"), 11), [3, 7])) == [(3, 3)]
    assert spans(vanished(present, 11, known, [])) == []
    # a UID the log lists that the view still has (expunged after its snapshot) waits for
    # the plain VANISHED; one at or past UIDNEXT (never given) is not the client's
    assert spans(vanished(present, 11, known, [2, 3, 11])) == [(3, 3)]
    assert spans(vanished(present, 11, known_uids(SeqSet.parse(b"1:20"), 11), [12])) == []
    # consecutive UIDs are one range; the match data does not narrow what the log says
    assert spans(vanished([1, 9], 10, known_uids(None, 10), [3, 4, 5, 7], floor=6)) == [
        (3, 5),
        (7, 7),
    ]


def test_without_the_log_every_known_uid_not_present_is_reported() -> None:
    present = [2, 4, 5, 6, 8, 9, 10]
    assert spans(vanished(present, 11, known_uids(None, 11), None)) == [
        (1, 1),
        (3, 3),
        (7, 7),
    ]
    assert spans(vanished(present, 11, known_uids(SeqSet.parse(b"2:10"), 11), None)) == [
        (3, 3),
        (7, 7),
    ]
    assert spans(vanished(present, 11, known_uids(SeqSet.parse(b"1:5"), 11), None)) == [
        (1, 1),
        (3, 3),
    ]
    # the match data: nothing at or below the last pair that holds
    assert spans(vanished(present, 11, known_uids(None, 11), None, floor=2)) == [
        (3, 3),
        (7, 7),
    ]
    assert spans(vanished(present, 11, known_uids(None, 11), None, floor=10)) == []
    # never past UIDNEXT - 1; the gaps at both ends of a known range, and a whole range gone
    assert spans(vanished([5, 6], 20, known_uids(SeqSet.parse(b"3:8,10:12,30"), 20), None)) == [
        (3, 4),
        (7, 8),
        (10, 12),
    ]
    assert spans(vanished([], 4, known_uids(None, 4), None)) == [(1, 3)]
    assert spans(vanished([1, 2, 3], 4, known_uids(None, 4), None)) == []


@st.composite
def mailboxes(draw: st.DrawFn) -> tuple[list[int], int, SeqSet, list[int] | None, int]:
    uidnext = draw(st.integers(1, 60))
    present = sorted(draw(st.sets(st.integers(1, max(uidnext - 1, 1)))) - {uidnext})
    present = [u for u in present if u < uidnext]
    ranges = draw(st.lists(st.tuples(st.integers(1, 70), st.integers(1, 70)), min_size=1))
    known = SeqSet(tuple(ranges))
    gone = [u for u in range(1, uidnext) if u not in present]
    # the log holds only UIDs that were given out and are gone (none when UIDNEXT is 1)
    some = st.lists(st.sampled_from(gone), unique=True).map(sorted) if gone else st.just([])
    logged = draw(st.none() | some)
    floor = draw(st.integers(0, 70))
    return present, uidnext, known, logged, floor


@given(mailboxes())
@example(([], 1, SeqSet(((1, 1),)), [], 0))  # UIDNEXT 1: nothing was ever given out
@example(([], 2, SeqSet(((1, 1),)), [1], 0))
def test_vanished_against_a_brute_force_reference(
    case: tuple[list[int], int, SeqSet, list[int] | None, int],
) -> None:
    present, uidnext, known, logged, floor = case
    named = {n for a, b in known.ranges for n in range(min(a, b), max(a, b) + 1)}
    got = list(vanished(present, uidnext, known_uids(known, uidnext), logged, floor))
    if logged is None:
        want = [u for u in range(floor + 1, uidnext) if u in named and u not in present]
    else:
        want = [u for u in logged if u in named and u not in present]
    assert got == want


def test_huge_match_sets_are_walked_only_as_far_as_the_mailbox() -> None:
    # a hostile client's (1:4294967295 1:4294967295): four billion pairs, never listed
    huge = pairs(b"1:4294967295", b"1:4294967295")
    assert matched_below(list(range(1, 100_001)), huge) == 100_000
    assert matched_below([1, 2, 4], huge) == 2
    assert spans(vanished([1, 2, 4], 5, known_uids(huge[1], 5), None)) == [(3, 3)]


def test_a_known_range_under_the_floor_does_not_end_the_walk() -> None:
    # 1:2 lies wholly at or below the match data's floor (3); 5:9 after it still counts
    known = known_uids(SeqSet.parse(b"1:2,5:9"), 20)
    assert spans(vanished([6, 8], 20, known, None, floor=3)) == [(5, 5), (7, 7), (9, 9)]


def test_the_log_never_reports_uidnext_itself() -> None:
    # (a UID not given yet cannot have gone; the known set alone would let it through)
    known = known_uids(SeqSet.parse(b"1:20"), 11)
    assert spans(vanished([1], 11, known, [3, 11])) == [(3, 3)]
