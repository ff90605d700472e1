"""The search key tree: every RFC 3501 key, MODSEQ, charsets, dates, groups and the depth bound."""

from __future__ import annotations

from datetime import date

import pytest

from mailserver.imap.commands import parse_command
from mailserver.imap.search import (
    MAX_DEPTH,
    AgeKey,
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
    badcharset_code,
    dated,
)
from mailserver.imap.search_commands import Search
from mailserver.imap.seqset import STAR, SeqSet
from mailserver.imap.syntax import ParseError


def key(program: bytes, charset: bytes = b"") -> SearchKey:
    prefix = b"CHARSET " + charset + b" " if charset else b""
    command = parse_command(b"t SEARCH " + prefix + program + b"\r\n")
    assert isinstance(command, Search)
    return command.key


def bad(program: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=r"^" + why) as info:
        parse_command(b"t SEARCH " + program + b"\r\n")
    assert info.value.tag == "t" and info.value.kind == "BAD"


@pytest.mark.parametrize(
    ("program", "tree"),
    [
        (b"ALL", All()),
        (b"ANSWERED", FlagKey("\\Answered", True)),
        (b"DELETED", FlagKey("\\Deleted", True)),
        (b"DRAFT", FlagKey("\\Draft", True)),
        (b"FLAGGED", FlagKey("\\Flagged", True)),
        (b"RECENT", FlagKey("\\Recent", True)),
        (b"SEEN", FlagKey("\\Seen", True)),
        (b"UNANSWERED", FlagKey("\\Answered", False)),
        (b"UNDELETED", FlagKey("\\Deleted", False)),
        (b"UNDRAFT", FlagKey("\\Draft", False)),
        (b"UNFLAGGED", FlagKey("\\Flagged", False)),
        (b"UNSEEN", FlagKey("\\Seen", False)),
        (b"NEW", And((FlagKey("\\Recent", True), FlagKey("\\Seen", False)))),
        (b"OLD", FlagKey("\\Recent", False)),
        (b"KEYWORD $Forwarded", FlagKey("$Forwarded", True)),
        (b"UNKEYWORD Junk", FlagKey("Junk", False)),
        (b"BCC bob", HeaderKey("bcc", "bob")),
        (b"CC bob", HeaderKey("cc", "bob")),
        (b'FROM "Smith"', HeaderKey("from", "Smith")),
        (b"TO {3}\r\nbob", HeaderKey("to", "bob")),
        (b'SUBJECT "re: hi"', HeaderKey("subject", "re: hi")),
        (b'HEADER Message-ID "<a@b>"', HeaderKey("message-id", "<a@b>")),
        (b'HEADER "X-Spam" ""', HeaderKey("x-spam", "")),
        (b"BODY hello", TextKey("BODY", "hello")),
        (b"TEXT hello", TextKey("TEXT", "hello")),
        (b"BEFORE 1-Feb-1994", DateKey(False, "BEFORE", date(1994, 2, 1))),
        (b"ON 01-feb-1994", DateKey(False, "ON", date(1994, 2, 1))),
        (b'SINCE "17-JUL-1996"', DateKey(False, "SINCE", date(1996, 7, 17))),
        (b"SENTBEFORE 1-Jan-2000", DateKey(True, "BEFORE", date(2000, 1, 1))),
        (b"SENTON 29-Feb-2024", DateKey(True, "ON", date(2024, 2, 29))),
        (b"SENTSINCE 31-Dec-1999", DateKey(True, "SINCE", date(1999, 12, 31))),
        (b"LARGER 1024", SizeKey(True, 1024)),
        (b"SMALLER 0", SizeKey(False, 0)),
        (b"OLDER 3600", AgeKey(True, 3600)),
        (b"younger 1", AgeKey(False, 1)),
        (b"YOUNGER 4294967295", AgeKey(False, 4294967295)),
        (b"UID 1:*", SeqKey(SeqSet(((1, STAR),)), uid=True)),
        (b"2:4,7", SeqKey(SeqSet(((2, 4), (7, 7))), uid=False)),
        (b"*", SeqKey(SeqSet(((STAR, STAR),)), uid=False)),
        (b"NOT SEEN", Not(FlagKey("\\Seen", True))),
        (b"OR SEEN FLAGGED", Or(FlagKey("\\Seen", True), FlagKey("\\Flagged", True))),
        (b"(SEEN)", FlagKey("\\Seen", True)),
        (b"(SEEN FLAGGED)", And((FlagKey("\\Seen", True), FlagKey("\\Flagged", True)))),
        (b"MODSEQ 0", ModSeqKey(0)),
        (b"MODSEQ 620162338", ModSeqKey(620162338)),
        (b'MODSEQ "/flags/\\\\draft" all 620162338', ModSeqKey(620162338, "\\Draft", "all")),
        (b'MODSEQ "/FLAGS/$Junk" Priv 5', ModSeqKey(5, "$Junk", "priv")),
        (b'MODSEQ "/flags/x" shared 5', ModSeqKey(5, "x", "shared")),
        (b"seen unseen", And((FlagKey("\\Seen", True), FlagKey("\\Seen", False)))),
    ],
)
def test_every_key(program: bytes, tree: SearchKey):
    assert key(program) == tree


