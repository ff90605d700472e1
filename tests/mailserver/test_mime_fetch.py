"""The message core's FETCH answers: ENVELOPE, BODY, BODYSTRUCTURE, BODY[section]<partial>."""

from __future__ import annotations

import pytest

from mailserver.message import Message, Section, SectionError, parse_section
from mailserver.message.address import format_address, parse_addresses
from mailserver.message.bodystructure import count_lines
from mailserver.message.section import partial
from tests.mailserver.mime_golden import GOLDEN
from tests.mailserver.mimedata import (
    DIGEST,
    FORWARDED,
    NESTED,
    RFC3501_MESSAGE,
    THUNDERBIRD,
    crlf,
    imap,
)

MESSAGES = {
    "RFC3501_MESSAGE": RFC3501_MESSAGE,
    "NESTED": NESTED,
    "THUNDERBIRD": THUNDERBIRD,
    "FORWARDED": FORWARDED,
    "DIGEST": DIGEST,
}


def test_rfc3501_fetch_example_envelope_and_body() -> None:
    # RFC 3501 §7.4.2's example FETCH response, verbatim.
    msg = Message(RFC3501_MESSAGE)
    assert imap(msg.envelope()) == (
        '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        '((NIL NIL "imap" "cac.washington.edu")) '
        '((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )
    assert imap(msg.body()) == '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)'


@pytest.mark.parametrize(("name", "kind"), sorted(GOLDEN))
def test_golden_structures(name: str, kind: str) -> None:
    msg = Message(MESSAGES[name])
    value = {"env": msg.envelope, "bs": msg.bodystructure, "b": msg.body}[kind]()
    assert imap(value) == GOLDEN[(name, kind)]


def test_digest_parts_default_to_message_rfc822_and_others_to_text_plain() -> None:
    digest = Message(DIGEST).root.children[1]
    assert [(p.type, p.subtype) for p in digest.children] == [
        (b"message", b"rfc822"),
        (b"message", b"rfc822"),
        (b"text", b"plain"),
    ]
    first = Message(DIGEST).root.children[0]
    assert (first.type, first.subtype) == (b"text", b"plain")


# RFC 3501 §6.4.5's table of part specifiers, on a message with that very layout.
NESTED_SECTIONS = {
    "1": b"part 1",
    "2": b"cGFydCAy",
    "3.1": b"part 3.1",
    "3.2": b"part 3.2",
    "4.1": b"part 4.1",
    "4.1.MIME": b"Content-Type: IMAGE/GIF\r\n\r\n",
    "4.2.HEADER": (
        b"From: c@example.org\r\nSubject: part 4.2\r\n"
        b'Content-Type: MULTIPART/MIXED; boundary="m42"\r\n\r\n'
    ),
    "4.2.1": b"part 4.2.1",
    "4.2.2.1": b"part 4.2.2.1",
    "4.2.2.2": b"part 4.2.2.2",
    "4.2.2.MIME": b'Content-Type: MULTIPART/ALTERNATIVE; boundary="m422"\r\n\r\n',
    "3.HEADER.FIELDS (FROM)": b"From: b@example.org\r\n\r\n",
    "3.MIME": b"Content-Type: MESSAGE/RFC822\r\n\r\n",
    "3.HEADER": (
        b'From: b@example.org\r\nSubject: part 3\r\nContent-Type: MULTIPART/MIXED; boundary="m3"'
        b"\r\n\r\n"
    ),
    "3.TEXT": (
        b"--m3\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 3.1\r\n--m3\r\n"
        b"Content-Type: APPLICATION/OCTET-STREAM\r\n\r\npart 3.2\r\n--m3--"
    ),
    "4.2.2": (
        b"--m422\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 4.2.2.1\r\n--m422\r\n"
        b"Content-Type: TEXT/RICHTEXT\r\n\r\npart 4.2.2.2\r\n--m422--"
    ),
    # Parts that do not exist, and specifiers that do not apply: the empty string.
    "5": b"",
    "1.1": b"",
    "4.3": b"",
    "3.3": b"",
    "4.2.2.3": b"",
    "1.HEADER": b"",
    "1.TEXT": b"",
    "2.HEADER.FIELDS (From)": b"",
    "9.MIME": b"",
    "4.2.1.2": b"",
}


@pytest.mark.parametrize("spec", sorted(NESTED_SECTIONS))
def test_rfc3501_section_table(spec: str) -> None:
    assert bytes(Message(NESTED).section(parse_section(spec.encode()))) == NESTED_SECTIONS[spec]


def test_whole_header_and_text_of_the_top_message() -> None:
    msg = Message(NESTED)
    header = bytes(msg.section(parse_section(b"HEADER")))
    text = bytes(msg.section(parse_section(b"TEXT")))
    assert bytes(msg.section(parse_section(b""))) == NESTED
    assert header + text == NESTED
    assert header.endswith(b'boundary="outer"\r\n\r\n')
    assert text.startswith(b"preamble\r\n--outer\r\n")


def test_message_rfc822_part_is_the_whole_embedded_message() -> None:
    msg = Message(NESTED)
    three = bytes(msg.section(parse_section(b"3")))
    assert three == (
        bytes(msg.section(parse_section(b"3.HEADER")))
        + bytes(msg.section(parse_section(b"3.TEXT")))
    )
    assert three.startswith(b"From: b@example.org\r\n")
    assert three.endswith(b"part 3.2\r\n--m3--")


def test_section_is_a_view_of_the_stored_bytes_not_a_copy() -> None:
    msg = Message(NESTED)
    view = msg.section(parse_section(b"4.2.2.1"))
    assert isinstance(view, memoryview)
    assert view.obj is msg.raw


def test_single_part_message_numbers_its_body_as_part_1() -> None:
    raw = crlf("Subject: hi\nContent-Type: text/plain\n\nbody text\n")
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1"))) == b"body text\r\n"
    assert bytes(msg.section(parse_section(b"1.MIME"))) == crlf(
        "Subject: hi\nContent-Type: text/plain\n\n"
    )
    assert bytes(msg.section(parse_section(b"2"))) == b""
    assert bytes(msg.section(parse_section(b"1.1"))) == b""


def test_message_whose_body_is_message_rfc822() -> None:
    raw = crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n")
    msg = Message(raw)
    assert bytes(msg.section(parse_section(b"1"))) == crlf("Subject: inner\n\ninner body\n")
    assert bytes(msg.section(parse_section(b"1.HEADER"))) == b"Subject: inner\r\n\r\n"
    assert bytes(msg.section(parse_section(b"1.1"))) == b"inner body\r\n"
    assert bytes(msg.section(parse_section(b"1.TEXT"))) == b"inner body\r\n"
    assert msg.bodystructure()[:7] == [b"message", b"rfc822", None, None, None, b"7bit", 30]
    assert msg.bodystructure()[9] == 3


def test_header_fields_in_message_order_with_the_blank_line() -> None:
    raw = crlf(
        "Received: one\nSubject: first\nFrom: a@b\nX-Folded: a\n b\nsubject: second\n\nbody\n"
    )
    msg = Message(raw)
    got = msg.section(Section(text="HEADER.FIELDS", fields=(b"SUBJECT", b"x-folded")))
    assert got == b"Subject: first\r\nX-Folded: a\r\n b\r\nsubject: second\r\n\r\n"
    got = msg.section(Section(text="HEADER.FIELDS.NOT", fields=(b"subject", b"X-FOLDED")))
    assert got == b"Received: one\r\nFrom: a@b\r\n\r\n"
    got = msg.section(Section(text="HEADER.FIELDS", fields=(b"absent",)))
    assert got == b"\r\n"


def test_header_fields_of_a_header_without_final_line_end() -> None:
    msg = Message(b"Subject: cut")
    assert msg.section(Section(text="HEADER.FIELDS", fields=(b"subject",))) == (
        b"Subject: cut\r\n\r\n"
    )
    assert bytes(msg.section(Section(text="HEADER"))) == b"Subject: cut"
    assert bytes(msg.section(Section(text="TEXT"))) == b""


def test_header_fields_of_a_header_cut_by_a_boundary_after_a_bare_lf() -> None:
    # the line end before a boundary line belongs to the boundary, not to the header's
    # last field: HEADER.FIELDS ends that field with CRLF, as it does a header cut short
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: message/rfc822\n\nSubject: inner\n--b--\n"
    )
    msg = Message(raw)
    wanted = Section(part=(1,), text="HEADER.FIELDS", fields=(b"subject",))
    assert msg.section(wanted) == b"Subject: inner\r\n\r\n"
    others = Section(part=(1,), text="HEADER.FIELDS.NOT", fields=(b"from",))
    assert msg.section(others) == b"Subject: inner\r\n\r\n"


