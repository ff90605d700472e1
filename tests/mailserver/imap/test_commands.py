"""The command parser: RFC 3501 §6 examples, every command and argument form, every error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailserver.imap.commands import (
    MAX_APPEND_MESSAGES,
    MAX_CATENATE_PARTS,
    Append,
    AppendMessage,
    Authenticate,
    Command,
    Copy,
    Enable,
    Expunge,
    Fetch,
    Id,
    ListMailboxes,
    Login,
    MailboxCommand,
    QuotaCommand,
    Rename,
    Resync,
    Select,
    Simple,
    Status,
    Store,
    parse_command,
    parse_idle_done,
    parse_sasl_response,
)
from mailserver.imap.fetchatt import FetchItem, Section
from mailserver.imap.search import All, And, DateKey, FlagKey, HeaderKey, Not, SeqKey, TextKey
from mailserver.imap.search_commands import CancelUpdate, Search, Sort, Thread
from mailserver.imap.seqset import STAR, SeqSet
from mailserver.imap.sorting import Criterion
from mailserver.imap.syntax import ParseError


def p(line: bytes, **options: bool) -> Command:
    return parse_command(line + b"\r\n", **options)


def messages(line: bytes, **options: bool) -> tuple[AppendMessage, ...]:
    cmd = p(line, **options)
    assert isinstance(cmd, Append)
    return cmd.messages


def bad(line: bytes, why: str, tag: str | None = "a1", **options: bool) -> ParseError:
    with pytest.raises(ParseError, match=r"^" + why) as info:
        p(line, **options)
    assert info.value.tag == tag
    assert info.value.reason == str(info.value)
    return info.value


# -- RFC 3501 §6 examples, as the client sends them -------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"abcd CAPABILITY", Simple(tag="abcd", name="CAPABILITY")),
        (b"a002 NOOP", Simple(tag="a002", name="NOOP")),
        (b"A023 LOGOUT", Simple(tag="A023", name="LOGOUT")),
        (b"a001 STARTTLS", Simple(tag="a001", name="STARTTLS")),
        (b"FXXZ CHECK", Simple(tag="FXXZ", name="CHECK")),
        (b"A341 CLOSE", Simple(tag="A341", name="CLOSE")),
        (b"A202 EXPUNGE", Expunge(tag="A202", name="EXPUNGE")),
        (
            b"A001 AUTHENTICATE GSSAPI",
            Authenticate(tag="A001", name="AUTHENTICATE", mechanism="GSSAPI", initial=None),
        ),
        (
            b"a001 LOGIN SMITH SESAME",
            Login(tag="a001", name="LOGIN", user=b"SMITH", password=b"SESAME"),
        ),
        (b"A142 SELECT INBOX", Select(tag="A142", name="SELECT", mailbox="INBOX", readonly=False)),
        (
            b"A932 EXAMINE blurdybloop",
            Select(tag="A932", name="EXAMINE", mailbox="blurdybloop", readonly=True),
        ),
        (
            b"A003 CREATE owatagusiam/",
            MailboxCommand(tag="A003", name="CREATE", mailbox="owatagusiam/"),
        ),
        (
            b"A683 DELETE blurdybloop",
            MailboxCommand(tag="A683", name="DELETE", mailbox="blurdybloop"),
        ),
        (
            b"A683 RENAME blurdybloop sarasoop",
            Rename(tag="A683", name="RENAME", old="blurdybloop", new="sarasoop"),
        ),
        (
            b"A002 SUBSCRIBE #news.comp.mail.mime",
            MailboxCommand(tag="A002", name="SUBSCRIBE", mailbox="#news.comp.mail.mime"),
        ),
        (
            b"A002 UNSUBSCRIBE #news.comp.mail.mime",
            MailboxCommand(tag="A002", name="UNSUBSCRIBE", mailbox="#news.comp.mail.mime"),
        ),
        (
            b'A101 LIST "" ""',
            ListMailboxes(tag="A101", name="LIST", reference="", patterns=("",)),
        ),
        (
            b"A202 LIST ~/Mail/ %",
            ListMailboxes(tag="A202", name="LIST", reference="~/Mail/", patterns=("%",)),
        ),
        (
            b'A002 LSUB "#news." "comp.mail.*"',
            ListMailboxes(tag="A002", name="LSUB", reference="#news.", patterns=("comp.mail.*",)),
        ),
        (
            b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
            Status(tag="A042", name="STATUS", mailbox="blurdybloop", items=("UIDNEXT", "MESSAGES")),
        ),
        (
            b"A003 COPY 2:4 MEETING",
            Copy(tag="A003", name="COPY", uid=False, seqset=SeqSet(((2, 4),)), mailbox="MEETING"),
        ),
        (
            b"A003 STORE 2:4 +FLAGS (\\Deleted)",
            Store(
                tag="A003",
                name="STORE",
                uid=False,
                seqset=SeqSet(((2, 4),)),
                mode="+",
                silent=False,
                flags=("\\Deleted",),
            ),
        ),
        (
            b"A999 UID FETCH 4827313:4828442 FLAGS",
            Fetch(
                tag="A999",
                name="FETCH",
                uid=True,
                seqset=SeqSet(((4827313, 4828442),)),
                items=(FetchItem("FLAGS"),),
            ),
        ),
    ],
)
def test_rfc3501_examples(line: bytes, command: Command):
    assert p(line) == command


def test_rfc3501_append_example_with_its_literal():
    message = (
        b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
        b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
        b"Subject: afternoon meeting\r\n\r\n"
        b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    )
    line = b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(message) + message
    assert p(line) == Append(
        tag="A003",
        name="APPEND",
        mailbox="saved-messages",
        messages=(AppendMessage(flags=("\\Seen",), date=None, data=message),),
    )


def test_rfc3501_fetch_and_search_examples():
    fetch = p(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    assert isinstance(fetch, Fetch)
    assert fetch.items == (
        FetchItem("FLAGS"),
        FetchItem("BODY", Section((), "HEADER.FIELDS", ("DATE", "FROM"))),
    )
    search = p(b'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert search == Search(
        tag="A282",
        name="SEARCH",
        uid=False,
        charset=None,
        key=And(
            (
                FlagKey("\\Flagged", True),
                DateKey(False, "SINCE", datetime(1994, 2, 1).date()),
                Not(HeaderKey("from", "Smith")),
            )
        ),
    )
    utf8 = "\u0422\u0435\u0441\u0442".encode()
    search = p(b"A284 SEARCH CHARSET UTF-8 TEXT {%d}\r\n" % len(utf8) + utf8)
    assert isinstance(search, Search)
    assert search.charset == "UTF-8"
    assert search.key == TextKey("TEXT", "\u0422\u0435\u0441\u0442")


def test_literal_login_example_from_rfc3501_section_7_5():
    assert p(b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man") == Login(
        tag="A001", name="LOGIN", user=b"FRED FOOBAR", password=b"fat man"
    )


# -- names, tags and the frame ----------------------------------------------------------------


def test_command_names_are_case_insensitive_and_the_crlf_is_optional():
    assert parse_command(b"x noop") == Simple(tag="x", name="NOOP")
    assert p(b"x uid Fetch 1 flags") == p(b"x UID FETCH 1 FLAGS")


def test_tags_may_hold_any_astring_char_but_plus():
    assert p(b"a]b.1-x NOOP").tag == "a]b.1-x"
    bad(b"a+b NOOP", "expected a space", tag="a")  # the tag stops at "+"


@pytest.mark.parametrize(
    ("line", "why", "tag"),
    [
        (b"", "empty command line", None),
        (b" NOOP", "invalid tag", None),
        (b"+ NOOP", "invalid tag", None),
        (b"* NOOP", "invalid tag", None),
        (b'"a" NOOP', "invalid tag", None),
        (b"\xff NOOP", "invalid tag", None),
        (b"a1", "expected a space", "a1"),
        (b"a1 ", "expected a command name", "a1"),
        (b"a1  NOOP", "expected a command name", "a1"),
        (b"a1 FROB", "unknown command FROB", "a1"),
        (b"a1 " + b"X" * 100, "unknown command " + "X" * 40 + "$", "a1"),
        (b"a1 UID", "expected a space", "a1"),
        (b"a1 UID LOGIN x y", "unknown command UID LOGIN", "a1"),
        (b"a1 NOOP x", "unexpected characters after the NOOP command", "a1"),
        (b"a1 NOOP ", "unexpected characters after the NOOP command", "a1"),
        (b"a1 UID EXPUNGE 1 x", "unexpected characters after the UID EXPUNGE command", "a1"),
        (b"a1 NOOP\r\nextra", "unexpected characters after the NOOP command", "a1"),
    ],
)
def test_errors_before_the_arguments(line: bytes, why: str, tag: str | None):
    with pytest.raises(ParseError, match=r"^" + why) as info:
        parse_command(line + b"\r\n")
    assert info.value.tag == tag
    assert info.value.kind == "BAD" and info.value.code is None


# -- commands one by one ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "NAMESPACE", "IDLE"],
)
def test_commands_without_arguments(name: str):
    assert p(b"t " + name.encode()) == Simple(tag="t", name=name)
    bad(b"a1 " + name.encode() + b" x", f"unexpected characters after the {name} command")


def test_login_forms_and_errors():
    assert p(b'a LOGIN "joe@x" "p\\"w\\\\d"') == Login(
        tag="a", name="LOGIN", user=b"joe@x", password=b'p"w\\d'
    )
    bad(b"a1 LOGIN joe", "expected a space")
    bad(b"a1 LOGIN joe ", "expected an atom or a string")
    bad(b"a1 LOGIN (joe) x", "expected an atom or a string")


def test_authenticate_with_and_without_an_initial_response():
    assert p(b"a AUTHENTICATE plain AGpvZQBzZWNyZXQ=") == Authenticate(
        tag="a", name="AUTHENTICATE", mechanism="PLAIN", initial=b"\x00joe\x00secret"
    )
    assert p(b"a AUTHENTICATE PLAIN =") == Authenticate(
        tag="a", name="AUTHENTICATE", mechanism="PLAIN", initial=b""
    )
    bad(b"a1 AUTHENTICATE PLAIN AGpvZQ", "invalid base64")
    bad(b"a1 AUTHENTICATE PLAIN AG=vZQ==", "invalid base64")
    bad(b"a1 AUTHENTICATE", "expected a space")
    bad(b"a1 AUTHENTICATE ", "expected a SASL mechanism")
    bad(b"a1 AUTHENTICATE PLAIN ", r"expected an initial response \(= when empty\)$")


def test_sasl_continuation_lines():
    assert parse_sasl_response(b"AGpvZQBzZWNyZXQ=\r\n") == b"\x00joe\x00secret"
    assert parse_sasl_response(b"\r\n") == b""
    assert parse_sasl_response(b"*\r\n") is None
    assert parse_sasl_response(b"*") is None
    for line in (b"AGpvZQ\r\n", b"** \r\n", b"AGpv ZQ==\r\n", b"=\r\n"):
        with pytest.raises(ParseError, match=r"^invalid base64") as info:
            parse_sasl_response(line)
        assert info.value.tag is None


def test_idle_done():
    parse_idle_done(b"DONE\r\n")
    parse_idle_done(b"done\r\n")
    parse_idle_done(b"Done")
    for line in (b"DONE \r\n", b"a1 DONE\r\n", b"\r\n", b"DONEX\r\n"):
        with pytest.raises(ParseError, match=r"^expected DONE to end IDLE") as info:
            parse_idle_done(line)
        assert info.value.tag is None


def test_select_parameters():
    assert p(b"a SELECT inbox (CONDSTORE)") == Select(
        tag="a", name="SELECT", mailbox="INBOX", readonly=False, condstore=True
    )
    assert p(b"a EXAMINE x (condstore CONDSTORE)") == Select(
        tag="a", name="EXAMINE", mailbox="x", readonly=True, condstore=True
    )
    bad(b"a1 SELECT x (QRESYNC (1 2) QRESYNC (1 2))", "unknown SELECT parameter QRESYNC")
    bad(b"a1 EXAMINE x (FOO)", "unknown EXAMINE parameter FOO")
    bad(b"a1 SELECT x ()", "expected an atom")
    bad(b"a1 SELECT x CONDSTORE", r"expected '\(' before SELECT parameters")
    bad(b"a1 SELECT x (CONDSTORE", "expected a space")
    bad(b"a1 SELECT", "expected a space")


def test_the_qresync_parameter_in_its_four_forms() -> None:
    def resync(text: bytes) -> Resync | None:
        cmd = p(b"a SELECT INBOX (" + text + b")")
        assert isinstance(cmd, Select)
        return cmd.qresync

    assert resync(b"QRESYNC (67890007 20050715194045000)") == Resync(
        uidvalidity=67890007, modseq=20050715194045000
    )
    assert resync(b"qresync (1 9223372036854775807 41,43:211,214:541)") == Resync(
        uidvalidity=1,
        modseq=2**63 - 1,
        known=SeqSet(((41, 41), (43, 211), (214, 541))),
    )
    assert resync(b"QRESYNC (5 6 1:10 (1:3,8 2:4,9))") == Resync(
        uidvalidity=5,
        modseq=6,
        known=SeqSet(((1, 10),)),
        match=(SeqSet(((1, 3), (8, 8))), SeqSet(((2, 4), (9, 9)))),
    )
    assert resync(b"QRESYNC (5 6 (3:1 7,8,9))") == Resync(  # (a range may run downwards)
        uidvalidity=5, modseq=6, match=(SeqSet(((3, 1),)), SeqSet(((7, 7), (8, 8), (9, 9))))
    )
    both = p(b"a EXAMINE x (CONDSTORE QRESYNC (5 6))")
    assert isinstance(both, Select) and both.condstore and both.readonly
    assert both.qresync == Resync(uidvalidity=5, modseq=6)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 SELECT x (QRESYNC (0 5))", "expected a nonzero number"),
        (b"a1 SELECT x (QRESYNC (5 0))", "expected a nonzero number"),
        (b"a1 SELECT x (QRESYNC (5 9223372036854775808))", "number 9223372036854775808 is"),
        (b"a1 SELECT x (QRESYNC (5))", "expected a space"),
        (b"a1 SELECT x (QRESYNC ())", "expected a number"),
        (b"a1 SELECT x (QRESYNC 5 6)", r"expected '\(' after QRESYNC"),
        (b"a1 SELECT x (QRESYNC (5 6 1:*))", r"known UIDs: \* and \$ are not allowed"),
        (b"a1 SELECT x (QRESYNC (5 6 $))", r"known UIDs: \* and \$ are not allowed"),
        (b"a1 SELECT x (QRESYNC (5 6 (1:* 1:2)))", "known message numbers: "),
        (b"a1 SELECT x (QRESYNC (5 6 (1:2 *)))", "known UIDs of those messages: "),
        (b"a1 SELECT x (QRESYNC (5 6 (1:3 1:2)))", "the sequence match data's two sets"),
        (b"a1 SELECT x (QRESYNC (5 6 (1 2) 1:5))", r"expected '\)' to close the QRESYNC"),
        (b"a1 SELECT x (QRESYNC (5 6 1:5 x))", r"expected '\(' to open the sequence match"),
        (b"a1 SELECT x (QRESYNC (5 6 1:5(1 1)))", r"expected '\)' to close the QRESYNC"),
        (b"a1 SELECT x (QRESYNC (5 6(1 1)))", r"expected '\)' to close the QRESYNC"),
        (b"a1 SELECT x (QRESYNC (5 6 (1 1))", "expected a space"),
        (b"a1 SELECT x (QRESYNC (5 6 (1 1 x)))", r"expected '\)' to close the sequence"),
        (b"a1 SELECT x (QRESYNC (5 6 (11)))", "expected a space"),
    ],
)
def test_qresync_parameter_errors(line: bytes, why: str) -> None:
    bad(line, why, searchres=True)  # (the session parses with `$` allowed)


def test_mailbox_names_are_decoded_and_inbox_is_case_insensitive():
    assert p(b"a CREATE &ZeVnLIqe-").mailbox == "\u65e5\u672c\u8a9e"
    assert p(b'a DELETE "InBoX"').mailbox == "INBOX"
    assert p(b"a SUBSCRIBE INBOX/sub").mailbox == "INBOX/sub"
    assert p(b"a CREATE {3}\r\na b").mailbox == "a b"
    bad(b"a1 CREATE a&b", "mailbox name is not valid modified UTF-7: '&' without a closing '-'")
    bad(b'a1 CREATE "caf\xc3\xa9"', "invalid quoted string")
    assert p(b'a CREATE "caf\xc3\xa9"', utf8=True).mailbox == "caf\xe9"
    bad(b'a1 CREATE "caf\xe9"', "mailbox name is not valid UTF-8", utf8=True)
    bad(b"a1 RENAME a", "expected a space")


def test_list_extended_forms():
    assert p(
        b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" "%") RETURN (CHILDREN STATUS '
        b"(MESSAGES UNSEEN) SPECIAL-USE)"
    ) == ListMailboxes(
        tag="a",
        name="LIST",
        reference="",
        patterns=("*", "%"),
        select=frozenset({"SUBSCRIBED", "RECURSIVEMATCH"}),
        returns=frozenset({"CHILDREN", "STATUS", "SPECIAL-USE"}),
        status=("MESSAGES", "UNSEEN"),
        extended=True,
    )
    assert p(b'a LIST () "" *') == ListMailboxes(
        tag="a", name="LIST", reference="", patterns=("*",), extended=True
    )
    assert p(b'a LIST "" % RETURN ()') == ListMailboxes(
        tag="a", name="LIST", reference="", patterns=("%",), extended=True
    )
    assert p(b'a LIST (special-use) "" *').select == frozenset({"SPECIAL-USE"})
    assert p(b'a LIST "" &AOk-*').patterns == ("\xe9*",)
    assert p(b'a LIST "" "]"').patterns == ("]",)
    assert p(b"a LIST foo]bar %").reference == "foo]bar"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'a1 LIST (RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs another selection option"),
        (b'a1 LIST (REMOTE RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs another selection"),
        (b'a1 LIST (FOO) "" *', "unknown LIST selection option FOO"),
        (b'a1 LIST "" * RETURN (FOO)', "unknown LIST return option FOO"),
        (b'a1 LIST "" * FOO (CHILDREN)', "expected RETURN"),
        (b'a1 LIST "" * RETURN CHILDREN', r"expected '\(' after RETURN"),
        (b'a1 LIST "" * RETURN (STATUS (FOO))', "unknown status item FOO"),
        (b'a1 LIST "" * RETURN (STATUS)', "expected a space"),
        (b'a1 LIST "" ()', "expected a mailbox pattern"),
        (b'a1 LIST ""', "expected a space"),
        (b'a1 LIST "" (a', "expected a space"),
        (b'a1 LSUB () "" *', "expected an atom or a string"),
        (b'a1 LSUB "" ("a" "b")', "expected a mailbox pattern"),
        (b'a1 LSUB "" * RETURN (CHILDREN)', "unexpected characters after the LSUB command"),
        (b'a1 LIST "" (', "expected a mailbox pattern"),
    ],
)
def test_list_errors(line: bytes, why: str):
    bad(line, why)


def test_create_with_special_uses() -> None:
    assert p(b"a CREATE MySent (USE (\\Sent))") == MailboxCommand(
        tag="a", name="CREATE", mailbox="MySent", uses=("\\Sent",)
    )
    assert p(b"a create x (use (\\junk \\Trash))").uses == ("\\junk", "\\Trash")
    assert p(b"a CREATE x (USE ())").uses == ()
    assert p(b"a DELETE x").uses == ()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 CREATE x USE", r"expected '\(' before CREATE parameters"),
        (b"a1 CREATE x (FOO (\\Sent))", "the CREATE parameter known is USE"),
        (b"a1 CREATE x (USE)", "expected a space"),
        (b"a1 CREATE x (USE \\Sent)", r"expected '\(' before the special uses"),
        (b"a1 CREATE x (USE (Sent))", r"expected a special use \(\\Sent, \\Trash...\)"),
        (b"a1 CREATE x (USE (\\Sent\\Trash))", "expected a space"),
        (b"a1 CREATE x (USE (\\Sent)", r"expected '\)' to close the CREATE parameters"),
        (b"a1 CREATE x (USE (\\Sent)) y", "unexpected characters after the CREATE command"),
        (b"a1 CREATE x (USE (\\))", "expected a special use"),
    ],
)
def test_create_errors(line: bytes, why: str) -> None:
    bad(line, why)


def test_status_items():
    items = b"MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED DELETED-STORAGE"
    assert p(b"a STATUS x (" + items.lower() + b")").items == tuple(items.decode().split())
    bad(b"a1 STATUS x (DELETED-SIZE)", "unknown status item DELETED-SIZE")
    bad(b"a1 STATUS x ()", "expected an atom")
    bad(b"a1 STATUS x MESSAGES", r"expected '\(' before status items")


def test_append_forms():
    tz = timezone(timedelta(hours=-7))
    cmd = p(b'a APPEND Drafts (\\Draft $Fwd) "17-Jul-1996 02:44:25 -0700" {3}\r\nabc')
    assert cmd == Append(
        tag="a",
        name="APPEND",
        mailbox="Drafts",
        messages=(
            AppendMessage(
                flags=("\\Draft", "$Fwd"),
                date=datetime(1996, 7, 17, 2, 44, 25, tzinfo=tz),
                data=b"abc",
            ),
        ),
    )
    cmd = p(b'a APPEND x " 7-jul-1996 02:44:25 +0530" {0}\r\n')
    assert isinstance(cmd, Append)
    [only] = cmd.messages
    assert only.data == b"" and only.flags == ()
    assert only.date == datetime(
        1996, 7, 7, 2, 44, 25, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert messages(b"a APPEND x () {1+}\r\nz") == (AppendMessage(flags=(), date=None, data=b"z"),)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'a1 APPEND x "abc"', 'expected a date-time \\("dd-Mon-yyyy hh:mm:ss \\+zzzz"\\)'),
        (b"a1 APPEND x abc", "APPEND needs the message as a literal or CATENATE"),
        (b"a1 APPEND x (\\Seen)", "expected a space"),
        (b"a1 APPEND x (\\Recent) {1}\r\nz", r"\\Recent is not a flag a client may set"),
        (b"a1 APPEND x (\\Foo) {1}\r\nz", r"\\Foo is not a flag a client may set"),
        (b"a1 APPEND x {5}\r\nabc", "literal shorter than announced"),
        (b"a1 APPEND x {3}\r\na\x00c", "NUL octet in a literal"),
        (b"a1 APPEND x {3}abc", "invalid literal"),
        (b"a1 APPEND x ~abc", "APPEND needs the message as a literal or CATENATE"),
        (b"a1 APPEND x {3}\r\nabcd", "unexpected characters after the APPEND command"),
        (b'a1 APPEND x "31-Feb-2020 00:00:00 +0000" {1}\r\nz', "invalid date: day is out of range"),
        (b'a1 APPEND x "01-Foo-2020 00:00:00 +0000" {1}\r\nz', "unknown month Foo"),
        (b'a1 APPEND x "01-Jan-2020 24:00:00 +0000" {1}\r\nz', "invalid date: hour must be in"),
        (b'a1 APPEND x "01-Jan-2020 00:00:00 +0060" {1}\r\nz', "time zone minutes over 59"),
        (b'a1 APPEND x " 0-Jan-2020 00:00:00 +0000" {1}\r\nz', "day 0 in a date-time"),
        (b'a1 APPEND x "1-Jan-2020 00:00:00 +0000" {1}\r\nz', "expected a date-time"),
        (b'a1 APPEND x "01-Jan-2020 00:00:00 0000" {1}\r\nz', "expected a date-time"),
        (b"a1 APPEND x {1+}\r\nz", None),
        (b"a1 APPEND x {4097+}\r\n" + b"z" * 4097, "non-synchronising literal over 4096 octets"),
    ],
)
def test_append_errors(line: bytes, why: str | None):
    if why is None:
        assert isinstance(p(line, literal_minus=True), Append)
        return
    error = bad(line, why, literal_minus=True)
    assert error.code == (b"TOOBIG" if "4096" in why else None)


def test_append_takes_a_literal8_with_nul_octets():
    """RFC 3516 §4.4: APPEND's message may be a literal8 (`~{n}`, with or without `+`), and
    only then may it hold NUL; anywhere else a literal8 is BAD."""
    assert messages(b"a APPEND x ~{3}\r\na\x00c") == (
        AppendMessage(flags=(), date=None, data=b"a\x00c"),
    )
    assert messages(b"a APPEND x (\\Seen) ~{4+}\r\n\x00\x01\r\n") == (
        AppendMessage(flags=("\\Seen",), date=None, data=b"\x00\x01\r\n"),
    )
    assert [m.data for m in messages(b"a APPEND x {1}\r\na ~{1}\r\n\x00 {1}\r\nc")] == [
        b"a",
        b"\x00",
        b"c",
    ]
    bad(b"a APPEND x {3}\r\na\x00c", "NUL octet in a literal$", tag="a")
    bad(b"a APPEND x ~{4}\r\nabc", "literal shorter than announced$", tag="a")
    bad(b"a LOGIN ~{1}\r\nu p", r"literal8 \(~\{n\}\) is not supported here$", tag="a")
    bad(b"a APPEND ~{1}\r\nx {1}\r\nm", r"literal8 \(~\{n\}\) is not supported here$", tag="a")
    error = bad(b"a1 APPEND x ~{4097+}\r\n" + b"b" * 4097, "non-synchronising", literal_minus=True)
    assert error.code == b"TOOBIG"


def test_literal_minus_allows_4096_octets_and_literal_plus_any():
    line = b"a1 APPEND x {4096+}\r\n" + b"z" * 4096
    assert messages(line, literal_minus=True)[0].data == b"z" * 4096
    big = b"a1 APPEND x {5000+}\r\n" + b"z" * 5000
    assert messages(big)[0].data == b"z" * 5000


# -- CATENATE (RFC 4469) ---------------------------------------------------------------------


def test_rfc4469_catenate_example():
    """§3's example, flags and all: TEXT literals and a quoted URL, in order."""
    line = (
        b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE "
        b'(URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER" '
        b"TEXT {42}\r\n\r\n--------------030308070208000400050907\r\n "
        b'URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME" '
        b'URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1" '
        b"TEXT {2}\r\n\r\n)"
    )
    assert messages(line) == (
        AppendMessage(
            flags=("\\Seen", "\\Draft", "$MDNSent"),
            date=None,
            catenate=(
                ("URL", b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"),
                ("TEXT", b"\r\n--------------030308070208000400050907\r\n"),
                ("URL", b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME"),
                ("URL", b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1"),
                ("TEXT", b"\r\n"),
            ),
        ),
    )


def test_catenate_with_a_date_with_multiappend_and_in_any_case():
    got = messages(
        b'a APPEND x "01-Jan-2020 00:00:00 +0000" catenate (url ;UID=1 text ~{1}\r\n\x00)'
        b" {1}\r\nz (\\Seen) CATENATE (TEXT {1+}\r\ny)"
    )
    assert got == (
        AppendMessage(
            flags=(),
            date=datetime(2020, 1, 1, tzinfo=UTC),
            catenate=(("URL", b";UID=1"), ("TEXT", b"\x00")),
        ),
        AppendMessage(flags=(), date=None, data=b"z"),
        AppendMessage(flags=("\\Seen",), date=None, catenate=(("TEXT", b"y"),)),
    )


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 APPEND x CATENATE ()", "expected TEXT or URL$"),
        (b"a1 APPEND x CATENATE", "expected a space$"),
        (b"a1 APPEND x CATENATE URL ;UID=1", 'expected "\\(" and the CATENATE parts$'),
        (b"a1 APPEND x CATENATE (URL ;UID=1", "expected a space$"),
        (b"a1 APPEND x CATENATE (URL ;UID=1 )", "expected TEXT or URL$"),
        (b"a1 APPEND x CATENATE (URL)", "expected a space$"),
        (b'a1 APPEND x CATENATE (TEXT "x")', "CATENATE TEXT needs a literal$"),
        (b"a1 APPEND x CATENATE (TEXT x)", "CATENATE TEXT needs a literal$"),
        (b"a1 APPEND x CATENATE (BODY x)", "a CATENATE part is TEXT or URL, not BODY$"),
        (b"a1 APPEND x CAT (URL ;UID=1)", "APPEND needs the message as a literal or CATENATE$"),
        (
            b"a1 APPEND x {1}\r\na COPY (URL ;UID=1)",
            "APPEND needs message 2 as a literal or CATENATE$",
        ),
        (
            b"a1 APPEND x CATENATE (URL ;UID=1) x",
            "APPEND needs message 2 as a literal or CATENATE$",
        ),
        (b"a1 APPEND x CATENATE (TEXT {1}\r\n\x00)", "NUL octet in a literal$"),
    ],
)
def test_catenate_errors(line: bytes, why: str):
    error = bad(line, why)
    assert error.kind == "BAD" and error.code is None


def test_catenate_parts_are_bounded_per_command():
    part = b"URL ;UID=1"
    half = b" ".join([part] * (MAX_CATENATE_PARTS // 2))
    ok = messages(b"a1 APPEND x CATENATE (%s) CATENATE (%s)" % (half, half))
    assert sum(len(m.catenate) for m in ok) == MAX_CATENATE_PARTS
    error = bad(b"a1 APPEND x CATENATE (%s) CATENATE (%s %s)" % (half, half, part), "more than")
    assert (error.kind, error.code) == ("NO", b"LIMIT")
    assert error.reason == f"more than {MAX_CATENATE_PARTS} CATENATE parts in one APPEND"


# -- MULTIAPPEND (RFC 3502) ------------------------------------------------------------------


def test_rfc3502_multiappend_example():
    first = (
        b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
        b"Subject: afternoon meeting\r\n\r\n"
        b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    )
    second = (
        b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n"
        b"Subject: Re: afternoon meeting\r\n\r\n"
        b"3:30 is fine with me.\r\n"
    )
    line = (
        b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(first)
        + first
        + b' (\\Seen) " 7-Feb-1994 22:43:04 -0800" {%d}\r\n' % len(second)
        + second
    )
    tz = timezone(timedelta(hours=-8))
    assert p(line) == Append(
        tag="A003",
        name="APPEND",
        mailbox="saved-messages",
        messages=(
            AppendMessage(flags=("\\Seen",), date=None, data=first),
            AppendMessage(
                flags=("\\Seen",), date=datetime(1994, 2, 7, 22, 43, 4, tzinfo=tz), data=second
            ),
        ),
    )


def test_multiappend_messages_each_with_or_without_flags_and_date():
    utc = UTC
    line = (
        b"a APPEND INBOX {1}\r\na"
        b" () {2+}\r\nbb"
        b' "01-Jan-2020 00:00:00 +0000" {3}\r\nccc'
        b' (\\Flagged $Later) "02-Jan-2020 00:00:00 +0000" {4+}\r\ndddd'
        b" (\\Answered) {5}\r\neeeee"
    )
    assert messages(line) == (
        AppendMessage(flags=(), date=None, data=b"a"),
        AppendMessage(flags=(), date=None, data=b"bb"),
        AppendMessage(flags=(), date=datetime(2020, 1, 1, tzinfo=utc), data=b"ccc"),
        AppendMessage(
            flags=("\\Flagged", "$Later"), date=datetime(2020, 1, 2, tzinfo=utc), data=b"dddd"
        ),
        AppendMessage(flags=("\\Answered",), date=None, data=b"eeeee"),
    )
    # an empty literal is a message like any other here: the session cancels the APPEND
    assert [m.data for m in messages(b"a APPEND x {1}\r\na {0}\r\n {1}\r\nc")] == [b"a", b"", b"c"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 APPEND x {1}\r\na ", "APPEND needs message 2 as a literal or CATENATE$"),
        (b"a1 APPEND x {1}\r\na  {1}\r\nb", "APPEND needs message 2 as a literal or CATENATE$"),
        (b"a1 APPEND x {1}\r\na (\\Seen)", "expected a space$"),
        (b"a1 APPEND x {1}\r\na (\\Seen) ", "APPEND needs message 2 as a literal or CATENATE$"),
        (b'a1 APPEND x {1}\r\na "b"', r'expected a date-time \("dd-Mon-yyyy'),
        (b'a1 APPEND x {1}\r\na "01-Jan-2020 00:00:00 +0000" "b"', "APPEND needs message 2 as"),
        (b"a1 APPEND x {1}\r\na b", "APPEND needs message 2 as a literal or CATENATE$"),
        (b"a1 APPEND x {1}\r\na {1}\r\nb c", "APPEND needs message 3 as a literal or CATENATE$"),
        (b'a1 APPEND x {1}\r\na "31-Feb-2020 00:00:00 +0000" {1}\r\nb', "invalid date: day is"),
        (b"a1 APPEND x {1}\r\na (\\Recent) {1}\r\nb", r"\\Recent is not a flag a client"),
        (b"a1 APPEND x {1}\r\na {1}\r\nb {3}\r\nc", "literal shorter than announced$"),
        (b"a1 APPEND x {1}\r\na {1}\r\n\x00", "NUL octet in a literal$"),
        (b"a1 APPEND x {1}\r\na {1}\r\nbc", "unexpected characters after the APPEND command$"),
        (b"a1 APPEND x {1}\r\na\r\n{1}\r\nb", "unexpected characters after the APPEND"),
    ],
)
def test_multiappend_errors(line: bytes, why: str):
    error = bad(line, why)
    assert error.kind == "BAD" and error.code is None


def test_multiappend_takes_literal_minus_per_literal():
    ok = b"a1 APPEND x {1}\r\na {4096+}\r\n" + b"b" * 4096
    assert len(messages(ok, literal_minus=True)) == 2
    error = bad(
        b"a1 APPEND x {1}\r\na {4097+}\r\n" + b"b" * 4097,
        "non-synchronising literal over 4096 octets",
        literal_minus=True,
    )
    assert error.code == b"TOOBIG"


def test_multiappend_takes_so_many_messages_and_stops_reading_at_one_more():
    most = b"a1 APPEND x" + b" {1+}\r\nm" * MAX_APPEND_MESSAGES
    assert len(messages(most)) == MAX_APPEND_MESSAGES == 1000
    error = bad(most + b" garbage", f"more than {MAX_APPEND_MESSAGES} messages in one APPEND$")
    assert (error.kind, error.code) == ("NO", b"LIMIT")


def test_enable_and_id():
    assert p(b"a ENABLE condstore X-FOO") == Enable(
        tag="a", name="ENABLE", capabilities=("CONDSTORE", "X-FOO")
    )
    bad(b"a1 ENABLE", "ENABLE needs at least one capability")
    bad(b"a1 ENABLE (x)", "expected an atom")
    assert p(b'a ID ("name" "sodr" "version" NIL)') == Id(
        tag="a", name="ID", params=(("name", "sodr"), ("version", None))
    )
    assert p(b"a ID nil") == Id(tag="a", name="ID", params=None)
    assert p(b"a ID ()") == Id(tag="a", name="ID", params=())
    assert p(b'a ID ("k" {2}\r\nv1)') == Id(tag="a", name="ID", params=(("k", "v1"),))
    bad(b'a1 ID "x"', "ID takes a parenthesised list or NIL")
    bad(b"a1 ID", "expected a space")
    bad(b'a1 ID ("k")', "expected a space")
    bad(b'a1 ID ("k" "v" "k2")', "expected a space")
    bad(b'a1 ID (k "v")', "expected a string")
    pairs = b" ".join(b'"k%d" "v"' % i for i in range(30))
    assert len(p(b"a ID (" + pairs + b")").params) == 30
    bad(b"a1 ID (" + pairs + b' "k" "v")', "ID with more than 30 fields")
    assert p(b'a ID ("' + b"k" * 30 + b'" "' + b"v" * 1024 + b'")').params
    bad(b'a1 ID ("' + b"k" * 31 + b'" "v")', "ID field or value too long")
    bad(b'a1 ID ("k" "' + b"v" * 1025 + b'")', "ID field or value too long")


def test_expunge_copy_move_by_uid():
    assert p(b"a UID EXPUNGE 3:5,7") == Expunge(
        tag="a", name="EXPUNGE", uids=SeqSet(((3, 5), (7, 7)))
    )
    assert p(b"a MOVE 1:* Trash") == Copy(
        tag="a", name="MOVE", uid=False, seqset=SeqSet(((1, STAR),)), mailbox="Trash"
    )
    assert p(b"a UID MOVE 4 Trash").uid is True
    assert p(b"a UID COPY 4 Trash").name == "COPY"
    bad(b"a1 UID EXPUNGE", "expected a space")
    bad(b"a1 UID EXPUNGE x", "expected a sequence set")
    bad(b"a1 COPY 0 x", "0 is not a valid message number")
    bad(b"a1 COPY 1:2:3 x", "invalid sequence set")
    bad(b"a1 COPY $ x", r"\$ \(a saved search result\) is not supported")
    assert p(b"a COPY $ x", searchres=True).seqset == SeqSet((), saved=True)
    bad(b"a1 COPY 1", "expected a space")


def test_fetch_forms():
    f = p(b"a FETCH 1:* ALL")
    assert isinstance(f, Fetch)
    assert [i.name for i in f.items] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
    assert [i.name for i in p(b"a FETCH 1 fast").items] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    full = p(b"a FETCH 1 FULL").items
    assert full[-1] == FetchItem("BODY") and len(full) == 5
    f = p(b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    assert f == Fetch(
        tag="a",
        name="FETCH",
        uid=True,
        seqset=SeqSet(((1, STAR),)),
        items=(FetchItem("FLAGS"),),
        changedsince=12345,
    )
    assert p(b"a FETCH 1 UID (changedsince 9223372036854775807)").changedsince == 2**63 - 1
    assert not f.vanished
    for line in (
        b"a UID FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)",
        b"a UID FETCH 1 FLAGS (vanished changedsince 5)",
    ):
        v = p(line)
        assert isinstance(v, Fetch) and v.vanished and v.changedsince == 5


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 FETCH 1 (ALL)", "unknown FETCH item ALL"),
        (b"a1 FETCH 1 FOO", "unknown FETCH item FOO"),
        (b"a1 FETCH 1 ()", "expected a FETCH item"),
        (b"a1 FETCH 1 (FLAGS", "expected a space"),
        (b"a1 FETCH 1 FLAGS (CHANGEDSINCE 0)", "expected a nonzero number"),
        (
            b"a1 FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)",
            "number 9223372036854775808 is too large",
        ),
        (b"a1 FETCH 1 FLAGS (VANISHED)", "unknown FETCH modifier VANISHED"),
        (b"a1 FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)", "unknown FETCH modifier VANISHED"),
        (b"a1 UID FETCH 1 FLAGS (VANISHED)", "VANISHED needs CHANGEDSINCE"),
        (b"a1 UID FETCH 1 FLAGS (VANISHED CHANGEDSINCE)", "expected a space"),
        (b"a1 FETCH 1 FLAGS CHANGEDSINCE 1", r"expected '\(' before FETCH modifiers"),
        (b"a1 FETCH 1 FLAGS (CHANGEDSINCE 1", "expected a space"),
        (b"a1 FETCH 1 FLAGS (CHANGEDSINCE)", "expected a space"),
        (b"a1 FETCH", "expected a space"),
        (b"a1 FETCH 1", "expected a space"),
    ],
)
def test_fetch_errors(line: bytes, why: str):
    bad(line, why)


def test_store_forms():
    s = p(b"a STORE 1 FLAGS.SILENT (\\seen $Label1)")
    assert s == Store(
        tag="a",
        name="STORE",
        uid=False,
        seqset=SeqSet(((1, 1),)),
        mode="",
        silent=True,
        flags=("\\Seen", "$Label1"),
    )
    s = p(b"a UID STORE 2:3 (UNCHANGEDSINCE 0) -flags \\Answered \\FLAGGED")
    assert s == Store(
        tag="a",
        name="STORE",
        uid=True,
        seqset=SeqSet(((2, 3),)),
        mode="-",
        silent=False,
        flags=("\\Answered", "\\Flagged"),
        unchangedsince=0,
    )
    assert p(b"a STORE 1 FLAGS ()").flags == ()
    assert p(b"a STORE 1 +Flags.Silent \\Draft").silent is True


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 STORE 1 FLAG (\\Seen)", "expected FLAGS, \\+FLAGS or -FLAGS"),
        (b"a1 STORE 1 *FLAGS (\\Seen)", "expected FLAGS, \\+FLAGS or -FLAGS"),
        (b"a1 STORE 1 FLAGS.LOUD (\\Seen)", "expected a space"),
        (b"a1 STORE 1 +FLAGS", "expected a space"),
        (b"a1 STORE 1 +FLAGS \\Recent", r"\\Recent is not a flag a client may set"),
        (b"a1 STORE 1 +FLAGS \\*", "expected a flag name"),
        (b"a1 STORE 1 +FLAGS (\\Seen", "expected a space"),
        (b"a1 STORE 1 +FLAGS (a b) c", "unexpected characters after the STORE command"),
        (b'a1 STORE 1 +FLAGS "x"', "expected a flag"),
        (b"a1 STORE 1 (UNCHANGEDSINCE 5 +FLAGS x", "unknown STORE modifier \\+FLAGS"),
        (b"a1 STORE 1 (FOO 5) +FLAGS x", "unknown STORE modifier FOO"),
        (b"a1 STORE 1 (UNCHANGEDSINCE 5)+FLAGS x", "expected a space"),
        (b"a1 STORE 1 (UNCHANGEDSINCE x) +FLAGS x", "expected a number"),
    ],
)
def test_store_errors(line: bytes, why: str):
    bad(line, why)


