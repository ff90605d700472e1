"""The message core's MIME tree: offsets, broken MIME, bare LF, limits, and large messages."""

from __future__ import annotations

import pytest

from mailserver.message import Limits, Message, Part, parse_section
from mailserver.message.header import parse_header, unfold
from mailserver.message.structure import parse_structure
from tests.mailserver.mimedata import (
    NESTED,
    crlf,
    depth_of,
    many_parts,
    nested_messages,
    nested_multiparts,
)


def spans(part: Part, buf: bytes) -> list[tuple[bytes, bytes]]:
    """(header, body) bytes of every part, depth first."""
    return [
        (buf[p.header.start : p.header.end], buf[p.body_start : p.body_end]) for p in part.walk()
    ]


def test_offsets_of_a_simple_multipart() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\npre\n--b\nX: 1\n\none\n--b\n\ntwo\n'
        "--b--\nepi\n"
    )
    root = parse_structure(raw)
    assert spans(root, raw) == [
        (
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n',
            b"pre\r\n--b\r\nX: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepi\r\n",
        ),
        (b"X: 1\r\n\r\n", b"one"),
        (b"\r\n", b"two"),
    ]


def test_bare_lf_message_parses_like_the_crlf_one() -> None:
    lf = NESTED.replace(b"\r\n", b"\n")
    crlf_msg, lf_msg = Message(NESTED), Message(lf)
    assert lf_msg.envelope() == crlf_msg.envelope()
    assert bytes(lf_msg.section(parse_section(b"4.2.2.2"))) == b"part 4.2.2.2"
    assert bytes(lf_msg.section(parse_section(b"4.1.MIME"))) == b"Content-Type: IMAGE/GIF\n\n"
    # Sizes are those of the bytes as stored (here LF), matching what BODY[...] returns.
    assert lf_msg.bodystructure()[3][1][6] == len(lf_msg.section(parse_section(b"4.2")))


def test_mixed_line_endings_and_lone_cr() -> None:
    raw = b"Subject: a\nX: b\r\n\r\nline\rstill line\nnext"
    msg = Message(raw)
    assert msg.header.get(b"x") == b"b"
    assert bytes(msg.section(parse_section(b"TEXT"))) == b"line\rstill line\nnext"
    assert msg.bodystructure()[7] == 2


def test_header_without_blank_line_runs_to_the_end() -> None:
    msg = Message(b"Subject: a\r\nFrom: b@c\r\n")
    assert bytes(msg.section(parse_section(b"HEADER"))) == b"Subject: a\r\nFrom: b@c\r\n"
    assert bytes(msg.section(parse_section(b"TEXT"))) == b""
    assert msg.bodystructure()[6:8] == [0, 0]


def test_empty_message() -> None:
    msg = Message(b"")
    assert msg.size == 0
    assert msg.envelope() == [None] * 10
    assert msg.body() == [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit", 0, 0]
    assert bytes(msg.section(parse_section(b""))) == b""
    assert bytes(msg.section(parse_section(b"1"))) == b""


def test_message_starting_with_blank_line_has_an_empty_header() -> None:
    msg = Message(b"\r\nbody")
    assert msg.header.fields == ()
    assert bytes(msg.section(parse_section(b"HEADER"))) == b"\r\n"
    assert bytes(msg.section(parse_section(b"TEXT"))) == b"body"


def test_header_fields_folding_colonless_and_leading_continuation() -> None:
    raw = b" lead\r\nSubject : a\r\n\tb\r\nno colon here\r\nX:\r\n\r\n"
    header = parse_header(raw, 0)
    assert [(f.name, f.has_colon) for f in header.fields] == [
        (b" lead", False),
        (b"Subject", True),
        (b"no colon here", False),
        (b"X", True),
    ]
    assert header.get(b"subject") == b"a\tb"  # "Subject : a" in the message
    with pytest.raises(ValueError, match=r"^header field names are looked up in lower case"):
        header.get(b"Subject")
    assert header.raw(header.fields[1]) == b"Subject : a\r\n\tb\r\n"
    assert header.get(b"x") == b""
    assert header.get(b"no colon here") is None
    assert header.end == len(raw)


def test_unfold() -> None:
    assert unfold(b" a\r\n b\n\tc \r\n") == b"a b\tc"
    assert unfold(b" Xmas X\x0b ") == b"Xmas X\x0b"
    assert unfold(b"plain") == b"plain"


def test_unterminated_inner_multipart_ends_at_the_outer_delimiter() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="out"\n\n--out\n'
        'Content-Type: multipart/alternative; boundary="in"\n\n--in\n\ninner one\n'
        "--out\n\nsecond outer\n--out--\n"
    )
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1.1"))) == b"inner one"
    assert bytes(msg.section(parse_section(b"2"))) == b"second outer"
    assert len(msg.root.children) == 2