def test_line_without_colon_is_kept_by_header_and_header_fields_not_only() -> None:
    raw = crlf("From someone\nSubject: s\n\nbody\n")
    msg = Message(raw)
    assert bytes(msg.section(Section(text="HEADER"))) == crlf("From someone\nSubject: s\n\n")
    assert msg.section(Section(text="HEADER.FIELDS", fields=(b"From someone", b"From"))) == (
        b"\r\n"
    )
    assert msg.section(Section(text="HEADER.FIELDS.NOT", fields=(b"subject",))) == (
        b"From someone\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [
        (0, None, b"0123456789"),
        (0, 0, b""),
        (0, 1, b"0"),
        (0, 10, b"0123456789"),
        (0, 11, b"0123456789"),
        (9, 1, b"9"),
        (9, 5, b"9"),
        (10, 1, b""),
        (11, 1, b""),
        (3, None, b"3456789"),
        (3, 4, b"3456"),
    ],
)
def test_partial_edges(start: int, length: int | None, expected: bytes) -> None:
    msg = Message(b"Subject: x\r\n\r\n0123456789")
    assert bytes(msg.section(Section(text="TEXT"), start, length)) == expected


def test_partial_of_header_fields_and_of_a_missing_part() -> None:
    msg = Message(b"Subject: x\r\nFrom: y\r\n\r\nbody")
    assert msg.section(Section(text="HEADER.FIELDS", fields=(b"from",)), 2, 3) == b"om:"
    assert msg.section(Section(part=(7,)), 0, 10) == b""