def test_search_options():
    s = p(b"a UID SEARCH RETURN (MIN MAX COUNT ALL) CHARSET us-ascii UNSEEN")
    assert s == Search(
        tag="a",
        name="SEARCH",
        uid=True,
        charset="US-ASCII",
        key=FlagKey("\\Seen", False),
        returns=frozenset({"MIN", "MAX", "COUNT", "ALL"}),
    )
    assert p(b"a SEARCH RETURN () ALL").returns == frozenset({"ALL"})
    assert p(b"a SEARCH ALL").returns is None
    bad(b"a1 SEARCH CHARSET UTF-8 RETURN (MIN) ALL", "unknown search key RETURN")


def test_search_charset_that_is_not_supported_is_a_no_with_badcharset():
    error = bad(b'a1 SEARCH CHARSET ISO-8859-1 TEXT "x"', "charset ISO-8859-1 is not supported")
    assert error.kind == "NO"
    assert error.code == b"BADCHARSET (UTF-8 US-ASCII)"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 SEARCH", "SEARCH needs at least one search key"),
        (b"a1 SEARCH RETURN (MIN)", "SEARCH needs at least one search key"),
        (b"a1 SEARCH RETURN (FUZZY) ALL", "unknown SEARCH return option FUZZY"),
        (b"a1 SEARCH RETURN MIN ALL", r"expected '\(' after RETURN"),
        (b"a1 SEARCH CHARSET", "unknown search key CHARSET$"),
        (b"a1 SEARCH RETURN", "unknown search key RETURN$"),
        (b"a1 SEARCH return (min) charset utf-8 ALL", None),
        (b"a1 SEARCH RETURNX (MIN) ALL", "unknown search key RETURNX$"),
        (b"a1 SEARCH CHARSET UTF-8", "SEARCH needs at least one search key"),
        (b"a1 SEARCH FOO", "unknown search key FOO"),
        (b"a1 SEARCH RETURN (MIN) FOO", "unknown search key FOO"),
    ],
)
def test_search_option_errors(line: bytes, why: str | None):
    if why is None:
        assert p(line) == Search(tag="a1", name="SEARCH", uid=False, charset="UTF-8",
                                 key=All(), returns=frozenset({"MIN"}))  # fmt: skip
        return
    bad(line, why)


