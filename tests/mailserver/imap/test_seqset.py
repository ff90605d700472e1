"""Sequence sets: parsing, resolution against a count or the highest UID, compact output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap.seqset import MAX_NUMBER, STAR, Ranges, SeqSet, SeqSetError, compact


@pytest.mark.parametrize(
    ("wire", "ranges"),
    [
        (b"1", ((1, 1),)),
        (b"2:4", ((2, 4),)),
        (b"4:2", ((4, 2),)),
        (b"*", ((STAR, STAR),)),
        (b"1:*", ((1, STAR),)),
        (b"*:4", ((STAR, 4),)),
        (b"2,4:7,9,12:*", ((2, 2), (4, 7), (9, 9), (12, STAR))),
        (b"4294967295", ((MAX_NUMBER, MAX_NUMBER),)),
    ],
)
def test_parse_keeps_what_was_written(wire: bytes, ranges: tuple[tuple[int, int], ...]):
    s = SeqSet.parse(wire)
    assert s.ranges == ranges
    assert not s.saved
    assert s.to_bytes() == wire


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"", "invalid sequence set"),
        (b"1,", "invalid sequence set"),
        (b",1", "invalid sequence set"),
        (b"1::2", "invalid sequence set"),
        (b"1:2:3", "invalid sequence set"),
        (b"a", "invalid sequence set"),
        (b"0", "0 is not a valid message number"),
        (b"1:0", "0 is not a valid message number"),
        (b"01", "01 is not a valid message number"),
        (b"4294967296", "4294967296 is above 4294967295"),
        (b"12345678901", "invalid sequence set"),
        (b"1" * 5000, "invalid sequence set"),
        (b"$", r"\$ \(a saved search result\) is not supported"),
        (b"$,1", "invalid sequence set"),
    ],
)
def test_parse_refuses(wire: bytes, why: str):
    with pytest.raises(SeqSetError, match=r"^" + why):
        SeqSet.parse(wire)


def test_dollar_is_the_saved_result_when_searchres_is_on():
    s = SeqSet.parse(b"$", allow_saved=True)
    assert s.saved and s.ranges == () and s.to_bytes() == b"$"
    with pytest.raises(SeqSetError, match=r"^\$ must be resolved by the session"):
        s.resolve_seq(5)
    with pytest.raises(SeqSetError, match=r"^\$ must be resolved by the session"):
        s.resolve_uid(5)


def test_has_star():
    assert SeqSet.parse(b"1,5:*").has_star()
    assert SeqSet.parse(b"*:3").has_star()
    assert not SeqSet.parse(b"1,5:7").has_star()


def test_resolve_seq_merges_sorts_and_replaces_star():
    r = SeqSet.parse(b"9,2:4,*,3:5,6").resolve_seq(10)
    assert r.spans == ((2, 6), (9, 10))
    assert list(r) == [2, 3, 4, 5, 6, 9, 10]
    assert len(r) == 7
    assert SeqSet.parse(b"*:8").resolve_seq(10).spans == ((8, 10),)
    assert SeqSet.parse(b"5:2").resolve_seq(10).spans == ((2, 5),)


def test_resolve_seq_refuses_numbers_past_the_end_and_star_when_empty():
    assert SeqSet.parse(b"1:3").resolve_seq(3).spans == ((1, 3),)
    with pytest.raises(SeqSetError, match=r"^message 4 does not exist \(there are 3\)"):
        SeqSet.parse(b"1:4").resolve_seq(3)
    with pytest.raises(SeqSetError, match=r"^no messages: \* names nothing"):
        SeqSet.parse(b"1:*").resolve_seq(0)
    with pytest.raises(SeqSetError, match=r"^message 1 does not exist \(there are 0\)"):
        SeqSet.parse(b"1").resolve_seq(0)


def test_resolve_uid_ignores_missing_uids_and_star_is_the_highest():
    assert SeqSet.parse(b"1:*").resolve_uid(7).spans == ((1, 7),)
    assert SeqSet.parse(b"559:*").resolve_uid(100).spans == ((100, 100),)  # RFC 3501 §6.4.8
    assert SeqSet.parse(b"3:10").resolve_uid(5).spans == ((3, 5),)
    assert SeqSet.parse(b"6:10").resolve_uid(5).spans == ()
    assert SeqSet.parse(b"1:*").resolve_uid(0).spans == ()
    assert SeqSet.parse(b"*").resolve_uid(0).spans == ()
    assert SeqSet.parse(b"5,5,6,1").resolve_uid(9).spans == ((1, 1), (5, 6))


def test_ranges_membership_and_output():
    r = Ranges.merge([(10, 12), (1, 3), (4, 4), (20, 20), (11, 15)])
    assert r.spans == ((1, 4), (10, 15), (20, 20))
    assert r.to_bytes() == b"1:4,10:15,20"
    assert [n for n in range(0, 23) if n in r] == [1, 2, 3, 4, *range(10, 16), 20]
    assert "3" not in r and 3.0 not in r
    assert bool(r) and not Ranges.merge([])
    assert len(Ranges.merge([])) == 0
    assert Ranges.merge([(1, 10), (2, 3)]).spans == ((1, 10),)
    assert Ranges.merge([(1, 2), (4, 5)]).spans == ((1, 2), (4, 5))


@pytest.mark.parametrize(
    ("numbers", "wire"),
    [
        ([], b""),
        ([7], b"7"),
        ([1, 2, 3, 5], b"1:3,5"),
        ([1, 3, 5], b"1,3,5"),
        ([4, 5, 1, 2], b"4:5,1:2"),  # the order is kept (COPYUID pairs sets element-wise)
        ([1, 2, 3, 4294967295], b"1:3,4294967295"),
    ],
)
def test_compact(numbers: list[int], wire: bytes):
    assert compact(numbers) == wire


@given(st.lists(st.integers(1, 60), max_size=30))
def test_compact_of_sorted_numbers_parses_back_to_them(numbers: list[int]):
    unique = sorted(set(numbers))
    wire = compact(unique)
    if not unique:
        assert wire == b""
        return
    assert list(SeqSet.parse(wire).resolve_uid(100)) == unique


def _item(n: int) -> bytes:
    return b"*" if n == 0 else b"%d" % n


sets = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=6).map(
    lambda rs: b",".join(_item(a) + b":" + _item(b) for a, b in rs)
)


@given(sets, st.integers(0, 40))
def test_resolution_agrees_with_a_brute_force_reading(wire: bytes, largest: int):
    """`*` is the largest number; a range is every number between its ends, in either order."""
    s = SeqSet.parse(wire)
    expected: set[int] = set()
    for lo, hi in s.ranges:
        a = largest if lo == STAR else lo
        b = largest if hi == STAR else hi
        expected |= set(range(min(a, b), max(a, b) + 1))
    assert set(s.resolve_uid(largest)) == {n for n in expected if 1 <= n <= largest}
    if 0 in expected or max(expected) > largest:
        with pytest.raises(SeqSetError):
            s.resolve_seq(largest)
    else:
        assert set(s.resolve_seq(largest)) == expected


def test_membership_at_the_top_of_the_number_range():
    r = Ranges(((5, MAX_NUMBER),))
    assert 5 in r and MAX_NUMBER in r and 4 not in r
    r = Ranges(((1, 1), (3, 3)))
    assert 1 in r and 3 in r and 2 not in r and 0 not in r and 4 not in r