def test_partial_refuses_negative_offsets() -> None:
    for start, length in ((-1, None), (0, -1), (-1, 2)):
        with pytest.raises(SectionError, match=r"^partial offsets are non-negative$"):
            partial(b"abc", start, length)


@pytest.mark.parametrize(
    ("spec", "section"),
    [
        (b"", Section()),
        (b"HEADER", Section(text="HEADER")),
        (b"header", Section(text="HEADER")),
        (b"TEXT", Section(text="TEXT")),
        (b"1", Section(part=(1,))),
        (b"1.2.3", Section(part=(1, 2, 3))),
        (b"1.MIME", Section(part=(1,), text="MIME")),
        (b"3.HEADER", Section(part=(3,), text="HEADER")),
        (b"3.text", Section(part=(3,), text="TEXT")),
        (
            b"HEADER.FIELDS (From To)",
            Section(text="HEADER.FIELDS", fields=(b"From", b"To")),
        ),
        (
            b'2.HEADER.FIELDS.NOT ("Subject" x-a)',
            Section(part=(2,), text="HEADER.FIELDS.NOT", fields=(b"Subject", b"x-a")),
        ),
        (
            b'HEADER.FIELDS ("a\\"b")',
            Section(text="HEADER.FIELDS", fields=(b'a"b',)),
        ),
        (b"4294967295", Section(part=(4294967295,))),
    ],
)
def test_parse_section(spec: bytes, section: Section) -> None:
    assert parse_section(spec) == section


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (b"0", "bad part number in section [0]"),
        (b"1.0", "bad part number in section [1.0]"),
        (b"01", "bad part number in section [01]"),
        (b"1X", "bad part number in section [1X]"),
        (b"12345678901", "bad part number in section [12345678901]"),
        (b"1.", "unknown section [1.]"),
        (b"MIME", "MIME needs a part number"),
        (b"BODY\xff", "unknown section [BODY\\xff]"),
        (b"1.HEADERS", "unknown section [1.HEADERS]"),
        (b"HEADER.FIELDS", "HEADER.FIELDS needs a list of field names"),
        (b"1.HEADER.FIELDS.NOT", "HEADER.FIELDS.NOT needs a list of field names"),
        (b"HEADER.FIELDS ()", "field names must be a non-empty list"),
        (b"HEADER.FIELDS From", "field names must be a parenthesised list"),
        (b"HEADER.FIELDS (From", "field names must be a parenthesised list"),
        (b"HEADER.FIELDS (a (b))", "bad field name in (a (b))"),
        (b"TEXT (a)", "unexpected text in section [TEXT (a)]"),
        (b"1 ", "unexpected text in section [1 ]"),
        (b"X" * 100, "unknown section [" + "X" * 80 + "]"),
    ],
)
def test_parse_section_refuses(spec: bytes, error: str) -> None:
    with pytest.raises(SectionError) as refused:
        parse_section(spec)
    assert str(refused.value) == error