def test_sort():
    # RFC 5256 §4's example, and the UID form with REVERSE and several keys
    assert p(b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994") == Sort(
        tag="A282",
        name="SORT",
        uid=False,
        criteria=(Criterion("SUBJECT"),),
        charset="UTF-8",
        key=DateKey(False, "SINCE", datetime(1994, 2, 1).date()),
    )
    s = p(b"a UID sort (reverse date from Reverse DISPLAYTO size) us-ascii UNSEEN ALL")
    assert s == Sort(
        tag="a",
        name="SORT",
        uid=True,
        criteria=(
            Criterion("DATE", True),
            Criterion("FROM", False),
            Criterion("DISPLAYTO", True),
            Criterion("SIZE", False),
        ),
        charset="US-ASCII",
        key=And((FlagKey("\\Seen", False), All())),
    )
    keys = b"ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO"
    assert [c.key for c in p(b"a SORT (" + keys + b") UTF-8 ALL").criteria] == keys.decode().split()


def test_sort_charset_that_is_not_supported_is_a_no_with_badcharset():
    error = bad(b"a1 SORT (DATE) ISO-8859-1 ALL", "charset ISO-8859-1 is not supported")
    assert (error.kind, error.code) == ("NO", b"BADCHARSET (UTF-8 US-ASCII)")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 SORT", "expected a space"),
        (b"a1 SORT DATE UTF-8 ALL", r"expected '\(' to open the sort criteria"),
        (b"a1 SORT () UTF-8 ALL", "expected an atom"),
        (b"a1 SORT (REVERSE) UTF-8 ALL", "expected a space"),
        (b"a1 SORT (REVERSE REVERSE DATE) UTF-8 ALL", "unknown sort key REVERSE"),
        (b"a1 SORT (DATE  SUBJECT) UTF-8 ALL", "expected an atom"),
        (b"a1 SORT (DATE)UTF-8 ALL", "expected a space"),
        (b"a1 SORT (SENT) UTF-8 ALL", "unknown sort key SENT"),
        (b"a1 SORT (DATE SUBJECT", "expected a space"),
        (b"a1 SORT (DATE) UTF-8", "SEARCH needs at least one search key"),
        (b"a1 SORT (DATE)", "expected a space"),
        (b"a1 SORT (DATE) UTF-8 FOO", "unknown search key FOO"),
        (b"a1 SORT (" + b"K" * 50 + b") UTF-8 ALL", "unknown sort key " + "K" * 40 + "$"),
        (b"a1 SORT (DATE) {1}\r\n\xff ALL", "charset is not valid UTF-8$"),
        (b"a1 SORT (DATE) US-ASCII SUBJECT {5}\r\ncaf\xc3\xa9", "search string is not US-ASCII$"),
        # ESORT's return options (RFC 5267), parsed as SEARCH's are
        (b"a1 SORT RETURN (FUZZY) (DATE) UTF-8 ALL", "unknown SORT return option FUZZY$"),
        (
            b"a1 SORT RETURN (" + b"X" * 50 + b") (DATE) UTF-8 ALL",
            "unknown SORT return option " + "X" * 40 + "$",
        ),
        (b"a1 SORT RETURN MIN (DATE) UTF-8 ALL", r"expected '\(' after RETURN"),
        (b"a1 SORT RETURN (MIN) DATE UTF-8 ALL", r"expected '\(' to open the sort criteria"),
        (b"a1 SEARCH RETURN (FOO) ALL", "unknown SEARCH return option FOO$"),
    ],
)
def test_sort_errors(line: bytes, why: str):
    bad(line, why)