def test_nested_program():
    assert key(b"OR (FROM a TO b) NOT (1:3 UID 5) LARGER 10") == And(
        (
            Or(
                And((HeaderKey("from", "a"), HeaderKey("to", "b"))),
                Not(And((SeqKey(SeqSet(((1, 3),)), False), SeqKey(SeqSet(((5, 5),)), True)))),
            ),
            SizeKey(True, 10),
        )
    )


def test_strings_follow_the_charset():
    utf8 = "\u65e5\u672c".encode()
    assert key(b"SUBJECT {%d}\r\n" % len(utf8) + utf8, b"UTF-8") == HeaderKey(
        "subject", "\u65e5\u672c"
    )
    assert key(b"SUBJECT {%d}\r\n" % len(utf8) + utf8) == HeaderKey("subject", "\u65e5\u672c")
    assert key(b"SUBJECT abc", b"US-ASCII") == HeaderKey("subject", "abc")
    with pytest.raises(ParseError, match=r"^search string is not US-ASCII"):
        key(b"SUBJECT {%d}\r\n" % len(utf8) + utf8, b"US-ASCII")
    with pytest.raises(ParseError, match=r"^search string is not valid UTF-8"):
        key(b"SUBJECT {2}\r\n\xc3\x28", b"UTF-8")
    assert badcharset_code() == b"BADCHARSET (UTF-8 US-ASCII)"


def test_nesting_is_bounded():
    assert key(b"(" * (MAX_DEPTH - 1) + b"ALL" + b")" * (MAX_DEPTH - 1)) == All()
    bad(b"(" * MAX_DEPTH + b"ALL" + b")" * MAX_DEPTH, "search keys nested deeper than 32 levels")
    assert key(b"NOT " * (MAX_DEPTH - 1) + b"ALL") is not None
    bad(b"NOT " * MAX_DEPTH + b"ALL", "search keys nested deeper than 32 levels$")
    bad(b"OR " * MAX_DEPTH + b"ALL ALL", "search keys nested deeper than 32 levels$")
    bad(b"(" * 100000, "search keys nested deeper than 32 levels$")


@pytest.mark.parametrize(
    ("program", "why"),
    [
        (b"FOO", "unknown search key FOO"),
        (b"FROM", "expected a space"),
        (b"FROM ", "expected an atom or a string"),
        (b"HEADER", "expected a space"),
        (b"HEADER Subject", "expected a space"),
        (b'HEADER "" x', "invalid header field name"),
        (b'HEADER "a:b" x', "invalid header field name"),
        (b'HEADER "a b" x', "invalid header field name"),
        (b"BEFORE", "expected a space"),
        (b"BEFORE 1-Feb-94", r"expected a date \(dd-Mon-yyyy\)"),
        (b"BEFORE 123-Feb-1994", r"expected a date \(dd-Mon-yyyy\)"),
        (b"BEFORE 1-Fev-1994", "unknown month Fev"),
        (b"BEFORE 30-Feb-1994", "invalid date: day is out of range for month"),
        (b"BEFORE 0-Feb-1994", "invalid date: day is out of range for month"),
        (b'BEFORE "1-Feb-1994', "expected '\"' after the date"),
        (b"BEFORE 1-Feb-1994x", "expected a space"),
        (b"LARGER", "expected a space"),
        (b"LARGER x", "expected a number"),
        (b"LARGER 4294967296", "number 4294967296 is too large"),
        (b"LARGER -1", "expected a number"),
        (b"OLDER", "expected a space"),
        (b"OLDER 0", "expected a nonzero number"),
        (b"YOUNGER x", "expected a number"),
        (b"YOUNGER 4294967296", "number 4294967296 is too large"),
        (b"UID", "expected a space"),
        (b"UID x", "expected a sequence set"),
        (b"UID 0", "0 is not a valid message number"),
        (b"0:3", "0 is not a valid message number"),
        (b"$", r"\$ \(a saved search result\) is not supported"),
        (b"KEYWORD", "expected a space"),
        (b"KEYWORD \\Seen", "expected a keyword"),
        (b"NOT", "expected a space"),
        (b"OR SEEN", "expected a space"),
        (b"()", "expected an atom"),
        (b"(SEEN", "expected a space"),
        (b"(SEEN FLAGGED", "expected a space"),
        (b"SEEN)", "expected a space"),
        (b"SEEN  FLAGGED", "expected an atom"),
        (b"MODSEQ", "expected a space"),
        (b"MODSEQ x", "expected a number"),
        (b"MODSEQ 9223372036854775808", "number 9223372036854775808 is too large"),
        (b'MODSEQ "/flags/\\\\seen" 5', "MODSEQ entry type must be priv, shared or all"),
        (b'MODSEQ "/flags/\\\\seen" (', "expected an entry type"),
        (b'MODSEQ "/flags/\\\\seen" mine 5', "MODSEQ entry type must be priv, shared or all"),
        (b'MODSEQ "/other/x" all 5', "MODSEQ entry name must be /flags/<flag>"),
        (b'MODSEQ "/flags/" all 5', "invalid flag in MODSEQ entry name ''"),
        (b'MODSEQ "/flags/\\\\Bogus" all 5', r"invalid flag in MODSEQ entry name '\\\\Bogus'"),
        (b'MODSEQ "/flags/a(b" all 5', "invalid flag in MODSEQ entry name 'a\\(b'"),
        (b'MODSEQ "/flags/\\\\seen" all', "expected a space"),
    ],
)
def test_errors(program: bytes, why: str):
    bad(program, why)