def test_delimiter_at_the_very_end_without_line_end() -> None:
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n') + b"--b"
    msg = Message(raw)
    _, last = msg.root.children
    assert bytes(msg.section(parse_section(b"1"))) == b"one"
    assert last.header.start == last.body_start == last.body_end == len(raw)


def test_part_limit_inside_an_inner_multipart_skips_to_its_close() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="out"\n\n--out\n'
        'Content-Type: multipart/mixed; boundary="in"\n\n--in\n\np1\n--in\n\np2\n--in--\n'
        "inner epilogue\n--out\n\ntail\n--out--\nouter epilogue\n"
    )
    msg = Message(raw, Limits(max_parts=3))
    inner = msg.root.children[0]
    assert [bytes(msg.section(parse_section(b"1.1")))] == [b"p1"]
    assert len(inner.children) == 1
    assert bytes(msg.section(parse_section(b"1"))).endswith(b"p2\r\n--in--\r\ninner epilogue")
    assert len(msg.root.children) == 1
    assert msg.root.body_end == len(raw)
    assert msg.bodystructure()[0][1] == b"mixed"


def test_missing_close_delimiter_runs_to_the_end() -> None:
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n\ntwo\n')
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"2"))) == b"two\r\n"


def test_boundary_that_is_a_prefix_of_another_line_is_not_a_delimiter() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        'Content-Type: multipart/mixed; boundary="b2"\n\n--b2\n\ninner\n--b2--\n'
        "--b \t\n\nsecond\n--b--trailing\nepilogue\n"
    )
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1.1"))) == b"inner"
    assert bytes(msg.section(parse_section(b"2"))) == b"second"
    assert len(msg.root.children) == 2


def test_consecutive_delimiters_and_dash_lines_that_are_not_delimiters() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n--b\n--a\n\nbody\n--b\n--bb\n--b--\n'
    )
    msg = Message(raw)
    empty, dashed, last = msg.root.children
    assert empty.header.start == empty.body_end == raw.index(b"--b\r\n--a")
    assert bytes(msg.section(parse_section(b"1.MIME"))) == b""
    assert bytes(msg.section(parse_section(b"2.MIME"))) == b"--a\r\n\r\n"
    assert bytes(msg.section(parse_section(b"2"))) == b"body"
    assert [f.name for f in dashed.header.fields] == [b"--a"]
    assert bytes(msg.section(parse_section(b"3.MIME"))) == b"--bb"  # its line end: the delimiter's
    assert last.body_start == last.body_end


def test_part_header_cut_by_a_delimiter_has_an_empty_body() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/html\n--b\n'
        'Content-Type: multipart/mixed; boundary="c"\n--b--\n'
    )
    msg = Message(raw)
    first, second = msg.root.children
    assert first.subtype == b"html"
    # The line end before the delimiter belongs to the delimiter, not to the header.
    delimiter = raw.index(b"--b\r\nContent-Type: multipart")
    assert first.body_start == first.body_end == delimiter - 2
    assert bytes(msg.section(parse_section(b"1"))) == b""
    assert bytes(msg.section(parse_section(b"1.MIME"))) == b"Content-Type: text/html"
    assert second.children == []
    assert bytes(msg.section(parse_section(b"2"))) == b""


