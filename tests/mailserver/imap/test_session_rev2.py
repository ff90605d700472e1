"""IMAP4rev2 (RFC 9051) next to IMAP4rev1 through sessions on a real store: rev1's answers
until the client sends ENABLE IMAP4rev2, then rev2's: SELECT with the mailbox's LIST line and
no RECENT or [UNSEEN n], no \\Recent in FLAGS, SEARCH answered with ESEARCH, new mail as EXISTS
alone, mailbox names in UTF-8 (App. A, §6.3.2, §6.4.4, §7.4.1). Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from mailserver.imap.encode import value as imap_syntax
from mailserver.imap.fetchatt import parse_items
from mailserver.imap.fetching import fetch_values, rereads
from mailserver.imap.syntax import Reader
from mailserver.message import Message
from mailserver.message.summary import summarize
from mailserver.store import Store
from mailserver.store.records import MessageMeta
from tests.mailserver.imap.session_kit import CAPS, Client, deliver, store_fixture

SELECT_TAIL = (
    b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    b"* OK [UIDNEXT 4] Predicted next UID\r\n"
    b"* OK [HIGHESTMODSEQ 4] Highest\r\n"
)
FLAGS = (
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n"
)


@pytest.fixture
def store() -> Iterator[Store]:
    store = next(s := store_fixture())
    deliver(store, 1, flags=("\\Seen",))
    deliver(store, 2)
    deliver(store, 3, flags=("\\Flagged",))
    yield store
    next(s, None)


def rev2(store: Store) -> Client:
    c = Client(store)
    c.login()
    assert c(b"e ENABLE IMAP4rev2") == b"* ENABLED IMAP4rev2\r\ne OK ENABLE completed\r\n"
    return c


def test_both_revisions_are_announced(store: Store) -> None:
    assert CAPS.startswith(b"IMAP4rev1 IMAP4rev2 ")
    c = rev2(store)
    assert c(b"a ENABLE IMAP4rev2") == b"* ENABLED\r\na OK ENABLE completed\r\n"
    assert c(b"b CAPABILITY").startswith(b"* CAPABILITY " + CAPS)


def test_select_before_and_after_enable(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"s SELECT INBOX") == (
        FLAGS + b"* 3 EXISTS\r\n* 3 RECENT\r\n* OK [UNSEEN 2] First unseen\r\n" + SELECT_TAIL
        + b"s OK [READ-WRITE] SELECT completed\r\n"
    )  # fmt: skip
    c = rev2(store)
    assert c(b"t EXAMINE INBOX") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
        b'* 3 EXISTS\r\n* LIST () "/" INBOX\r\n' + SELECT_TAIL
        + b"t OK [READ-ONLY] EXAMINE completed\r\n"
    )  # fmt: skip
    assert c(b"u SELECT Sent").startswith(
        b"* OK [CLOSED] Previous mailbox closed\r\n" + FLAGS + b"* 0 EXISTS\r\n"
        b'* LIST (\\Sent) "/" Sent\r\n'
    )  # fmt: skip


def test_search_is_answered_with_esearch(store: Store) -> None:
    c = rev2(store)
    c(b"s SELECT INBOX")
    assert c(b"a SEARCH UNSEEN") == b'* ESEARCH (TAG "a") ALL 2:3\r\na OK SEARCH completed\r\n'
    assert c(b"b UID SEARCH FLAGGED") == (
        b'* ESEARCH (TAG "b") UID ALL 3\r\nb OK SEARCH completed\r\n'
    )
    assert c(b"c SEARCH DRAFT") == b'* ESEARCH (TAG "c")\r\nc OK SEARCH completed\r\n'
    assert c(b"d SEARCH RETURN (COUNT) ALL") == (
        b'* ESEARCH (TAG "d") COUNT 3\r\nd OK SEARCH completed\r\n'
    )
    assert (
        c(b"e SEARCH RETURN () 1:2") == b'* ESEARCH (TAG "e") ALL 1:2\r\ne OK SEARCH completed\r\n'
    )
    assert c(b"f SORT (SUBJECT) UTF-8 ALL") == b"* SORT 1 2 3\r\nf OK SORT completed\r\n"


def test_no_recent_once_enabled(store: Store) -> None:
    c = Client(store)
    c.select()
    assert c(b"a FETCH 1 FLAGS") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\na OK FETCH completed\r\n"
    )
    assert c(b"e ENABLE IMAP4rev2") == b"e BAD ENABLE is only allowed before SELECT\r\n"
    c = rev2(store)
    deliver(store, 4)  # recent for this session: it is the first to select since
    c(b"s SELECT INBOX")
    assert c(b"b FETCH 4 FLAGS") == b"* 4 FETCH (FLAGS ())\r\nb OK FETCH completed\r\n"
    assert c(b"c SEARCH RECENT") == b'* ESEARCH (TAG "c") ALL 4\r\nc OK SEARCH completed\r\n'
    deliver(store, 5)
    assert c(b"d NOOP") == b"* 5 EXISTS\r\nd OK NOOP completed\r\n"
    assert c(b"f FETCH 5 FLAGS") == b"* 5 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"


def test_names_are_utf8_once_enabled(store: Store) -> None:
    c = rev2(store)
    name = "Entwürfe".encode()
    assert c(b'a CREATE "' + name + b'"') == b"a OK CREATE completed\r\n"
    assert c(b'b LIST "" Entw*') == (
        b'* LIST (\\HasNoChildren) "/" {9}\r\n' + name + b"\r\nb OK LIST completed\r\n"
    )
    out = c(b'c SELECT "' + name + b'"')
    assert b'* LIST () "/" {9}\r\n' + name + b"\r\n" in out


GLOBAL = (
    b"From: a@x\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
    b"see below\r\n--b\r\nContent-Type: message/global\r\n\r\nFrom: b@y\r\nSubject: inner\r\n"
    b"\r\nbody\r\n--b--\r\n"
)
AS_MESSAGE = (  # RFC 9051 §7.5.2: the envelope, the body and the lines of the inner message
    b'("message" "global" NIL NIL NIL "7bit" 33 (NIL "inner" ((NIL NIL "b" "y")) '
    b'((NIL NIL "b" "y")) ((NIL NIL "b" "y")) NIL NIL NIL NIL NIL) ("text" "plain" '
    b'("charset" "us-ascii") NIL NIL "7bit" 4 1) 4)'
)
AS_BASIC = b'("message" "global" NIL NIL NIL "7bit" 33)'  # RFC 3501's grammar: as Dovecot 2.3


@pytest.mark.parametrize("cached", ["rev1", "rev2", "none"])
def test_message_global_is_a_message_for_rev2_only(store: Store, cached: str) -> None:
    # whatever form the summary cached (rev1's now, rev2's before this rule, or none), each
    # session gets its own: a message/global part sends a FETCH BODY[STRUCTURE] to the file
    uid = store.deliver("bob@hamburger.edu", "INBOX", GLOBAL)
    user = store.user("bob@hamburger.edu")
    if cached == "none":
        user.db.execute("UPDATE summaries SET blob = NULL WHERE uid = ?", (uid,))
    elif cached == "rev2":
        message = Message(GLOBAL)
        older = replace(
            summarize(message),
            body=imap_syntax(message.body(rev2=True)),
            bodystructure=imap_syntax(message.bodystructure(rev2=True)),
        )
        user.db.execute("UPDATE summaries SET blob = ? WHERE uid = ?", (older.to_bytes(), uid))
    assert (AS_MESSAGE in user.summaries("INBOX", [uid])[uid].body) is (cached == "rev2")
    old, new = Client(store), rev2(store)
    old.select()
    new(b"s SELECT INBOX")
    ext = b" NIL NIL NIL NIL)"  # BODYSTRUCTURE's extension data: md5, dsp, lang, loc
    forms = {
        b"BODY": (AS_BASIC, AS_MESSAGE),
        b"BODYSTRUCTURE": (
            AS_BASIC[:-1] + ext,
            AS_MESSAGE.replace(b"4 1)", b"4 1" + ext)[:-1] + ext,
        ),
    }
    for item, (basic, message) in forms.items():
        one = old(b"f UID FETCH %d (%s)" % (uid, item))
        two = new(b"f UID FETCH %d (%s)" % (uid, item))
        assert basic in one and b"inner" not in one
        assert message in two
        assert one.startswith(b"* 4 FETCH (UID %d %s ((" % (uid, item))


def test_a_cached_structure_is_read_again_only_for_the_message_global_it_describes() -> None:
    plain = summarize(Message(GLOBAL.replace(b"message/global", b"message/rfc822")))
    held = summarize(Message(GLOBAL))
    for spec, summary, again in (
        (b"(BODY)", held, True),
        (b"(BODYSTRUCTURE)", held, True),
        (b"(UID BODY BODYSTRUCTURE ENVELOPE)", plain, False),  # nothing to describe twice
        (b"(UID ENVELOPE BODY[1])", held, False),  # neither structure asked
        (b"(BODY)", replace(held, bodystructure=plain.bodystructure), True),
        (b"(BODY)", replace(held, body=plain.body), False),  # BODY's own says no global part
        (b"(BODYSTRUCTURE)", replace(held, bodystructure=plain.bodystructure), False),
        (b"(BODYSTRUCTURE)", replace(held, body=plain.body), True),
    ):
        assert rereads(parse_items(Reader(spec)), summary) is again, (spec, again)


def test_fetch_values_describe_message_global_as_rev1_unless_told() -> None:
    meta = MessageMeta(uid=1, size=len(GLOBAL), internaldate=0, flags=(), modseq=1)
    message = Message(GLOBAL)
    for rev2, part in ((False, AS_BASIC), (True, AS_MESSAGE)):
        kw = {"rev2": rev2} if rev2 else {}  # (IMAP4rev1's forms by default)
        values = fetch_values(
            parse_items(Reader(b"(BODY)")), meta, summary=None, message=message, modseq=False, **kw
        )
        assert part in imap_syntax(values[0][1])