def test_save_return_option():
    # SEARCHRES (RFC 5182): SAVE, alone or with the others, for SEARCH and SORT alike
    assert p(b"a SEARCH RETURN (save) ALL").returns == frozenset({"SAVE"})
    assert p(b"a UID SEARCH RETURN (MIN SAVE) ALL").returns == frozenset({"MIN", "SAVE"})
    assert p(b"a SORT RETURN (SAVE) (DATE) UTF-8 ALL").returns == frozenset({"SAVE"})
    assert p(b"a SEARCH $", searchres=True).key == SeqKey(SeqSet((), saved=True), uid=False)
    assert p(b"a SEARCH UID $", searchres=True).key == SeqKey(SeqSet((), saved=True), uid=True)


def test_partial_return_option():
    # RFC 5267 §4.4: a range of positions in the result, its ends in order; CONTEXT is a hint
    s = p(b"a UID SEARCH RETURN (PARTIAL 1:50 count) ALL")
    assert (s.returns, s.partial) == (frozenset({"PARTIAL", "COUNT"}), (1, 50))
    assert p(b"a SEARCH RETURN (PARTIAL 9:3) ALL").partial == (3, 9)
    assert p(b"a SEARCH RETURN (MIN) ALL").partial is None
    assert p(b"a SEARCH ALL").partial is None
    s = p(b"a SORT RETURN (CONTEXT PARTIAL 4294967295:1) (DATE) UTF-8 ALL")
    assert (s.returns, s.partial) == (frozenset({"CONTEXT", "PARTIAL"}), (1, 4294967295))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 SEARCH RETURN (PARTIAL) ALL", "expected a space$"),
        (b"a1 SEARCH RETURN (PARTIAL 1) ALL", "expected ':' in the PARTIAL range$"),
        (b"a1 SEARCH RETURN (PARTIAL 0:1) ALL", "expected a nonzero number$"),
        (b"a1 SEARCH RETURN (PARTIAL 1:0) ALL", "expected a nonzero number$"),
        (b"a1 SEARCH RETURN (PARTIAL -1:-5) ALL", "expected a number$"),
        (b"a1 SEARCH RETURN (PARTIAL 1:4294967296) ALL", "number 4294967296 is too large$"),
        (b"a1 SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "PARTIAL given twice$"),
        (b"a1 SEARCH RETURN (ALL PARTIAL 1:2) ALL", "PARTIAL and ALL cannot go together$"),
        (b"a1 SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL", "PARTIAL and ALL cannot go"),
        (b"a1 SEARCH RETURN (MIN  MAX) ALL", "expected an atom$"),
        (b"a1 SEARCH RETURN (MIN MAX", "expected a space$"),
    ],
)
def test_partial_errors(line: bytes, why: str):
    bad(line, why)


