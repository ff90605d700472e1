"""The IMAP session's authenticated-state commands on a real store: CREATE, DELETE, RENAME
(the INBOX rule), SUBSCRIBE, UNSUBSCRIBE, LIST (basic, extended, SPECIAL-USE, SUBSCRIBED,
RECURSIVEMATCH, RETURN (CHILDREN SUBSCRIBED STATUS)), LSUB, STATUS and APPEND (APPENDUID)."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator

import pytest

from mailserver.imap import mailboxes
from mailserver.imap.commands import MAX_APPEND_MESSAGES
from mailserver.imap.session import Log, Notify, Send
from mailserver.store import Store, StoreError, maildir
from tests.mailserver.imap.session_kit import BOB, Client, deliver, message, store_fixture

DEFAULTS = (
    b'* LIST (\\HasNoChildren \\Archive) "/" Archive\r\n'
    b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n'
    b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
    b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
    b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n'
    b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
)


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def client(store: Store) -> Client:
    c = Client(store)
    c.login()
    return c


def test_list_everything(client: Client):
    assert client(b'a LIST "" *') == DEFAULTS + b"a OK LIST completed\r\n"
    assert client(b'a LIST "" "*"') == DEFAULTS + b"a OK LIST completed\r\n"


def test_list_the_hierarchy_delimiter(client: Client):
    assert client(b'a LIST "" ""') == b'* LIST (\\Noselect) "/" ""\r\na OK LIST completed\r\n'
    assert client(b'a LIST Archive ""') == b'* LIST (\\Noselect) "/" ""\r\na OK LIST completed\r\n'
    assert client(b'a LIST "Archive/2024" ""') == (
        b'* LIST (\\Noselect) "/" Archive/\r\na OK LIST completed\r\n'
    )
    # the root is the reference's first level, not all but its last (RFC 3501 §6.3.8)
    assert client(b'a LIST "Archive/2024/May" ""') == (
        b'* LIST (\\Noselect) "/" Archive/\r\na OK LIST completed\r\n'
    )
    assert client(b'a LIST "/x" ""') == b'* LIST (\\Noselect) "/" /\r\na OK LIST completed\r\n'


def test_create_delete_and_children(client: Client):
    assert client(b"a CREATE Work/Clients/") == b"a OK CREATE completed\r\n"
    # the one trailing separator goes only after a name: "/" alone is an empty level
    assert client(b'a CREATE "/"') == (
        b"a NO [CANNOT] empty hierarchy level in mailbox name '/'\r\n"
    )
    assert client(b"b CREATE Work") == b"b NO [ALREADYEXISTS] mailbox 'Work' exists\r\n"
    assert client(b'c LIST "" Work*') == (
        b'* LIST (\\HasChildren) "/" Work\r\n'
        b'* LIST (\\HasNoChildren) "/" Work/Clients\r\n'
        b"c OK LIST completed\r\n"
    )
    assert client.session.receive(b"d DELETE Work\r\n")[0] == Notify(mailbox="Work")
    assert client(b'e LIST "" Work*') == (
        b'* LIST (\\Noselect \\HasChildren) "/" Work\r\n'
        b'* LIST (\\HasNoChildren) "/" Work/Clients\r\n'
        b"e OK LIST completed\r\n"
    )


def test_list_percent_shows_a_deleted_parent_as_noselect(client: Client):
    client(b"a CREATE Work/Clients")
    client(b"b DELETE Work")
    assert client(b'c LIST "" W%') == (
        b'* LIST (\\Noselect \\HasChildren) "/" Work\r\nc OK LIST completed\r\n'
    )
    assert client(b'c LIST () "" W%') == (
        b'* LIST (\\NonExistent \\HasChildren) "/" Work\r\nc OK LIST completed\r\n'
    )
    assert client(b"d DELETE Work") == b"d NO [CANNOT] 'Work' has inferior mailboxes\r\n"
    assert client(b"e DELETE INBOX") == b"e NO [CANNOT] INBOX cannot be deleted\r\n"
    assert client(b"f DELETE Nope") == b"f NO [NONEXISTENT] no mailbox 'Nope'\r\n"


def test_list_reference_and_several_patterns(client: Client):
    client(b"a CREATE Archive/2024")
    assert client(b"b LIST Archive/ %") == (
        b'* LIST (\\HasNoChildren) "/" Archive/2024\r\nb OK LIST completed\r\n'
    )
    assert client(b'c LIST "" (Sent Trash inbox)') == (
        b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
        b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n'
        b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
        b"c OK LIST completed\r\n"
    )


def test_list_special_use_selection_and_return(client: Client):
    assert client(b'a LIST (SPECIAL-USE) "" *') == (
        b'* LIST (\\HasNoChildren \\Archive) "/" Archive\r\n'
        b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n'
        b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
        b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n'
        b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
        b"a OK LIST completed\r\n"
    )
    assert client(b'b LIST "" % RETURN (SPECIAL-USE)') == DEFAULTS + b"b OK LIST completed\r\n"


def test_list_return_subscribed_and_status(client: Client, store: Store):
    deliver(store, 1)
    deliver(store, 2, flags=("\\Seen",))
    client(b"a UNSUBSCRIBE Junk")
    assert client(b'b LIST "" (INBOX Junk) RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))') == (
        b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX\r\n'
        b"* STATUS INBOX (MESSAGES 2 UNSEEN 1)\r\n"
        b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n'
        b"* STATUS Junk (MESSAGES 0 UNSEEN 0)\r\n"
        b"b OK LIST completed\r\n"
    )
    assert not client.session.condstore
    client(b'c LIST "" INBOX RETURN (STATUS (HIGHESTMODSEQ))')
    assert client.session.condstore


def test_list_subscribed_and_recursivematch(client: Client):
    client(b"a CREATE Lists/rust")
    client(b"a SUBSCRIBE Lists/rust")
    client(b"a SUBSCRIBE Gone")
    client(b"a UNSUBSCRIBE Junk")
    assert client(b'b LIST (SUBSCRIBED) "" *') == (
        b'* LIST (\\Subscribed \\Archive) "/" Archive\r\n'
        b'* LIST (\\Subscribed \\Drafts) "/" Drafts\r\n'
        b'* LIST (\\NonExistent \\Subscribed) "/" Gone\r\n'
        b'* LIST (\\Subscribed) "/" INBOX\r\n'
        b'* LIST (\\Subscribed) "/" Lists/rust\r\n'
        b'* LIST (\\Subscribed \\Sent) "/" Sent\r\n'
        b'* LIST (\\Subscribed \\Trash) "/" Trash\r\n'
        b"b OK LIST completed\r\n"
    )
    assert client(b'c LIST (SUBSCRIBED RECURSIVEMATCH) "" L% RETURN (CHILDREN)') == (
        b'* LIST (\\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))\r\nc OK LIST completed\r\n'
    )
    assert client(b'd LIST (SUBSCRIBED) "" L%') == b"d OK LIST completed\r\n"
    assert client(b'e LIST (SUBSCRIBED SPECIAL-USE) "" *') == (
        b'* LIST (\\Subscribed \\Archive) "/" Archive\r\n'
        b'* LIST (\\Subscribed \\Drafts) "/" Drafts\r\n'
        b'* LIST (\\Subscribed \\Sent) "/" Sent\r\n'
        b'* LIST (\\Subscribed \\Trash) "/" Trash\r\n'
        b"e OK LIST completed\r\n"
    )
    assert client(b'g LIST (SUBSCRIBED) "" G* RETURN (STATUS (MESSAGES))') == (
        b'* LIST (\\NonExistent \\Subscribed) "/" Gone\r\ng OK LIST completed\r\n'
    )
    assert client(b'f LIST (SUBSCRIBED) "" Lists/* RETURN (STATUS (MESSAGES))') == (
        b'* LIST (\\Subscribed) "/" Lists/rust\r\n'
        b"* STATUS Lists/rust (MESSAGES 0)\r\n"
        b"f OK LIST completed\r\n"
    )


def test_lsub(client: Client):
    client(b"a CREATE Lists/rust")
    client(b"a SUBSCRIBE Lists/rust")
    assert client(b'b LSUB "" L%') == b'* LSUB (\\Noselect) "/" Lists\r\nb OK LSUB completed\r\n'
    assert client(b'c LSUB "" Lists/*') == (b'* LSUB () "/" Lists/rust\r\nc OK LSUB completed\r\n')
    assert client(b"d UNSUBSCRIBE Lists/rust") == b"d OK UNSUBSCRIBE completed\r\n"
    assert client(b"e UNSUBSCRIBE Lists/rust") == (
        b"e NO [NONEXISTENT] not subscribed to that name\r\n"
    )
    assert client(b'f LSUB "" Lists/*') == b"f OK LSUB completed\r\n"


def test_names_in_modified_utf7(client: Client):
    assert client(b"a CREATE &ZeVnLIqe-/Caf&AOk-") == b"a OK CREATE completed\r\n"
    assert client(b'b LIST "" &ZeVnLIqe-*') == (
        b'* LIST (\\HasChildren) "/" &ZeVnLIqe-\r\n'
        b'* LIST (\\HasNoChildren) "/" &ZeVnLIqe-/Caf&AOk-\r\n'
        b"b OK LIST completed\r\n"
    )
    assert client(b"c STATUS &ZeVnLIqe-/Caf&AOk- (MESSAGES)") == (
        b"* STATUS &ZeVnLIqe-/Caf&AOk- (MESSAGES 0)\r\nc OK STATUS completed\r\n"
    )
    assert client(b"d CREATE &Jjo") == (
        b"d BAD mailbox name is not valid modified UTF-7: '&' without a closing '-'\r\n"
    )


def test_rename_and_the_inbox_rule(client: Client, store: Store):
    deliver(store, 1)
    deliver(store, 2)
    assert client(b"a RENAME INBOX Old") == b"a OK RENAME completed\r\n"
    assert client(b"b STATUS INBOX (MESSAGES UIDNEXT)") == (
        b"* STATUS INBOX (MESSAGES 0 UIDNEXT 3)\r\nb OK STATUS completed\r\n"
    )
    assert client(b"c STATUS Old (MESSAGES UIDNEXT)") == (
        b"* STATUS Old (MESSAGES 2 UIDNEXT 3)\r\nc OK STATUS completed\r\n"
    )
    assert client(b"d RENAME Old Archive") == b"d NO [ALREADYEXISTS] mailbox 'Archive' exists\r\n"
    assert client(b"e RENAME Old inbox") == b"e NO [ALREADYEXISTS] mailbox 'INBOX' exists\r\n"
    assert client(b"f RENAME Nope New") == b"f NO [NONEXISTENT] no mailbox 'Nope'\r\n"
    assert client(b"g RENAME Old Older/Old") == b"g OK RENAME completed\r\n"
    assert client(b'h LIST "" Old*') == (
        b'* LIST (\\HasChildren) "/" Older\r\n'
        b'* LIST (\\HasNoChildren) "/" Older/Old\r\n'
        b"h OK LIST completed\r\n"
    )


def test_rename_of_the_selected_mailbox_keeps_it_selected(client: Client, store: Store):
    client(b"a CREATE Work/Inner")
    deliver(store, 1, mailbox="Work/Inner")
    client(b"b SELECT Work/Inner")
    assert client(b"c RENAME Work Job") == b"c OK RENAME completed\r\n"
    assert client.session.selected == "Job/Inner"
    assert client(b"d RENAME Job/Inner Job/Core") == b"d OK RENAME completed\r\n"
    assert client.session.selected == "Job/Core"
    assert client(b"e FETCH 1 UID") == b"* 1 FETCH (UID 1)\r\ne OK FETCH completed\r\n"


def test_status(client: Client, store: Store):
    deliver(store, 1)
    deliver(store, 2, flags=("\\Seen",))
    assert client(b"a STATUS inbox (UIDVALIDITY MESSAGES RECENT UNSEEN UIDNEXT)") == (
        b"* STATUS INBOX (UIDVALIDITY 1700000000 MESSAGES 2 RECENT 2 UNSEEN 1 UIDNEXT 3)\r\n"
        b"a OK STATUS completed\r\n"
    )
    assert not client.session.condstore
    assert client(b"b STATUS INBOX (HIGHESTMODSEQ)") == (
        b"* STATUS INBOX (HIGHESTMODSEQ 3)\r\nb OK STATUS completed\r\n"
    )
    assert client.session.condstore
    assert client(b"c STATUS Nope (MESSAGES)") == b"c NO [NONEXISTENT] no mailbox 'Nope'\r\n"


def test_status_size_is_the_sum_of_the_message_sizes(client: Client, store: Store) -> None:
    # STATUS=SIZE (RFC 8438): what RFC822.SIZE says of each message, added up
    assert client(b"a STATUS Trash (SIZE MESSAGES)") == (
        b"* STATUS Trash (SIZE 0 MESSAGES 0)\r\na OK STATUS completed\r\n"
    )
    deliver(store, 1)
    deliver(store, 22)
    sizes = [len(message(1)), len(message(22))]
    assert client(b"b STATUS INBOX (SIZE)") == (
        b"* STATUS INBOX (SIZE %d)\r\nb OK STATUS completed\r\n" % sum(sizes)
    )
    client(b"s SELECT INBOX")
    assert client(b"f FETCH 1:* RFC822.SIZE") == (
        b"* 1 FETCH (RFC822.SIZE %d)\r\n* 2 FETCH (RFC822.SIZE %d)\r\nf OK FETCH completed\r\n"
        % tuple(sizes)
    )
    assert client(b'c LIST "" INBOX RETURN (STATUS (SIZE))') == (
        b'* LIST (\\HasNoChildren) "/" INBOX\r\n* STATUS INBOX (SIZE %d)\r\n'
        b"c OK LIST completed\r\n" % sum(sizes)
    )


def test_create_with_a_special_use(client: Client, store: Store) -> None:
    # CREATE-SPECIAL-USE (RFC 6154 §3)
    assert client(b"a CREATE Old/Mail (USE (\\archive))") == b"a OK CREATE completed\r\n"
    assert client(b'b LIST (SPECIAL-USE) "" Old/*') == (
        b'* LIST (\\HasNoChildren \\Archive) "/" Old/Mail\r\nb OK LIST completed\r\n'
    )
    assert client(b"c CREATE Bin (USE ())") == b"c OK CREATE completed\r\n"
    assert (
        client(b'd LIST "" Bin') == b'* LIST (\\HasNoChildren) "/" Bin\r\nd OK LIST completed\r\n'
    )
    refused = [
        (b"e CREATE Everything (USE (\\All))", b"no mailbox may be \\All here"),
        (b"e CREATE Starred (USE (\\Flagged))", b"no mailbox may be \\Flagged here"),
        (b"e CREATE Odd (USE (\\Important))", b"no mailbox may be \\Important here"),
        (b"e CREATE Both (USE (\\Sent \\Trash))", b"a mailbox has one special use here"),
        (
            b"e CREATE Long (USE (\\" + b"x" * 60 + b"))",
            b"no mailbox may be \\" + b"x" * 39 + b" here",
        ),
    ]
    for frame, why in refused:
        assert client(frame) == b"e NO [USEATTR] " + why + b"\r\n"
    assert store.user(BOB).mailbox_names() == [
        "Archive", "Bin", "Drafts", "INBOX", "Junk", "Old", "Old/Mail", "Sent", "Trash"
    ]  # fmt: skip
    assert client(b"f CREATE Bin (USE (\\Trash))") == (
        b"f NO [ALREADYEXISTS] mailbox 'Bin' exists\r\n"
    )


def test_append_with_flags_and_date(client: Client, store: Store):
    data = message(7)
    frame = b'a APPEND Drafts (\\Draft $Todo) "14-Nov-2023 10:00:00 +0100" {%d}\r\n' % len(data)
    actions = client.actions(frame + data)
    assert actions[0] == Notify(mailbox="Drafts")
    assert client.last[-1].data == b"a OK [APPENDUID 1700000002 1] APPEND completed\r\n"  # type: ignore[union-attr]
    [meta] = store.user(BOB).fetch("Drafts")
    assert meta.flags == ("\\Draft", "$Todo")
    assert meta.internaldate == 1699952400
    assert store.user(BOB).read_message("Drafts", 1) == data
    frame = b"b APPEND Drafts {%d}\r\n" % len(data)
    assert client(frame + data) == b"b OK [APPENDUID 1700000002 2] APPEND completed\r\n"
    assert store.user(BOB).fetch("Drafts")[1].internaldate == 1700000000


def test_append_refusals(client: Client):
    assert client(b"a APPEND Nope {2}\r\nhi") == b"a NO [TRYCREATE] no mailbox 'Nope'\r\n"
    assert client(b"b APPEND INBOX {0}\r\n") == (
        b"b NO [CANNOT] an empty message cannot be stored\r\n"
    )
    big = b"x" * 5001
    assert client(b"c APPEND INBOX {5001+}\r\n" + big) == (
        b"c NO [TOOBIG] message over the 5000-octet limit\r\n"
    )
    assert client(b"d APPEND INBOX (\\Seen bad]kw) {2}\r\nhi") == (b"d BAD expected a space\r\n")
    long_keyword = b"k" * 129
    assert client(b"e APPEND INBOX (" + long_keyword + b") {2}\r\nhi") == (
        b"e NO [LIMIT] keyword must be 1..128 characters\r\n"
    )
    ok = b"x" * 5000
    assert client(b"f APPEND INBOX {5000+}\r\n" + ok) == (
        b"f OK [APPENDUID 1700000000 1] APPEND completed\r\n"
    )


# -- MULTIAPPEND (RFC 3502) ------------------------------------------------------------------


def literal(data: bytes, plus: bool = False) -> bytes:
    return b"{%d%s}\r\n" % (len(data), b"+" if plus else b"") + data


def files(store: Store, mailbox: str) -> list[str]:
    """Every file in the mailbox's folder: tmp/, new/ and cur/."""
    folder = store.user(BOB).folder_path(mailbox)
    return [name for sub in ("tmp", "new", "cur") for name in os.listdir(f"{folder}/{sub}")]


