"""Property tests of the message core: random and mutated messages never raise, sections and
offsets stay consistent, and generated MIME trees parse back to the tree that made them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailserver.message import Limits, Message, Part, Summary, parse_section, summarize
from mailserver.message.header import parse_header
from mailserver.message.section import Section
from tests.mailserver.mimedata import DIGEST, FORWARDED, NESTED, RFC3501_MESSAGE, THUNDERBIRD

SPECS = [
    b"",
    b"HEADER",
    b"TEXT",
    b"1",
    b"2",
    b"1.1",
    b"1.MIME",
    b"2.MIME",
    b"1.HEADER",
    b"2.TEXT",
    b"1.2.3",
    b"3.1.MIME",
    b"HEADER.FIELDS (From Subject)",
    b"1.HEADER.FIELDS.NOT (To)",
]
SECTIONS = [parse_section(s) for s in SPECS]


def check_offsets(part: Part, size: int, lo: int, hi: int) -> None:
    """Every part lies inside its parent's body, its header before its body, in order."""
    h = part.header
    assert lo <= h.start <= h.end <= part.body_start <= part.body_end <= hi <= size
    for field in h.fields:
        assert h.start <= field.start <= field.value_start <= field.end <= h.end
    previous = part.body_start
    for child in part.children:
        assert child.header.start >= previous
        check_offsets(child, size, part.body_start, part.body_end)
        previous = child.body_end
    if part.message is not None:
        assert part.message.header.start == part.body_start
        check_offsets(part.message, size, part.body_start, part.body_end)


SMALL = Limits(max_parts=50, max_depth=8)


TOP_SECTIONS = [s for s in SECTIONS if not s.part] + [
    parse_section(b"HEADER.FIELDS.NOT (Content-Type)"),
    parse_section(b"HEADER.FIELDS (content-type X-Nothing)"),
]


def check_top_sections(raw: bytes, root: Part) -> None:
    """A section of the message itself, from the top header alone (no MIME tree parsed), is
    what the tree's offsets say: the header is the root's, the body runs from the end of the
    header to the end of the message."""
    assert (root.body_start, root.body_end) == (root.header.end, len(raw))
    fresh = Message(raw, SMALL)
    got = [bytes(fresh.section(s)) for s in TOP_SECTIONS]
    assert "root" not in fresh.__dict__
    want = []
    for s in TOP_SECTIONS:
        if not s.text:
            want.append(raw)
        elif s.text == "HEADER":
            want.append(raw[root.header.start : root.header.end])
        elif s.text == "TEXT":
            want.append(raw[root.body_start : root.body_end])
        else:
            want.append(root.header.select(s.fields, exclude=s.text.endswith(".NOT")))
    assert got == want


def exercise(raw: bytes) -> None:
    msg = Message(raw, SMALL)
    assert bytes(msg.section(Section())) == raw
    header = bytes(msg.section(Section(text="HEADER")))
    assert header + bytes(msg.section(Section(text="TEXT"))) == raw
    check_offsets(msg.root, len(raw), 0, len(raw))
    assert msg.envelope() == Message(raw).envelope()  # the header alone gives the same
    msg.body()
    msg.bodystructure()
    for section in SECTIONS:
        data = msg.section(section)
        assert len(msg.section(section, 1, 3)) == len(bytes(data)[1:4])
    check_top_sections(raw, msg.root)
    msg.body_matches("a")
    msg.text_matches("from")
    for name in (b"from", b"to", b"subject", b"x"):
        msg.header_matches(name, "a")
    summary = summarize(msg)
    assert Summary.from_bytes(summary.to_bytes()) == summary


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    exercise(raw)


