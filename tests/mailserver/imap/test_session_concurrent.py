"""Two IMAP sessions (and deliveries) on one mailbox: each sees the other's flag changes, new
mail and expunges exactly where RFC 3501 §7.4.1 allows (never an EXPUNGE while answering
FETCH, STORE or SEARCH by number); IDLE with poll(); a mailbox deleted under a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mailserver.store.base
from mailserver.imap.session import Close, Idle, Log, Send, State
from mailserver.store import Store, StoreError
from tests.mailserver.imap.session_kit import BOB, Client, deliver, store_fixture, wire


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def pair(store: Store) -> tuple[Client, Client]:
    for n in (1, 2, 3):
        deliver(store, n)
    a, b = Client(store), Client(store)
    a.select()
    assert b"* 0 RECENT\r\n" in b.select()  # A holds \Recent
    return a, b


def test_flag_changes_show_after_any_command(pair: tuple[Client, Client]):
    a, b = pair
    assert b(b"b1 STORE 1 +FLAGS (\\Flagged)") == (
        b"* 1 FETCH (FLAGS (\\Flagged))\r\nb1 OK STORE completed\r\n"
    )
    assert a(b"a1 FETCH 3 UID") == (
        b"* 3 FETCH (UID 3)\r\n* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n"
        b"a1 OK FETCH completed\r\n"
    )
    assert a(b"a2 NOOP") == b"a2 OK NOOP completed\r\n"
    assert b(b"b2 NOOP") == b"b2 OK NOOP completed\r\n"


def test_flag_changes_to_several_messages_come_one_fetch_after_another(
    pair: tuple[Client, Client],
):
    a, b = pair
    b(b"b1 STORE 1,3 +FLAGS.SILENT (\\Seen)")
    assert a(b"a1 NOOP") == (
        b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        b"a1 OK NOOP completed\r\n"
    )


def test_a_new_keyword_is_announced_with_flags(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 STORE 2 +FLAGS.SILENT ($Phishing)")
    assert a(b"a1 NOOP") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Phishing)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Phishing \\*)]"
        b" Flags permitted\r\n"
        b"* 2 FETCH (UID 2 FLAGS ($Phishing \\Recent))\r\na1 OK NOOP completed\r\n"
    )


def test_expunges_wait_for_a_command_that_allows_them(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert b(b"b2 EXPUNGE") == b"* 2 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n"
    # FETCH, STORE, SEARCH by number: the message keeps its number, no EXPUNGE
    assert a(b"a1 FETCH 1:3 UID") == (
        b"* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\n"
        b"a1 NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )
    assert a(b"a2 STORE 3 +FLAGS (\\Seen)") == (
        b"* 3 FETCH (FLAGS (\\Seen \\Recent))\r\na2 OK STORE completed\r\n"
    )
    assert a(b"a3 STORE 2 +FLAGS (\\Seen)") == (
        b"a3 NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )
    assert a(b"a4 SEARCH ALL") == b"* SEARCH 1 3\r\na4 OK SEARCH completed\r\n"
    assert a(b"a5 SEARCH OR SEEN UNSEEN") == b"* SEARCH 1 3\r\na5 OK SEARCH completed\r\n"
    assert a(b"a5 SEARCH SUBJECT msg") == b"* SEARCH 1 3\r\na5 OK SEARCH completed\r\n"
    # a UID command may send it (RFC 3501 7.4.1); then the numbers shift
    assert a(b"a6 UID SEARCH ALL") == b"* SEARCH 1 3\r\n* 2 EXPUNGE\r\na6 OK SEARCH completed\r\n"
    assert a(b"a7 FETCH 2 UID") == b"* 2 FETCH (UID 3)\r\na7 OK FETCH completed\r\n"


def test_store_on_a_message_expunged_unseen(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(b"a1 STORE 1:2 +FLAGS (\\Seen)") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"
        b"a1 NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )
    assert a(b"a2 NOOP") == b"* 2 EXPUNGE\r\na2 OK NOOP completed\r\n"


def test_copy_of_an_expunged_message_copies_nothing(pair: tuple[Client, Client], store: Store):
    a, b = pair
    b(b"b1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    a(b"a1 FETCH 1 UID")  # learns of the expunge, may not say it
    assert a(b"a2 COPY 1:2 Trash") == (
        b"* 2 EXPUNGE\r\na2 NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )
    assert store.user(BOB).fetch("Trash") == []


@pytest.mark.parametrize(
    ("frame", "data", "tagged"),
    [
        (b"a1 NOOP", b"", b"a1 OK NOOP completed\r\n"),
        (b"a1 CHECK", b"", b"a1 OK CHECK completed\r\n"),
        (b"a1 UID FETCH 2 UID", b"* 2 FETCH (UID 2)\r\n", b"a1 OK FETCH completed\r\n"),
        (b"a1 UID STORE 9 +FLAGS \\Seen", b"", b"a1 OK STORE completed\r\n"),
        (b"a1 UID SEARCH UID 2", b"* SEARCH 2\r\n", b"a1 OK SEARCH completed\r\n"),
        (
            b"a1 STATUS Trash (MESSAGES)",
            b"* STATUS Trash (MESSAGES 0)\r\n",
            b"a1 OK STATUS completed\r\n",
        ),
        (b"a1 COPY 2 Trash", b"", b"a1 OK [COPYUID 1700000003 2 1] COPY completed\r\n"),
    ],
)
def test_commands_that_send_pending_expunges(
    pair: tuple[Client, Client], frame: bytes, data: bytes, tagged: bytes
):
    a, b = pair
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(frame) == data + b"* 1 EXPUNGE\r\n" + tagged


@pytest.mark.parametrize(
    ("frame", "data", "tagged"),
    [
        (b"a1 FETCH 2 UID", b"* 2 FETCH (UID 2)\r\n", b"a1 OK FETCH completed\r\n"),
        (
            b"a1 STORE 3 -FLAGS \\Seen",
            b"* 3 FETCH (FLAGS (\\Recent))\r\n",
            b"a1 OK STORE completed\r\n",
        ),
        (b"a1 SEARCH 2", b"* SEARCH 2\r\n", b"a1 OK SEARCH completed\r\n"),
    ],
)
def test_commands_that_hold_expunges_back(
    pair: tuple[Client, Client], frame: bytes, data: bytes, tagged: bytes
):
    a, b = pair
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(frame) == data + tagged
    assert a(b"a2 NOOP") == b"* 1 EXPUNGE\r\na2 OK NOOP completed\r\n"


def test_close_and_unselect_send_no_updates(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(b"a1 UNSELECT") == b"a1 OK UNSELECT completed\r\n"


def test_new_mail_shows_as_exists_and_recent(pair: tuple[Client, Client], store: Store):
    a, b = pair
    deliver(store, 4)
    assert a(b"a1 FETCH 1 UID") == (
        b"* 1 FETCH (UID 1)\r\n* 4 EXISTS\r\n* 4 RECENT\r\na1 OK FETCH completed\r\n"
    )
    assert b(b"b1 NOOP") == b"* 4 EXISTS\r\n* 0 RECENT\r\nb1 OK NOOP completed\r\n"
    deliver(store, 5)
    assert b(b"b2 NOOP") == b"* 5 EXISTS\r\n* 1 RECENT\r\nb2 OK NOOP completed\r\n"
    assert a(b"a2 NOOP") == b"* 5 EXISTS\r\n* 4 RECENT\r\na2 OK NOOP completed\r\n"
    assert b(b"b3 FETCH 5 FLAGS") == b"* 5 FETCH (FLAGS (\\Recent))\r\nb3 OK FETCH completed\r\n"


def test_append_by_one_session_shows_in_the_other(pair: tuple[Client, Client]):
    a, b = pair
    assert b(b"b1 APPEND INBOX {4}\r\nhi\r\n") == (
        b"* 4 EXISTS\r\n* 1 RECENT\r\nb1 OK [APPENDUID 1700000000 4] APPEND completed\r\n"
    )
    assert a(b"a1 NOOP") == b"* 4 EXISTS\r\n* 3 RECENT\r\na1 OK NOOP completed\r\n"


def test_an_examine_session_sees_changes_without_claiming_recent(store: Store):
    deliver(store, 1)
    e = Client(store)
    e.login()
    e(b"E EXAMINE INBOX")
    deliver(store, 2)
    assert e(b"e1 NOOP") == b"* 2 EXISTS\r\n* 0 RECENT\r\ne1 OK NOOP completed\r\n"
    s = Client(store)
    assert b"* 2 RECENT\r\n" in s.select()


def test_expunges_beyond_the_expunge_log(
    pair: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
):
    a, b = pair
    monkeypatch.setattr(mailserver.store.base, "EXPUNGE_LOG_MAX", 1)
    b(b"b1 STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(b"a1 NOOP") == b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\na1 OK NOOP completed\r\n"
    assert a(b"a2 FETCH 1 UID") == b"* 1 FETCH (UID 3)\r\na2 OK FETCH completed\r\n"


# -- IDLE ------------------------------------------------------------------------------------


def test_idle_with_poll(pair: tuple[Client, Client], store: Store):
    a, b = pair
    actions = a.session.receive(b"I IDLE\r\n")
    assert actions == [Send(data=b"+ idling\r\n"), Idle()]
    assert a.session.idling
    assert a.session.poll() == []
    deliver(store, 4)
    assert a.session.poll() == [Send(data=b"* 4 EXISTS\r\n* 4 RECENT\r\n")]
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a.session.poll() == [Send(data=b"* 1 EXPUNGE\r\n")]
    b(b"b3 STORE 1 +FLAGS.SILENT (\\Seen)")
    assert a(b"done") == b"* 1 FETCH (UID 2 FLAGS (\\Seen \\Recent))\r\nI OK IDLE terminated\r\n"
    assert not a.session.idling
    assert a.session.poll() == []


def test_idle_sends_what_is_waiting_at_once(pair: tuple[Client, Client], store: Store):
    a, _ = pair
    deliver(store, 4)
    assert a.session.receive(b"I IDLE\r\n") == [
        Send(data=b"+ idling\r\n* 4 EXISTS\r\n* 4 RECENT\r\n"),
        Idle(),
    ]


def test_idle_ended_by_something_else(pair: tuple[Client, Client]):
    a, _ = pair
    a(b"I IDLE")
    assert a(b"I2 NOOP") == b"I BAD expected DONE to end IDLE; IDLE ended\r\n"
    assert a(b"I3 NOOP") == b"I3 OK NOOP completed\r\n"


def test_idle_in_the_authenticated_state(store: Store):
    c = Client(store)
    c.login()
    assert c.session.receive(b"I IDLE\r\n") == [Send(data=b"+ idling\r\n"), Idle()]
    deliver(store, 1)
    assert c.session.poll() == []
    assert c(b"DONE") == b"I OK IDLE terminated\r\n"


def test_a_deleted_mailbox_ends_the_session(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 CREATE Work")
    a(b"a1 SELECT Work")
    b(b"b2 DELETE Work")
    actions = a.actions(b"a2 NOOP")
    assert actions == [
        Send(data=b"* BYE the selected mailbox was deleted or renamed\r\n"),
        Close(reason="selected mailbox gone"),
    ]
    assert a.session.selected is None


def test_after_the_bye_for_a_deleted_mailbox_the_session_is_logged_out(
    pair: tuple[Client, Client],
):
    a, b = pair
    b(b"b1 CREATE Work")
    a(b"a1 SELECT Work")
    b(b"b2 DELETE Work")
    a(b"a2 NOOP")  # the BYE
    assert a.session.state is State.LOGOUT
    assert a.session.receive(b"a3 NOOP\r\n") == []


def test_a_deleted_mailbox_while_idling(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 CREATE Work")
    a(b"a1 SELECT Work")
    a(b"a2 IDLE")
    b(b"b2 RENAME Work Play")
    assert wire(a.session.poll()) == b"* BYE the selected mailbox was deleted or renamed\r\n"
    assert not a.session.idling
    assert a.session.address == BOB


def test_a_failing_check_while_idling_is_logged_and_idle_goes_on(
    pair: tuple[Client, Client], store: Store, monkeypatch: pytest.MonkeyPatch
):
    a, _ = pair
    a(b"I IDLE")

    def busy(*args: object, **kwargs: object) -> None:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "changes_since", busy)
    assert a.session.poll() == [Log(text="IDLE check failed for bob@hamburger.edu: index busy")]
    assert a.session.idling
    monkeypatch.undo()
    deliver(store, 4)
    assert a(b"DONE") == b"* 4 EXISTS\r\n* 4 RECENT\r\nI OK IDLE terminated\r\n"


def test_a_store_failure_at_done_is_answered_with_the_idle_tag(
    pair: tuple[Client, Client], store: Store, monkeypatch: pytest.MonkeyPatch
):
    a, _ = pair
    a(b"I IDLE")

    def busy(*args: object, **kwargs: object) -> None:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "changes_since", busy)
    assert a.actions(b"DONE") == [
        Send(data=b"I NO [INUSE] index busy\r\n"),
        Log(text="store error for bob@hamburger.edu: index busy"),
    ]
    assert not a.session.idling
    monkeypatch.undo()
    assert a(b"n NOOP") == b"n OK NOOP completed\r\n"


def test_announced_expunges_are_forgotten(pair: tuple[Client, Client]):
    a, b = pair
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    a(b"a1 FETCH 1 UID")
    view = a.session.view
    assert view is not None and view.gone == {1}
    a(b"a2 NOOP")
    assert view.gone == set()


def test_recent_counts_only_new_mail_still_there(pair: tuple[Client, Client], store: Store):
    a, b = pair
    deliver(store, 4)
    deliver(store, 5, flags=("\\Deleted",))
    b(b"b1 NOOP")  # B sees both and claims their \Recent
    assert b(b"b2 UID EXPUNGE 5") == b"* 5 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n"
    deliver(store, 6)
    deliver(store, 7, flags=("\\Deleted",))
    store.user(BOB).expunge("INBOX", [7])  # before anyone claimed 6 and 7
    assert a(b"a1 NOOP") == b"* 5 EXISTS\r\n* 4 RECENT\r\na1 OK NOOP completed\r\n"
    assert a(b"a2 SEARCH RECENT") == b"* SEARCH 1 2 3 5\r\na2 OK SEARCH completed\r\n"


def test_an_expunge_a_flag_change_and_new_mail_at_once_come_in_that_order(
    pair: tuple[Client, Client], store: Store
):
    a, b = pair
    b(b"b1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    b(b"b3 UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    deliver(store, 4)
    # the expunge first (numbers shift: UID 3 is now message 2), then the flags, then EXISTS
    assert a(b"a1 NOOP") == (
        b"* 1 EXPUNGE\r\n"
        b"* 2 FETCH (UID 3 FLAGS (\\Flagged \\Recent))\r\n"
        b"* 3 EXISTS\r\n* 3 RECENT\r\n"
        b"a1 OK NOOP completed\r\n"
    )


def test_a_body_fetch_over_a_message_expunged_unseen_sets_seen_on_the_others(
    pair: tuple[Client, Client],
):
    a, b = pair
    b(b"b1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(b"a1 FETCH 1:3 (BODY[HEADER.FIELDS (SUBJECT)])") == (
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 1\r\n\r\n"
        b" FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: msg 3\r\n\r\n"
        b" FLAGS (\\Seen \\Recent))\r\n"
        b"a1 NO [EXPUNGEISSUED] some of the messages were expunged\r\n"
    )


def test_done_sends_the_expunges_that_came_during_idle(pair: tuple[Client, Client]):
    a, b = pair
    assert a(b"a1 IDLE") == b"+ idling\r\n"
    b(b"b1 STORE 2 +FLAGS.SILENT (\\Deleted)")
    b(b"b2 EXPUNGE")
    assert a(b"DONE") == b"* 2 EXPUNGE\r\na1 OK IDLE terminated\r\n"


def test_a_keyword_known_at_select_is_not_announced_again_in_another_case(store: Store):
    deliver(store, 1, flags=("$Work",))
    deliver(store, 2)
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    b(b"b1 STORE 2 +FLAGS.SILENT ($work)")
    assert a(b"a1 NOOP") == b"* 2 FETCH (UID 2 FLAGS ($work \\Recent))\r\na1 OK NOOP completed\r\n"
    b(b"b2 STORE 2 +FLAGS.SILENT ($Later)")
    assert a(b"a2 NOOP") == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work $Later)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work $Later \\*)]"
        b" Flags permitted\r\n"
        b"* 2 FETCH (UID 2 FLAGS ($work $Later \\Recent))\r\na2 OK NOOP completed\r\n"
    )
    b(b"b3 STORE 1 +FLAGS.SILENT ($LATER)")  # announced once: known now, in any case
    assert a(b"a3 NOOP") == (
        b"* 1 FETCH (UID 1 FLAGS ($Work $LATER \\Recent))\r\na3 OK NOOP completed\r\n"
    )