def test_update_and_cancelupdate():
    # CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4.3): UPDATE; quoted tags to cancel
    assert p(b"a SEARCH RETURN (UPDATE COUNT) ALL").returns == frozenset({"UPDATE", "COUNT"})
    assert p(b'x CANCELUPDATE "a" "b.1"') == CancelUpdate(
        tag="x", name="CANCELUPDATE", tags=("a", "b.1")
    )
    sort = p(b"a1 SORT RETURN (UPDATE ALL) (DATE) UTF-8 ALL")  # and for SORT: CONTEXT=SORT
    assert isinstance(sort, Sort) and sort.returns == frozenset({"UPDATE", "ALL"})
    bad(b"a1 CANCELUPDATE", "expected a space$")
    bad(b'a1 CANCELUPDATE "\xff"', "invalid quoted string$")  # 8-bit only with UTF8=ACCEPT
    bad(b'a1 CANCELUPDATE "\xff"', "tag is not valid UTF-8$", utf8=True)
    assert p(b'a1 CANCELUPDATE "\xc3\xa9"', utf8=True).tags == ("é",)
    bad(b"a1 CANCELUPDATE a", "invalid quoted string$")
    bad(b'a1 CANCELUPDATE "a" ', "invalid quoted string$")
    bad(b'a1 CANCELUPDATE "a""b"', "expected a space$")
    bad(b'a1 UID CANCELUPDATE "a"', "unknown command UID CANCELUPDATE$")


