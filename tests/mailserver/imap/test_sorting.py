"""The SORT core: the i;unicode-casemap form, each key's value, REVERSE, ties, missing data,
and, for any messages and criteria, an order that is a permutation sorted by the keys."""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap.sorting import (
    COLUMN_KEYS,
    KEYS,
    NO_FIELDS,
    Criterion,
    Fields,
    Ranking,
    casemap,
    effective,
    fields_of,
    order,
    positions,
    sortable,
)
from mailserver.message import Message
from mailserver.message.summary import Summary, summarize


def summary(headers: str = "") -> Summary:
    return summarize(Message((headers.replace("\n", "\r\n") + "\r\nbody\r\n").encode()))


@dataclass(frozen=True)
class Msg:
    seq: int
    summary: Summary | None
    internaldate: int = 0
    size: int = 0


def m(seq: int, headers: str = "", *, arrived: int = 0, size: int = 0) -> Msg:
    return Msg(seq, summary(headers), arrived, size)


def sort(msgs: list[Msg], criteria: list[Criterion]) -> list[int]:
    """The seqs in SORT's order, as ordering.sort computes it."""
    used = effective(criteria)
    values = [
        sortable(x.seq, x.seq * 10, x.internaldate, x.size, fields_of(x.summary), used)
        for x in msgs
    ]
    out = order(values, used)
    assert all(v.uid == v.seq * 10 for v in out)
    return [v.seq for v in out]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("abc xyz", "ABC XYZ"),
        ("a_b", "A_B"),  # titlecase, not lower case: "_" sorts after the letters
        ("é", "E\u0301"),  # titlecase É, decomposed
        ("ǆemal", "Dz\u030cEMAL"),  # titlecase ǅ (not upper case Ǆ), then decomposed
        ("ﬁle", "fiLE"),  # no simple titlecase (the full one is "Fi"): only decomposed
        ("Straße", "STRAßE"),  # no simple titlecase (the full one is "Ss")
    ],
)
def test_casemap(text: str, canonical: str) -> None:
    assert casemap(text) == canonical


def test_casemap_orders_as_the_comparator_does() -> None:
    words = ["zebra", "Apple", "_under", "éclair", "Eclair", "apple"]
    ordered = sorted(words, key=casemap)
    # "Apple" and "apple" are equal (sorted() keeps their order), É after E, "_" after letters
    assert ordered == ["Apple", "apple", "Eclair", "éclair", "zebra", "_under"]


def test_each_key_reads_its_own_field() -> None:
    a = m(
        1,
        "From: Zed <zed@x>\nTo: Al <al@y>\nCc: cy@y\nSubject: Re: pear\n"
        "Date: Tue, 14 Nov 2023 12:00:00 +0000\n",
        arrived=50,
        size=9,
    )
    b = m(
        2,
        "From: Ann <bob@x>\nTo: zu@y\nCc: =?utf-8?q?=C3=A9?= <ab@y>\nSubject: apple\n"
        "Date: Mon, 13 Nov 2023 12:00:00 +0000\n",
        arrived=60,
        size=5,
    )
    both = [a, b]
    expected = {
        "ARRIVAL": [1, 2],
        "SIZE": [2, 1],
        "DATE": [2, 1],
        "FROM": [2, 1],  # bob < zed
        "DISPLAYFROM": [2, 1],  # Ann < Zed
        "TO": [1, 2],  # al < zu
        "DISPLAYTO": [1, 2],  # Al < zu@y
        "CC": [2, 1],  # ab < cy
        "SUBJECT": [2, 1],  # apple < pear (the base subject: "Re: " goes)
    }
    assert set(expected) == KEYS
    for key, ascending in expected.items():
        assert sort(both, [Criterion(key)]) == ascending, key
        assert sort(both, [Criterion(key, True)]) == ascending[::-1], key


def test_ties_keep_the_mailbox_order_even_reversed() -> None:
    same = [m(3, "Subject: x\n"), m(1, "Subject: X\n"), m(2, "Subject: y\n")]
    assert sort(same, [Criterion("SUBJECT")]) == [1, 3, 2]
    assert sort(same, [Criterion("SUBJECT", True)]) == [2, 1, 3]


def test_later_criteria_break_the_ties_of_earlier_ones() -> None:
    msgs = [
        m(1, "Subject: b\nFrom: a@x\n", size=1),
        m(2, "Subject: a\nFrom: b@x\n", size=2),
        m(3, "Subject: a\nFrom: a@x\n", size=3),
        m(4, "Subject: b\nFrom: a@x\n", size=4),
    ]
    assert sort(msgs, [Criterion("SUBJECT"), Criterion("FROM")]) == [3, 2, 1, 4]
    assert sort(msgs, [Criterion("SUBJECT"), Criterion("FROM", True)]) == [2, 3, 1, 4]
    by = [Criterion("FROM"), Criterion("SUBJECT"), Criterion("SIZE", True)]
    assert sort(msgs, by) == [3, 4, 1, 2]


