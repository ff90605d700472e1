"""CONTEXT=SEARCH (RFC 5267 §4.3) through sessions on a real store: SEARCH RETURN (UPDATE)
kept up to date as messages arrive, change flags (by this session or another) and are expunged
(REMOVEFROM before the EXPUNGE, in the numbering it still has, and only when an EXPUNGE may be
sent), CANCELUPDATE, NOUPDATE, a tag in use, sets evaluated when the command came, and a new
SELECT (SORT kept up to date: test_session_context_sort.py). Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap import selected
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, Client, deliver, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def pair(store: Store) -> tuple[Client, Client]:
    """Two sessions on Bob's INBOX of four unseen messages (UIDs 1..4), the first with three
    searches kept up to date: `u` (UNSEEN), `s` (UID, SUBJECT "msg 3" or "msg 5"), `c` (COUNT
    of ALL)."""
    for n in range(1, 5):
        deliver(store, n)
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    assert a(b"u SEARCH RETURN (UPDATE) UNSEEN") == (
        b'* ESEARCH (TAG "u")\r\nu OK SEARCH completed\r\n'
    )
    assert a(b"s UID SEARCH RETURN (UPDATE) OR SUBJECT 3 SUBJECT 5") == (
        b'* ESEARCH (TAG "s") UID\r\ns OK SEARCH completed\r\n'
    )
    assert a(b"c SEARCH RETURN (COUNT UPDATE) ALL") == (
        b'* ESEARCH (TAG "c") COUNT 4\r\nc OK SEARCH completed\r\n'
    )
    return a, b


def esearch(tag: bytes, data: bytes, uid: bool = False) -> bytes:
    return b'* ESEARCH (TAG "' + tag + b'")' + (b" UID " if uid else b" ") + data + b"\r\n"


def test_new_messages_are_added_after_exists(pair: tuple[Client, Client], store: Store) -> None:
    a, _ = pair
    deliver(store, 5)
    deliver(store, 6)
    assert a(b"n NOOP") == (
        b"* 6 EXISTS\r\n* 6 RECENT\r\n"
        + esearch(b"u", b"ADDTO (0 5:6)")
        + esearch(b"s", b"ADDTO (0 5)", uid=True)
        + esearch(b"c", b"ADDTO (0 5:6)")
        + b"n OK NOOP completed\r\n"
    )
    assert a(b"m NOOP") == b"m OK NOOP completed\r\n"  # nothing changed since


def test_flag_changes_by_another_session(pair: tuple[Client, Client]) -> None:
    a, b = pair
    b(b"x STORE 2:3 +FLAGS (\\Seen)")
    assert a(b"n NOOP") == (
        b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"u", b"REMOVEFROM (0 2:3)")
        + b"n OK NOOP completed\r\n"
    )
    b(b"y STORE 3 -FLAGS (\\Seen)")
    assert a(b"m NOOP") == (
        b"* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n"
        + esearch(b"u", b"ADDTO (0 3)")
        + b"m OK NOOP completed\r\n"
    )


def test_this_sessions_own_changes_count_too(pair: tuple[Client, Client]) -> None:
    a, _ = pair
    assert a(b"x UID STORE 3 +FLAGS (\\Seen)") == (
        b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"u", b"REMOVEFROM (0 3)")
        + b"x OK STORE completed\r\n"
    )
    # its own EXPUNGE: the REMOVEFROMs first, numbered as before it
    a(b"y STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    assert a(b"z EXPUNGE") == (
        esearch(b"u", b"REMOVEFROM (0 1)")
        + esearch(b"s", b"REMOVEFROM (0 3)", uid=True)
        + esearch(b"c", b"REMOVEFROM (0 1,3)")
        + b"* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n"
        + b"z OK EXPUNGE completed\r\n"
    )


def test_an_expunge_in_another_session_waits_for_its_expunge(
    pair: tuple[Client, Client],
) -> None:
    # the race: b expunges message 2 while a answers commands during which no EXPUNGE may be
    # sent; a's searches keep it, with its number, until the EXPUNGE goes out
    a, b = pair
    b(b"x STORE 2 +FLAGS.SILENT (\\Deleted)")
    b(b"y EXPUNGE")
    assert a(b"f FETCH 4 (UID)") == b"* 4 FETCH (UID 4)\r\nf OK FETCH completed\r\n"
    assert a(b"g SEARCH RETURN (COUNT) ALL") == (
        b'* ESEARCH (TAG "g") COUNT 3\r\ng OK SEARCH completed\r\n'
    )
    assert a(b"n NOOP") == (
        esearch(b"u", b"REMOVEFROM (0 2)")
        + esearch(b"c", b"REMOVEFROM (0 2)")
        + b"* 2 EXPUNGE\r\nn OK NOOP completed\r\n"
    )
    # then a change: the numbers are those after the expunge
    assert b(b"z STORE 3 +FLAGS (\\Seen)").endswith(b"z OK STORE completed\r\n")
    assert a(b"m NOOP") == (
        b"* 3 FETCH (UID 4 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"u", b"REMOVEFROM (0 3)")
        + b"m OK NOOP completed\r\n"
    )


def test_cancelupdate(pair: tuple[Client, Client], store: Store) -> None:
    a, _ = pair
    assert a(b'x CANCELUPDATE "u" "zz"') == b"x NO no search of tag zz is kept up to date\r\n"
    assert a(b'y CANCELUPDATE "u" "c"') == b"y OK CANCELUPDATE completed\r\n"
    deliver(store, 5)
    assert a(b"n NOOP") == (
        b"* 5 EXISTS\r\n* 5 RECENT\r\n"
        + esearch(b"s", b"ADDTO (0 5)", uid=True)
        + b"n OK NOOP completed\r\n"
    )
    assert a(b'z CANCELUPDATE "u"') == b"z NO no search of tag u is kept up to date\r\n"
    assert a(b"w CANCELUPDATE u").startswith(b"w BAD ")  # the tags are quoted strings
    assert a(b"v CANCELUPDATE").startswith(b"v BAD ")


def test_a_tag_in_use_is_refused(pair: tuple[Client, Client]) -> None:
    a, _ = pair
    assert a(b"u SEARCH RETURN (COUNT) SEEN") == (b"u BAD tag u names a search kept up to date\r\n")


def test_too_many_searches_answer_noupdate(
    pair: tuple[Client, Client], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    monkeypatch.setattr(selected, "MAX_CONTEXTS", 3)
    assert a(b"d SEARCH RETURN (UPDATE MIN) ALL") == (
        b'* ESEARCH (TAG "d") MIN 1\r\n'
        b'* NO [NOUPDATE "d"] 3 searches are kept up to date already\r\n'
        b"d OK SEARCH completed\r\n"
    )
    deliver(store, 5)
    assert b'(TAG "d")' not in a(b"n NOOP")


def test_sets_in_the_search_are_what_they_named_then(store: Store) -> None:
    for n in range(1, 4):
        deliver(store, n)
    a = Client(store)
    a.select()
    a(b"s SEARCH RETURN (SAVE) 1")
    # each kept search names some of messages 1..3 by number, by UID or by $; none names the
    # message to come, though `*` and 7 would name it if they were read again later
    a(b"q SEARCH RETURN (UPDATE) 2:* UNSEEN")
    a(b"r UID SEARCH RETURN (UPDATE) UID 3:* UNSEEN")
    a(b"t SEARCH RETURN (UPDATE) UNSEEN OR $ UID 2")
    a(b"w SEARCH RETURN (UPDATE) 3:7 UNSEEN")
    a(b"v UID SEARCH RETURN (UPDATE) UID 2,9 UNSEEN")
    deliver(store, 4)
    assert a(b"n NOOP") == b"* 4 EXISTS\r\n* 4 RECENT\r\nn OK NOOP completed\r\n"
    seen = a(b"x STORE 1:4 +FLAGS.SILENT (\\Seen)")
    assert seen == (
        esearch(b"q", b"REMOVEFROM (0 2:3)")
        + esearch(b"r", b"REMOVEFROM (0 3)", uid=True)
        + esearch(b"t", b"REMOVEFROM (0 1:2)")
        + esearch(b"w", b"REMOVEFROM (0 3)")
        + esearch(b"v", b"REMOVEFROM (0 2)", uid=True)
        + b"x OK STORE completed\r\n"
    )
    assert a(b"y STORE 1:4 -FLAGS.SILENT (\\Seen)") == (
        esearch(b"q", b"ADDTO (0 2:3)")
        + esearch(b"r", b"ADDTO (0 3)", uid=True)
        + esearch(b"t", b"ADDTO (0 1:2)")
        + esearch(b"w", b"ADDTO (0 3)")
        + esearch(b"v", b"ADDTO (0 2)", uid=True)
        + b"y OK STORE completed\r\n"
    )


def test_sets_frozen_as_uids_where_numbers_and_uids_differ(store: Store) -> None:
    # UIDs 1..4, then 1 expunged: messages 1..3 are UIDs 2..4, and `*` is 3 as a number, 4
    # as a UID
    for n in range(1, 5):
        deliver(store, n)
    a = Client(store)
    a.select()
    a(b"x STORE 1 +FLAGS.SILENT (\\Deleted)")
    a(b"y EXPUNGE")
    a(b"q SEARCH RETURN (UPDATE) 2:* UNSEEN")  # UIDs 3 and 4
    a(b"r UID SEARCH RETURN (UPDATE) UID 4:* UNSEEN")  # UID 4
    a(b"p SEARCH RETURN (UPDATE) * UNSEEN")  # message 3, UID 4
    assert a(b"z STORE 1:3 +FLAGS.SILENT (\\Seen)") == (
        esearch(b"q", b"REMOVEFROM (0 2:3)")
        + esearch(b"r", b"REMOVEFROM (0 4)", uid=True)
        + esearch(b"p", b"REMOVEFROM (0 3)")
        + b"z OK STORE completed\r\n"
    )
    assert a(b"w STORE 1:3 -FLAGS.SILENT (\\Seen)") == (
        esearch(b"q", b"ADDTO (0 2:3)")
        + esearch(b"r", b"ADDTO (0 4)", uid=True)
        + esearch(b"p", b"ADDTO (0 3)")
        + b"w OK STORE completed\r\n"
    )


def test_a_search_kept_in_an_empty_mailbox(store: Store) -> None:
    a = Client(store)
    a.select()
    a(b"q SEARCH RETURN (UPDATE) 1:*")  # nothing to name
    a(b"r UID SEARCH RETURN (UPDATE) UNSEEN")
    deliver(store, 1)
    assert a(b"n NOOP") == (
        b"* 1 EXISTS\r\n* 1 RECENT\r\n"
        + esearch(b"r", b"ADDTO (0 1)", uid=True)
        + b"n OK NOOP completed\r\n"
    )


def test_a_new_select_ends_the_updates(pair: tuple[Client, Client], store: Store) -> None:
    a, _ = pair
    a(b"x SELECT INBOX")
    deliver(store, 5)
    assert a(b"n NOOP") == b"* 5 EXISTS\r\n* 1 RECENT\r\nn OK NOOP completed\r\n"
    assert a(b'y CANCELUPDATE "u"') == b"y NO no search of tag u is kept up to date\r\n"


def test_uid_searches_answer_uids_and_the_others_numbers(store: Store) -> None:
    # UIDs 1..5, then 1 expunged: messages 1..4 are UIDs 2..5. Two searches of the same key,
    # one by UID: every change reaches both, each in its own numbers
    for n in range(1, 6):
        deliver(store, n)
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    a(b"x STORE 1 +FLAGS.SILENT (\\Deleted)")
    a(b"y EXPUNGE")
    b(b"n NOOP")
    a(b"u UID SEARCH RETURN (UPDATE) UNSEEN")
    a(b"v SEARCH RETURN (UPDATE) UNSEEN")
    view = a.session.view
    assert view is not None and view.match is not None
    asked: list[list[int]] = []
    real = view.match
    view.match = lambda key, uids: asked.append(list(uids)) or real(key, uids)

    b(b"z STORE 2 +FLAGS (\\Seen)")  # message 2, UID 3
    assert a(b"n NOOP") == (
        b"* 2 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"u", b"REMOVEFROM (0 3)", uid=True)
        + esearch(b"v", b"REMOVEFROM (0 2)")
        + b"n OK NOOP completed\r\n"
    )
    assert asked == [[3], [3]]  # each search asked again about that message alone
    deliver(store, 6)  # UID 6, message 5
    assert a(b"m NOOP") == (
        b"* 5 EXISTS\r\n* 5 RECENT\r\n"
        + esearch(b"u", b"ADDTO (0 6)", uid=True)
        + esearch(b"v", b"ADDTO (0 5)")
        + b"m OK NOOP completed\r\n"
    )
    # what the searches held before the ADDTO, they hold still
    b(b"w STORE 1 +FLAGS (\\Seen)")  # message 1, UID 2
    assert a(b"k NOOP") == (
        b"* 1 FETCH (UID 2 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"u", b"REMOVEFROM (0 2)", uid=True)
        + esearch(b"v", b"REMOVEFROM (0 1)")
        + b"k OK NOOP completed\r\n"
    )
    b(b"p NOOP")
    b(b"e STORE 4 +FLAGS.SILENT (\\Deleted)")  # message 4, UID 5
    b(b"f EXPUNGE")
    assert a(b"j NOOP") == (
        esearch(b"u", b"REMOVEFROM (0 5)", uid=True)
        + esearch(b"v", b"REMOVEFROM (0 4)")
        + b"* 4 EXPUNGE\r\nj OK NOOP completed\r\n"
    )
    assert sorted(view.contexts["u"].result) == [4, 6]


def test_a_change_reads_the_index_data_of_the_changed_messages_only(
    pair: tuple[Client, Client], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    a(b"k SEARCH RETURN (UPDATE) LARGER 100 UNSEEN")  # a key that reads the index data
    user = store.user(BOB)
    asked: list[object] = []
    real = user.fetch
    monkeypatch.setattr(user, "fetch", lambda box, uids=None: asked.append(uids) or real(box, uids))
    b(b"x STORE 3 +FLAGS (\\Seen)")
    assert a(b"n NOOP").endswith(esearch(b"k", b"REMOVEFROM (0 3)") + b"n OK NOOP completed\r\n")
    assert asked == [[3]]


def test_long_tags_are_cut_in_the_answers(pair: tuple[Client, Client]) -> None:
    a, _ = pair
    long = b"L" * 50
    assert a(b'x CANCELUPDATE "' + long + b'"') == (
        b"x NO no search of tag " + b"L" * 40 + b" is kept up to date\r\n"
    )
    a(long + b" SEARCH RETURN (UPDATE) ALL")
    assert a(long + b" SEARCH ALL") == (
        long + b" BAD tag " + b"L" * 40 + b" names a search kept up to date\r\n"
    )
    assert a(long + b" SORT (DATE) UTF-8 ALL") == (
        long + b" BAD tag " + b"L" * 40 + b" names a search kept up to date\r\n"
    )