def test_base64_message_rfc822_is_opaque_but_keeps_the_grammar() -> None:
    # body-type-msg needs an envelope, a body and a line count even when the part is not
    # opened: an empty message stands in (a strict client parser rejects the part otherwise)
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: message/rfc822\n'
        "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp4\n--b--\n"
    )
    empty = [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit", 0, 0]
    part = Message(raw).bodystructure()[0]
    assert part == [
        *(b"message", b"rfc822", None, None, None, b"base64", 20),
        [None] * 10,
        [*empty, None, None, None, None],
        1,
        *(None, None, None, None),
    ]
    assert Message(raw).body()[0] == [
        *(b"message", b"rfc822", None, None, None, b"base64", 20, [None] * 10, empty, 1)
    ]
    # message/global the same for an IMAP4rev2 session (RFC 9051 §7.5.2); for rev1's grammar
    # (RFC 3501 §9), a basic body, as Dovecot 2.3 answers; another message/ subtype: basic
    other = raw.replace(b"message/rfc822", b"message/GLOBAL")
    assert Message(other).body(rev2=True)[0][7:] == [[None] * 10, empty, 1]
    assert Message(other).body()[0] == [*(b"message", b"GLOBAL", None, None, None, b"base64", 20)]
    assert Message(other).bodystructure()[0][7:] == [None] * 4  # (md5, dsp, lang, loc)
    other = raw.replace(b"message/rfc822", b"message/partial")
    assert Message(other).body()[0] == [*(b"message", b"partial", None, None, None, b"base64", 20)]


def test_message_global_is_opened_like_rfc822() -> None:
    raw = crlf("Content-Type: message/global\n\nSubject: \u00e9t\u00e9\n\nhi\n")
    body = Message(raw).body(rev2=True)
    assert body[7][1] == "été".encode()
    assert body[8] == [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit", 4, 1]
    assert len(body) == 10
    assert Message(raw).body() == [b"message", b"global", None, None, None, b"7bit", 22]


def test_message_global_inside_rfc822_inside_a_multipart() -> None:
    # rev2's form at every depth, rev1's at every depth: the rfc822 part is a message for both
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: message/rfc822\n\n'
        "Subject: outer\nContent-Type: message/global\n\nSubject: inner\n\ntext\n--b--\n"
    )
    rev1, rev2 = Message(raw).bodystructure(), Message(raw).bodystructure(rev2=True)
    assert rev1[0][7][1] == rev2[0][7][1] == b"outer"  # the rfc822 part's envelope
    assert rev1[0][8][:2] == rev2[0][8][:2] == [b"message", b"global"]
    assert rev2[0][8][7][1] == b"inner" and len(rev2[0][8]) == 14
    assert rev1[0][8][7:] == [None] * 4 and len(rev1[0][8]) == 11


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_part_limit_edges(limit: int) -> None:
    msg = Message(many_parts(3), Limits(max_parts=limit))
    assert len(msg.root.children) == min(limit - 1, 3)
    assert msg.root.body_end == len(many_parts(3))
    for i in range(1, min(limit - 1, 3) + 1):
        assert bytes(msg.section(parse_section(b"%d" % i))) == b"part %d" % (i - 1)


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 6])
def test_depth_limit_edges(limit: int) -> None:
    messages = Message(nested_messages(5), Limits(max_depth=limit))
    assert depth_of(messages.root) == min(limit, 5)
    multiparts = Message(nested_multiparts(5), Limits(max_depth=limit))
    assert depth_of(multiparts.root) == min(limit, 5)
    leaf = multiparts.section(parse_section(b".".join([b"1"] * 5)))
    assert bytes(leaf) == (b"leaf" if limit >= 5 else b"")