def test_multiappend_stores_every_message_in_order(client: Client, store: Store):
    one, two, three = message(1), message(2), message(3)
    frame = (
        b"a APPEND Drafts (\\Draft) " + literal(one)
        + b' "14-Nov-2023 10:00:00 +0100" ' + literal(two, plus=True)
        + b' ($Todo \\Seen) "01-Jan-2020 00:00:00 +0000" ' + literal(three)
    )  # fmt: skip
    actions = client.actions(frame)
    assert actions[0] == Notify(mailbox="Drafts")
    assert client.last[-1].data == b"a OK [APPENDUID 1700000002 1:3] APPEND completed\r\n"  # type: ignore[union-attr]
    metas = store.user(BOB).fetch("Drafts")
    assert [(m.uid, m.flags, m.internaldate) for m in metas] == [
        (1, ("\\Draft",), 1700000000),  # the time of receipt
        (2, (), 1699952400),
        (3, ("\\Seen", "$Todo"), 1577836800),
    ]
    assert [store.user(BOB).read_message("Drafts", uid) for uid in (1, 2, 3)] == [one, two, three]
    assert client(b"b APPEND Drafts " + literal(b"x") + b" " + literal(b"y")) == (
        b"b OK [APPENDUID 1700000002 4:5] APPEND completed\r\n"
    )