LINES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b"--b\r\n",
        b"--outer\r\n",
        b"--m3--\r\n",
        b"--dig\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: multipart/digest; boundary=dig\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"From: =?utf-8?q?x?= <a@b>, g: c@d;\r\n",
        b"Subject: =?utf-8?b?w6k?=\r\n",
        b" folded\r\n",
        b"no colon\r\n",
        b"\xff\xfe\x00\r\n",
        b"Date: 1 Jan 2026 00:00 +0000\r\n",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([NESTED, THUNDERBIRD, FORWARDED, DIGEST, RFC3501_MESSAGE]),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=40), LINES),
        max_size=8,
    ),
)
def test_mutated_messages_never_raise(base: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    raw = base
    for where, cut, insert in edits:
        at = where % (len(raw) + 1)
        raw = raw[:at] + insert + raw[at + cut :]
    exercise(raw)


# --- generated MIME trees parse back to themselves -------------------------------------------


@dataclass(frozen=True)
class Leaf:
    body: bytes


@dataclass(frozen=True)
class Multi:
    parts: tuple[Tree, ...]
    preamble: bytes


@dataclass(frozen=True)
class Embedded:
    inner: Tree


Tree = Leaf | Multi | Embedded

LINE = st.binary(max_size=12).map(lambda b: bytes(c for c in b if c not in b"\r\n-"))
BODY = st.lists(LINE, max_size=4).map(b"\r\n".join)
TREES = st.recursive(
    st.builds(Leaf, BODY),
    lambda inner: st.one_of(
        st.builds(Multi, st.lists(inner, min_size=1, max_size=4).map(tuple), BODY),
        st.builds(Embedded, inner),
    ),
    max_leaves=12,
)


def render(tree: Tree, counter: itertools.count[int]) -> bytes:
    """The entity (header and body) for a tree; boundaries are unique."""
    if isinstance(tree, Leaf):
        return b"Content-Type: text/plain\r\n\r\n" + tree.body
    if isinstance(tree, Embedded):
        return b"Content-Type: message/rfc822\r\n\r\n" + render(tree.inner, counter)
    boundary = b"=_b%d" % next(counter)
    out = [b'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' % boundary, tree.preamble]
    for part in tree.parts:
        out += [b"\r\n--", boundary, b"\r\n", render(part, counter)]
    out += [b"\r\n--", boundary, b"--\r\nepilogue"]
    return b"".join(out)


def shape(part: Part, raw: bytes) -> Tree:
    if part.message is not None:
        return Embedded(shape(part.message, raw))
    if part.is_multipart:
        first = part.children[0].header.start if part.children else part.body_end
        preamble = raw[part.body_start : first]
        preamble = preamble[: preamble.rfind(b"\r\n--")] if b"\r\n--" in preamble else b""
        return Multi(tuple(shape(c, raw) for c in part.children), preamble)
    return Leaf(raw[part.body_start : part.body_end])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_generated_trees_parse_back(tree: Tree) -> None:
    raw = render(tree, itertools.count())
    msg = Message(raw)
    assert shape(msg.root, raw) == tree
    check_offsets(msg.root, len(raw), 0, len(raw))
    assert bytes(msg.section(Section())) == raw


# --- HEADER.FIELDS: the selection is the fields the header's field list names ----------------

_NAMES = [b"From", b"to", b"X-A", b"Subject", b"x-a-b", b"Cc"]
_HEADER_LINES = st.one_of(
    st.tuples(  # a field: its name in any case, white space before the colon, a value
        st.sampled_from(_NAMES).flatmap(
            lambda n: st.lists(st.booleans(), min_size=len(n), max_size=len(n)).map(
                lambda ups: bytes(
                    (c ^ 32) if up and chr(c).isalpha() else c for c, up in zip(n, ups, strict=True)
                )
            )
        ),
        st.sampled_from([b"", b" ", b"\t "]),
        st.sampled_from([b" v", b"", b" a: b", b" x\r"]),
    ).map(lambda t: t[0] + t[1] + b":" + t[2]),
    st.sampled_from([b" folded", b"\tfolded", b"no colon here", b"From", b"\r", b"To :x"]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_HEADER_LINES, st.sampled_from([b"\r\n", b"\n"])), max_size=12),
    st.booleans(),
    st.lists(st.sampled_from([*_NAMES, b"nothing", b"x"]), max_size=4),
    st.sampled_from([b"", b"\r\n", b"\n"]),
)
def test_header_fields_are_the_named_fields_in_order(
    lines: list[tuple[bytes, bytes]], cut_last: bool, names: list[bytes], before: bytes
) -> None:
    """HEADER.FIELDS found by its regular expressions equals what the list of every field
    gives (name with a colon, compared without case; each field with its folded lines; the
    last one given a CRLF when the header ended without one), for any header, also one that
    begins after other bytes (a MIME part's)."""
    text = b"".join(line + end for line, end in lines)
    if cut_last and text.endswith(b"\n"):
        text = text.rstrip(b"\r\n")  # the message ends inside its header: no line end
    buf = before + text + (b"" if cut_last else b"\r\nbody\r\n")
    header = Message(buf).header if not before else parse_header(buf, len(before))
    keys = {n.lower() for n in names}
    chosen = [header.raw(f) for f in header.fields if f.has_colon and f.key in keys]
    if chosen and not chosen[-1].endswith(b"\n"):
        chosen[-1] += b"\r\n"
    assert header.select(names, exclude=False) == b"".join(chosen) + b"\r\n"