def test_search_with_uid_and_date_day_forms():
    assert key(b"SINCE 1-Jan-2020") == key(b"SINCE 01-Jan-2020") == key(b'SINCE "01-jan-2020"')


def test_the_charset_reaches_every_nested_string():
    """US-ASCII is enforced inside groups, NOT, OR (both sides) and BODY/TEXT too."""
    eight = b"{2}\r\n\xc3\xa9"
    for program in (
        b"(SUBJECT " + eight + b")",
        b"(ALL SUBJECT " + eight + b")",
        b"NOT SUBJECT " + eight,
        b"OR SUBJECT " + eight + b" ALL",
        b"OR ALL SUBJECT " + eight,
        b"BODY " + eight,
        b"TEXT " + eight,
        b"HEADER X-A " + eight,
    ):
        with pytest.raises(ParseError, match=r"^search string is not US-ASCII$"):
            key(program, b"US-ASCII")
        assert key(program, b"UTF-8") is not None


def test_every_path_of_nesting_counts_one_level():
    """The bound is exact whichever way the nesting goes: a group's later keys, OR's sides."""
    inner = b"(" * (MAX_DEPTH - 2) + b"ALL" + b")" * (MAX_DEPTH - 2)
    too_deep = b"(" * (MAX_DEPTH - 1) + b"ALL" + b")" * (MAX_DEPTH - 1)
    for wrap in (b"(ALL %s)", b"OR %s ALL", b"OR ALL %s", b"NOT %s"):
        assert key(wrap.replace(b"%s", inner)) is not None
        bad(wrap.replace(b"%s", too_deep), "search keys nested deeper than 32 levels$")


def test_a_sequence_set_starts_with_a_digit_star_or_dollar_only():
    assert key(b"9") == SeqKey(SeqSet(((9, 9),)), uid=False)
    bad(b":1", "unknown search key :1$")
    bad(b"/1", "unknown search key /1$")


def test_field_names_at_the_edges_of_printable_ascii():
    assert key(b'HEADER "!~" x') == HeaderKey("!~", "x")
    bad(b"HEADER {1}\r\n\x7f x", "invalid header field name$")
    bad(b"HEADER {1}\r\n\x80 x", "invalid header field name$")
    bad(b"HEADER {1}\r\n\x20 x", "invalid header field name$")


def test_modseq_entry_flags_are_atoms():
    assert key(b'MODSEQ "/flags/!X" all 1') == ModSeqKey(1, "!X", "all")
    bad(b'MODSEQ "/flags/a b" all 1', "invalid flag in MODSEQ entry name 'a b'$")
    bad(b'MODSEQ "/flags/a\x7f" all 1', r"invalid flag in MODSEQ entry name 'a\\x7f'$")
    bad(b'MODSEQ "/flags/a]" all 1', r"invalid flag in MODSEQ entry name 'a\]'$")


def test_modseq_entry_names_under_utf8_accept_must_be_utf8():
    line = b't SEARCH MODSEQ "/flags/\xff" all 1\r\n'
    with pytest.raises(ParseError, match=r"^MODSEQ entry name is not valid UTF-8$"):
        parse_command(line, utf8=True)
    line = b't SEARCH MODSEQ "/flags/\xc3\xa9" all 1\r\n'
    with pytest.raises(ParseError, match=r"^invalid flag in MODSEQ entry name '\xe9'$"):
        parse_command(line, utf8=True)


def test_dated_counts_older_and_younger_back_from_now() -> None:
    tree = key(b"OR OLDER 60 NOT (YOUNGER 5 SEEN)")
    assert dated(tree, 1000.0) == Or(
        AgeKey(True, 60, 1000.0), Not(And((AgeKey(False, 5, 1000.0), FlagKey("\\Seen", True))))
    )
    seen = key(b"SEEN")
    assert dated(seen, 1000.0) is seen  # nothing to date: the same tree