def test_multiappend_to_the_selected_mailbox_shows_as_exists(client: Client):
    client(b"s SELECT INBOX")
    assert client(b"a APPEND INBOX " + literal(message(1)) + b" " + literal(message(2))) == (
        b"* 2 EXISTS\r\n* 2 RECENT\r\na OK [APPENDUID 1700000000 1:2] APPEND completed\r\n"
    )


def unchanged(client: Client, store: Store, mailbox: bytes = b"Drafts") -> None:
    """Nothing of a refused APPEND is left: no message, no UID used, no file."""
    assert client(b"z STATUS " + mailbox + b" (MESSAGES UIDNEXT)") == (
        b"* STATUS " + mailbox + b" (MESSAGES 0 UIDNEXT 1)\r\nz OK STATUS completed\r\n"
    )
    assert files(store, mailbox.decode()) == []


@pytest.mark.parametrize(
    ("third", "answer"),
    [
        (literal(b""), b"NO [CANNOT] message 3 is empty: APPEND cancelled"),
        (literal(b"x" * 5001, plus=True), b"NO [TOOBIG] message 3 over the 5000-octet limit"),
        (
            b"(" + b"k" * 129 + b") " + literal(b"x"),
            b"NO [LIMIT] keyword must be 1..128 characters",
        ),
    ],
    ids=["empty", "too-big", "bad-keyword"],
)
def test_a_multiappend_with_one_bad_message_stores_none(
    client: Client, store: Store, third: bytes, answer: bytes
):
    frame = b"a APPEND Drafts " + literal(message(1)) + b" " + literal(message(2)) + b" " + third
    assert client(frame + b" " + literal(message(4))) == b"a " + answer + b"\r\n"
    unchanged(client, store)