def test_esort_return_options():
    # RFC 5267 §3.1: SORT RETURN (...) answers with ESEARCH; RETURN () means ALL
    s = p(b"a UID SORT return (min Max COUNT all) (DATE) UTF-8 ALL")
    assert s.returns == frozenset({"MIN", "MAX", "COUNT", "ALL"})
    assert (s.uid, s.criteria, s.charset) == (True, (Criterion("DATE"),), "UTF-8")
    assert p(b"a SORT RETURN () (DATE) UTF-8 ALL").returns == frozenset({"ALL"})
    assert p(b"a SORT RETURN (COUNT) (SUBJECT) UTF-8 ALL").returns == frozenset({"COUNT"})
    assert p(b"a SORT (DATE) UTF-8 ALL").returns is None


def test_thread():
    # RFC 5256 §4's examples, and the UID form
    assert p(b"A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000") == Thread(
        tag="A283",
        name="THREAD",
        uid=False,
        algorithm="ORDEREDSUBJECT",
        charset="UTF-8",
        key=DateKey(False, "SINCE", datetime(2000, 3, 5).date()),
    )
    t = p(b'A284 uid thread references us-ascii TEXT "gewp" unseen')
    assert t == Thread(
        tag="A284",
        name="THREAD",
        uid=True,
        algorithm="REFERENCES",
        charset="US-ASCII",
        key=And((TextKey("TEXT", "gewp"), FlagKey("\\Seen", False))),
    )


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 THREAD", "expected a space"),
        (b"a1 THREAD REFERENCES", "expected a space"),
        (b"a1 THREAD REFERENCES UTF-8", "SEARCH needs at least one search key"),
        (b"a1 THREAD REFSX UTF-8 ALL", "unknown thread algorithm REFSX$"),
        (b"a1 THREAD " + b"R" * 50 + b" UTF-8 ALL", "unknown thread algorithm " + "R" * 40 + "$"),
        (b"a1 THREAD (REFERENCES) UTF-8 ALL", "expected an atom"),
        (b"a1 THREAD REFERENCES  UTF-8 ALL", "expected"),
        (b"a1 THREAD REFERENCES UTF-8 FOO", "unknown search key FOO"),
        (
            b"a1 THREAD REFERENCES US-ASCII SUBJECT {5}\r\ncaf\xc3\xa9",
            "search string is not US-ASCII$",
        ),
        (b"a1 UID THREAD REFERENCES {1}\r\n\xff ALL", "charset is not valid UTF-8$"),
    ],
)
def test_thread_errors(line: bytes, why: str):
    bad(line, why)


