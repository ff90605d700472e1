"""FETCH's values for one message: the exact `* n FETCH (...)` bytes for every item, sections
and partial fetches at their edges, the Summary used when given, and malformed messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailserver.imap import encode
from mailserver.imap.fetchatt import FetchItem, Section, parse_items
from mailserver.imap.fetching import (
    Plan,
    fetch_values,
    needs_message,
    needs_summary,
    sets_seen,
)
from mailserver.imap.syntax import Reader
from mailserver.message import Message, summarize
from mailserver.store.records import MessageMeta

SIMPLE = (
    b"From: Alice <alice@crepes.fr>\r\n"
    b"To: bob@hamburger.edu\r\n"
    b"Subject: crepes\r\n"
    b"Date: Sun, 29 Nov 2026 10:15:00 +0100\r\n"
    b"Message-ID: <1@crepes.fr>\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"lunch?\r\n"
)
SIMPLE_ENVELOPE = (
    b'ENVELOPE ("Sun, 29 Nov 2026 10:15:00 +0100" "crepes" (("Alice" NIL "alice" "crepes.fr")) '
    b'(("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice" "crepes.fr")) '
    b'((NIL NIL "bob" "hamburger.edu")) NIL NIL NIL "<1@crepes.fr>")'
)
SIMPLE_BODY = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2)'
SIMPLE_STRUCTURE = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL)'

# A forwarded message (message/rfc822) whose own body is a multipart/alternative.
FORWARD = (
    b"From: Bob <bob@hamburger.edu>\r\n"
    b"Subject: Fwd: lunch\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="fwd"\r\n'
    b"\r\n"
    b"--fwd\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"See below.\r\n"
    b"--fwd\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: Alice <alice@crepes.fr>\r\n"
    b"Subject: lunch\r\n"
    b"Content-Type: multipart/alternative; boundary=alt\r\n"
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"noon?\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>noon?</p>\r\n"
    b"--alt--\r\n"
    b"--fwd--\r\n"
)
INNER = (
    b"From: Alice <alice@crepes.fr>\r\n"
    b"Subject: lunch\r\n"
    b"Content-Type: multipart/alternative; boundary=alt\r\n"
    b"\r\n"
)
INNER_TEXT = (
    b"--alt\r\nContent-Type: text/plain\r\n\r\nnoon?\r\n"
    b"--alt\r\nContent-Type: text/html\r\n\r\n<p>noon?</p>\r\n--alt--"
)
ALICE = b'(("Alice" NIL "alice" "crepes.fr"))'
FORWARD_STRUCTURE = (
    b'(("text" "plain" NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL) '
    b'("message" "rfc822" NIL NIL NIL "7bit" 197 '
    b'(NIL "lunch" ' + ALICE + b" " + ALICE + b" " + ALICE + b" NIL NIL NIL NIL NIL) "
    b'(("text" "plain" NIL NIL NIL "7bit" 5 1 NIL NIL NIL NIL) '
    b'("text" "html" NIL NIL NIL "7bit" 12 1 NIL NIL NIL NIL) '
    b'"alternative" ("boundary" "alt") NIL NIL NIL) 13 NIL NIL NIL NIL) '
    b'"mixed" ("boundary" "fwd") NIL NIL NIL)'
)
FORWARD_BODY = (
    b'(("text" "plain" NIL NIL NIL "7bit" 10 1) '
    b'("message" "rfc822" NIL NIL NIL "7bit" 197 '
    b'(NIL "lunch" ' + ALICE + b" " + ALICE + b" " + ALICE + b" NIL NIL NIL NIL NIL) "
    b'(("text" "plain" NIL NIL NIL "7bit" 5 1) ("text" "html" NIL NIL NIL "7bit" 12 1) '
    b'"alternative") 13) "mixed")'
)

META = MessageMeta(
    uid=42, size=len(SIMPLE), internaldate=1_764_411_300, flags=("\\Seen", "$Forwarded"), modseq=7
)


def items(spec: bytes) -> tuple[FetchItem, ...]:
    return parse_items(Reader(spec))


def wire(
    spec: bytes,
    raw: bytes = SIMPLE,
    *,
    cached: bool = False,
    modseq: bool = False,
    meta: MessageMeta = META,
) -> bytes:
    """The FETCH response to items `spec` for message 1 with content `raw`."""
    message = Message(raw)
    summary = summarize(Message(raw)) if cached else None
    pairs = fetch_values(items(spec), meta, summary=summary, message=message, modseq=modseq)
    return encode.fetch(1, pairs)


# -- index data and the summary items ---------------------------------------------------------


def test_full_of_a_simple_message_byte_for_byte() -> None:
    expected = (
        b'* 1 FETCH (FLAGS (\\Seen $Forwarded) INTERNALDATE "29-Nov-2025 10:15:00 +0000" '
        b"RFC822.SIZE 159 " + SIMPLE_ENVELOPE + b" BODY " + SIMPLE_BODY + b")\r\n"
    )
    assert len(SIMPLE) == 159
    assert wire(b"FULL") == expected
    assert wire(b"FULL", cached=True) == expected


def test_uid_bodystructure_and_modseq() -> None:
    assert wire(b"(UID BODYSTRUCTURE MODSEQ)") == (
        b"* 1 FETCH (UID 42 BODYSTRUCTURE " + SIMPLE_STRUCTURE + b" MODSEQ (7))\r\n"
    )


def test_internaldate_is_utc() -> None:
    epoch = MessageMeta(uid=1, size=0, internaldate=0, flags=(), modseq=1)
    assert wire(b"(INTERNALDATE FLAGS)", meta=epoch) == (
        b'* 1 FETCH (INTERNALDATE "01-Jan-1970 00:00:00 +0000" FLAGS ())\r\n'
    )
    last = MessageMeta(uid=1, size=0, internaldate=86399, flags=("\\Recent",), modseq=1)
    assert wire(b"(FLAGS INTERNALDATE)", meta=last) == (
        b'* 1 FETCH (FLAGS (\\Recent) INTERNALDATE "01-Jan-1970 23:59:59 +0000")\r\n'
    )


def test_modseq_added_at_the_end_under_condstore_never_twice() -> None:
    assert wire(b"(FLAGS UID)", modseq=True) == (
        b"* 1 FETCH (FLAGS (\\Seen $Forwarded) UID 42 MODSEQ (7))\r\n"
    )
    assert wire(b"(MODSEQ UID)", modseq=True) == b"* 1 FETCH (MODSEQ (7) UID 42)\r\n"
    assert wire(b"(UID)", modseq=False) == b"* 1 FETCH (UID 42)\r\n"


def test_an_item_asked_twice_is_answered_once() -> None:
    assert wire(b"(UID FLAGS UID BODY.PEEK[TEXT] BODY[TEXT])") == (
        b"* 1 FETCH (UID 42 FLAGS (\\Seen $Forwarded) BODY[TEXT] {20}\r\nHello Bob,\r\nlunch?\r\n)"
        b"\r\n"
    )


def test_a_plan_made_once_answers_each_message_as_fetch_values_does() -> None:
    asked = items(b"(UID FLAGS UID BODY.PEEK[HEADER.FIELDS (Subject)] BODY[TEXT] MODSEQ)")
    plan = Plan(asked, rev2=False)  # reused: nothing of one message stays in it for the next
    other = MessageMeta(uid=9, size=len(FORWARD), internaldate=0, flags=(), modseq=3)
    for raw, meta in ((SIMPLE, META), (FORWARD, other), (SIMPLE, META)):
        for modseq in (False, True):
            message = Message(raw)
            assert plan.values(meta, summary=None, message=message, modseq=modseq) == (
                fetch_values(asked, meta, summary=None, message=message, modseq=modseq)
            )


def test_the_summary_is_used_when_given() -> None:
    summary = summarize(Message(FORWARD))  # another message's: shows where the values came from
    pairs = fetch_values(
        items(b"(ENVELOPE BODY BODYSTRUCTURE)"),
        META,
        summary=summary,
        message=Message(SIMPLE),
        modseq=False,
    )
    assert pairs == [  # the Summary's IMAP syntax, copied as it is
        (b"ENVELOPE", encode.Raw(summary.envelope)),
        (b"BODY", encode.Raw(summary.body)),
        (b"BODYSTRUCTURE", encode.Raw(summary.bodystructure)),
    ]
    assert all(type(v) is encode.Raw for _, v in pairs)
    assert encode.fetch(1, pairs[:1]) == b"* 1 FETCH (ENVELOPE " + summary.envelope + b")\r\n"
    alone = fetch_values(items(b"ALL"), META, summary=summary, message=None, modseq=False)
    assert [name for name, _ in alone] == [b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE"]


@pytest.mark.parametrize(
    ("spec", "needs"),
    [
        (b"ENVELOPE", True),
        (b"BODY", True),
        (b"BODYSTRUCTURE", True),
        (b"BODY.PEEK[HEADER]", True),
        (b"RFC822.SIZE", False),
        (b"RFC822.HEADER", True),
        (b"BINARY.PEEK[1]", True),
        (b"BINARY.SIZE[1]", True),
        (b"PREVIEW", True),
        (b"SNIPPET (FUZZY)", True),
    ],
)
def test_what_is_missing_is_named(spec: bytes, needs: bool) -> None:
    name = items(spec)[0].name
    if not needs:
        assert fetch_values(items(spec), META, summary=None, message=None, modseq=False)
        return
    with pytest.raises(ValueError, match=rf"^FETCH {re.escape(name)} needs the message$"):
        fetch_values(items(spec), META, summary=None, message=None, modseq=False)


def test_an_unknown_item_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^no FETCH item BINARY$"):
        fetch_values([FetchItem("BINARY")], META, summary=None, message=None, modseq=False)


# -- what a FETCH needs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "summary", "message", "seen"),
    [
        (b"FLAGS", False, False, False),
        (b"FAST", False, False, False),
        (b"(UID MODSEQ INTERNALDATE RFC822.SIZE)", False, False, False),
        (b"ENVELOPE", True, False, False),
        (b"BODY", True, False, False),
        (b"BODYSTRUCTURE", True, False, False),
        (b"ALL", True, False, False),
        (b"BODY[]", False, True, True),
        (b"BODY[]<0.10>", False, True, True),
        (b"BODY.PEEK[]", False, True, False),
        (b"BODY.PEEK[1.MIME]", False, True, False),
        (b"BODY[HEADER.FIELDS (To)]", False, True, True),
        (b"RFC822", False, True, True),
        (b"RFC822.TEXT", False, True, True),
        (b"RFC822.HEADER", False, True, False),
        (b"(FLAGS BODY.PEEK[TEXT] BODY[1])", False, True, True),
        (b"(BODYSTRUCTURE RFC822.HEADER)", True, True, False),
    ],
)
def test_needs_and_seen(spec: bytes, summary: bool, message: bool, seen: bool) -> None:
    parsed = items(spec)
    assert (needs_summary(parsed), needs_message(parsed), sets_seen(parsed)) == (
        summary,
        message,
        seen,
    )


# -- sections ---------------------------------------------------------------------------------


def test_rfc822_items_are_body_sections() -> None:
    assert wire(b"(RFC822.HEADER RFC822.TEXT)") == (
        b"* 1 FETCH (RFC822.HEADER {139}\r\n" + SIMPLE[:139] + b" RFC822.TEXT {20}\r\n"
        b"Hello Bob,\r\nlunch?\r\n)\r\n"
    )
    assert wire(b"RFC822") == b"* 1 FETCH (RFC822 {159}\r\n" + SIMPLE + b")\r\n"
    assert wire(b"BODY.PEEK[]") == b"* 1 FETCH (BODY[] {159}\r\n" + SIMPLE + b")\r\n"
    assert wire(b"BODY[HEADER]") == b"* 1 FETCH (BODY[HEADER] {139}\r\n" + SIMPLE[:139] + b")\r\n"


def test_a_non_multipart_message_has_one_part_its_body() -> None:
    assert wire(b"(BODY[1] BODY[1.MIME] BODY[2] BODY[1.1] BODY[1.TEXT] BODY[1.HEADER])") == (
        b"* 1 FETCH (BODY[1] {20}\r\nHello Bob,\r\nlunch?\r\n "
        b"BODY[1.MIME] {139}\r\n" + SIMPLE[:139] + b' BODY[2] "" BODY[1.1] "" '
        b'BODY[1.TEXT] "" BODY[1.HEADER] "")\r\n'
    )


def test_header_fields_and_header_fields_not() -> None:
    assert wire(b"BODY.PEEK[HEADER.FIELDS (subject TO x-none)]") == (
        b"* 1 FETCH (BODY[HEADER.FIELDS (subject TO x-none)] {42}\r\n"
        b"To: bob@hamburger.edu\r\nSubject: crepes\r\n\r\n)\r\n"
    )
    assert wire(b'BODY.PEEK[HEADER.FIELDS.NOT (From "Date" message-id)]') == (
        b"* 1 FETCH (BODY[HEADER.FIELDS.NOT (From Date message-id)] {42}\r\n"
        b"To: bob@hamburger.edu\r\nSubject: crepes\r\n\r\n)\r\n"
    )
    assert wire(b"BODY.PEEK[HEADER.FIELDS (X-None)]") == (
        b"* 1 FETCH (BODY[HEADER.FIELDS (X-None)] {2}\r\n\r\n)\r\n"
    )


@pytest.mark.parametrize(
    ("spec", "answer"),
    [
        (b"BODY.PEEK[]<0.10>", b"BODY[]<0> {10}\r\nFrom: Alic"),
        (b"BODY.PEEK[TEXT]<0.10>", b"BODY[TEXT]<0> {10}\r\nHello Bob,"),
        (b"BODY.PEEK[TEXT]<12.100>", b"BODY[TEXT]<12> {8}\r\nlunch?\r\n"),
        (b"BODY.PEEK[TEXT]<19.1>", b"BODY[TEXT]<19> {1}\r\n\n"),
        (b"BODY.PEEK[TEXT]<20.10>", b'BODY[TEXT]<20> ""'),
        (b"BODY.PEEK[TEXT]<1000.10>", b'BODY[TEXT]<1000> ""'),
        (b"BODY.PEEK[3]<0.10>", b'BODY[3]<0> ""'),
        (b"BODY.PEEK[1]<6.4294967295>", b"BODY[1]<6> {14}\r\nBob,\r\nlunch?\r\n"),
    ],
)
def test_partial_fetches(spec: bytes, answer: bytes) -> None:
    assert wire(spec) == b"* 1 FETCH (" + answer + b")\r\n"


def test_nested_multipart_with_a_message_part() -> None:
    assert wire(b"BODYSTRUCTURE", FORWARD) == (
        b"* 1 FETCH (BODYSTRUCTURE " + FORWARD_STRUCTURE + b")\r\n"
    )
    assert wire(b"BODY", FORWARD, cached=True) == b"* 1 FETCH (BODY " + FORWARD_BODY + b")\r\n"
    assert wire(b"(BODY[1] BODY[1.MIME] BODY[2.HEADER] BODY[2.TEXT])", FORWARD) == (
        b"* 1 FETCH (BODY[1] {10}\r\nSee below. "
        b"BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n "
        b"BODY[2.HEADER] {100}\r\n" + INNER + b" BODY[2.TEXT] {97}\r\n" + INNER_TEXT + b")\r\n"
    )
    assert wire(b"(BODY[2] BODY[2.MIME])", FORWARD) == (
        b"* 1 FETCH (BODY[2] {197}\r\n" + INNER + INNER_TEXT + b" "
        b"BODY[2.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n)\r\n"
    )
    assert wire(
        b"(BODY[2.1] BODY[2.2.MIME] BODY[2.2] BODY[2.3] BODY[3] BODY[1.TEXT])", FORWARD
    ) == (
        b"* 1 FETCH (BODY[2.1] {5}\r\nnoon? "
        b"BODY[2.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n "
        b'BODY[2.2] {12}\r\n<p>noon?</p> BODY[2.3] "" BODY[3] "" BODY[1.TEXT] "")\r\n'
    )
    assert wire(b"BODY.PEEK[2.HEADER.FIELDS.NOT (content-type)]<6.5>", FORWARD) == (
        b"* 1 FETCH (BODY[2.HEADER.FIELDS.NOT (content-type)]<6> {5}\r\nAlice)\r\n"
    )


def test_a_section_of_a_part_is_a_slice_not_a_copy() -> None:
    message = Message(FORWARD)
    ((_, value),) = fetch_values(
        items(b"BODY.PEEK[2.2]"), META, summary=None, message=message, modseq=False
    )
    assert isinstance(value, memoryview) and value.obj is message.raw
    assert value == b"<p>noon?</p>"


def test_nul_in_content_is_sent_as_0x80() -> None:
    raw = b"Subject: x\r\n\r\na\x00b\r\n"
    assert wire(b"BODY[TEXT]", raw) == b"* 1 FETCH (BODY[TEXT] {5}\r\na\x80b\r\n)\r\n"


# -- malformed messages ------------------------------------------------------------------------

EVERYTHING = (
    b"(FLAGS UID ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT BODY[1] "
    b"BODY[1.MIME] BODY[2.1.HEADER] BODY[HEADER.FIELDS (Subject)] BODY[TEXT]<3.7>)"
)


def test_no_header_end() -> None:
    raw = b"Subject: no end\r\nFrom: a@b"
    out = wire(EVERYTHING, raw)
    assert b"RFC822.HEADER {26}\r\n" + raw + b' RFC822.TEXT ""' in out
    assert b'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 ' in out
    assert b"BODY[HEADER.FIELDS (Subject)] {19}\r\nSubject: no end\r\n\r\n" in out


def test_eight_bit_garbage_headers() -> None:
    raw = b"Subject: \xff\xfe\x80 caf\xe9\r\nFrom: \xc3(\x00 <\xff@\xfe>\r\n\r\nbody \xff\r\n"
    out = wire(EVERYTHING, raw)
    assert out.startswith(
        b"* 1 FETCH (FLAGS (\\Seen $Forwarded) UID 42 ENVELOPE (NIL {8}\r\n\xff\xfe\x80 caf\xe9 "
    )
    assert b"BODY[TEXT]<3> {5}\r\ny \xff\r\n" in out
    assert wire(EVERYTHING, raw, cached=True) == out


def test_unclosed_multipart() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo, never closed\r\n"
    )
    out = wire(b"(BODYSTRUCTURE BODY[2] BODY[2.MIME] BODY[3])", raw)
    assert out == (
        b'* 1 FETCH (BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 3 1 NIL NIL NIL NIL) '
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 19 1 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "b") NIL NIL NIL) BODY[2] {19}\r\ntwo, never closed\r\n '
        b'BODY[2.MIME] {2}\r\n\r\n BODY[3] "")\r\n'
    )


def test_a_thousand_parts() -> None:
    parts = b"".join(b"--b\r\n\r\npart %d\r\n" % n for n in range(1, 1001))
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    out = wire(b"(BODYSTRUCTURE BODY[1000] BODY[1001] BODY[999.MIME])", raw)
    assert out.count(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ') == 1000
    assert out.endswith(
        b'BODY[1000] {9}\r\npart 1000 BODY[1001] "" BODY[999.MIME] {2}\r\n\r\n)\r\n'
    )


MESSAGES = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"Content-Type: multipart/mixed; boundary=x\r\n",
                b"Content-Type: message/rfc822\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                b"Subject: =?utf-8?b?w6k=?=\r\n",
                b"From: <a@b>, (c) d@\r\n",
                b"\r\n",
                b"--x\r\n",
                b"--x--\r\n",
                b"text \xff\x00\r\n",
                b"\n",
            ]
        ),
        max_size=30,
    ).map(b"".join),
)


@st.composite
def fetch_items(draw: st.DrawFn) -> list[FetchItem]:
    """Any FETCH items the parser could give: simple ones and sections with partials."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            out.append(FetchItem(draw(st.sampled_from(SIMPLE_ITEMS))))
            continue
        part = tuple(draw(st.lists(st.integers(1, 4), max_size=4)))
        texts = ["", "MIME", "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"]
        text = draw(st.sampled_from(texts if part else texts[2:]))
        fields = ("Subject", "content-type") if text.startswith("HEADER.FIELDS") else ()
        partial = draw(st.none() | st.tuples(st.integers(0, 400), st.integers(1, 400)))
        out.append(FetchItem("BODY", Section(part, text, fields), draw(st.booleans()), partial))
    return out