def test_missing_fields_sort_first_and_a_missing_date_is_the_arrival() -> None:
    bare = m(1, "", arrived=1_700_000_000)  # no Date: its internal date, 2023-11-14T22:13Z
    dated = m(2, "Date: Tue, 14 Nov 2023 12:00:00 +0000\nFrom: a@x\n", arrived=5)
    late = m(3, "Date: Wed, 15 Nov 2023 12:00:00 +0000\n", arrived=1)
    assert sort([late, bare, dated], [Criterion("DATE")]) == [2, 1, 3]
    for key in ("FROM", "DISPLAYFROM"):
        assert sort([dated, bare], [Criterion(key)]) == [1, 2]
    gone = Msg(4, None, 7, 0)  # no summary: no fields, DATE its arrival
    assert sort([dated, gone], [Criterion("DATE")]) == [4, 2]
    plain = m(2, "Date: Tue, 14 Nov 2023 12:00:00 +0000\n", arrived=9)
    for key in ("SUBJECT", "FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO"):
        assert sort([gone, plain], [Criterion(key)]) == [2, 4]  # a tie: mailbox order
        assert sort([gone, plain], [Criterion(key, True)]) == [2, 4]
    assert sort([plain, gone], [Criterion("ARRIVAL")]) == [4, 2]


def test_an_address_that_is_not_utf_8_sorts_with_its_bad_bytes_replaced() -> None:
    # b"caf\xe9" is no UTF-8: read as Latin-1, as the store's columns hold it ("café")
    raw = b"From: caf\xe9@x\r\nTo: cafe@y\r\n\r\nbody\r\n"
    odd = Msg(1, summarize(Message(raw)))
    plain = m(2, "From: cafe@x\nTo: caf@y\n")
    assert sort([odd, plain], [Criterion("FROM")]) == [2, 1]
    assert sort([odd, plain], [Criterion("TO")]) == [2, 1]
    assert fields_of(odd.summary).from_ == "café"
    assert sortable(1, 1, 0, 0, fields_of(odd.summary), [Criterion("FROM")]).values == (
        "CAFE\u0301",
    )


def test_fields_from_a_summary_or_from_the_columns() -> None:
    s = summary(
        "From: Al <al@x>\nTo: =?utf-8?q?=C3=89mile?= <em@y>\nCc: cy@y\nSubject: Fwd: figs\n"
        "Date: Tue, 14 Nov 2023 12:00:00 +0000\n"
    )
    f = fields_of(s)
    assert f == Fields(1_699_963_200, "figs", "al", "em", "cy", "Al", "Émile")
    assert fields_of(None) == NO_FIELDS == Fields(None, "", "", "", "", "", "")
    # the store's columns (date, subject, from, to, cc) make the same Fields but the display
    # names, which only DISPLAYFROM and DISPLAYTO read
    row = (1_699_963_200, "figs", "al", "em", "cy")
    assert Fields(*row) == Fields(f.sent, f.subject, f.from_, f.to, f.cc)
    assert KEYS - {"DISPLAYFROM", "DISPLAYTO"} == COLUMN_KEYS
    by = effective([Criterion(k) for k in sorted(COLUMN_KEYS)])
    assert sortable(1, 2, 3, 4, Fields(*row), by) == sortable(1, 2, 3, 4, f, by)


def test_sent_dates_compare_in_utc() -> None:
    east = m(1, "Date: Tue, 14 Nov 2023 12:00:00 +0500\n")  # 07:00Z
    west = m(2, "Date: Tue, 14 Nov 2023 08:00:00 -0100\n")  # 09:00Z
    assert sort([west, east], [Criterion("DATE")]) == [1, 2]


def test_a_key_given_again_is_dropped_and_none_is_a_bug_in_the_caller() -> None:
    by = [Criterion("SUBJECT"), Criterion("DATE", True), Criterion("SUBJECT", True)]
    assert effective(by) == (Criterion("SUBJECT"), Criterion("DATE", True))
    assert effective(by * 5000) == effective(by)  # one pass per key, whatever was sent
    msgs = [m(1, "Subject: b\n"), m(2, "Subject: a\n"), m(3, "Subject: a\n")]
    assert sort(msgs, [Criterion("SUBJECT"), Criterion("SUBJECT", True)]) == [2, 3, 1]
    with pytest.raises(ValueError, match=r"^SORT needs at least one criterion$"):
        effective([])
    with pytest.raises(ValueError, match="not a sort key: NAME"):
        sortable(1, 1, 0, 0, NO_FIELDS, [Criterion("NAME")])
    assert order([], [Criterion("SUBJECT")]) == []


