"""The lexer: strings, numbers, NIL, flags, generic values, and literal flow control."""

from __future__ import annotations

import pytest

from mailserver.imap.syntax import (
    LITERAL_MINUS_MAX,
    MAX_LIST_DEPTH,
    LiteralVerdict,
    ParseError,
    Reader,
    literal_verdict,
)


def read(data: bytes, method: str, **options: bool) -> object:
    r = Reader(data, **options)
    value = getattr(r, method)()
    assert r.at_end(), f"{method} left {data[r.pos :]!r}"
    return value


def fails(data: bytes, method: str, why: str, **options: bool) -> ParseError:
    r = Reader(data, **options)
    r.tag = "t9"
    with pytest.raises(ParseError, match=r"^" + why) as info:
        getattr(r, method)()
    assert info.value.tag == "t9"
    return info.value


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b'""', b""),
        (b'"abc def"', b"abc def"),
        (b'"a\\"b"', b'a"b'),
        (b'"a\\\\b"', b"a\\b"),
        (b'"(){%*]"', b"(){%*]"),
        (b"{0}\r\n", b""),
        (b'{5}\r\na\r\nb"', b'a\r\nb"'),
        (b"{3+}\r\nabc", b"abc"),
        (b"{03}\r\nabc", b"abc"),
    ],
)
def test_strings(data: bytes, value: bytes):
    assert read(data, "string") == value
    assert read(data, "astring") == value


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'"abc', "invalid quoted string"),
        (b'"a\\b"', "invalid quoted string"),  # only \" and \\ may be escaped
        (b'"a\rb"', "invalid quoted string"),
        (b'"a\nb"', "invalid quoted string"),
        (b'"a\x00b"', "invalid quoted string"),
        (b'"caf\xc3\xa9"', "invalid quoted string"),
        (b"{3}\r\nab", "literal shorter than announced"),
        (b"{3}\nabc", "invalid literal"),
        (b"{}\r\n", "invalid literal"),
        (b"{12345678901}\r\n", "invalid literal"),
        (b"{-1}\r\n", "invalid literal"),
        (b"{1}\r\n\x00", "NUL octet in a literal"),
        (b"abc", "expected a string"),
        (b"", "expected a string"),
    ],
)
def test_string_errors(data: bytes, why: str):
    fails(data, "string", why)


def test_quoted_8bit_under_utf8_accept():
    assert read(b'"caf\xc3\xa9"', "quoted", utf8=True) == "caf\xe9".encode()
    fails(b'"a\rb"', "quoted", "invalid quoted string", utf8=True)


def test_astring_atoms_take_resp_specials_but_not_atom_specials():
    assert read(b"a]b", "astring") == b"a]b"
    r = Reader(b"ab(c")
    assert r.astring() == b"ab" and r.peek() == 0x28
    fails(b"(a", "astring", "expected an atom or a string")
    fails(b"", "astring", "expected an atom or a string")
    fails(b"\xe9", "astring", "expected an atom or a string")


def test_nstring():
    assert read(b"NIL", "nstring") is None
    assert read(b"nil", "nstring") is None
    assert read(b'"NIL"', "nstring") == b"NIL"
    fails(b"NILS", "nstring", "expected a string")
    fails(b"x", "nstring", "expected a string")


def test_numbers_and_their_limits():
    assert read(b"0", "number") == 0
    assert read(b"4294967295", "number") == 4294967295
    assert read(b"0004294967295", "number") == 4294967295
    assert read(b"0" * 5000, "number") == 0
    fails(b"4294967296", "number", "number 4294967296 is too large")
    fails(b"9" * 5000, "number", "number 9{24} is too large$")
    fails(b"x", "number", "expected a number")
    r = Reader(b"0")
    with pytest.raises(ParseError, match=r"^expected a nonzero number"):
        r.number(nonzero=True)
    assert Reader(b"7").number(nonzero=True) == 7


def test_flags():
    assert read(b"\\SEEN", "flag") == "\\Seen"
    assert read(b"\\answered", "flag") == "\\Answered"
    assert read(b"$Junk", "flag") == "$Junk"
    assert Reader(b"\\Recent").flag(recent=True) == "\\Recent"
    fails(b"\\Recent", "flag", r"\\Recent is not a flag a client may set")
    fails(b"\\", "flag", "expected a flag name")
    fails(b"(", "flag", "expected a flag")
    assert read(b"()", "flag_list") == ()
    assert read(b"(\\Seen a b)", "flag_list") == ("\\Seen", "a", "b")
    fails(b"\\Seen", "flag_list", r"expected '\('")
    fails(b"(a  b)", "flag_list", "expected a flag")