SIMPLE_ITEMS = [
    "FLAGS",
    "UID",
    "INTERNALDATE",
    "RFC822.SIZE",
    "MODSEQ",
    "ENVELOPE",
    "BODY",
    "BODYSTRUCTURE",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.TEXT",
]


@settings(max_examples=200, deadline=None)
@given(raw=MESSAGES, asked=fetch_items(), cached=st.booleans())
def test_any_message_gets_an_answer(raw: bytes, asked: list[FetchItem], cached: bool) -> None:
    summary = summarize(Message(raw)) if cached else None
    pairs = fetch_values(asked, META, summary=summary, message=Message(raw), modseq=True)
    assert [name for name, _ in pairs] == list(dict.fromkeys(i.response_name() for i in asked)) + (
        [] if any(i.name == "MODSEQ" for i in asked) else [b"MODSEQ"]
    )
    out = encode.fetch(1, pairs)
    assert out.startswith(b"* 1 FETCH (") and out.endswith(b")\r\n")


INDEX_ITEMS = ["FLAGS", "UID", "RFC822.SIZE", "MODSEQ"]


@pytest.mark.parametrize(
    ("spec", "index_only"),
    [
        (b"(FLAGS)", True),
        (b"(UID FLAGS RFC822.SIZE MODSEQ FLAGS)", True),
        (b"(FLAGS INTERNALDATE)", False),
        (b"(UID ENVELOPE)", False),
        (b"(UID BODY.PEEK[HEADER])", False),
        (b"(RFC822.HEADER)", False),
    ],
)
def test_which_plans_the_index_alone_answers(spec: bytes, index_only: bool) -> None:
    assert Plan(items(spec), rev2=False).index_only is index_only