subjects = st.sampled_from(["a", "B", "b", "Re: a", "é", "E", ""])
mailboxes = st.sampled_from(["al", "Bo", "bo", "", "zed"])


@st.composite
def messages(draw: st.DrawFn) -> list[Msg]:
    count = draw(st.integers(0, 8))
    out = []
    for seq in draw(st.permutations(range(1, count + 1))):
        headers = f"Subject: {draw(subjects)}\n"
        if (who := draw(mailboxes)) != "":
            headers += f"From: {who}@x\n"
        if draw(st.booleans()):
            headers += f"Date: Tue, 14 Nov 2023 {draw(st.integers(0, 2)):02d}:00:00 +0000\n"
        out.append(m(seq, headers, arrived=draw(st.integers(0, 3)), size=draw(st.integers(0, 3))))
    return out


criteria = st.lists(
    st.builds(Criterion, st.sampled_from(sorted(KEYS)), st.booleans()), min_size=1, max_size=3
)


@given(messages(), criteria)
def test_the_order_is_a_permutation_sorted_by_the_criteria(
    msgs: list[Msg], by: list[Criterion]
) -> None:
    seqs = sort(msgs, by)
    assert sorted(seqs) == sorted(x.seq for x in msgs)
    out = [next(x for x in msgs if x.seq == seq) for seq in seqs]

    def value(x: Msg, c: Criterion) -> int | str:  # the brute-force reading of RFC 5256
        s = x.summary
        assert s is not None
        if c.key == "ARRIVAL":
            return x.internaldate
        if c.key == "SIZE":
            return x.size
        if c.key == "DATE":
            return x.internaldate if s.sent is None else s.sent
        text = {
            "SUBJECT": s.base_subject,
            "FROM": s.sort_from.decode("latin-1"),
            "TO": s.sort_to.decode("latin-1"),
            "CC": s.sort_cc.decode("latin-1"),
            "DISPLAYFROM": s.display_from,
            "DISPLAYTO": s.display_to,
        }[c.key]
        mapped = (t if len(t := ch.title()) == 1 else ch for ch in text)
        return unicodedata.normalize("NFKD", "".join(mapped))

    for first, second in itertools.pairwise(out):
        for c in by:
            a, b = value(first, c), value(second, c)
            if a != b:
                assert (a > b) if c.reverse else (a < b)
                break
        else:
            assert first.seq < second.seq  # a tie on every key: mailbox order


# -- Ranking: a SORT result kept in order (CONTEXT=SORT) -------------------------------------

values = st.tuples(st.integers(0, 3), st.sampled_from(["", "A", "B", "E\u0301"]))


@given(
    st.tuples(st.booleans(), st.booleans()),
    st.lists(st.tuples(st.integers(1, 30), values), max_size=40),
)
def test_a_ranking_keeps_the_order_and_answers_the_rfcs_positions(
    reverse: tuple[bool, bool], steps: list[tuple[int, tuple[int, str]]]
) -> None:
    # each step inserts the UID with those values, or removes it when it is a member; the
    # list a client keeps by applying the positions (RFC 5267 §4.3.2-4.3.3) is, after every
    # step, the members in the order `positions` gives from scratch
    by = [Criterion("SIZE", reverse[0]), Criterion("SUBJECT", reverse[1])]
    ranking = Ranking(by, [])
    client: list[int] = []
    for uid, vals in steps:
        if uid in ranking:
            at = ranking.remove(uid)
            assert client.pop(at - 1) == uid
        else:
            at = ranking.insert(uid, vals)
            client.insert(at - 1, uid)
        members = sorted(ranking.values)  # (mailbox order: by UID)
        columns = [[ranking.values[u][i] for u in members] for i in range(2)]
        expected = [members[i] for i in positions(columns, by)]
        assert client == ranking.order == expected
        assert len(ranking) == len(expected)


def test_a_ranking_starts_from_a_sorted_result_and_refuses_what_cannot_be() -> None:
    by = [Criterion("DATE", True)]
    ranking = Ranking(by, [(7, (30,)), (2, (20,)), (5, (20,)), (1, (10,))])
    assert ranking.insert(3, (20,)) == 3  # after 2, before 5: ties in UID order, even reversed
    assert ranking.insert(9, (40,)) == 1
    assert ranking.insert(4, (5,)) == 7
    assert ranking.order == [9, 7, 2, 3, 5, 1, 4]
    assert ranking.remove(5) == 5
    assert ranking.order == [9, 7, 2, 3, 1, 4] and 5 not in ranking and 3 in ranking
    with pytest.raises(ValueError, match=r"^UID 3 is in the result already$"):
        ranking.insert(3, (1,))
    with pytest.raises(ValueError, match=r"^UID 5 is not in the result$"):
        ranking.remove(5)
    with pytest.raises(ValueError, match=r"^UID 8 is not in the result$"):
        Ranking(by, []).remove(8)