def test_section_checks_its_own_fields() -> None:
    with pytest.raises(SectionError, match=r"^unknown section text 'BODY'$"):
        Section(text="BODY")
    with pytest.raises(SectionError, match=r"^part numbers start at 1$"):
        Section(part=(1, 0))
    with pytest.raises(SectionError, match=r"^HEADER\.FIELDS\.NOT needs a list of field names$"):
        Section(text="HEADER.FIELDS.NOT")
    with pytest.raises(SectionError, match=r"^MIME needs a part number$"):
        Section(text="MIME")
    assert Section(part=(1,), text="MIME").part == (1,)


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"", 0),
        (b"a", 1),
        (b"a\r\n", 1),
        (b"a\r\nb", 2),
        (b"a\r\nb\r\n", 2),
        (b"\r\n", 1),
        (b"\r\n\r\n", 2),
        (b"a\nb\n", 2),
    ],
)
def test_count_lines(body: bytes, lines: int) -> None:
    buf = b"xx" + body + b"yy"
    assert count_lines(buf, 2, 2 + len(body)) == lines


def test_envelope_nil_rules() -> None:
    msg = Message(crlf("Sender:\nReply-To: \nX: y\n\nbody"))
    assert msg.envelope() == [None] * 10
    msg = Message(crlf("From: a@b\nSender: \nReply-To: r@s\nSubject:\nDate: \n\n"))
    env = msg.envelope()
    assert env[0] == b"" and env[1] == b""
    assert env[2] == env[3] == [[None, None, b"a", b"b"]]
    assert env[4] == [[None, None, b"r", b"s"]]


def test_envelope_uses_the_first_of_duplicate_fields_and_unfolds() -> None:
    msg = Message(
        crlf(
            "Subject: one\n two\nSubject: other\nTo: a@b\nTo: c@d\nIn-Reply-To: <x@y>\nBcc: b@c\n\n"
        )
    )
    env = msg.envelope()
    assert env[7] == [[None, None, b"b", b"c"]]
    assert env[1] == b"one two"
    assert env[5] == [[None, None, b"a", b"b"]]
    assert env[8] == b"<x@y>"


@pytest.mark.parametrize(
    ("value", "addresses"),
    [
        (b"a@b", [[None, None, b"a", b"b"]]),
        (b"Joe <j@x.org>", [[b"Joe", None, b"j", b"x.org"]]),
        (b'"Doe, John" <j@x>', [[b"Doe, John", None, b"j", b"x"]]),
        (b'"a \\" b" <j@x>', [[b'a " b', None, b"j", b"x"]]),
        (b"John Q. Public <jqp@x>", [[b"John Q. Public", None, b"jqp", b"x"]]),
        (b"j@x (John Smith)", [[b"John Smith", None, b"j", b"x"]]),
        (b"John (the man) <j@x>", [[b"John", None, b"j", b"x"]]),
        (b"<@r1,@r2:j@x>", [[None, b"@r1,@r2", b"j", b"x"]]),
        (b"j.doe @ x . org", [[None, None, b"j.doe", b"x.org"]]),
        (b'"j doe"@x', [[None, None, b"j doe", b"x"]]),
        (b"j@[1.2.3.4]", [[None, None, b"j", b"[1.2.3.4]"]]),
        (b"=?utf-8?q?J=C3=B6?= <j@x>", [[b"=?utf-8?q?J=C3=B6?=", None, b"j", b"x"]]),
        (b"a@b, ,c@d,", [[None, None, b"a", b"b"], [None, None, b"c", b"d"]]),
        (b"undisclosed-recipients", [[None, None, b"undisclosed-recipients", b"MISSING_DOMAIN"]]),
        (b"@x", [[None, None, b"MISSING_MAILBOX", b"x"]]),
        (b"Joe <>", [[b"Joe", None, b"MISSING_MAILBOX", b"MISSING_DOMAIN"]]),
        (b"Joe <j@x", [[b"Joe", None, b"j", b"x"]]),
        (b"undisclosed-recipients:;", [[None, None, b"undisclosed-recipients", None], [None] * 4]),
        (
            b"Team: a@b, Joe <c@d>; e@f",
            [
                [None, None, b"Team", None],
                [None, None, b"a", b"b"],
                [b"Joe", None, b"c", b"d"],
                [None] * 4,
                [None, None, b"e", b"f"],
            ],
        ),
        (b"G: a@b", [[None, None, b"G", None], [None, None, b"a", b"b"], [None] * 4]),
        (b"a@b: c", [[None, None, b"a", b"b:c"]]),
        (b'"Joe <j@x>', [[None, None, b"Joe <j@x>", b"MISSING_DOMAIN"]]),
        (b'"a\\', [[None, None, b"a\\", b"MISSING_DOMAIN"]]),
        (b'"a\\b', [[None, None, b"ab", b"MISSING_DOMAIN"]]),
        (b'"X" <x@y>', [[b"X", None, b"x", b"y"]]),
        (b"John (c) Smith <j@x>", [[b"John Smith", None, b"j", b"x"]]),
        (b'"a\r\n b" <x@y>', [[b"a b", None, b"x", b"y"]]),
        (b"a@b (unclosed (nested) comment", [[b"unclosed (nested) comment", None, b"a", b"b"]]),
        (b"a@b (x\\) y)", [[b"x) y", None, b"a", b"b"]]),
        (b"a@[1.2\r\n.3", [[None, None, b"a", b"[1.2.3"]]),
        (b"j@[a b]", [[None, None, b"j", b"[a b]"]]),
        (b"j@[a b", [[None, None, b"j", b"[a b"]]),
        (b"John (c)Smith <j@x>", [[b"John Smith", None, b"j", b"x"]]),
        (b'"a"b <x@y>', [[b"ab", None, b"x", b"y"]]),
        (b"John Q.Public <x@y>", [[b"John Q.Public", None, b"x", b"y"]]),
        (b"Xavier <aXb@y>", [[b"Xavier", None, b"aXb", b"y"]]),
        (b"a@b (x\\)", [[b"x)", None, b"a", b"b"]]),
        (b"a@b (x\\", [[b"x\\", None, b"a", b"b"]]),
        (b"<j@x (c)", [[None, None, b"j", b"x"]]),
        (b"a> <j@k>", [[b"a>", None, b"j", b"k"]]),
        (b"<a:b@c>", [[None, None, b"a:b", b"c"]]),
        (b"<j@x> (Joe)", [[b"Joe", None, b"j", b"x"]]),
        (b"Joe <jx>: y", [[b"Joe", None, b"jx", b"MISSING_DOMAIN"]]),
        (b": a@b;", [[None, None, b"", None], [None, None, b"a", b"b"], [None] * 4]),
        (b"x@y: Joe <j@k>", [[b"x@y: Joe", None, b"j", b"k"]]),
        (b"(just a comment)", []),
        (b"", []),
    ],
)
def test_addresses(value: bytes, addresses: list[list[bytes | None]]) -> None:
    assert parse_addresses(value) == addresses


