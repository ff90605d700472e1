"""SEARCH's evaluation: every RFC 3501 key at its edges, cheap keys first, each message loaded
at most once and none for keys the index answers, and random trees that never raise."""

from __future__ import annotations

import base64
import os
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver.imap.search import (
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
    dated,
    parse_program,
)
from mailserver.imap.searching import Candidate, flag_masks, needs_message, needs_meta, search
from mailserver.imap.seqset import SeqSet
from mailserver.imap.syntax import Reader
from mailserver.message import Message, Summary, store_summary, summarize
from mailserver.message.textsearch import header_texts
from mailserver.store import StoreError
from mailserver.store import flags as fl
from mailserver.store.errors import NONEXISTENT
from mailserver.store.records import MessageMeta


def subject_text(raw: bytes) -> str | None:
    """What the store keeps of a message for SEARCH SUBJECT."""
    value = store_summary(raw)["subject_text"]
    assert value is None or isinstance(value, str)
    return value


def key(program: str) -> SearchKey:
    return parse_program(Reader(b" " + program.encode()), None)


def ts(text: str) -> int:
    """Seconds since the epoch of a UTC "YYYY-MM-DD HH:MM:SS"."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def meta(uid: int, **kw: object) -> MessageMeta:
    values: dict[str, object] = {
        "uid": uid,
        "size": 100,
        "internaldate": ts("2026-11-29 12:00:00"),
        "flags": (),
        "modseq": 1,
    }
    values.update(kw)
    return MessageMeta(**values)  # type: ignore[arg-type]


def mail(subject: str = "lunch", date_: str | None = "Sun, 29 Nov 2026 10:00:00 +0100") -> bytes:
    head = f"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: {subject}\r\n"
    if date_ is not None:
        head += f"Date: {date_}\r\n"
    return (head + "X-Empty:\r\n\r\nCrepes at noon?\r\n").encode()


class Loader:
    """Messages by UID, counting every load; `cached`: the store has their summaries and
    subject texts (as store_summary made them)."""

    def __init__(self, raws: dict[int, bytes], *, cached: bool = True) -> None:
        self.raws = raws
        self.cached = cached
        self.index: dict[int, MessageMeta] = {}  # run() fills it
        self.metas: Counter[int] = Counter()
        self.summaries: Counter[int] = Counter()
        self.subjects: Counter[int] = Counter()
        self.messages: Counter[int] = Counter()

    def meta(self, uid: int) -> MessageMeta:
        self.metas[uid] += 1
        return self.index[uid]

    def summary(self, uid: int) -> Summary | None:
        self.summaries[uid] += 1
        return summarize(Message(self.raws[uid])) if self.cached else None

    def subject(self, uid: int) -> str | None:
        self.subjects[uid] += 1
        return subject_text(self.raws[uid]) if self.cached else None

    def message(self, uid: int) -> Message:
        self.messages[uid] += 1
        return Message(self.raws[uid])


def run(
    program: str | SearchKey,
    metas: list[MessageMeta],
    raws: dict[int, bytes] | None = None,
    *,
    recent: frozenset[int] = frozenset(),
    loader: Loader | None = None,
    max_seq: int | None = None,
    max_uid: int | None = None,
) -> list[int]:
    """The sequence numbers that match (message n has sequence number n)."""
    candidates = [Candidate(n, m.uid, m.uid in recent) for n, m in enumerate(metas, 1)]
    if loader is None:
        loader = Loader(raws if raws is not None else {m.uid: mail() for m in metas})
    loader.index = {m.uid: m for m in metas}
    found = search(
        key(program) if isinstance(program, str) else program,
        candidates,
        load_meta=loader.meta,
        load_summary=loader.summary,
        load_subject=loader.subject,
        load_message=loader.message,
        max_seq=len(metas) if max_seq is None else max_seq,
        max_uid=max((m.uid for m in metas), default=0) if max_uid is None else max_uid,
    )
    return [c.seq for c in found]


# -- the index's keys ----------------------------------------------------------------------------

FLAGGED = [
    meta(1, flags=("\\Seen",)),
    meta(2, flags=("\\Answered", "\\Flagged", "$Forwarded")),
    meta(3, flags=("\\Deleted", "\\Draft", "\\Seen", "Junk")),
    meta(4),
]


@pytest.mark.parametrize(
    ("program", "seqs"),
    [
        ("ALL", [1, 2, 3, 4]),
        ("SEEN", [1, 3]),
        ("UNSEEN", [2, 4]),
        ("ANSWERED", [2]),
        ("UNANSWERED", [1, 3, 4]),
        ("FLAGGED", [2]),
        ("UNFLAGGED", [1, 3, 4]),
        ("DELETED", [3]),
        ("UNDELETED", [1, 2, 4]),
        ("DRAFT", [3]),
        ("UNDRAFT", [1, 2, 4]),
        ("KEYWORD $Forwarded", [2]),
        ("KEYWORD $forwarded", [2]),
        ("KEYWORD JUNK", [3]),
        ("UNKEYWORD junk", [1, 2, 4]),
        ("KEYWORD $Label1", []),
        ("UNKEYWORD $Label1", [1, 2, 3, 4]),
        ("RECENT", [2, 3]),
        ("NEW", [2]),
        ("OLD", [1, 4]),
        ("SEEN RECENT", [3]),
        ("NOT SEEN", [2, 4]),
        ("OR DELETED FLAGGED", [2, 3]),
        ("NOT OR SEEN FLAGGED", [4]),
        ("OR NOT SEEN (DRAFT KEYWORD junk)", [2, 3, 4]),
        ("NOT (OR SEEN (OR ANSWERED NOT NEW))", []),
        ("OR (NOT (OR SEEN ANSWERED)) (NOT NOT DELETED)", [3, 4]),
        ("(SEEN) (NOT DRAFT)", [1]),
    ],
)
def test_flags_keywords_and_recent(program: str, seqs: list[int]) -> None:
    loader = Loader({})
    assert run(program, FLAGGED, recent=frozenset({2, 3}), loader=loader) == seqs
    assert not loader.summaries and not loader.messages
    masks = flag_masks(key(program))
    if masks is not None:  # what the index's flag bits give is the same
        bits = [fl.parse(m.flags)[0] for m in FLAGGED]
        assert [n for n, b in enumerate(bits, 1) if b in masks] == seqs


SEEN_BIT, ANSWERED_BIT, FLAGGED_BIT, DELETED_BIT, DRAFT_BIT = 1, 2, 4, 8, 16
EVERY = frozenset(range(32))


@pytest.mark.parametrize(
    ("program", "masks"),
    [
        ("ALL", EVERY),
        ("SEEN", frozenset(m for m in EVERY if m & SEEN_BIT)),
        ("UNSEEN", frozenset(m for m in EVERY if not m & SEEN_BIT)),
        ("ANSWERED", frozenset(m for m in EVERY if m & ANSWERED_BIT)),
        ("FLAGGED", frozenset(m for m in EVERY if m & FLAGGED_BIT)),
        ("UNDELETED", frozenset(m for m in EVERY if not m & DELETED_BIT)),
        ("DRAFT", frozenset(m for m in EVERY if m & DRAFT_BIT)),
        (FlagKey("\\sEEN", True), frozenset(m for m in EVERY if m & SEEN_BIT)),
        ("NOT SEEN", frozenset(m for m in EVERY if not m & SEEN_BIT)),
        ("SEEN FLAGGED", frozenset(m for m in EVERY if m & SEEN_BIT and m & FLAGGED_BIT)),
        ("OR SEEN FLAGGED", frozenset(m for m in EVERY if m & (SEEN_BIT | FLAGGED_BIT))),
        ("NOT (SEEN UNSEEN)", EVERY),
        (And(()), EVERY),
        # a keyword, \Recent or anything else in the tree: the index data decides
        ("KEYWORD $Forwarded", None),
        ("RECENT", None),
        ("NEW", None),
        ("NOT KEYWORD junk", None),
        ("SEEN KEYWORD junk", None),
        ("KEYWORD junk SEEN", None),
        ("OR SEEN KEYWORD junk", None),
        ("OR KEYWORD junk SEEN", None),
        ("SEEN LARGER 10", None),
        ("UID 1:*", None),
        ("SUBJECT x", None),
    ],
)
def test_flag_masks(program: str | SearchKey, masks: frozenset[int] | None) -> None:
    assert flag_masks(key(program) if isinstance(program, str) else program) == masks


system_trees = st.recursive(
    st.one_of(
        st.just(All()),
        st.builds(FlagKey, st.sampled_from(sorted(fl.SYSTEM)).map(str.upper), st.booleans()),
    ),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(Or, inner, inner),
        st.lists(inner, max_size=3).map(lambda ks: And(tuple(ks))),
    ),
    max_leaves=8,
)


@given(tree=system_trees)
def test_flag_masks_are_what_the_search_finds(tree: SearchKey) -> None:
    # one message for each combination of the system flags: message n has the bits n - 1
    metas = [meta(b + 1, flags=fl.names(b)) for b in range(32)]
    masks = flag_masks(tree)
    assert masks is not None
    assert sorted(b + 1 for b in masks) == run(tree, metas)


def test_internal_dates_on_the_boundary_day() -> None:
    metas = [
        meta(1, internaldate=ts("2026-11-28 23:59:59")),
        meta(2, internaldate=ts("2026-11-29 00:00:00")),
        meta(3, internaldate=ts("2026-11-29 23:59:59")),
        meta(4, internaldate=ts("2026-11-30 00:00:00")),
    ]
    assert run("BEFORE 29-Nov-2026", metas) == [1]
    assert run("ON 29-Nov-2026", metas) == [2, 3]
    assert run("SINCE 29-Nov-2026", metas) == [2, 3, 4]
    assert run("SINCE 30-Nov-2026", metas) == [4]
    assert run("BEFORE 30-Nov-2026", metas) == [1, 2, 3]
    assert run("NOT ON 29-Nov-2026", metas) == [1, 4]
    old = [meta(1, internaldate=-1), meta(2, internaldate=0)]  # before the epoch
    assert run("ON 31-Dec-1969", old) == [1]
    assert run("BEFORE 1-Jan-1970", old) == [1]
    assert run("SINCE 1-Jan-1970", old) == [2]


def test_older_and_younger_count_seconds_back_from_the_command() -> None:
    metas = [meta(1, internaldate=900), meta(2, internaldate=940), meta(3, internaldate=941)]
    # at 1000: message 1 is 100 s old, 2 is 60 s, 3 is 59 s
    assert run(dated(key("OLDER 60"), 1000.0), metas) == [1]
    assert run(dated(key("YOUNGER 60"), 1000.0), metas) == [2, 3]
    assert run(dated(key("YOUNGER 59"), 1000.0), metas) == [3]
    assert run(dated(key("OLDER 59"), 1000.0), metas) == [1, 2]
    assert run(dated(key("OLDER 101"), 1000.0), metas) == []
    assert run(dated(key("YOUNGER 100 OLDER 59"), 1000.0), metas) == [1, 2]
    assert run(dated(key("YOUNGER 60"), 1000.5), metas) == [3]  # (a fraction counts)
    assert needs_meta(key("OLDER 5"))
    with pytest.raises(ValueError) as undated:
        run(key("YOUNGER 60"), metas)
    assert str(undated.value) == "OLDER and YOUNGER need the time the command came (search.dated)"


def test_larger_and_smaller_are_strict() -> None:
    metas = [meta(1, size=99), meta(2, size=100), meta(3, size=101)]
    assert run("LARGER 100", metas) == [3]
    assert run("LARGER 99", metas) == [2, 3]
    assert run("SMALLER 100", metas) == [1]
    assert run("SMALLER 101", metas) == [1, 2]
    assert run("LARGER 0", [meta(1, size=0), meta(2, size=1)]) == [2]
    assert run("SMALLER 1", [meta(1, size=0), meta(2, size=1)]) == [1]


def test_modseq_is_at_least() -> None:
    metas = [meta(1, modseq=4), meta(2, modseq=5), meta(3, modseq=6)]
    assert run("MODSEQ 5", metas) == [2, 3]
    assert run('MODSEQ "/flags/\\\\seen" all 6', metas) == [3]
    assert run("MODSEQ 7", metas) == []


SPARSE = [meta(3), meta(7), meta(8), meta(20)]  # sequence numbers 1-4


@pytest.mark.parametrize(
    ("program", "seqs"),
    [
        ("1", [1]),
        ("*", [4]),
        ("2:*", [2, 3, 4]),
        ("*:3", [3, 4]),
        ("4:2", [2, 3, 4]),
        ("1,3", [1, 3]),
        ("5", []),
        ("5:*", [4]),
        ("3:9", [3, 4]),
        ("UID 7", [2]),
        ("UID *", [4]),
        ("UID 8:*", [3, 4]),
        ("UID 21:*", [4]),
        ("UID *:21", [4]),
        ("UID 4:7", [2]),
        ("UID 1:2,9:19", []),
        ("UID 1:*", [1, 2, 3, 4]),
        ("NOT UID 7:8", [1, 4]),
        ("1:2 UID 7:*", [2]),
        ("OR 1 UID 20", [1, 4]),
    ],
)
def test_sequence_and_uid_sets(program: str, seqs: list[int]) -> None:
    assert run(program, SPARSE) == seqs


def test_star_is_what_the_session_says() -> None:
    candidates = SPARSE[:2]  # a search over part of a mailbox of 4 messages, highest UID 30
    assert run("*", candidates, max_seq=4, max_uid=30) == []
    assert run("2:*", candidates, max_seq=4, max_uid=30) == [2]
    assert run("UID 7:*", candidates, max_seq=4, max_uid=30) == [2]
    assert run("UID *", candidates, max_seq=4, max_uid=30) == []
    assert run("*", [], max_seq=0, max_uid=0) == []


def test_a_saved_result_names_nothing() -> None:
    saved = SeqKey(SeqSet((), saved=True), uid=False)
    assert run(saved, SPARSE) == []
    assert run(Not(saved), SPARSE) == [1, 2, 3, 4]


def test_an_empty_and_matches_everything() -> None:
    assert run(And(()), SPARSE) == [1, 2, 3, 4]
    assert run(Not(And(())), SPARSE) == []


def test_not_a_key() -> None:
    with pytest.raises(TypeError, match=r"^not a search key: 'SEEN'$"):
        run(Not("SEEN"), SPARSE)  # type: ignore[arg-type]


# -- the message's keys -------------------------------------------------------------------------

TEXTS = {
    1: mail("Lunch at noon"),
    2: mail("Dinner").replace(b"Crepes", b"Galettes"),
    3: b"From: =?utf-8?q?Fran=C3=A7oise?= <f@crepes.fr>\r\nSubject: =?utf-8?b?Q3LDqnBlcw==?=\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"w6dhIHZhIGJpZW4/\r\n",
}
TEXT_METAS = [meta(1), meta(2), meta(3)]


@pytest.mark.parametrize(
    ("program", "seqs"),
    [
        ("SUBJECT lunch", [1]),
        ("SUBJECT LUNCH", [1]),
        (HeaderKey("subject", "CRÊPES"), [3]),
        ('SUBJECT ""', [1, 2, 3]),
        ("FROM alice", [1, 2]),
        ("FROM alice@crepes.fr", [1, 2]),
        (HeaderKey("from", "françoise"), [3]),
        ("TO bob", [1, 2]),
        ('TO ""', [1, 2]),
        ("CC bob", []),
        ('CC ""', []),
        ("BCC bob", []),
        ('HEADER X-Empty ""', [1, 2]),
        ("HEADER x-empty x", []),
        ('HEADER Content-Transfer-Encoding "BASE64"', [3]),
        ("BODY crepes", [1]),
        ("BODY galettes", [2]),
        (TextKey("BODY", "ÇA"), [3]),
        ("BODY lunch", []),
        ("TEXT lunch", [1]),
        ("TEXT crepes", [1, 2, 3]),
        ('TEXT ""', [1, 2, 3]),
        ('BODY ""', [1, 2, 3]),
        ("NOT BODY noon", [3]),
        (Or(HeaderKey("subject", "dinner"), TextKey("BODY", "ça")), [2, 3]),
    ],
)
def test_header_and_text_keys(program: str | SearchKey, seqs: list[int]) -> None:
    assert run(program, TEXT_METAS, TEXTS) == seqs


SUBJECTS = {
    1: b"Subject: =?UTF-8?B?Q3LDqnBlcyDDoCBtaWRp?=\r\n\r\nbody\r\n",  # Crêpes à midi
    2: b"Subject: lunch\r\nX-A: b\r\nsubject: Dinner\r\n\r\nbody\r\n",
    3: b"Subject:\r\n\r\nbody\r\n",
    4: b"From: a@b\r\n\r\nbody\r\n",
    5: b"SUBJECT: LUNCH time\r\n\r\nbody\r\n",
    6: b"Subject: nul =?utf-8?q?=00?= here\r\n\r\nbody\r\n",  # no subject text: read
}
SUBJECT_METAS = [meta(n) for n in SUBJECTS]


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize(
    ("program", "seqs"),
    [
        ("SUBJECT lunch", [2, 5]),
        ("HEADER Subject LUNCH", [2, 5]),
        (HeaderKey("Subject", "lunch"), [2, 5]),
        ("HEADER subject dinner", [2]),
        (HeaderKey("subject", "CRÊPES À"), [1]),
        ("SUBJECT crepes", []),
        ('SUBJECT ""', [1, 2, 3, 5, 6]),  # every message with a Subject field, empty or not
        ('NOT SUBJECT ""', [4]),
        ("SUBJECT nchdi", []),  # no match across two fields
        (HeaderKey("subject", "lunch\x00dinner"), []),
        (HeaderKey("subject", "\x00lunch"), []),
        (HeaderKey("subject", "nul \x00"), [6]),
        ("SUBJECT nul", [6]),
        ("NOT SUBJECT lunch", [1, 3, 4, 6]),
        ("OR SUBJECT midi SUBJECT time", [1, 5]),
        ("SUBJECT lunch SUBJECT dinner", [2]),
    ],
)
def test_subject_from_the_index_as_from_the_message(
    program: str | SearchKey, seqs: list[int], cached: bool
) -> None:
    loader = Loader(SUBJECTS, cached=cached)
    assert run(program, SUBJECT_METAS, loader=loader) == seqs
    assert loader.subjects == Counter(list(SUBJECTS))
    assert loader.messages == Counter([6] if cached else list(SUBJECTS))
    assert not loader.summaries


@pytest.mark.parametrize(
    ("program", "subjects", "messages"),
    [
        ("SUBJECT lunch SEEN", [1, 3], []),
        ("SEEN SUBJECT lunch BODY crepes", [1, 3], [1, 3]),
        ("BODY crepes SUBJECT nothing", [1, 2, 3, 4], []),
        ("OR BODY crepes SUBJECT lunch", [1, 2, 3, 4], []),
        ("OR BODY crepes SUBJECT nothing", [1, 2, 3, 4], [1, 2, 3, 4]),
        ("NOT FROM alice SUBJECT x", [1, 2, 3, 4], []),
        ("SENTON 1-Jan-2000 SUBJECT lunch", [], []),
        ("SUBJECT lunch SENTON 29-Nov-2026 LARGER 25", [3, 4], []),
    ],
)
def test_subject_costs_what_a_summary_costs(
    program: str, subjects: list[int], messages: list[int]
) -> None:
    loader = Loader({m.uid: mail() for m in LOADS})
    run(program, LOADS, loader=loader)
    assert loader.subjects == Counter(subjects)
    assert loader.messages == Counter(messages)


SUBJECT_CHARS = "aAbBsSßẞΣ\u03c3\u03c2İ\u0131ié \x00"  # sigmas, dotless i: not 1:1 in case


def subject_field(text: str, encoded: bool) -> bytes:
    if encoded:
        return b"Subject: =?UTF-8?B?" + base64.b64encode(text.encode()) + b"?=\r\n"
    return b"Subject: " + text.encode() + b"\r\n"


# 200 examples; 50 under `make mutation`, where each costs a thousand mutants 60 ms more
@settings(max_examples=50 if os.environ.get("MINTERNET_MUTATION") else 200, deadline=None)
@given(
    fields=st.lists(
        st.lists(st.tuples(st.text(SUBJECT_CHARS, max_size=5), st.booleans()), max_size=3),
        min_size=1,
        max_size=4,
    ),
    needles=st.lists(st.text(SUBJECT_CHARS, max_size=3), min_size=1, max_size=3),
    data=st.data(),
)
def test_subject_from_the_index_is_header_matches(
    fields: list[list[tuple[str, bool]]], needles: list[str], data: st.DataObject
) -> None:
    raws = {
        n: b"".join(subject_field(t, e) for t, e in message) + b"\r\nbody\r\n"
        for n, message in enumerate(fields, 1)
    }
    texts = ["".join(header_texts(Message(raw).header, b"subject")) for raw in raws.values()]
    joined = data.draw(st.sampled_from(texts))
    start = data.draw(st.integers(0, len(joined)))
    needles.append(joined[start : data.draw(st.integers(start, len(joined)))])
    metas = [meta(n) for n in raws]
    for needle in needles:
        tree = HeaderKey(
            "subject", data.draw(st.sampled_from([str, str.upper, str.swapcase]))(needle)
        )
        loader = Loader(raws)
        found = run(tree, metas, loader=loader)
        assert found == [
            n for n, raw in raws.items() if Message(raw).header_matches(b"subject", tree.value)
        ]
        kept = [n for n, raw in raws.items() if subject_text(raw) is not None]
        assert not set(loader.messages) & set(kept)  # the index answered for those


SENT = {
    1: mail(date_="Sun, 29 Nov 2026 23:30:00 -0500"),  # 30 Nov 04:30 UTC: still the 29th
    2: mail(date_="Mon, 30 Nov 2026 00:30:00 +0200"),  # 29 Nov 22:30 UTC: the 30th as written
    3: mail(date_="Sat, 28 Nov 2026 23:59:59 +0000"),
    4: mail(date_=None),
    5: mail(date_="yesterday"),
    6: mail(date_="Wed, 31 Dec 1969 23:00:00 -0100"),  # 1 Jan 1970 UTC
}
SENT_METAS = [meta(n, internaldate=0) for n in range(1, 7)]


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize(
    ("program", "seqs"),
    [
        ("SENTON 29-Nov-2026", [1]),
        ("SENTON 30-Nov-2026", [2]),
        ("SENTBEFORE 29-Nov-2026", [3, 6]),
        ("SENTBEFORE 30-Nov-2026", [1, 3, 6]),
        ("SENTSINCE 29-Nov-2026", [1, 2]),
        ("SENTSINCE 28-Nov-2026", [1, 2, 3]),
        ("SENTON 31-Dec-1969", [6]),
        ("SENTBEFORE 1-Jan-1970", [6]),
        ("NOT SENTON 29-Nov-2026", [2, 3, 4, 5, 6]),
        ("OR SENTON 30-Nov-2026 SENTON 28-Nov-2026", [2, 3]),
    ],
)
def test_sent_dates_as_written(program: str, seqs: list[int], cached: bool) -> None:
    loader = Loader(SENT, cached=cached)
    assert run(program, SENT_METAS, loader=loader) == seqs
    assert loader.summaries == Counter(range(1, 7))
    assert loader.messages == (Counter() if cached else Counter(range(1, 7)))


# -- what is loaded ------------------------------------------------------------------------------

LOADS = [
    meta(1, flags=("\\Seen",), size=10),
    meta(2, size=20),
    meta(3, flags=("\\Seen",), size=30),
    meta(4, size=40),
]


@pytest.mark.parametrize(
    ("program", "messages", "summaries"),
    [
        ("SEEN", [], []),
        ("OR (NOT LARGER 5) (UID 2:3 ON 29-Nov-2026 MODSEQ 1)", [], []),
        ("FROM alice SEEN", [1, 3], []),
        ("SEEN FROM alice", [1, 3], []),
        ("OR FROM alice SEEN", [2, 4], []),
        ("OR SEEN FROM alice", [2, 4], []),
        ("OR (FROM alice LARGER 25) SEEN", [4], []),
        ("OR FROM alice SEEN LARGER 25", [4], []),
        ("NOT FROM alice SEEN", [1, 3], []),
        ("OR (FROM x) (NOT (SENTON 1-Jan-2000 LARGER 25))", [], [3, 4]),
        ("NOT (OR FROM x UNSEEN)", [1, 3], []),
        ("FROM alice BODY crepes FROM alice TEXT noon", [1, 2, 3, 4], []),
        ("OR BODY nothing FROM alice", [1, 2, 3, 4], []),
        ("SENTON 29-Nov-2026 FROM alice UNSEEN", [2, 4], [2, 4]),
        ("FROM alice SENTON 29-Nov-2026 LARGER 25", [3, 4], [3, 4]),
        ("NOT SENTON 29-Nov-2026 FROM alice", [], [1, 2, 3, 4]),
        ("SENTON 1-Jan-2000", [], [1, 2, 3, 4]),
        ("OR SENTON 1-Jan-2000 FROM alice", [1, 2, 3, 4], [1, 2, 3, 4]),
    ],
)
def test_cheap_keys_first_and_each_message_loaded_at_most_once(
    program: str, messages: list[int], summaries: list[int]
) -> None:
    loader = Loader({m.uid: mail() for m in LOADS})
    run(program, LOADS, loader=loader)
    assert loader.messages == Counter(messages)
    assert loader.summaries == Counter(summaries)
    assert not loader.subjects


def test_without_a_summary_the_message_is_read_once_for_the_date_and_the_rest() -> None:
    loader = Loader({m.uid: mail() for m in LOADS}, cached=False)
    assert run("SENTON 29-Nov-2026 FROM alice BODY crepes", LOADS, loader=loader) == [1, 2, 3, 4]
    assert loader.messages == Counter([1, 2, 3, 4])
    assert loader.summaries == Counter([1, 2, 3, 4])


@pytest.mark.parametrize(
    ("program", "needed"),
    [
        ("ALL", False),
        ("SEEN LARGER 3 UID 1:* 1:* ON 1-Jan-2026 MODSEQ 4", False),
        ("SENTON 1-Jan-2026", False),
        ("SUBJECT x", False),
        ("HEADER SUBJECT x", False),
        ("OR SEEN HEADER subject x", False),
        ("HEADER subjects x", True),
        ("NOT BODY x", True),
        ("OR SEEN TEXT x", True),
        ("OR TEXT x SEEN", True),
        ("SEEN (UNSEEN HEADER x-a b)", True),
        ("NOT (OR SEEN (NOT FROM x))", True),
    ],
)
def test_needs_message(program: str, needed: bool) -> None:
    assert needs_message(key(program)) is needed


@pytest.mark.parametrize(
    ("program", "needed"),
    [
        ("ALL", False),
        ("RECENT", False),
        ("NOT OLD", False),
        (FlagKey("\\RECENT", True), False),
        ("1:3 UID 2:* (OR 1 UID 4)", False),
        ("SUBJECT x", False),
        ("SENTON 1-Jan-2026", False),
        ("BODY x FROM y", False),
        ("NEW", True),
        ("SEEN", True),
        ("KEYWORD $a", True),
        ("LARGER 3", True),
        ("SMALLER 3", True),
        ("ON 1-Jan-2026", True),
        ("SINCE 1-Jan-2026", True),
        ("MODSEQ 4", True),
        ("SUBJECT x SEEN", True),
        ("OR SUBJECT x UNSEEN", True),
        ("OR UNDELETED SUBJECT x", True),
        ("NOT (SUBJECT x (LARGER 3))", True),
    ],
)
def test_needs_meta(program: str | SearchKey, needed: bool) -> None:
    tree = key(program) if isinstance(program, str) else program
    assert needs_meta(tree) is needed
    loader = Loader({m.uid: mail() for m in LOADS})
    run(tree, LOADS, loader=loader)
    assert bool(loader.metas) <= needed


# -- anything -----------------------------------------------------------------------------------

BROKEN = [
    b"",
    b"no header end",
    b"Subject: \xff\xfe caf\xe9\r\nDate: \xff\r\nFrom: \x00<@>\r\n\r\nbody \xff\x00\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nnever closed\r\n--b\r\n",
    b"Content-Type: text/plain; charset=x-nope\r\nContent-Transfer-Encoding: base64\r\n\r\n!!\r\n",
    b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n",
]


@pytest.mark.parametrize(
    "program",
    [
        "SUBJECT caf",
        "FROM x",
        "BODY body",
        "TEXT in",
        "SENTON 1-Jan-2026",
        'HEADER Date ""',
        "OR SENTBEFORE 1-Jan-2026 BODY never",
    ],
)
def test_malformed_messages_get_answers(program: str) -> None:
    metas = [meta(n) for n in range(1, len(BROKEN) + 1)]
    raws = dict(enumerate(BROKEN, 1))
    for cached in (True, False):
        found = run(program, metas, loader=Loader(raws, cached=cached))
        assert found == run(f"NOT NOT {program}", metas, raws)
        assert sorted(found + run(f"NOT ({program})", metas, raws)) == list(range(1, 7))


def test_what_the_broken_ones_match() -> None:
    metas = [meta(n) for n in range(1, len(BROKEN) + 1)]
    raws = dict(enumerate(BROKEN, 1))
    assert run("TEXT never", metas, raws) == [4]
    assert run("BODY in", metas, raws) == [6]
    assert run(HeaderKey("subject", "CAFÉ"), metas, raws) == [3]
    assert run('HEADER date ""', metas, raws) == [3]


KEYWORDS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent", "$A", "b"]
leaves = st.one_of(
    st.just(All()),
    st.builds(FlagKey, st.sampled_from(KEYWORDS), st.booleans()),
    st.builds(SizeKey, st.booleans(), st.integers(0, 300)),
    st.builds(ModSeqKey, st.integers(1, 10)),
    st.builds(
        DateKey,
        st.booleans(),
        st.sampled_from(["BEFORE", "ON", "SINCE"]),
        st.dates(date(1969, 12, 30), date(2027, 1, 2)),
    ),
    st.builds(
        SeqKey,
        st.sampled_from(["1", "*", "2:*", "1,3:4", "9", "7:*", "*:2"]).map(
            lambda t: SeqSet.parse(t.encode())
        ),
        st.booleans(),
    ),
    st.builds(
        HeaderKey, st.sampled_from(["subject", "from", "date", "x-empty"]), st.text(max_size=3)
    ),
    st.builds(TextKey, st.sampled_from(["BODY", "TEXT"]), st.text(max_size=3)),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(Or, inner, inner),
        st.lists(inner, max_size=3).map(lambda ks: And(tuple(ks))),
    ),
    max_leaves=12,
)
metas_st = st.lists(
    st.builds(
        MessageMeta,
        uid=st.integers(1, 12),
        size=st.integers(0, 300),
        internaldate=st.integers(-86400 * 2, ts("2027-01-01 00:00:00")),
        flags=st.lists(st.sampled_from([*KEYWORDS[:5], "$a", "B"]), max_size=3).map(tuple),
        modseq=st.integers(1, 10),
    ),
    max_size=5,
    unique_by=lambda m: m.uid,
)
RAWS = [*BROKEN, mail(), *SENT.values(), *TEXTS.values()]


@settings(max_examples=200, deadline=None)
@given(tree=trees, metas=metas_st, data=st.data())
def test_random_trees_never_raise_and_keep_boolean_laws(
    tree: SearchKey, metas: list[MessageMeta], data: st.DataObject
) -> None:
    raws = {m.uid: data.draw(st.sampled_from(RAWS)) for m in metas}
    recent = frozenset(data.draw(st.lists(st.integers(1, 12), max_size=4)))
    cached = data.draw(st.booleans())
    loader = Loader(raws, cached=cached)
    found = run(tree, metas, recent=recent, loader=loader)
    assert all(n <= 1 for n in loader.messages.values())
    assert all(n <= 1 for n in loader.summaries.values())
    assert all(n <= 1 for n in loader.subjects.values())
    assert bool(loader.messages) <= needs_message(tree) or not cached
    assert bool(loader.metas) <= needs_meta(tree)
    everything = list(range(1, len(metas) + 1))
    rest = run(Not(tree), metas, raws, recent=recent)
    assert sorted(found + rest) == everything and not set(found) & set(rest)
    also = run(Or(tree, FlagKey("\\Seen", True)), metas, raws, recent=recent)
    seen = run(FlagKey("\\Seen", True), metas, raws, recent=recent)
    assert also == sorted(set(found) | set(seen))


def test_a_big_part_ten_thousand_parts_and_deep_nesting() -> None:
    big = b"Subject: big\r\n\r\n" + b"crepes " * 800_000 + b"galettes\r\n"
    parts = b"".join(b"--b\r\n\r\npart %d\r\n" % n for n in range(1, 10_001))
    many = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    deep = b"Subject: leaf\r\n\r\nleaf body\r\n"
    for n in range(300):
        deep = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % n + deep
    raws = {1: big, 2: many, 3: deep}
    metas = [meta(1), meta(2), meta(3)]
    assert run("BODY galettes", metas, raws) == [1]
    assert run("BODY crepes", metas, raws) == [1]
    assert run("BODY 9999", metas, raws) == [2]
    assert run("BODY 10000", metas, raws) == []  # past Limits.max_parts
    assert run('TEXT "level 200"', metas, raws) == [3]
    assert run("TEXT leaf", metas, raws) == []  # past Limits.max_depth: opaque


def test_what_a_loader_raises_is_the_callers() -> None:
    def vanished(uid: int) -> Message:
        raise StoreError(f"the file of UID {uid} vanished", NONEXISTENT)

    metas = {9: meta(9, flags=("\\Seen",)), 10: meta(10)}
    candidates = [Candidate(1, 9, False), Candidate(2, 10, False)]
    with pytest.raises(StoreError, match=r"^the file of UID 10 vanished$"):
        search(
            key("UNSEEN BODY x"),
            candidates,
            load_meta=metas.__getitem__,
            load_summary=lambda uid: None,
            load_subject=lambda uid: None,
            load_message=vanished,
            max_seq=2,
            max_uid=10,
        )