def test_thread_charset_that_is_not_supported_is_a_no_with_badcharset():
    error = bad(b"a1 THREAD REFERENCES KOI8-R ALL", "charset KOI8-R is not supported")
    assert (error.kind, error.code) == ("NO", b"BADCHARSET (UTF-8 US-ASCII)")
    error = bad(b"a1 THREAD REFERENCES " + b"Y" * 50 + b" ALL", "charset " + "Y" * 40 + " is not")
    assert error.kind == "NO"


def test_sort_charset_reaches_the_search_program_and_long_names_are_cut():
    s = p(b"a SORT (DATE) UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9")
    assert isinstance(s, Sort) and s.key == HeaderKey("subject", "café")
    error = bad(b"a1 SORT (DATE) " + b"Y" * 50 + b" ALL", "charset " + "Y" * 40 + " is not")
    assert error.kind == "NO"


def test_peek_tag_reads_the_tag_of_a_partial_command():
    from mailserver.imap.commands import peek_tag

    assert peek_tag(b"A003 APPEND saved-messages (\\Seen) {310}\r\n") == "A003"
    assert peek_tag(b"x] LOGIN {5}\r\n") == "x]"
    assert peek_tag(b"A003\r\n") is None
    assert peek_tag(b"A003") is None
    assert peek_tag(b"+ x") is None
    assert peek_tag(b"") is None