def test_index_lines_byte_for_byte() -> None:
    plan = Plan(items(b"(UID FLAGS RFC822.SIZE)"), rev2=False)
    meta = MessageMeta(uid=42, size=1234, internaldate=0, flags=("\\Seen", "$Junk"), modseq=7)
    assert plan.index_line(3, meta, False) == (
        b"* 3 FETCH (UID 42 FLAGS (\\Seen $Junk) RFC822.SIZE 1234)\r\n"
    )
    assert plan.index_line(3, meta, True) == (
        b"* 3 FETCH (UID 42 FLAGS (\\Seen $Junk) RFC822.SIZE 1234 MODSEQ (7))\r\n"
    )
    asked = Plan(items(b"(MODSEQ FLAGS)"), rev2=False)
    bare = MessageMeta(uid=1, size=0, internaldate=0, flags=(), modseq=12)
    assert asked.index_line(1, bare, True) == b"* 1 FETCH (MODSEQ (12) FLAGS ())\r\n"
    assert asked.index_line(1, bare, False) == b"* 1 FETCH (MODSEQ (12) FLAGS ())\r\n"


def test_an_index_plan_encodes_each_flag_set_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[tuple[str, ...]] = []
    real = encode.flags

    def counting(names: tuple[str, ...]) -> encode.Raw:
        encoded.append(tuple(names))
        return real(names)

    monkeypatch.setattr(encode, "flags", counting)
    plan = Plan(items(b"(FLAGS)"), rev2=False)
    seen = MessageMeta(uid=1, size=1, internaldate=0, flags=("\\Seen",), modseq=1)
    bare = MessageMeta(uid=2, size=1, internaldate=0, flags=(), modseq=1)
    lines = [plan.index_line(n, m, False) for n, m in enumerate([seen, bare, seen, bare], 1)]
    assert lines[2] == b"* 3 FETCH (FLAGS (\\Seen))\r\n" and lines[3] == b"* 4 FETCH (FLAGS ())\r\n"
    assert encoded == [("\\Seen",), ()]  # most messages share a few flag sets


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.sampled_from(INDEX_ITEMS), min_size=1, max_size=5),
    metas=st.lists(
        st.builds(
            MessageMeta,
            uid=st.integers(1, 2**32 - 1),
            size=st.integers(0, 10**9),
            internaldate=st.just(0),
            flags=st.lists(st.sampled_from(["\\Seen", "\\Recent", "$Forwarded", "a"])).map(tuple),
            modseq=st.integers(1, 2**63 - 1),
        ),
        min_size=1,
        max_size=4,
    ),
    modseq=st.booleans(),
)
def test_an_index_line_is_what_the_values_encode_to(
    names: list[str], metas: list[MessageMeta], modseq: bool
) -> None:
    asked = [FetchItem(n) for n in names]
    plan = Plan(asked, rev2=False)  # one plan for every message, as a FETCH uses it
    assert plan.index_only
    for seq, meta in enumerate(metas, 1):
        pairs = plan.values(meta, summary=None, message=None, modseq=modseq)
        assert plan.index_line(seq, meta, modseq) == encode.fetch(seq, pairs)


