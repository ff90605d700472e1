"""The response encoder: RFC 3501 §7 and §8 responses byte for byte, strings at their limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailserver.imap import encode
from mailserver.imap.encode import (
    QUOTED_MAX,
    Atom,
    Raw,
    astring,
    code,
    flags,
    internaldate,
    mailbox_name,
    string,
    value,
)
from mailserver.imap.seqset import compact
from mailserver.imap.syntax import Reader

SEEN = Atom("\\Seen")


def test_rfc3501_section8_fetch_full_byte_for_byte():
    address = [b"Terry Gray", None, b"gray", b"cac.washington.edu"]
    envelope = [
        b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
        b"IMAP4rev1 WG mtg summary and minutes",
        [address],
        [address],
        [address],
        [[None, None, b"imap", b"cac.washington.edu"]],
        [
            [None, None, b"minutes", b"CNRI.Reston.VA.US"],
            [b"John Klensin", None, b"KLENSIN", b"MIT.EDU"],
        ],
        None,
        None,
        b"<B27397-0100000@cac.washington.edu>",
    ]
    body = [b"TEXT", b"PLAIN", [b"CHARSET", b"US-ASCII"], None, None, b"7BIT", 3028, 92]
    when = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    wire = encode.fetch(
        12,
        [
            (b"FLAGS", [SEEN]),
            (b"INTERNALDATE", internaldate(when)),
            (b"RFC822.SIZE", 4286),
            (b"ENVELOPE", envelope),
            (b"BODY", body),
        ],
    )
    assert wire == (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
        b'RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
        b'"IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US") '
        b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>") '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
    )


def test_rfc3501_section7_responses():
    assert (
        encode.untagged_status("OK", "IMAP4rev1 server ready") == b"* OK IMAP4rev1 server ready\r\n"
    )
    assert encode.untagged_status("OK", "System shutdown in 10 minutes", code("ALERT")) == (
        b"* OK [ALERT] System shutdown in 10 minutes\r\n"
    )
    assert encode.tagged("A001", "OK", "LOGIN Completed") == b"A001 OK LOGIN Completed\r\n"
    assert encode.untagged_status("BYE", "Autologout; idle for too long") == (
        b"* BYE Autologout; idle for too long\r\n"
    )
    assert encode.capability(["IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "XPIG-LATIN"]) == (
        b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI XPIG-LATIN\r\n"
    )
    assert encode.list_response("LIST", ["\\Noselect"], "/", "~/Mail/foo") == (
        b'* LIST (\\Noselect) "/" ~/Mail/foo\r\n'
    )
    assert encode.list_response("LSUB", [], ".", "#news.comp.mail.misc") == (
        b'* LSUB () "." #news.comp.mail.misc\r\n'
    )
    assert encode.status_response("blurdybloop", [("MESSAGES", 231), ("UIDNEXT", 44292)]) == (
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    )
    assert encode.search([2, 3, 6]) == b"* SEARCH 2 3 6\r\n"
    assert encode.untagged(
        b"FLAGS", flags(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"])
    ) == (b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
    assert encode.untagged(23, b"EXISTS") == b"* 23 EXISTS\r\n"
    assert encode.untagged(5, b"RECENT") == b"* 5 RECENT\r\n"
    assert encode.untagged(44, b"EXPUNGE") == b"* 44 EXPUNGE\r\n"
    assert encode.fetch(23, [(b"FLAGS", flags(["\\Seen"])), (b"RFC822.SIZE", 44827)]) == (
        b"* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827)\r\n"
    )
    assert encode.continuation("Ready for additional command text") == (
        b"+ Ready for additional command text\r\n"
    )
    assert encode.untagged_status("OK", "UIDs valid", code("UIDVALIDITY", 3857529045)) == (
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    )
    assert encode.tagged("a002", "OK", "SELECT completed", code("READ-WRITE")) == (
        b"a002 OK [READ-WRITE] SELECT completed\r\n"
    )


def test_response_codes():
    assert code("UIDNEXT", 4392) == b"UIDNEXT 4392"
    assert code("APPENDUID", 38505, 3955) == b"APPENDUID 38505 3955"
    assert code(
        "COPYUID", 38505, compact([304, 319, 320, 321]), compact([3956, 3957, 3958, 3959])
    ) == (b"COPYUID 38505 304,319:321 3956:3959")
    assert code("PERMANENTFLAGS", flags(["\\Deleted", "\\Seen", "\\*"])) == (
        b"PERMANENTFLAGS (\\Deleted \\Seen \\*)"
    )
    assert code("HIGHESTMODSEQ", 715194045007) == b"HIGHESTMODSEQ 715194045007"
    assert (
        code("CAPABILITY", *[Atom(c) for c in ("IMAP4rev1", "IDLE")])
        == b"CAPABILITY IMAP4rev1 IDLE"
    )
    assert code("BADCHARSET", [Atom("UTF-8"), Atom("US-ASCII")]) == b"BADCHARSET (UTF-8 US-ASCII)"
    assert encode.tagged("A3", "NO", "no such mailbox", code("TRYCREATE")) == (
        b"A3 NO [TRYCREATE] no such mailbox\r\n"
    )


def test_text_is_one_line_of_ascii_and_never_empty():
    assert encode.tagged("a", "BAD", "two\r\nlines\x00") == b"a BAD two  lines \r\n"
    assert encode.tagged("a", "NO", "caf\xe9") == b"a NO caf?\r\n"
    assert encode.tagged("a", "OK", "") == b"a OK done\r\n"
    assert encode.continuation() == b"+ \r\n"
    assert encode.continuation(b"dGVzdA==") == b"+ dGVzdA==\r\n"


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        (b"", b'""'),
        (b"abc", b'"abc"'),
        (b'say "hi"', b'"say \\"hi\\""'),
        (b"back\\slash", b'"back\\\\slash"'),
        (b"NIL", b'"NIL"'),
        (b"a\r\nb", b"{4}\r\na\r\nb"),
        (b"a\rb", b"{3}\r\na\rb"),
        (b"a\nb", b"{3}\r\na\nb"),
        (b"caf\xc3\xa9", b"{5}\r\ncaf\xc3\xa9"),
        (b"a\x00b", b"{3}\r\na\x80b"),
        (b"x" * QUOTED_MAX, b'"' + b"x" * QUOTED_MAX + b'"'),
        (b"x" * (QUOTED_MAX + 1), b"{1025}\r\n" + b"x" * (QUOTED_MAX + 1)),
        (b"\x7f\x01", b'"\x7f\x01"'),
    ],
)
def test_strings_quoted_only_when_safe(raw: bytes, wire: bytes):
    assert string(raw) == wire
    assert value(raw) == wire


def test_values():
    assert value(None) == b"NIL"
    assert value(0) == b"0"
    assert value(2**63 - 1) == b"9223372036854775807"
    assert value("caf\xe9") == b"{5}\r\ncaf\xc3\xa9"
    assert value("plain") == b'"plain"'
    assert value([]) == b"()"
    assert value(()) == b"()"
    assert value([None, [1, (b"x",)]]) == b'(NIL (1 ("x")))'
    assert value(Atom("NIL")) == b"NIL"
    assert value(Atom("\\Seen")) == b"\\Seen"
    assert value(Raw(b"(already encoded)")) == b"(already encoded)"
    for bad in (True, 1.5, {1: 2}, bytearray(b"x")):
        with pytest.raises(TypeError, match=r"^no IMAP form for"):
            value(bad)


def test_untagged_parts_bytes_are_syntax_lists_are_values():
    assert encode.untagged(b"ID", [b"name", b"minternet", b"version", None]) == (
        b'* ID ("name" "minternet" "version" NIL)\r\n'
    )
    assert encode.untagged(b"ENABLED", b"CONDSTORE") == b"* ENABLED CONDSTORE\r\n"
    assert encode.untagged(b"NAMESPACE", [[b"", b"/"]], None, None) == (
        b'* NAMESPACE (("" "/")) NIL NIL\r\n'
    )
    assert encode.untagged(Raw(b"X"), Atom("Y"), "z") == b'* X Y "z"\r\n'


def test_astring():
    assert astring(b"INBOX") == b"INBOX"
    assert astring(b"a]b") == b"a]b"
    assert astring(b"") == b'""'
    assert astring(b"nil") == b'"nil"'
    for special in (
        b"a b",
        b"a(b",
        b"a)b",
        b"a{b",
        b"a%b",
        b"a*b",
        b'a"b',
        b"a\\b",
        b"\x7f",
        b"\xe9",
    ):
        assert astring(special) != special


def test_internaldate():
    utc = UTC
    assert (
        internaldate(datetime(2026, 1, 2, 3, 4, 5, tzinfo=utc)) == b'"02-Jan-2026 03:04:05 +0000"'
    )
    east = timezone(timedelta(hours=5, minutes=30))
    assert internaldate(datetime(2026, 12, 31, 23, 59, 59, tzinfo=east)) == (
        b'"31-Dec-2026 23:59:59 +0530"'
    )
    west = timezone(-timedelta(hours=9, minutes=30))
    assert (
        internaldate(datetime(1999, 6, 9, 0, 0, 0, tzinfo=west)) == b'"09-Jun-1999 00:00:00 -0930"'
    )
    with pytest.raises(ValueError, match=r"^INTERNALDATE needs an aware datetime"):
        internaldate(datetime(2026, 1, 2))
    assert isinstance(internaldate(datetime(2026, 1, 2, tzinfo=utc)), Raw)


@given(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=13, minutes=45))]
        )
    )
)
def test_internaldate_parses_back(when: datetime):
    when = when.replace(microsecond=0)
    if when.year < 1000:
        return
    assert Reader(internaldate(when)).date_time() == when


def test_mailbox_names():
    assert mailbox_name("INBOX") == b"INBOX"
    assert mailbox_name("Sent") == b"Sent"
    assert mailbox_name("\u53f0\u5317") == b"&U,BTFw-"
    assert mailbox_name("a b") == b'"a b"'
    assert mailbox_name("Tom & Jerry") == b'"Tom &- Jerry"'
    assert mailbox_name("caf\xe9", utf8=True) == b"{5}\r\ncaf\xc3\xa9"
    assert mailbox_name("") == b'""'


def test_list_response_extended_data_and_nil_delimiter():
    assert (
        encode.list_response(
            "LIST", ["\\Subscribed"], "/", "Foo", extended=[("CHILDINFO", [b"SUBSCRIBED"])]
        )
        == b'* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n'
    )
    assert (
        encode.list_response("LIST", ["\\Noselect"], None, "") == b'* LIST (\\Noselect) NIL ""\r\n'
    )


def test_search_and_esearch():
    assert encode.search([]) == b"* SEARCH\r\n"
    assert encode.search([], modseq=5) == b"* SEARCH\r\n"
    assert encode.search([2, 5], modseq=917162500) == b"* SEARCH 2 5 (MODSEQ 917162500)\r\n"
    assert encode.esearch(
        "A282", True, [("MIN", 2), ("COUNT", 3), ("ALL", compact([2, 3, 4]))]
    ) == (b'* ESEARCH (TAG "A282") UID MIN 2 COUNT 3 ALL 2:4\r\n')
    assert encode.esearch("a", False, []) == b'* ESEARCH (TAG "a")\r\n'


values = st.recursive(
    st.none()
    | st.integers(0, 2**63 - 1)
    | st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"")),
    lambda children: st.lists(children, max_size=4),
    max_leaves=20,
)


@given(values)
def test_values_parse_back_with_the_lexer(v: object):
    wire = value(v)
    r = Reader(wire)
    assert r.value() == v
    assert r.at_end()


@given(st.binary(max_size=2000).map(lambda b: b.replace(b"\x00", b"")))
def test_strings_and_astrings_parse_back(raw: bytes):
    r = Reader(string(raw))
    assert r.string() == raw and r.at_end()
    r = Reader(astring(raw))
    assert r.astring() == raw and r.at_end()


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=30))
def test_mailbox_names_parse_back(name: str):
    r = Reader(mailbox_name(name))
    expected = "INBOX" if name.upper() == "INBOX" else name
    assert r.mailbox() == expected
    if "\x00" not in name:  # NUL cannot be sent (it would go as 0x80)
        r = Reader(mailbox_name(name, utf8=True), utf8=True)
        assert r.mailbox() == expected


def test_utf8_mailbox_names_in_list_and_status():
    assert encode.list_response("LIST", [], "/", "caf\xe9") == b'* LIST () "/" caf&AOk-\r\n'
    assert encode.list_response("LIST", [], "/", "caf\xe9", utf8=True) == (
        b'* LIST () "/" {5}\r\ncaf\xc3\xa9\r\n'
    )
    assert (
        encode.status_response("caf\xe9", [("MESSAGES", 1)])
        == b"* STATUS caf&AOk- (MESSAGES 1)\r\n"
    )
    assert encode.status_response("caf\xe9", [("MESSAGES", 1)], utf8=True) == (
        b"* STATUS {5}\r\ncaf\xc3\xa9 (MESSAGES 1)\r\n"
    )


def test_list_response_with_two_extended_items():
    assert (
        encode.list_response(
            "LIST", [], "/", "a", extended=[("CHILDINFO", [b"SUBSCRIBED"]), ("OLDNAME", [b"b"])]
        )
        == b'* LIST () "/" a ("CHILDINFO" ("SUBSCRIBED") "OLDNAME" ("b"))\r\n'
    )


def test_binary_content_is_a_literal8_only_with_nul():
    """RFC 3516 §4.3: a literal8 for BINARY content that holds NUL (sent as it is), a literal
    (the RFC's SHOULD) for the rest, "" for none."""
    assert encode.value(encode.Binary(b"a\x00b")) == b"~{3}\r\na\x00b"
    assert encode.value(encode.Binary(b"\xff\r\n")) == b"{3}\r\n\xff\r\n"
    assert encode.value(encode.Binary(b"hi")) == b"{2}\r\nhi"
    assert encode.value(encode.Binary(b"")) == b'""'
    assert encode.fetch(7, [(b"BINARY[1]<0>", encode.Binary(b"\x00"))]) == (
        b"* 7 FETCH (BINARY[1]<0> ~{1}\r\n\x00)\r\n"
    )


def test_message_content_is_always_a_literal():
    assert encode.literal(b"hi") == b"{2}\r\nhi"
    assert encode.literal(memoryview(b"a\x00b")) == b"{3}\r\na\x80b"
    assert encode.literal(b"") == b'""'
    assert encode.literal(memoryview(b"")) == b'""'
    assert value(memoryview(b"short")) == b"{5}\r\nshort"
    assert value(memoryview(b"xyz")[1:]) == b"{2}\r\nyz"
    assert encode.fetch(1, [(b"BODY[]", memoryview(b"x\r\n"))]) == (
        b"* 1 FETCH (BODY[] {3}\r\nx\r\n)\r\n"
    )


def test_a_code_is_added_to_a_tagged_ok_only() -> None:
    assert encode.with_code(b"a1 OK done\r\n", b"C") == b"a1 OK [C] done\r\n"
    assert encode.with_code(b"a1 OK done OK now\r\n", b"C") == b"a1 OK [C] done OK now\r\n"
    assert encode.with_code(b"a1 OK [X] done\r\n", b"C") == b"a1 OK [X] done\r\n"  # has one
    assert encode.with_code(b"a1 NO not OK here\r\n", b"C") == b"a1 NO not OK here\r\n"
    assert encode.with_code(b"a1 OK done\r\n", None) == b"a1 OK done\r\n"