def test_generic_values():
    assert read(b'(NIL 12 "s" {1}\r\nx atom \\Seen (()) nil)', "value") == [
        None, 12, b"s", b"x", "atom", "\\Seen", [[]], None,
    ]  # fmt: skip
    assert read(b"12a", "value") == "12a"
    assert read(b"12", "value") == 12
    deep = b"(" * (MAX_LIST_DEPTH - 1) + b")" * (MAX_LIST_DEPTH - 1)
    assert read(deep, "value") is not None
    fails(b"(" * MAX_LIST_DEPTH, "value", "lists nested deeper than 32 levels")
    fails(b"(a", "value", "expected a space")
    fails(b")", "value", "expected a value")
    fails(b"\\", "value", "expected a flag name")


def test_position_helpers():
    r = Reader(b"ab")
    assert r.peek() == 0x61 and not r.skip(0x62) and r.skip(0x61) and r.peek() == 0x62
    assert r.skip(0x62) and r.at_end() and r.peek() == -1 and not r.skip(0x62)
    with pytest.raises(ParseError, match=r"^expected a space"):
        r.sp()
    with pytest.raises(ParseError, match=r"^unexpected characters after the X command"):
        Reader(b"z").end_of_command("X")
    Reader(b"").end_of_command("X")


@pytest.mark.parametrize(
    ("size", "sync", "plus", "verdict"),
    [
        (100, True, False, LiteralVerdict.ACCEPT),
        (1000, True, False, LiteralVerdict.ACCEPT),
        (1001, True, True, LiteralVerdict.REFUSE),
        (1001, True, False, LiteralVerdict.REFUSE),
        (1000, False, True, LiteralVerdict.ACCEPT),
        (1001, False, True, LiteralVerdict.CLOSE),
        (1000, False, False, LiteralVerdict.ACCEPT),
    ],
)
def test_literal_verdict(size: int, sync: bool, plus: bool, verdict: LiteralVerdict):
    assert literal_verdict(size, synchronizing=sync, max_literal=1000, literal_plus=plus) == verdict


def test_literal_minus_caps_non_synchronising_literals_at_4096():
    def v(size: int, plus: bool) -> LiteralVerdict:
        return literal_verdict(size, synchronizing=False, max_literal=10**6, literal_plus=plus)

    assert LITERAL_MINUS_MAX == 4096
    assert v(4096, False) is LiteralVerdict.ACCEPT
    assert v(4097, False) is LiteralVerdict.CLOSE
    assert v(4097, True) is LiteralVerdict.ACCEPT
    assert v(10**6, True) is LiteralVerdict.ACCEPT
    assert v(10**6 + 1, True) is LiteralVerdict.CLOSE
    sync = literal_verdict(10**6, synchronizing=True, max_literal=10**6, literal_plus=False)
    assert sync is LiteralVerdict.ACCEPT


def test_parse_error_fields():
    e = ParseError("a1", "why", kind="NO", code=b"TOOBIG")
    assert (e.tag, e.reason, e.kind, e.code, str(e)) == ("a1", "why", "NO", b"TOOBIG", "why")
    e = ParseError(None, "why")
    assert (e.tag, e.kind, e.code) == (None, "BAD", None)


def test_time_zone_minutes_up_to_59():
    when = Reader(b'"01-Jan-2020 00:00:00 +0059"').date_time()
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 59 * 60
    fails(b'"01-Jan-2020 00:00:00 -0060"', "date_time", "time zone minutes over 59$")


def test_a_number_value_ends_at_a_space_a_paren_or_the_end():
    assert read(b"12X", "value") == "12X"
    r = Reader(b"(12 3)")
    assert r.value() == [12, 3]


def test_header_field_names():
    assert read(b'"!~"', "field_name") == "!~"
    assert read(b"Subject", "field_name") == "Subject"
    for raw in (b'""', b'"a:b"', b'"a b"', b"{1}\r\n\x7f", b"{1}\r\n\x80"):
        fails(raw, "field_name", "invalid header field name$")


def test_lists_nest_exactly_32_deep():
    assert read(b"(" * MAX_LIST_DEPTH + b")" * MAX_LIST_DEPTH, "value") is not None
    fails(b"(" * (MAX_LIST_DEPTH + 1) + b")" * (MAX_LIST_DEPTH + 1), "value", "lists nested deeper")