def test_sections_convert_to_the_message_core() -> None:
    item = FetchItem("BODY", Section((2,), "HEADER.FIELDS", ("X-\u00e9", "subject")), True, (0, 9))
    name = b"BODY[2.HEADER.FIELDS ({4}\r\nX-\xc3\xa9 subject)]<0>"
    got = fetch_values([item], META, summary=None, message=Message(FORWARD), modseq=False)
    assert got == [(name, b"Subject: ")]


def nested(levels: int) -> bytes:
    """A message/rfc822 inside a message/rfc822 ... `levels` deep; the outermost is the last."""
    raw = b"Subject: leaf\r\n\r\nleaf body\r\n"
    for n in range(levels):
        raw = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % n + raw
    return raw


def test_deeply_nested_messages_are_opened_to_the_depth_limit() -> None:
    out = wire(b"(BODYSTRUCTURE BODY[1.HEADER] BODY[1.1.1.HEADER] BODY[1.TEXT]<0.7>)", nested(300))
    assert out.count(b'(NIL "level ') == 100  # Limits.max_depth: deeper is one opaque part
    assert b'(NIL "level 199" ' in out and b'"level 198"' not in out
    assert out.endswith(
        b"BODY[1.HEADER] {52}\r\nSubject: level 298\r\nContent-Type: message/rfc822\r\n\r\n "
        b"BODY[1.1.1.HEADER] {52}\r\nSubject: level 296\r\nContent-Type: message/rfc822\r\n\r\n "
        b"BODY[1.TEXT]<0> {7}\r\nSubject)\r\n"
    )


def test_ten_thousand_parts_and_a_big_attachment() -> None:
    parts = b"".join(b"--b\r\n\r\npart %d\r\n" % n for n in range(1, 10_001))
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    out = wire(b"(BODY[9999] BODY[9999.MIME] BODY[10000])", raw)
    # Limits.max_parts counts the message itself: part 10,000 is past it
    assert out == (
        b'* 1 FETCH (BODY[9999] {9}\r\npart 9999 BODY[9999.MIME] {2}\r\n\r\n BODY[10000] "")\r\n'
    )
    line = b"QUJDRA==" * 9 + b"\r\n"
    big = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n"
        b"Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + line * 200_000
        + b"--b--\r\n"
    )
    out = wire(b"(BODYSTRUCTURE BODY[2]<14799990.20> BODY[2]<14799998.1>)", big)
    assert out.endswith(
        b'"7bit" 2 1 NIL NIL NIL NIL) ("application" "zip" NIL NIL NIL "base64" 14799998 NIL NIL '
        b'NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL) BODY[2]<14799990> {8}\r\nQUJDRA== '
        b'BODY[2]<14799998> "")\r\n'
    )
