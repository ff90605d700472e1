"""The IMAP session's selected state on a real store: SELECT/EXAMINE, FETCH (implicit \\Seen,
UID FETCH, CHANGEDSINCE, streaming), STORE (.SILENT, UNCHANGEDSINCE/MODIFIED), SEARCH and
ESEARCH, COPY/MOVE with COPYUID, EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, CHECK. Exact bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mailserver.imap import selected
from mailserver.imap.session import Notify, Send, State, Stream
from mailserver.message.summary import store_summary
from mailserver.store import Store, StoreError
from tests.mailserver.imap.session_kit import (
    BOB,
    Client,
    Clock,
    deliver,
    message,
    store_fixture,
)

SIZE = len(message(1))
SELECT_3 = (
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n"
    b"* 3 EXISTS\r\n"
    b"* 3 RECENT\r\n"
    b"* OK [UNSEEN 1] First unseen\r\n"
    b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    b"* OK [UIDNEXT 4] Predicted next UID\r\n"
    b"* OK [HIGHESTMODSEQ 4] Highest\r\n"
    b"S OK [READ-WRITE] SELECT completed\r\n"
)


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def client(store: Store) -> Client:
    for n in (1, 2, 3):
        deliver(store, n)
    c = Client(store)
    assert c.select() == SELECT_3
    return c


# -- SELECT, EXAMINE, CLOSE, UNSELECT --------------------------------------------------------


def test_select_state(client: Client):
    assert client.session.state is State.SELECTED
    assert client.session.selected == "INBOX"


def test_examine_is_read_only_and_claims_no_recent(store: Store):
    deliver(store, 1, flags=("\\Seen", "$Work"))
    deliver(store, 2)
    c = Client(store)
    c.login()
    assert c(b"E EXAMINE inbox") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
        b"* 2 EXISTS\r\n"
        b"* 0 RECENT\r\n"
        b"* OK [UNSEEN 2] First unseen\r\n"
        b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
        b"* OK [UIDNEXT 3] Predicted next UID\r\n"
        b"* OK [HIGHESTMODSEQ 3] Highest\r\n"
        b"E OK [READ-ONLY] EXAMINE completed\r\n"
    )
    # EXAMINE sets no \Seen, and the read-only commands are refused
    assert c(b"f FETCH 2 (BODY[TEXT])") == (
        b'* 2 FETCH (BODY[TEXT] "hello 2\r\n")\r\nf OK FETCH completed\r\n'.replace(
            b'"hello 2\r\n"', b"{9}\r\nhello 2\r\n"
        )
    )
    assert c(b"g FETCH 2 FLAGS") == b"* 2 FETCH (FLAGS ())\r\ng OK FETCH completed\r\n"
    refused = b"NO the mailbox is read-only (EXAMINE)\r\n"
    assert c(b"h STORE 1 +FLAGS \\Deleted") == b"h " + refused
    assert c(b"i EXPUNGE") == b"i " + refused
    assert c(b"j MOVE 1 Trash") == b"j " + refused
    assert c(b"k COPY 1 Trash") == b"k OK [COPYUID 1700000003 1 1] COPY completed\r\n"
    assert c.session.receive(b"l CLOSE\r\n") == [Send(data=b"l OK CLOSE completed\r\n")]


def test_select_without_unseen_and_select_again(store: Store):
    deliver(store, 1, flags=("\\Seen",))
    c = Client(store)
    out = c.select()
    assert b"UNSEEN" not in out and b"* 1 EXISTS\r\n* 1 RECENT\r\n" in out
    again = c(b"T SELECT Trash")
    assert again.startswith(b"* OK [CLOSED] Previous mailbox closed\r\n* FLAGS")
    assert again.endswith(b"T OK [READ-WRITE] SELECT completed\r\n")
    assert c.session.selected == "Trash"
    assert c(b"U SELECT Nope") == (  # (Trash is closed all the same: RFC 7162 §3.2.11)
        b"* OK [CLOSED] Previous mailbox closed\r\nU NO [NONEXISTENT] no mailbox 'Nope'\r\n"
    )
    assert c.session.state is State.AUTHENTICATED and c.session.selected is None


def test_close_expunges_silently(client: Client, store: Store):
    client(b"a STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    actions = client.session.receive(b"b CLOSE\r\n")
    assert actions == [Notify(mailbox="INBOX"), Send(data=b"b OK CLOSE completed\r\n")]
    assert [m.uid for m in store.user(BOB).fetch("INBOX")] == [3]
    assert client.session.state is State.AUTHENTICATED
    assert client(b"c CLOSE") == b"c BAD CLOSE needs a selected mailbox (SELECT or EXAMINE)\r\n"


def test_close_without_deleted_messages_notifies_nobody(client: Client):
    assert client.session.receive(b"b CLOSE\r\n") == [Send(data=b"b OK CLOSE completed\r\n")]


def test_unselect_does_not_expunge(client: Client, store: Store):
    client(b"a STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert client(b"b UNSELECT") == b"b OK UNSELECT completed\r\n"
    assert len(store.user(BOB).fetch("INBOX")) == 3
    assert client.session.selected is None


def test_check_and_noop(client: Client):
    assert client(b"a CHECK") == b"a OK CHECK completed\r\n"
    assert client(b"b NOOP") == b"b OK NOOP completed\r\n"


# -- FETCH -----------------------------------------------------------------------------------


def test_fetch_flags_uid_size_date(client: Client):
    assert client(b"f FETCH 2:3 (FLAGS UID RFC822.SIZE INTERNALDATE)") == (
        b'* 2 FETCH (FLAGS (\\Recent) UID 2 RFC822.SIZE %d INTERNALDATE "14-Nov-2023 22:13:20'
        b' +0000")\r\n'
        b'* 3 FETCH (FLAGS (\\Recent) UID 3 RFC822.SIZE %d INTERNALDATE "14-Nov-2023 22:13:20'
        b' +0000")\r\n'
        b"f OK FETCH completed\r\n" % (SIZE, SIZE)
    )


def test_uid_fetch_always_has_the_uid(client: Client):
    assert client(b"f UID FETCH 2,9 FLAGS") == (
        b"* 2 FETCH (UID 2 FLAGS (\\Recent))\r\nf OK FETCH completed\r\n"
    )
    assert client(b"g UID FETCH 9:* FLAGS") == (
        b"* 3 FETCH (UID 3 FLAGS (\\Recent))\r\ng OK FETCH completed\r\n"
    )
    assert client(b"h UID FETCH 7:9 FLAGS") == b"h OK FETCH completed\r\n"


def test_fetch_beyond_the_mailbox_is_bad(client: Client):
    assert client(b"f FETCH 4 FLAGS") == b"f BAD message 4 does not exist (there are 3)\r\n"
    client(b"a STORE 1:3 +FLAGS.SILENT \\Deleted")
    client(b"b EXPUNGE")
    assert client(b"g FETCH * FLAGS") == b"g BAD no messages: * names nothing\r\n"


def test_body_fetch_sets_seen_and_says_so(client: Client, store: Store):
    actions = client.actions(b"f FETCH 1 (UID BODY[TEXT])")
    assert actions[0] == Notify(mailbox="INBOX")
    assert isinstance(actions[1], Stream)
    assert b"".join(actions[1].chunks) == (
        b"* 1 FETCH (UID 1 BODY[TEXT] {9}\r\nhello 1\r\n FLAGS (\\Seen \\Recent))\r\n"
        b"f OK FETCH completed\r\n"
    )
    assert store.user(BOB).fetch("INBOX", [1])[0].flags == ("\\Seen",)
    # already \Seen: no FLAGS added, nothing stored
    [stream] = client.session.receive(b"g FETCH 1 (BODY[TEXT])\r\n")
    assert isinstance(stream, Stream)
    assert b"".join(stream.chunks) == (
        b"* 1 FETCH (BODY[TEXT] {9}\r\nhello 1\r\n)\r\ng OK FETCH completed\r\n"
    )
    # asked FLAGS: not twice
    assert client(b"h FETCH 2 (FLAGS RFC822.TEXT)") == (
        b"* 2 FETCH (FLAGS (\\Seen \\Recent) RFC822.TEXT {9}\r\nhello 2\r\n)\r\n"
        b"h OK FETCH completed\r\n"
    )
    # PEEK sets nothing
    assert client(b"i FETCH 3 (BODY.PEEK[TEXT])") == (
        b"* 3 FETCH (BODY[TEXT] {9}\r\nhello 3\r\n)\r\ni OK FETCH completed\r\n"
    )
    assert store.user(BOB).fetch("INBOX", [3])[0].flags == ()


def test_fetch_envelope_streams_from_the_summary(client: Client):
    actions = client.actions(b"f FETCH 1 (ENVELOPE)")
    assert len(actions) == 1 and isinstance(actions[0], Stream)
    assert client(b"f FETCH 1 (ENVELOPE)") == (
        b'* 1 FETCH (ENVELOPE ("Tue, 14 Nov 2023 10:00:00 +0100" "msg 1" (("Alice" NIL "alice"'
        b' "crepes.fr")) (("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice" "crepes.fr"))'
        b' ((NIL NIL "bob" "hamburger.edu")) NIL NIL NIL "<m1@crepes.fr>"))\r\n'
        b"f OK FETCH completed\r\n"
    )


def test_a_big_fetch_comes_in_chunks(client: Client, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(selected, "CHUNK", 100)
    monkeypatch.setattr(selected, "BATCH", 2)
    [stream] = client.session.receive(b"f FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
    assert isinstance(stream, Stream)
    chunks = list(stream.chunks)
    assert chunks == [
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 1\r\n\r\n)\r\n"
        b"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 2\r\n\r\n)\r\n",
        b"* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 3\r\n\r\n)\r\n"
        b"f OK FETCH completed\r\n",
    ]


def test_a_metadata_fetch_of_many_messages_streams(client: Client, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(selected, "EAGER", 2)
    [stream] = client.session.receive(b"f FETCH 1:3 UID\r\n")
    assert isinstance(stream, Stream)
    assert b"".join(stream.chunks) == (
        b"* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n"
    )
    [send] = client.session.receive(b"g FETCH 1:2 UID\r\n")
    assert isinstance(send, Send)


def test_fetch_of_a_vanished_file_says_expungeissued(client: Client, store: Store):
    import os

    path = store.user(BOB).message_file("INBOX", 2).path
    os.unlink(path)
    assert client(b"f FETCH 1:3 (BODY.PEEK[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {9}\r\nhello 1\r\n)\r\n"
        b"* 3 FETCH (BODY[TEXT] {9}\r\nhello 3\r\n)\r\n"
        b"f NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )


def test_fetch_store_failure_ends_the_stream_with_serverbug(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    def broken(mailbox: str, uid: int, where: object) -> bytes:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(store.user(BOB), "read_file", broken)
    assert client(b"f FETCH 1 (BODY.PEEK[TEXT])") == (
        b"f NO [SERVERBUG] FETCH failed: [Errno 5] I/O error\r\n"
    )


def test_uid_fetch_keeps_the_uid_where_it_was_asked(client: Client):
    # UID FETCH adds UID first only when not asked: asked, it stays where the client put it
    assert client(b"f UID FETCH 2 (FLAGS UID)") == (
        b"* 2 FETCH (FLAGS (\\Recent) UID 2)\r\nf OK FETCH completed\r\n"
    )


def test_fetch_of_messages_another_session_expunged(client: Client, store: Store):
    # another session flagged message 3 and expunged message 2, neither announced yet: FETCH
    # 1:2 answers message 1, then the flag change, then NO [EXPUNGEISSUED] for message 2
    user = store.user(BOB)
    user.store("INBOX", [3], "add", ["\\Flagged"])
    user.store("INBOX", [2], "add", ["\\Deleted"])
    assert user.expunge("INBOX", [2]) == [2]
    assert client(b"f FETCH 1:2 (FLAGS)") == (
        b"* 1 FETCH (FLAGS (\\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))\r\n"
        b"f NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )


def test_fetching_a_seen_message_stores_nothing(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    client(b"a STORE 1 +FLAGS.SILENT (\\Seen)")
    user = store.user(BOB)
    stored: list[tuple[object, ...]] = []
    real = user.store

    def storing(*args: object) -> object:
        stored.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(user, "store", storing)
    assert client(b"f FETCH 1:2 (BODY[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {9}\r\nhello 1\r\n)\r\n"
        b"* 2 FETCH (BODY[TEXT] {9}\r\nhello 2\r\n FLAGS (\\Seen \\Recent))\r\n"
        b"f OK FETCH completed\r\n"
    )
    assert stored == [("INBOX", [2], "add", ["\\Seen"])]  # message 1 is \Seen already


def test_a_metadata_fetch_reads_no_summary_and_no_file(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    user = store.user(BOB)

    def no_reading(*args: object) -> bytes:
        raise AssertionError("read more than the index data")

    for name in ("summaries", "message_files", "read_file", "read_message"):
        monkeypatch.setattr(user, name, no_reading)
    assert client(b"f FETCH 2:3 (FLAGS UID RFC822.SIZE)") == (
        b"* 2 FETCH (FLAGS (\\Recent) UID 2 RFC822.SIZE %d)\r\n"
        b"* 3 FETCH (FLAGS (\\Recent) UID 3 RFC822.SIZE %d)\r\n"
        b"f OK FETCH completed\r\n" % (SIZE, SIZE)
    )


def test_fetch_finds_the_message_files_in_batches(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(selected, "BATCH", 2)
    user = store.user(BOB)
    asked: list[object] = []
    real = user.message_files

    def counting(mailbox: str, uids: list[int]) -> object:
        asked.append(None if uids is None else list(uids))
        return real(mailbox, uids)

    def no_lookup(*args: object) -> bytes:
        raise AssertionError("looked a message file up by itself")

    monkeypatch.setattr(user, "message_files", counting)
    monkeypatch.setattr(user, "read_message", no_lookup)  # read from where the batch says
    assert client(b"f FETCH 1:3 (BODY.PEEK[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {9}\r\nhello 1\r\n)\r\n"
        b"* 2 FETCH (BODY[TEXT] {9}\r\nhello 2\r\n)\r\n"
        b"* 3 FETCH (BODY[TEXT] {9}\r\nhello 3\r\n)\r\n"
        b"f OK FETCH completed\r\n"
    )
    assert asked == [[1, 2], [3]]


UID_LINES = [b"* %d FETCH (UID %d)\r\n" % (n, n) for n in (1, 2, 3)]  # 19 octets each


@pytest.mark.parametrize("chunk", [20, 38])
def test_a_fetch_chunk_ends_once_it_holds_chunk_octets(
    client: Client, monkeypatch: pytest.MonkeyPatch, chunk: int
):
    # two lines of 19 octets reach both 20 and 38 (exactly): a chunk; the third line does
    # not, and goes with the tagged line
    monkeypatch.setattr(selected, "CHUNK", chunk)
    monkeypatch.setattr(selected, "EAGER", 0)
    [stream] = client.session.receive(b"f FETCH 1:3 UID\r\n")
    assert isinstance(stream, Stream)
    assert list(stream.chunks) == [
        UID_LINES[0] + UID_LINES[1],
        UID_LINES[2] + b"f OK FETCH completed\r\n",
    ]


def test_an_eager_fetch_sends_its_chunks_as_one(client: Client, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(selected, "CHUNK", 20)
    assert client.session.receive(b"f FETCH 1:3 UID\r\n") == [
        Send(data=b"".join(UID_LINES) + b"f OK FETCH completed\r\n")
    ]


# -- STORE -----------------------------------------------------------------------------------


def test_store_modes(client: Client, store: Store):
    assert client.actions(b"a STORE 1 +FLAGS (\\Flagged $Todo)")[0] == Notify(mailbox="INBOX")
    assert wire_of(client) == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo \\*)]"
        b" Flags permitted\r\n"
        b"* 1 FETCH (FLAGS (\\Flagged $Todo \\Recent))\r\na OK STORE completed\r\n"
    )
    assert client(b"b STORE 1 -FLAGS ($todo)") == (
        b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\nb OK STORE completed\r\n"
    )
    assert client(b"c UID STORE 1,3 FLAGS (\\Seen)") == (
        b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\nc OK STORE completed\r\n"
    )
    assert client(b"d STORE 2 +FLAGS.SILENT (\\Answered)") == b"d OK STORE completed\r\n"
    assert store.user(BOB).fetch("INBOX", [2])[0].flags == ("\\Answered",)
    # nothing changes: no Notify
    assert client.actions(b"e STORE 2 +FLAGS.SILENT (\\Answered)") == [
        Send(data=b"e OK STORE completed\r\n")
    ]
    assert client(b"f STORE 1 +FLAGS (" + b"k" * 129 + b")") == (
        b"f NO [LIMIT] keyword must be 1..128 characters\r\n"
    )
    # another client's later NOOP does not repeat this session's own changes
    assert client(b"g NOOP") == b"g OK NOOP completed\r\n"


def wire_of(client: Client) -> bytes:
    return b"".join(a.data for a in client.last if isinstance(a, Send))


def test_condstore_select_fetch_changedsince_store_unchangedsince(store: Store):
    for n in (1, 2, 3):
        deliver(store, n)
    c = Client(store)
    c.login()
    out = c(b"S SELECT INBOX (CONDSTORE)")
    assert b"* OK [HIGHESTMODSEQ 4] Highest\r\n" in out
    assert c.session.condstore
    assert c(b"a STORE 2 +FLAGS (\\Flagged)") == (
        b"* 2 FETCH (MODSEQ (5) FLAGS (\\Flagged \\Recent))\r\na OK STORE completed\r\n"
    )
    assert c(b"b FETCH 1:* (FLAGS) (CHANGEDSINCE 4)") == (
        b"* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (5))\r\nb OK FETCH completed\r\n"
    )
    assert c(b"c UID FETCH 1:* (UID) (CHANGEDSINCE 2)") == (
        b"* 2 FETCH (UID 2 MODSEQ (5))\r\n* 3 FETCH (UID 3 MODSEQ (4))\r\nc OK FETCH completed\r\n"
    )
    assert c(b"d STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS (\\Deleted)") == (
        b"* 1 FETCH (MODSEQ (6) FLAGS (\\Deleted \\Recent))\r\n"
        b"* 3 FETCH (MODSEQ (6) FLAGS (\\Deleted \\Recent))\r\n"
        b"d OK [MODIFIED 2] Conditional STORE failed for some messages\r\n"
    )
    assert c(b"e UID STORE 1:3 (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Deleted)") == (
        b"* 2 FETCH (UID 2 MODSEQ (5))\r\n"
        b"e OK [MODIFIED 1,3] Conditional STORE failed for some messages\r\n"
    )
    assert c(b"f UID STORE 1,3 (UNCHANGEDSINCE 6) -FLAGS.SILENT (\\Deleted)") == (
        b"* 1 FETCH (UID 1 MODSEQ (7))\r\n* 3 FETCH (UID 3 MODSEQ (7))\r\nf OK STORE completed\r\n"
    )
    assert c(b"g UID SEARCH MODSEQ 6") == b"* SEARCH 1 3 (MODSEQ 7)\r\ng OK SEARCH completed\r\n"
    assert c(b"h SEARCH RETURN (COUNT) MODSEQ 6") == (
        b'* ESEARCH (TAG "h") COUNT 2 MODSEQ 7\r\nh OK SEARCH completed\r\n'
    )
    assert c(b"i SEARCH MODSEQ 100") == b"* SEARCH\r\ni OK SEARCH completed\r\n"


def test_a_silent_conditional_store_announces_a_new_keyword(client: Client):
    # .SILENT with UNCHANGEDSINCE still gives each message's MODSEQ, after the new keyword's
    # FLAGS and PERMANENTFLAGS
    assert client(b"a STORE 1 (UNCHANGEDSINCE 100) +FLAGS.SILENT ($New)") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $New)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $New \\*)]"
        b" Flags permitted\r\n"
        b"* 1 FETCH (MODSEQ (5))\r\na OK STORE completed\r\n"
    )


def test_fetch_modseq_and_store_unchangedsince_enable_condstore(client: Client):
    assert not client.session.condstore
    assert client(b"a FETCH 1 (MODSEQ)") == b"* 1 FETCH (MODSEQ (2))\r\na OK FETCH completed\r\n"
    assert client.session.condstore
    assert client(b"b FETCH 1 (UID)") == b"* 1 FETCH (UID 1 MODSEQ (2))\r\nb OK FETCH completed\r\n"


def test_search_modseq_enables_condstore(client: Client):
    client(b"a SEARCH MODSEQ 1")
    assert client.session.condstore


def test_store_unchangedsince_enables_condstore(client: Client):
    client(b"a STORE 1 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Seen)")
    assert client.session.condstore


# -- SEARCH ----------------------------------------------------------------------------------


def test_search_and_esearch(client: Client):
    client(b"a STORE 2 +FLAGS.SILENT (\\Seen)")
    assert client(b"b SEARCH UNSEEN") == b"* SEARCH 1 3\r\nb OK SEARCH completed\r\n"
    assert client(b'c UID SEARCH SUBJECT "msg 3"') == b"* SEARCH 3\r\nc OK SEARCH completed\r\n"
    assert client(b"d SEARCH RETURN () SEEN") == (
        b'* ESEARCH (TAG "d") ALL 2\r\nd OK SEARCH completed\r\n'
    )
    assert client(b"e UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN") == (
        b'* ESEARCH (TAG "e") UID MIN 1 MAX 3 COUNT 2 ALL 1,3\r\ne OK SEARCH completed\r\n'
    )
    assert client(b"f SEARCH RETURN (MIN MAX ALL COUNT) DELETED") == (
        b'* ESEARCH (TAG "f") COUNT 0\r\nf OK SEARCH completed\r\n'
    )
    assert client(b"g SEARCH RETURN (MIN) DELETED") == (
        b'* ESEARCH (TAG "g")\r\ng OK SEARCH completed\r\n'
    )
    assert client(b"h SEARCH BODY hello RECENT 2:*") == b"* SEARCH 2 3\r\nh OK SEARCH completed\r\n"


# -- COPY, MOVE, EXPUNGE ---------------------------------------------------------------------


def test_copy_with_copyuid(client: Client, store: Store):
    actions = client.actions(b"c COPY 1,3 Trash")
    assert actions == [
        Notify(mailbox="Trash"),
        Send(data=b"c OK [COPYUID 1700000003 1,3 1:2] COPY completed\r\n"),
    ]
    assert client(b"d UID COPY 5:9 Trash") == b"d OK COPY completed (no messages)\r\n"
    assert client(b"e COPY 1 Nope") == b"e NO [TRYCREATE] no mailbox 'Nope'\r\n"
    assert client(b"f UID COPY 2 INBOX") == (
        b"* 4 EXISTS\r\n* 4 RECENT\r\nf OK [COPYUID 1700000000 2 4] COPY completed\r\n"
    )
    assert len(store.user(BOB).fetch("Trash")) == 2


def test_move_sends_copyuid_and_expunges(client: Client, store: Store):
    actions = client.actions(b"m MOVE 1:2 Archive")
    assert actions[:2] == [Notify(mailbox="Archive"), Notify(mailbox="INBOX")]
    assert wire_of(client) == (
        b"* OK [COPYUID 1700000005 1:2 1:2] Moved\r\n"
        b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n"
        b"m OK MOVE completed\r\n"
    )
    assert client(b"n FETCH 1 UID") == b"* 1 FETCH (UID 3)\r\nn OK FETCH completed\r\n"
    assert client(b"o UID MOVE 3 INBOX") == (
        b"o NO [CANNOT] cannot move messages to the mailbox they are in\r\n"
    )
    assert client(b"p MOVE 1 Nope") == b"p NO [TRYCREATE] no mailbox 'Nope'\r\n"
    assert [m.uid for m in store.user(BOB).fetch("Archive")] == [1, 2]


def test_expunge_and_uid_expunge(client: Client, store: Store):
    client(b"a STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    assert client(b"b UID EXPUNGE 2:3") == (
        b"* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nb OK EXPUNGE completed\r\n"
    )
    assert client(b"c UID EXPUNGE 2:3") == b"c OK EXPUNGE completed\r\n"
    client(b"d STORE 1 -FLAGS.SILENT (\\Deleted)")
    assert client.actions(b"e EXPUNGE") == [Send(data=b"e OK EXPUNGE completed\r\n")]
    client(b"f STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert client.actions(b"g EXPUNGE") == [
        Notify(mailbox="INBOX"),
        Send(data=b"* 1 EXPUNGE\r\ng OK EXPUNGE completed\r\n"),
    ]
    assert store.user(BOB).fetch("INBOX") == []


def test_expunge_announces_its_own_expunges_before_another_sessions(client: Client, store: Store):
    # another session expunged UID 1 unannounced; ours removes UID 3 (message 3): its
    # `* 3 EXPUNGE` first, then the other's `* 1 EXPUNGE` with the updates
    store.user(BOB).store("INBOX", [1, 3], "add", ["\\Deleted"])
    assert store.user(BOB).expunge("INBOX", [1]) == [1]
    assert client.actions(b"x UID EXPUNGE 3") == [
        Notify(mailbox="INBOX"),
        Send(data=b"* 3 EXPUNGE\r\n* 1 EXPUNGE\r\nx OK EXPUNGE completed\r\n"),
    ]
    assert client(b"y FETCH 1 (UID)") == b"* 1 FETCH (UID 2)\r\ny OK FETCH completed\r\n"


def test_expunge_numbers_count_down(store: Store):
    for n in range(1, 8):
        deliver(store, n, flags=("\\Deleted",) if n in (2, 3, 5) else ())
    c = Client(store)
    c.select()
    assert c(b"x EXPUNGE") == (
        b"* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 3 EXPUNGE\r\nx OK EXPUNGE completed\r\n"
    )
    assert c(b"y FETCH 1:* UID") == (
        b"* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 4)\r\n* 3 FETCH (UID 6)\r\n* 4 FETCH (UID 7)\r\n"
        b"y OK FETCH completed\r\n"
    )


def test_fetch_store_error_ends_the_stream_with_serverbug(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    def busy(mailbox: str, uid: int, where: object) -> bytes:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "read_file", busy)
    assert client(b"f FETCH 1 (BODY.PEEK[TEXT])") == (
        b"f NO [SERVERBUG] FETCH failed: index busy\r\n"
    )


def test_a_failing_change_feed_is_a_no(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    def busy(*args: object, **kwargs: object) -> None:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "changes_since", busy)
    assert client(b"n NOOP") == b"n NO [INUSE] index busy\r\n"
    assert client.session.selected == "INBOX"


def test_copy_to_an_invalid_name(client: Client):
    assert client(b"c COPY 1 a//b") == (
        b"c NO [CANNOT] empty hierarchy level in mailbox name 'a//b'\r\n"
    )


def test_search_by_sent_date_and_nested_modseq(client: Client):
    assert client(b"s SEARCH SENTON 14-Nov-2023") == (
        b"* SEARCH 1 2 3\r\ns OK SEARCH completed\r\n"
    )
    assert client(b"t SEARCH SENTBEFORE 14-Nov-2023") == b"* SEARCH\r\nt OK SEARCH completed\r\n"
    assert not client.session.condstore
    assert client(b"u SEARCH OR 1 MODSEQ 3") == (
        b"* SEARCH 1 2 3 (MODSEQ 4)\r\nu OK SEARCH completed\r\n"
    )
    assert client.session.condstore


def test_search_not_modseq_enables_condstore(client: Client):
    assert client(b"u SEARCH NOT MODSEQ 4") == (
        b"* SEARCH 1 2 (MODSEQ 3)\r\nu OK SEARCH completed\r\n"
    )
    assert client.session.condstore


@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        (b"u SEARCH 1:2 MODSEQ 3", b"* SEARCH 2 (MODSEQ 3)\r\n"),  # MODSEQ among ANDed keys
        (b"u SEARCH OR MODSEQ 4 1", b"* SEARCH 1 3 (MODSEQ 4)\r\n"),  # the first of an OR
    ],
)
def test_search_modseq_anywhere_gives_the_modseq_and_enables_condstore(
    client: Client, frame: bytes, answer: bytes
):
    assert client(frame) == answer + b"u OK SEARCH completed\r\n"
    assert client.session.condstore


@pytest.mark.parametrize("frame", [b"u SEARCH UNSEEN", b"u SEARCH (UNSEEN OR SEEN DRAFT)"])
def test_search_without_modseq_leaves_condstore_off(client: Client, frame: bytes):
    client(frame)
    assert not client.session.condstore


def test_a_bug_in_rendering_ends_the_stream_with_serverbug(
    client: Client, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("no message given")

    monkeypatch.setattr(selected.fetching.Plan, "values", broken)
    assert client(b"f FETCH 1 (BODY.PEEK[TEXT])") == (
        b"f NO [SERVERBUG] internal server error: ValueError\r\n"
    )


def test_changedsince_alone_enables_condstore(client: Client):
    assert client(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 3)") == (
        b"* 3 FETCH (FLAGS (\\Recent) MODSEQ (4))\r\na OK FETCH completed\r\n"
    )
    assert client.session.condstore


def test_changedsince_answers_an_asked_modseq_once_where_asked(client: Client):
    assert client(b"a FETCH 1:* (MODSEQ FLAGS) (CHANGEDSINCE 3)") == (
        b"* 3 FETCH (MODSEQ (4) FLAGS (\\Recent))\r\na OK FETCH completed\r\n"
    )


def test_renaming_the_selected_inbox_empties_it(client: Client):
    assert client(b"r RENAME INBOX Old") == (
        b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nr OK RENAME completed\r\n"
    )
    assert client.session.selected == "INBOX"
    assert client(b"s STATUS Old (MESSAGES)") == (
        b"* STATUS Old (MESSAGES 3)\r\ns OK STATUS completed\r\n"
    )


def test_envelope_from_the_summary_reads_no_file(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    store.user(BOB).summaries("INBOX", [1, 2, 3])  # cached at delivery already; made sure

    def no_reading(*args: object) -> bytes:
        raise AssertionError("read the message file")

    monkeypatch.setattr(store.user(BOB), "read_message", no_reading)
    monkeypatch.setattr(store.user(BOB), "read_file", no_reading)
    out = client(b"f FETCH 1:3 (FLAGS ENVELOPE)")
    assert out.count(b" FETCH (FLAGS (\\Recent) ENVELOPE (") == 3
    assert out.endswith(b"f OK FETCH completed\r\n")


def test_without_summaries_the_envelope_comes_from_the_message():
    import shutil
    import tempfile

    from mailserver.store import Store as PlainStore
    from tests.mailserver.imap.session_kit import SCRATCH, Clock

    root = tempfile.mkdtemp(prefix="imap-session-", dir=SCRATCH)
    store = PlainStore(root, clock=Clock(), host="mx.test")
    try:
        deliver(store, 1)
        c = Client(store)
        c.select()
        assert c(b"f FETCH 1 (ENVELOPE)") == (
            b'* 1 FETCH (ENVELOPE ("Tue, 14 Nov 2023 10:00:00 +0100" "msg 1" (("Alice" NIL'
            b' "alice" "crepes.fr")) (("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice"'
            b' "crepes.fr")) ((NIL NIL "bob" "hamburger.edu")) NIL NIL NIL "<m1@crepes.fr>"))\r\n'
            b"f OK FETCH completed\r\n"
        )
    finally:
        store.close()
        shutil.rmtree(root, ignore_errors=True)


def test_search_reads_summaries_in_batches(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(selected, "BATCH", 2)
    user = store.user(BOB)
    asked: list[list[int]] = []
    real = user.summaries

    def counting(mailbox: str, uids: list[int]) -> object:
        asked.append(list(uids))
        return real(mailbox, uids)

    monkeypatch.setattr(user, "summaries", counting)

    def no_reading(*args: object) -> bytes:
        raise AssertionError("read the message file")

    monkeypatch.setattr(user, "read_message", no_reading)  # the summaries answer SENT*
    monkeypatch.setattr(user, "read_file", no_reading)
    assert client(b"s SEARCH SENTSINCE 1-Jan-2020") == (
        b"* SEARCH 1 2 3\r\ns OK SEARCH completed\r\n"
    )
    assert asked == [[1, 2], [3]]
    asked.clear()
    assert client(b"t SEARCH 2:3 SENTON 14-Nov-2023") == (
        b"* SEARCH 2 3\r\nt OK SEARCH completed\r\n"
    )
    assert asked == [[2, 3]]


def test_search_finds_the_message_files_in_batches(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(selected, "BATCH", 2)
    user = store.user(BOB)
    asked: list[list[int]] = []
    real = user.message_files

    def counting(mailbox: str, uids: list[int]) -> object:
        asked.append(list(uids))
        return real(mailbox, uids)

    def no_lookup(*args: object) -> bytes:
        raise AssertionError("looked a message file up by itself")

    monkeypatch.setattr(user, "message_files", counting)
    monkeypatch.setattr(user, "read_message", no_lookup)  # read from where the batch says
    assert client(b"s SEARCH BODY hello") == b"* SEARCH 1 2 3\r\ns OK SEARCH completed\r\n"
    assert asked == [[1, 2], [3]]


def test_search_reads_a_message_file_another_program_moved(client: Client, store: Store):
    # a mail reader moved message 2 from new/ to cur/, flagged \Seen, after the index
    # last looked: SEARCH finds it all the same
    where = store.user(BOB).message_file("INBOX", 2).path
    new, name = os.path.split(where)
    os.rename(where, os.path.join(os.path.dirname(new), "cur", name + ":2,S"))
    assert client(b"s SEARCH BODY 2") == b"* SEARCH 2\r\ns OK SEARCH completed\r\n"


@pytest.mark.parametrize(
    ("frame", "answer", "reads"),
    [
        # system flags alone: the index gives the UIDs with those flag bits
        (b"s SEARCH UNSEEN", b"* SEARCH 1 3", "uids_flagged"),
        (b"s UID SEARCH SEEN", b"* SEARCH 2", "uids_flagged"),
        (b"s SEARCH NOT DELETED OR SEEN FLAGGED", b"* SEARCH 2", "uids_flagged"),
        (b"s SEARCH RETURN (COUNT) ALL", b'* ESEARCH (TAG "s") COUNT 3', "uids_flagged"),
        # a keyword, a size or a modseq: each message's index data
        (b"s SEARCH KEYWORD $Junk", b"* SEARCH", "fetch"),
        (b"s SEARCH UNSEEN LARGER 1", b"* SEARCH 1 3", "fetch"),
        (b"s UID SEARCH MODSEQ 5", b"* SEARCH 2 (MODSEQ 5)", "fetch"),
        # \Recent, sequence sets and cached subjects: no index data at all
        (b"s SEARCH OR RECENT SUBJECT x", b"* SEARCH 1 2 3", "uids"),
        (b's SEARCH 2:* SUBJECT "msg 3"', b"* SEARCH 3", "uids"),
        (b"s UID SEARCH UID 2", b"* SEARCH 2", "uids"),
    ],
)
def test_search_reads_index_data_only_for_keys_that_need_it(
    client: Client,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    frame: bytes,
    answer: bytes,
    reads: str,
):
    client(b"a STORE 2 +FLAGS.SILENT (\\Seen)")
    user = store.user(BOB)
    calls: list[str] = []

    def counting(name: str) -> object:
        real = getattr(user, name)

        def counted(*args: object) -> object:
            calls.append(name)
            return real(*args)

        return counted

    for name in ("fetch", "uids", "uids_flagged"):
        monkeypatch.setattr(user, name, counting(name))
    assert client(frame) == answer + b"\r\ns OK SEARCH completed\r\n"
    assert calls == [reads]


def test_search_subject_reads_subject_texts_in_batches_and_no_file(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(selected, "SUBJECT_BATCH", 2)
    user = store.user(BOB)
    asked: list[list[int]] = []
    real = user.subject_texts

    def counting(mailbox: str, uids: list[int]) -> object:
        asked.append(list(uids))
        return real(mailbox, uids)

    def no_file(*args: object) -> bytes:
        raise AssertionError("a message file was read")

    monkeypatch.setattr(user, "subject_texts", counting)
    monkeypatch.setattr(user, "read_file", no_file)
    monkeypatch.setattr(user, "read_message", no_file)
    assert client(b'a UID SEARCH HEADER SUBJECT "MSG 2"') == (
        b"* SEARCH 2\r\na OK SEARCH completed\r\n"
    )
    assert asked == [[1, 2], [3]]
    asked.clear()
    assert client(b"b SEARCH 3 SUBJECT msg") == b"* SEARCH 3\r\nb OK SEARCH completed\r\n"
    assert asked == [[3]]
    asked.clear()
    assert client(b'c SEARCH NOT SUBJECT ""') == b"* SEARCH\r\nc OK SEARCH completed\r\n"
    assert asked == [[1, 2], [3]]


def test_search_subject_reads_the_messages_without_a_subject_text(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    user = store.user(BOB)
    user.db.execute("UPDATE summaries SET subject_text = NULL WHERE uid = 2")
    user.db.execute("DELETE FROM summaries WHERE uid = 3")
    read: list[int] = []
    asked: list[list[int]] = []
    real, texts = user.read_file, user.subject_texts

    def counting(mailbox: str, uid: int, where: object) -> bytes:
        read.append(uid)
        return real(mailbox, uid, where)  # type: ignore[arg-type]

    def asking(mailbox: str, uids: list[int]) -> dict[int, str]:
        asked.append(list(uids))
        return texts(mailbox, uids)

    monkeypatch.setattr(user, "read_file", counting)
    monkeypatch.setattr(user, "subject_texts", asking)
    assert client(b"a SEARCH SUBJECT msg") == b"* SEARCH 1 2 3\r\na OK SEARCH completed\r\n"
    assert read == [2, 3]
    assert asked == [[1, 2, 3]]  # one query, those without a text too
    assert client(b'b SEARCH SUBJECT "MSG 2"') == b"* SEARCH 2\r\nb OK SEARCH completed\r\n"
    assert client(b'c SEARCH SUBJECT "msg 3"') == b"* SEARCH 3\r\nc OK SEARCH completed\r\n"
    assert client(b'd SEARCH SUBJECT "msg 1"') == b"* SEARCH 1\r\nd OK SEARCH completed\r\n"
    assert read == [2, 3] * 4


def test_search_subject_on_an_index_of_version_1(store: Store):
    for n in (1, 2):
        deliver(store, n)
    user = store.user(BOB)
    user.db.execute("ALTER TABLE summaries DROP COLUMN subject_text")
    user.db.execute("PRAGMA user_version = 1")
    store.close()  # a version-1 index, as the server before left it
    again = Store(store.root, summarize=store_summary, clock=Clock(), host="mx.test")
    try:
        deliver(again, 3)
        c = Client(again)
        c.select()
        assert c(b'a SEARCH SUBJECT "msg 2"') == b"* SEARCH 2\r\na OK SEARCH completed\r\n"
        assert c(b"b SEARCH SUBJECT msg") == b"* SEARCH 1 2 3\r\nb OK SEARCH completed\r\n"
        assert again.user(BOB).subject_texts("INBOX", [1, 2, 3]) == {3: "\x00msg 3"}
    finally:
        again.close()


def test_uids_and_sequence_numbers_apart(store: Store):
    # UIDs 1..4 delivered, 1 and 2 expunged: messages 1 and 2 are UIDs 3 and 4, so an answer
    # that gives one where the other is due shows (UID SEARCH, MODIFIED, MOVE's EXPUNGEs)
    for n in (1, 2, 3, 4):
        deliver(store, n)
    deliver(store, 8, mailbox="Archive")  # Archive's UIDs 1 and 2 are taken: moved ones get
    deliver(store, 9, mailbox="Archive")  # 3 and 4, the INBOX's UIDs, so a mix-up shows
    store.user(BOB).store("INBOX", [1, 2], "add", ["\\Deleted"])
    assert store.user(BOB).expunge("INBOX", [1, 2]) == [1, 2]
    c = Client(store)
    c.login()
    c(b"S SELECT INBOX (CONDSTORE)")
    assert c(b"a UID SEARCH ALL") == b"* SEARCH 3 4\r\na OK SEARCH completed\r\n"
    assert c(b"b SEARCH ALL") == b"* SEARCH 1 2\r\nb OK SEARCH completed\r\n"
    assert c(b"c UID SEARCH UID 4") == b"* SEARCH 4\r\nc OK SEARCH completed\r\n"
    c(b"d STORE 2 +FLAGS.SILENT (\\Flagged)")  # UID 4's modseq: 7 -> 8
    out = c(b"e STORE 1:2 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\\Seen)")  # UID 3 -> 9
    assert out == (
        b"* 1 FETCH (MODSEQ (9))\r\n"
        b"e OK [MODIFIED 2] Conditional STORE failed for some messages\r\n"
    )
    out = c(b"f UID STORE 3:4 (UNCHANGEDSINCE 8) +FLAGS.SILENT (\\Answered)")
    assert out == (
        b"* 2 FETCH (UID 4 MODSEQ (10))\r\n"
        b"f OK [MODIFIED 3] Conditional STORE failed for some messages\r\n"
    )
    assert c(b"g MOVE 2 Archive") == (
        b"* OK [COPYUID 1700000005 4 3] Moved\r\n* 2 EXPUNGE\r\ng OK MOVE completed\r\n"
    )
    assert c(b"h UID MOVE 3 Archive") == (
        b"* OK [COPYUID 1700000005 3 4] Moved\r\n* 1 EXPUNGE\r\nh OK MOVE completed\r\n"
    )


def test_uids_past_two_to_the_31st(store: Store):
    # UIDs are 32-bit unsigned (RFC 3501 nz-number): the view holds them as such
    deliver(store, 1)
    store.user(BOB).db.execute("UPDATE mailboxes SET uidnext = 3000000000 WHERE name = 'INBOX'")
    deliver(store, 2)
    deliver(store, 3)
    c = Client(store)
    c.select()
    assert c(b"f UID FETCH 3000000000:* (UID)") == (
        b"* 2 FETCH (UID 3000000000)\r\n* 3 FETCH (UID 3000000001)\r\nf OK FETCH completed\r\n"
    )
    c(b"s STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert c(b"e EXPUNGE") == b"* 2 EXPUNGE\r\ne OK EXPUNGE completed\r\n"
    assert c(b"g FETCH 2 (UID)") == b"* 2 FETCH (UID 3000000001)\r\ng OK FETCH completed\r\n"
    # SORT and THREAD of the whole mailbox compare its UIDs with the view's, unsigned too
    assert c(b"o UID SORT (REVERSE SUBJECT) UTF-8 ALL") == (
        b"* SORT 3000000001 1\r\no OK SORT completed\r\n"
    )
    assert c(b"t UID THREAD ORDEREDSUBJECT UTF-8 ALL").startswith(b"* THREAD (")