def test_a_multiappend_of_two_names_the_bad_one_by_its_place(client: Client, store: Store):
    frame = b"a APPEND Drafts " + literal(message(1)) + b" " + literal(b"")
    assert client(frame) == b"a NO [CANNOT] message 2 is empty: APPEND cancelled\r\n"
    unchanged(client, store)


def test_a_multiappend_to_a_mailbox_that_does_not_exist_stores_none(client: Client):
    frame = b"a APPEND Nope " + literal(b"x") + b" " + literal(b"y")
    assert client(frame) == b"a NO [TRYCREATE] no mailbox 'Nope'\r\n"
    assert client(b"b STATUS Nope (MESSAGES)") == b"b NO [NONEXISTENT] no mailbox 'Nope'\r\n"


def test_a_multiappend_whose_second_file_cannot_be_written_stores_none(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    write_tmp = maildir.write_tmp
    written: list[str] = []

    def full_disk(folder: str, base: str, data: bytes, mtime: float, sync: bool = True) -> str:
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(write_tmp(folder, base, data, mtime, sync))
        return written[-1]

    monkeypatch.setattr(maildir, "write_tmp", full_disk)
    actions = client.actions(b"a APPEND Drafts " + literal(b"x") + b" " + literal(b"y"))
    assert client.last[0].data == b"a NO [SERVERBUG] the mail store failed\r\n"  # type: ignore[union-attr]
    assert isinstance(actions[1], Log) and "No space left" in actions[1].text
    assert len(written) == 1 and not os.path.exists(written[0])
    monkeypatch.undo()
    unchanged(client, store)


def test_a_multiappend_whose_index_fails_half_way_stores_none(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    user = store.user(BOB)
    insert = user._insert
    rows: list[int] = []

    def locked_after_one(*args: object) -> int:
        if rows:
            raise sqlite3.OperationalError("database is locked")
        rows.append(insert(*args))  # type: ignore[arg-type]
        return rows[-1]

    monkeypatch.setattr(user, "_insert", locked_after_one)
    frame = b"a APPEND Drafts " + literal(b"x") + b" " + literal(b"y") + b" " + literal(b"z")
    assert client(frame).startswith(b"a NO [INUSE] index busy: database is locked\r\n")
    assert rows == [1]  # the first row was written, then rolled back with the rest
    monkeypatch.undo()
    unchanged(client, store)
    assert client(b"b APPEND Drafts " + literal(b"x")) == (
        b"b OK [APPENDUID 1700000002 1] APPEND completed\r\n"
    )


def test_a_multiappend_of_too_many_messages_stores_none(client: Client, store: Store):
    frame = b"a APPEND Drafts" + (b" " + literal(b"x", plus=True)) * (MAX_APPEND_MESSAGES + 1)
    assert client(frame) == b"a NO [LIMIT] more than 1000 messages in one APPEND\r\n"
    unchanged(client, store)


def test_append_and_list_status_with_store_errors(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
):
    assert client(b"a APPEND a//b {2}\r\nhi") == (
        b"a NO [CANNOT] empty hierarchy level in mailbox name 'a//b'\r\n"
    )

    def busy(name: str) -> None:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "status", busy)
    assert client(b'b LIST "" Sent RETURN (STATUS (MESSAGES))') == (
        b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\nb OK LIST completed\r\n'
    )


def test_names_are_notified_and_kept_in_the_store_spelling(client: Client, store: Store):
    client(b"a CREATE INBOX/x")
    deliver(store, 1, mailbox="INBOX/x")
    client(b"b SELECT inbox/x")
    assert client.session.selected == "INBOX/x"
    client(b"c RENAME inbox/x inbox/y/")
    assert client.session.selected == "INBOX/y"
    assert client.actions(b"d COPY 1 inbox/y")[0] == Notify(mailbox="INBOX/y")
    assert client.actions(b"e RENAME inbox/y INBOX/z")[0] == Notify(mailbox="INBOX/y")
    for tag, cmd in [
        ("f", "CREATE inbox/w/"),
        ("g", "SUBSCRIBE inbox/w"),
        ("h", "UNSUBSCRIBE inbox/w"),
    ]:
        assert client.actions(f"{tag} {cmd}".encode()) == [
            Notify(mailbox="INBOX/w"),
            Send(data=f"{tag} OK {cmd.split()[0]} completed\r\n".encode()),
        ]
    assert client.actions(b"i DELETE inbox/z")[0] == Notify(mailbox="INBOX/z")
    assert mailboxes.canonical("a//b") == "a//b"
    assert mailboxes.canonical("/") == "/"
    assert mailboxes.canonical("inbox/") == "INBOX"
    assert mailboxes.canonical("a/") == "a"


def test_renaming_the_selected_mailbox_to_a_short_name_with_a_separator(client: Client):
    client(b"a CREATE x")
    client(b"b SELECT x")
    assert client(b"c RENAME x y/") == b"c OK RENAME completed\r\n"
    assert client.session.selected == "y"


def test_each_mailbox_command_says_it_completed(client: Client):
    assert client(b"d CREATE Foo") == b"d OK CREATE completed\r\n"
    assert client(b"e SUBSCRIBE Foo") == b"e OK SUBSCRIBE completed\r\n"
    assert client(b"f DELETE Foo") == b"f OK DELETE completed\r\n"
    assert client(b"g UNSUBSCRIBE Foo") == b"g OK UNSUBSCRIBE completed\r\n"