def test_every_field_of_a_header() -> None:
    raw = b"A : x:y\r\n\tz\r\nno colon\r\nB\r\n c: d\r\nC:\r\n\r\nbody"
    header = parse_header(raw, 0)
    assert header.end == raw.index(b"body") and header.fields_end == header.end - 2
    assert [tuple(f) for f in header.fields] == [
        (b"A", b"a", 0, 13, 3, True),
        (b"no colon", b"no colon", 13, 23, 23, False),
        (b"B", b"b", 23, 33, 33, False),  # the colon is on a continuation line
        (b"C", b"c", 33, 37, 35, True),
    ]
    assert header.get(b"a") == b"x:y\tz"
    assert header.select((), exclude=False) == b"\r\n"
    # B has no colon: no name matches it, so .NOT keeps it
    assert header.select((b"B", b"C"), exclude=True) == raw[:33] + b"\r\n"


def test_a_colonless_line_is_named_by_the_whole_line_but_its_line_ending() -> None:
    raw = b"A: 1\r\nno colon \t\r\nlast X\nB: 2\r\n\r\n"
    assert [(f.name, f.key, f.has_colon) for f in parse_header(raw, 0).fields] == [
        (b"A", b"a", True),
        (b"no colon \t", b"no colon \t", False),  # trailing white space kept, CR not
        (b"last X", b"last x", False),
        (b"B", b"b", True),
    ]


def test_a_colon_as_the_first_byte_of_a_message_is_a_field_with_an_empty_name() -> None:
    msg = Message(b":x\r\nA: 1\r\n\r\nbody")
    assert [tuple(f) for f in msg.header.fields] == [
        (b"", b"", 0, 4, 1, True),
        (b"A", b"a", 4, 10, 6, True),
    ]
    # HEADER.FIELDS and .NOT agree on it: the name "" selects it, so .NOT drops it
    assert bytes(msg.section(parse_section(b'HEADER.FIELDS ("")'))) == b":x\r\n\r\n"
    assert bytes(msg.section(parse_section(b'HEADER.FIELDS.NOT ("")'))) == b"A: 1\r\n\r\n"


def test_header_starting_with_a_bare_lf_blank_line() -> None:
    msg = Message(b"\nbody")
    assert bytes(msg.section(parse_section(b"HEADER"))) == b"\n"
    assert bytes(msg.section(parse_section(b"TEXT"))) == b"body"


def test_header_cut_by_a_delimiter_after_bare_lf() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nX: y\n--b--\n'
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1.MIME"))) == b"X: y"


def test_message_takes_any_bytes_like_and_keeps_bytes_as_they_are() -> None:
    raw = crlf("Subject: s\n\nbody\n")
    assert Message(raw).raw is raw
    for other in (bytearray(raw), memoryview(raw)):
        copy = Message(other).raw
        assert type(copy) is bytes and copy == raw


def test_part_limit_stops_opening_embedded_messages() -> None:
    raw = nested_messages(3)
    assert Message(raw, Limits(max_parts=1)).root.message is None
    two = Message(raw, Limits(max_parts=2)).root
    assert two.message is not None and two.message.message is None


def test_nested_multipart_without_boundary_ends_at_the_outer_delimiter() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: multipart/mixed\n\n'
        "opaque\n--o\n\nsecond\n--o--\n"
    )
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1"))) == b"opaque"
    assert bytes(msg.section(parse_section(b"2"))) == b"second"


def test_empty_last_part_at_the_outer_delimiter_stays_inside_its_parent() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="o"\n\n--o\n'
        'Content-Type: multipart/mixed; boundary="i"\n\n--i\n--o--\n'
    )
    inner = Message(raw).root.children[0]
    (empty,) = inner.children
    assert empty.header.start == empty.body_end == raw.index(b"--o--")
    assert inner.body_end == empty.body_end
