"""Hostile input: random and mutated commands only ever give a Command or a ParseError.

Every parser entry point is fed random bytes and small mutations of valid commands; anything
else escaping (IndexError, UnicodeDecodeError, ValueError, RecursionError...) is a defect.
Pathological inputs as large as a command may be (the framer caps it) must finish: a
quadratic or exponential path would make these tests run into the suite's timeout.
"""

from __future__ import annotations

import contextlib
import os

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailserver.imap.commands import (
    Command,
    parse_command,
    parse_idle_done,
    parse_sasl_response,
)
from mailserver.imap.syntax import ParseError, Reader

VALID = [
    b"a1 CAPABILITY",
    b"a1 LOGIN {3}\r\nbob {6+}\r\nsecret",
    b"a1 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=",
    b"a1 SELECT INBOX (CONDSTORE)",
    b"a1 EXAMINE &ZeVnLIqe-",
    b'a1 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES))',
    b'a1 LSUB "#news." "comp.mail.*"',
    b"a1 STATUS Sent (UIDNEXT MESSAGES HIGHESTMODSEQ)",
    b'a1 APPEND Drafts (\\Draft $x) " 7-Jul-1996 02:44:25 -0700" {5}\r\nhello',
    b"a1 NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))"
    b" (SUBTREE (Work INBOX) (MessageNew MessageExpunge MailboxName SubscriptionChange))",
    b"a1 NOTIFY NONE",
    b'a1 APPEND Sent CATENATE (TEXT {3}\r\nabc URL "/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=1.MIME")',
    b"a1 APPEND Sent CATENATE (URL ;UID=2/;SECTION=HEADER/;PARTIAL=0.9 TEXT ~{2}\r\n\x00x)",
    b'a1 ID ("name" "x" "version" NIL)',
    b"a1 ENABLE CONDSTORE",
    b"a1 UID EXPUNGE 1:3,5",
    b"a1 UID MOVE 1:* Trash",
    b'a1 FETCH 1:* (FLAGS UID BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A "B")]<0.100>) (CHANGEDSINCE 7)',
    b"a1 UID STORE 1,3:* (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Seen \\Deleted)",
    b'a1 UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "a" SINCE 1-Feb-1994) NOT '
    b'(UID 3:* MODSEQ "/flags/\\\\draft" all 5) HEADER X-Y {2}\r\nzz LARGER 10',
    b"a1 RENAME a b",
]


def survives(frame: bytes, **options: bool) -> None:
    try:
        command = parse_command(frame, **options)
    except ParseError as e:
        assert isinstance(e.reason, str) and e.reason
        assert e.kind in ("BAD", "NO")
        assert e.tag is None or isinstance(e.tag, str)
        return
    assert isinstance(command, Command)


def test_the_corpus_is_valid():
    for line in VALID:
        assert isinstance(parse_command(line + b"\r\n"), Command)


@settings(max_examples=400)
@given(st.binary(max_size=300), st.booleans(), st.booleans())
@example(b"a1 FETCH 1 BODY[", False, False)
@example(b"a1 LIST (", False, False)
@example(b"a1 ID (", False, False)
def test_random_bytes(frame: bytes, utf8: bool, literal_minus: bool):
    survives(frame, utf8=utf8, literal_minus=literal_minus)
    survives(b"a1 " + frame, utf8=utf8, literal_minus=literal_minus)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(VALID)) + b"\r\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.integers(0, 3))
        if kind == 0 and at < len(line):
            del line[at]
        elif kind == 1:
            line[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif kind == 2 and at < len(line):
            line[at] = draw(st.sampled_from(b' ()[]{}<>"\\*%+-.:,$0123456789~\r\n\x00\xff'))
        else:
            del line[at:]
    return bytes(line)


@settings(max_examples=1000)
@given(mutated(), st.booleans(), st.booleans())
def test_mutated_commands(frame: bytes, utf8: bool, searchres: bool):
    survives(frame, utf8=utf8, searchres=searchres)


@given(st.binary(max_size=100))
def test_continuation_lines(line: bytes):
    with contextlib.suppress(ParseError):
        assert parse_sasl_response(line) is None or isinstance(parse_sasl_response(line), bytes)
    with contextlib.suppress(ParseError):
        parse_idle_done(line)


@given(st.binary(max_size=200))
def test_generic_values(data: bytes):
    with contextlib.suppress(ParseError):
        Reader(data).value()


def test_pathological_sizes_finish():
    """Inputs of hundreds of kilobytes (more than the framer lets through) in one pass. Under
    `make mutation` a few kilobytes: still past every depth and count limit, and this test,
    which reaches most of the parser, then costs a mutant a fraction of a second, not 28 s
    (every call goes through mutmut's trampoline)."""
    n = 1 << 12 if os.environ.get("MINTERNET_MUTATION") else 1 << 17
    for frame in (
        b"a1 SEARCH " + b"(" * n,
        b"a1 SEARCH " + b"NOT " * n + b"ALL",
        b"a1 SEARCH " + b"OR " * n,
        b"a1 SEARCH " + b" ".join([b"ALL"] * n),
        b'a1 LOGIN "' + b"\\\\" * n + b'" x',
        b'a1 LOGIN "' + b"a" * n,
        b"a1 FETCH " + b"1," * n + b"2 FLAGS",
        b"a1 FETCH 1 (" + b"FLAGS " * n + b"UID)",
        b"a1 FETCH 1 BODY[HEADER.FIELDS (" + b"a " * n + b")]",
        b"a1 STORE 1 FLAGS (" + b"$a " * n + b")",
        b'a1 LIST "" (' + b"a " * n + b")",
        b"a1 APPEND x {" + b"9" * n + b"}\r\n",
        b"a1 ID (" + b'"a" "b" ' * n + b")",
        b"a1 CREATE " + b"&AOk-" * n,
        b"a1 CREATE " + b"&" * n,
        b"a1 " + b"X" * n,
        b"a" * n,
    ):
        survives(frame + b"\r\n")
    with contextlib.suppress(ParseError):
        Reader(b"(" * n).value()
