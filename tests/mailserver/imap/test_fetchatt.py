"""FETCH items: every fetch-att, sections, partials, macros, and their names in the response."""

from __future__ import annotations

import pytest

from mailserver.imap.commands import Fetch, parse_command
from mailserver.imap.fetchatt import MACROS, FetchItem, Section
from mailserver.imap.syntax import ParseError


def items(spec: bytes) -> tuple[FetchItem, ...]:
    command = parse_command(b"t FETCH 1 " + spec + b"\r\n")
    assert isinstance(command, Fetch)
    return command.items


@pytest.mark.parametrize(
    "name",
    ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
     "RFC822.TEXT", "BODYSTRUCTURE", "UID", "MODSEQ", "BODY"],
)  # fmt: skip
def test_simple_items(name: str):
    (item,) = items(name.lower().encode())
    assert item == FetchItem(name)
    assert item.response_name() == name.encode()


@pytest.mark.parametrize(
    ("spec", "item", "response"),
    [
        (b"BODY[]", FetchItem("BODY", Section()), b"BODY[]"),
        (b"BODY.PEEK[]", FetchItem("BODY", Section(), peek=True), b"BODY[]"),
        (b"body[header]", FetchItem("BODY", Section((), "HEADER")), b"BODY[HEADER]"),
        (b"BODY[TEXT]<0.2048>", FetchItem("BODY", Section((), "TEXT"), partial=(0, 2048)),
         b"BODY[TEXT]<0>"),
        (b"BODY[1]", FetchItem("BODY", Section((1,))), b"BODY[1]"),
        (b"BODY[1.2.3]", FetchItem("BODY", Section((1, 2, 3))), b"BODY[1.2.3]"),
        (b"BODY[4.2.MIME]", FetchItem("BODY", Section((4, 2), "MIME")), b"BODY[4.2.MIME]"),
        (b"BODY[3.HEADER]", FetchItem("BODY", Section((3,), "HEADER")), b"BODY[3.HEADER]"),
        (b"BODY[2.text]<10.5>", FetchItem("BODY", Section((2,), "TEXT"), partial=(10, 5)),
         b"BODY[2.TEXT]<10>"),
        (b"BODY.PEEK[HEADER.FIELDS (From \"Subject\" {2}\r\nTo)]",
         FetchItem("BODY", Section((), "HEADER.FIELDS", ("From", "Subject", "To")), peek=True),
         b"BODY[HEADER.FIELDS (From Subject To)]"),
        (b"BODY[1.HEADER.FIELDS.NOT (X-A)]",
         FetchItem("BODY", Section((1,), "HEADER.FIELDS.NOT", ("X-A",))),
         b"BODY[1.HEADER.FIELDS.NOT (X-A)]"),
        (b'BODY[HEADER.FIELDS ("A(b")]',
         FetchItem("BODY", Section((), "HEADER.FIELDS", ("A(b",))),
         b'BODY[HEADER.FIELDS ("A(b")]'),
    ],
)  # fmt: skip
def test_sections(spec: bytes, item: FetchItem, response: bytes):
    assert items(spec) == (item,)
    assert item.response_name() == response