def test_format_address() -> None:
    assert format_address([b"Joe", None, b"j", b"x"]) == b"Joe <j@x>"
    assert format_address([None, b"@r", b"j", b"x"]) == b"j@x"
    assert format_address([None, None, b"group", None]) == b"group"
    assert format_address([None, None, None, None]) == b""


def test_8bit_garbage_headers_give_an_envelope() -> None:
    raw = b"From: \xff\xfe <\x80@\x81>\r\nSubject: \xc3\x28 \x00\r\nTo: \xa0\r\n\r\n\xff"
    env = Message(raw).envelope()
    assert env[1] == b"\xc3\x28 \x00"
    assert env[2] == [[b"\xff\xfe", None, b"\x80", b"\x81"]]
    assert env[5] == [[None, None, b"\xa0", b"MISSING_DOMAIN"]]


def test_extension_data() -> None:
    raw = crlf(
        """Content-Type: application/pdf; name*0*=utf-8''%C3%A9t; name*1=".pdf"
Content-Disposition: attachment (comment); filename="a b.pdf"; size=12
Content-Language: en,de-DE (c)
Content-Location: http://x/
 a.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-ID: <id@x>
Content-Description: A file
Content-Transfer-Encoding: Base64 (comment)

QUJD
"""
    )
    assert Message(raw).bodystructure() == [
        b"application",
        b"pdf",
        [b"name*", b"utf-8''%C3%A9t.pdf"],
        b"<id@x>",
        b"A file",
        b"Base64",
        6,
        b"Q2hlY2sgSW50ZWdyaXR5IQ==",
        [b"attachment", [b"filename", b"a b.pdf", b"size", b"12"]],
        [b"en", b"de-DE"],
        b"http://x/a.pdf",
    ]


def test_multipart_without_boundary_or_parts_gets_one_empty_text_part() -> None:
    empty = [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit", 0, 0]
    for raw in (
        crlf("Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n"),
        crlf('Content-Type: multipart/mixed; boundary="y"\n\n--x\n\nhello\n--x--\n'),
    ):
        msg = Message(raw)
        assert msg.body() == [empty, b"mixed"]
        assert msg.bodystructure()[0] == [*empty, None, None, None, None]
        assert bytes(msg.section(parse_section(b"1"))) == b""
        assert bytes(msg.section(parse_section(b"TEXT"))) == raw[raw.index(b"\r\n\r\n") + 4 :]