def test_long_names_are_cut_at_40_characters_in_messages():
    long = "Z" * 50
    cut = "Z" * 40
    bad(f"a1 SELECT x ({long})".encode(), f"unknown SELECT parameter {cut}$")
    bad(f"a1 STATUS x ({long})".encode(), f"unknown status item {cut}$")
    bad(f"a1 STORE 1 ({long} 1) FLAGS x".encode(), f"unknown STORE modifier {cut}$")
    bad(f"a1 FETCH 1 FLAGS ({long} 1)".encode(), f"unknown FETCH modifier {cut}$")
    bad(f"a1 SEARCH RETURN ({long}) ALL".encode(), f"unknown SEARCH return option {cut}$")
    bad(f'a1 LIST ({long}) "" *'.encode(), f"unknown LIST selection option {cut}$")
    bad(f'a1 LIST "" * RETURN ({long})'.encode(), f"unknown LIST return option {cut}$")
    bad(f"a1 {long}".encode(), f"unknown command {cut}$")
    bad(f"a1 UID {long}".encode(), f"unknown command UID {cut}$")
    bad(f"a1 SEARCH CHARSET {long} ALL".encode(), f"charset {cut} is not supported$")


def test_append_refuses_a_quoted_message_after_the_date():
    bad(
        b'a1 APPEND x "01-Jan-2020 00:00:00 +0000" "abc"',
        "APPEND needs the message as a literal or CATENATE$",
    )
    bad(b'a1 APPEND x (\\Seen) "01-Jan-2020 00:00:00 +0000" #', "APPEND needs the message")


def test_charset_names_must_be_utf8():
    bad(b"a1 SEARCH CHARSET {1}\r\n\xff ALL", "charset is not valid UTF-8$")


def test_more_messages_cut_at_40_characters():
    long = "Z" * 50
    cut = "Z" * 40
    bad(f"a1 FETCH 1 {long}".encode(), f"unknown FETCH item {cut}$")
    bad(f"a1 FETCH 1 BODY[{long}]".encode(), f"invalid section {cut}$")
    bad(f"a1 FETCH 1 BODY[{long}..]".encode(), f"invalid section {cut}$")
    bad(b"a1 COPY 1:" + b"1," * 30 + b"x y", r"invalid sequence set b'1:" + "1," * 19 + "'$")


def test_uid_without_a_command_and_section_parts_of_ten_digits():
    bad(b"a1 UID (", "expected a command name$")
    assert p(b"a FETCH 1 BODY[1234567890]").items[0].section == Section((1234567890,))
    assert p(b"a FETCH 1 FLAGS").uid is False


def test_list_options_and_extended_syntax():
    assert p(b'a LIST (SPECIAL-USE RECURSIVEMATCH) "" *').select == frozenset(
        {"SPECIAL-USE", "RECURSIVEMATCH"}
    )
    assert p(b'a LIST "" (a b)').extended is True
    assert p(b'a LIST () "" a').extended is True
    assert p(b'a LIST "" a RETURN ()').extended is True
    assert p(b'a LIST "" a').extended is False


def test_id_strings_that_are_not_utf8_are_kept_readable():
    assert p(b"a ID ({1}\r\n\xff {1}\r\n\xfe)") == Id(
        tag="a", name="ID", params=(("\ufffd", "\ufffd"),)
    )


def test_a_reader_allows_big_non_synchronising_literals_unless_told_literal_minus():
    from mailserver.imap.syntax import Reader

    data = b"{5000+}\r\n" + b"x" * 5000
    assert Reader(data).literal() == b"x" * 5000


def test_quota_commands():
    assert p(b"a GETQUOTAROOT inbox") == QuotaCommand(tag="a", name="GETQUOTAROOT", root="INBOX")
    assert p(b'a GETQUOTA ""') == QuotaCommand(tag="a", name="GETQUOTA", root="")
    assert p(b"a GETQUOTA {4+}\r\nUser") == QuotaCommand(tag="a", name="GETQUOTA", root="User")
    assert p(b'a SETQUOTA "" (STORAGE 512 message 9223372036854775807)') == QuotaCommand(
        tag="a",
        name="SETQUOTA",
        root="",
        limits=(("STORAGE", 512), ("MESSAGE", 9223372036854775807)),
    )
    assert p(b'a SETQUOTA "" ()').limits == ()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"a1 GETQUOTA", "expected a space"),
        (b'a1 GETQUOTA "" x', "unexpected characters after the GETQUOTA command"),
        (b"a1 GETQUOTAROOT", "expected a space"),
        (b'a1 SETQUOTA ""', "expected a space"),
        (b'a1 SETQUOTA "" STORAGE 1', r"expected '\(' before the resource limits"),
        (b'a1 SETQUOTA "" (STORAGE)', "expected a space"),
        (b'a1 SETQUOTA "" (STORAGE x)', "expected a number"),
        (b'a1 SETQUOTA "" (STORAGE 1MESSAGE 2)', "expected a space"),
        (b'a1 SETQUOTA "" (STORAGE 9223372036854775808)', "number"),
        (b"a1 GETQUOTA {1+}\r\n\xff", "a quota root is not valid UTF-8"),
    ],
)
def test_quota_errors(line: bytes, why: str) -> None:
    bad(line, why)