def test_macros_and_lists():
    assert items(b"ALL") == MACROS["ALL"]
    assert items(b"fast") == MACROS["FAST"]
    assert items(b"Full") == MACROS["FULL"]
    assert items(b"(UID BODY.PEEK[1]<0.10> FLAGS)") == (
        FetchItem("UID"), FetchItem("BODY", Section((1,)), True, (0, 10)), FetchItem("FLAGS"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        (b"ALLX", "unknown FETCH item ALLX"),
        (b"BODY.PEEK", "BODY.PEEK needs a section"),
        (b"BODY[", "invalid section"),
        (b"BODY[HEADER", "expected ']' after the section"),
        (b"BODY[MIME]", "invalid section MIME"),
        (b"BODY[FOO]", "invalid section FOO"),
        (b"BODY[1.FOO]", "invalid section 1.FOO"),
        (b"BODY[0]", "invalid section part 0"),
        (b"BODY[1.01]", "invalid section part 01"),
        (b"BODY[12345678901]", "invalid section part 12345678901"),
        (b"BODY[1.]", r"invalid section 1\."),
        (b"BODY[1..2]", r"invalid section 1\.\.2"),
        (b"BODY[.1]", r"invalid section \.1"),
        (b"BODY[HEADER.FIELDS]", "expected a space"),
        (b"BODY[HEADER.FIELDS ()]", "expected an atom or a string"),
        (b"BODY[HEADER.FIELDS From]", r"expected '\(' before header field names"),
        (b'BODY[HEADER.FIELDS ("")]', "invalid header field name"),
        (b'BODY[HEADER.FIELDS ("a:b")]', "invalid header field name"),
        (b"BODY[HEADER.FIELDS (a b]", "expected a space"),
        (b"BODY[TEXT]<1>", r"expected '\.' in a partial range"),
        (b"BODY[TEXT]<1.0>", "expected a nonzero number"),
        (b"BODY[TEXT]<1.2", "expected '>' after a partial range"),
        (b"BODY[TEXT]<x.2>", "expected a number"),
        (b"BINARY", r"expected '\[' after BINARY$"),
        (b"BINARY.PEEK 1", r"expected '\[' after BINARY.PEEK$"),
        (b"BINARY.SIZE", r"expected '\[' after BINARY.SIZE$"),
        (b"BINARY[HEADER]", "BINARY takes part numbers only$"),
        (b"BINARY.PEEK[1.MIME]", "BINARY.PEEK takes part numbers only$"),
        (b"BINARY.SIZE[TEXT]", "BINARY.SIZE takes part numbers only$"),
        (b"BINARY[0]", "BINARY takes part numbers only$"),
        (b"BINARY[1.0]", "BINARY takes part numbers only$"),
        (b"BINARY[01]", "BINARY takes part numbers only$"),
        (b"BINARY[1.]", "BINARY takes part numbers only$"),
        (b"BINARY[.1]", "BINARY takes part numbers only$"),
        (b"BINARY[1..2]", "BINARY takes part numbers only$"),
        (b"BINARY[12345678901]", r"expected '\.' or '\]' after a part number$"),
        (b"BINARY[1 2]", r"expected '\.' or '\]' after a part number$"),
        (b"BINARY[1", r"expected '\.' or '\]' after a part number$"),
        (b"BINARY[1]<1>", r"expected '\.' in a partial range$"),
        (b"BINARY[1]<1.0>", "expected a nonzero number$"),
        (b"BINARY.SIZE[1]<0.3>", "unexpected characters after the FETCH command"),
        (b"(BINARY.SIZE[1]<0.3>)", r"expected a space$"),
        (b"(FLAGS)(UID)", "unexpected characters after the FETCH command"),
        (b"$", "expected a FETCH item"),
    ],
)
def test_errors(spec: bytes, why: str):
    with pytest.raises(ParseError, match=r"^" + why) as info:
        parse_command(b"t FETCH 1 " + spec + b"\r\n")
    assert info.value.tag == "t"


@pytest.mark.parametrize(
    ("spec", "item", "response"),
    [
        (b"BINARY[]", FetchItem("BINARY", Section()), b"BINARY[]"),
        (b"binary[1]", FetchItem("BINARY", Section((1,))), b"BINARY[1]"),
        (b"BINARY.PEEK[1.2.3]", FetchItem("BINARY", Section((1, 2, 3)), peek=True),
         b"BINARY[1.2.3]"),
        (b"BINARY[2]<10.20>", FetchItem("BINARY", Section((2,)), partial=(10, 20)),
         b"BINARY[2]<10>"),
        (b"Binary.Peek[]<0.1>", FetchItem("BINARY", Section(), peek=True, partial=(0, 1)),
         b"BINARY[]<0>"),
        (b"BINARY.SIZE[2.1]", FetchItem("BINARY.SIZE", Section((2, 1)), peek=True),
         b"BINARY.SIZE[2.1]"),
        (b"BINARY.SIZE[]", FetchItem("BINARY.SIZE", Section(), peek=True), b"BINARY.SIZE[]"),
        (b"BINARY[1234567890]", FetchItem("BINARY", Section((1234567890,))),
         b"BINARY[1234567890]"),
    ],
)  # fmt: skip
def test_binary_items(spec: bytes, item: FetchItem, response: bytes):
    """RFC 3516 §4.2: section-binary is part numbers only; BINARY.SIZE never sets \\Seen (a
    peek) and takes no partial range."""
    assert items(spec) == (item,)
    assert item.response_name() == response


def test_binary_items_in_a_list():
    assert items(b"(UID BINARY.PEEK[1]<0.5> BINARY.SIZE[1] BODY.PEEK[1])") == (
        FetchItem("UID"),
        FetchItem("BINARY", Section((1,)), peek=True, partial=(0, 5)),
        FetchItem("BINARY.SIZE", Section((1,)), peek=True),
        FetchItem("BODY", Section((1,)), peek=True),
    )


def test_section_output_without_fields_or_text():
    assert Section().to_bytes() == b""
    assert Section((1, 2)).to_bytes() == b"1.2"
    assert Section((), "TEXT").to_bytes() == b"TEXT"
    assert FetchItem("BODY", Section(), partial=(5, 1)).response_name() == b"BODY[]<5>"
