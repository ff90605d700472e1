"""NOTIFY (RFC 5465) through sessions on a real store, one session watching while another
changes things: what the watcher is told when no command is under way (notify_poll, which the
shell calls on each change notice), during IDLE and with a command; the filters (SELECTED,
SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE, MAILBOXES), the events, SET STATUS,
NONE, and the refusals. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap import notify
from mailserver.imap.commands import parse_command
from mailserver.imap.fetchatt import FetchItem
from mailserver.imap.session import Log, Send
from mailserver.store import Store, StoreError
from tests.mailserver.imap.session_kit import BOB, CAPS, Client, deliver, store_fixture, wire

UV = 1_700_000_000  # the INBOX's UIDVALIDITY; the other mailboxes' follow it


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def pair(store: Store) -> tuple[Client, Client]:
    """(watcher, changer), both logged in as bob."""
    a, b = Client(store), Client(store)
    a.login()
    b.login()
    return a, b


def told(c: Client) -> bytes:
    """What the shell would write for a notice now, no command under way."""
    return wire(c.session.notify_poll())


def ok(tag: bytes) -> bytes:
    return tag + b" OK NOTIFY completed\r\n"


def test_notify_is_announced_and_needs_login(store: Store) -> None:
    assert b" NOTIFY " in CAPS + b" "
    assert Client(store)(b"a NOTIFY NONE").startswith(b"a BAD NOTIFY needs authentication")


def test_other_mailboxes_as_status(store: Store) -> None:
    a, b = pair(store)
    assert a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")
    assert told(a) == b""
    deliver(store, 1, mailbox="Sent")
    deliver(store, 2, mailbox="Sent", flags=("\\Seen",))
    assert told(a) == b"* STATUS Sent (MESSAGES 2 UIDNEXT 3 UNSEEN 1)\r\n"
    assert told(a) == b""  # told once
    b(b"s SELECT Sent")
    b(b"t STORE 2 +FLAGS (\\Deleted)")
    assert told(a) == b""  # FlagChange was not asked
    b(b"u EXPUNGE")
    assert told(a) == b"* STATUS Sent (MESSAGES 1 UIDNEXT 3 UNSEEN 1)\r\n"


def test_flag_changes_with_and_without_condstore(store: Store) -> None:
    a, b = pair(store)
    deliver(store, 1, mailbox="Trash")
    assert a(b"n NOTIFY SET (MAILBOXES Trash (MessageNew MessageExpunge FlagChange))") == ok(b"n")
    b(b"s SELECT Trash")
    b(b"t STORE 1 +FLAGS (\\Seen)")
    assert told(a) == b"* STATUS Trash (UNSEEN 0)\r\n"
    b(b"t STORE 1 +FLAGS (\\Flagged)")
    assert told(a) == b""  # no UNSEEN change, no CONDSTORE
    a(b"e ENABLE CONDSTORE")
    b(b"t STORE 1 -FLAGS (\\Flagged)")
    assert told(a) == b"* STATUS Trash (HIGHESTMODSEQ 5)\r\n"


def test_set_status_says_each_watched_mailbox_at_once(store: Store) -> None:
    deliver(store, 1)
    a, _ = pair(store)
    assert a(b"n NOTIFY SET STATUS (INBOXES (MessageNew MessageExpunge))") == (
        b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 1)\r\n" % UV + ok(b"n")
    )
    a(b"e ENABLE CONDSTORE")
    groups = b"(MAILBOXES (Trash Sent Nowhere) (MessageNew MessageExpunge))"
    assert a(b"n NOTIFY SET STATUS " + groups) == (
        b"* STATUS Sent (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %d UNSEEN 0 HIGHESTMODSEQ 1)\r\n"
        b"* STATUS Trash (MESSAGES 0 UIDNEXT 1 UIDVALIDITY %d UNSEEN 0 HIGHESTMODSEQ 1)\r\n"
        % (UV + 1, UV + 3)
        + ok(b"n")
    )


def test_filters_name_their_mailboxes(store: Store) -> None:
    a, b = pair(store)
    b(b"c CREATE Work/Sub")
    b(b"c CREATE Other")
    b(b"d SUBSCRIBE Other")
    defaults = {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}  # all subscribed
    cases = {
        b"(SUBTREE Work (MessageNew MessageExpunge))": {"Work", "Work/Sub"},
        b"(MAILBOXES (Work Other) (MessageNew MessageExpunge))": {"Work", "Other"},
        b"(SUBSCRIBED (MessageNew MessageExpunge))": defaults | {"Other"},
        b"(INBOXES (MessageNew MessageExpunge))": {"INBOX"},
        b"(PERSONAL (MessageNew MessageExpunge))": defaults | {"Work", "Work/Sub", "Other"},
        # the first group that names a mailbox is its group
        b"(MAILBOXES Work NONE) (PERSONAL (MessageNew MessageExpunge))": (
            defaults | {"Work/Sub", "Other"}
        ),
    }
    for groups, names in cases.items():
        assert a(b"n NOTIFY SET " + groups) == ok(b"n")
        for name in (*sorted(defaults), "Work", "Work/Sub"):
            deliver(store, 1, mailbox=name)
        deliver(store, 1, mailbox="Other")
        said = {line.split(b" ")[2].decode() for line in told(a).splitlines()}
        assert said == names, groups


def test_mailbox_names_and_subscriptions_as_list(store: Store) -> None:
    a, b = pair(store)
    assert a(b"n NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))") == ok(b"n")
    b(b"c CREATE Work")
    b(b"d CREATE Gone")
    b(b"e RENAME Sent Old")
    assert told(a) == (
        b'* LIST () "/" Gone\r\n* LIST () "/" Old ("OLDNAME" (Sent))\r\n* LIST () "/" Work\r\n'
    )
    b(b"f DELETE Gone")
    b(b"g SUBSCRIBE Work")
    assert told(a) == b'* LIST (\\NonExistent) "/" Gone\r\n* LIST (\\Subscribed) "/" Work\r\n'
    b(b"h UNSUBSCRIBE Work")
    assert told(a) == b'* LIST () "/" Work\r\n'
    deliver(store, 1, mailbox="Work")
    assert told(a) == b""  # no message events asked


def test_the_selected_mailbox_as_without_notify_but_unasked(store: Store) -> None:
    a, b = pair(store)
    groups = b"(SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))"
    assert a(b"n NOTIFY SET " + groups + b" (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")
    a(b"s SELECT INBOX")
    deliver(store, 1)
    deliver(store, 2, flags=("\\Flagged",))
    assert told(a) == (
        b"* 2 EXISTS\r\n* 2 RECENT\r\n"
        b"* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))\r\n"
    )
    b(b"s SELECT INBOX")
    b(b"t STORE 1 +FLAGS (\\Deleted)")
    assert told(a) == b"* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))\r\n"
    b(b"u EXPUNGE")
    assert told(a) == b"* 1 EXPUNGE\r\n"  # no command under way: at once under SELECTED


def test_selected_delayed_keeps_expunges_for_a_command(store: Store) -> None:
    a, b = pair(store)
    deliver(store, 1)
    groups = b"(SELECTED-DELAYED (MessageNew MessageExpunge))"
    assert a(b"n NOTIFY SET " + groups) == ok(b"n")
    a(b"s SELECT INBOX")
    b(b"s SELECT INBOX")
    b(b"t STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"u EXPUNGE")
    deliver(store, 2)
    assert told(a) == b"* 2 EXISTS\r\n* 2 RECENT\r\n"
    assert a(b"v NOOP") == b"* 1 EXPUNGE\r\nv OK NOOP completed\r\n"


def test_without_a_selected_group_nothing_unasked_of_the_selected(store: Store) -> None:
    a, _ = pair(store)
    assert a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")
    a(b"s SELECT INBOX")
    deliver(store, 1)
    deliver(store, 1, mailbox="Sent")
    assert told(a) == b"* STATUS Sent (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
    assert a(b"v NOOP") == b"* 1 EXISTS\r\n* 1 RECENT\r\nv OK NOOP completed\r\n"


def test_idle_tells_the_other_mailboxes_too(store: Store) -> None:
    a, _ = pair(store)
    a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))")
    a(b"s SELECT INBOX")
    assert a(b"i IDLE") == b"+ idling\r\n"
    deliver(store, 1, mailbox="Sent")
    deliver(store, 1)
    assert told(a) == b""  # IDLE's own poll tells, not notify_poll
    assert wire(a.session.poll()) == (
        b"* STATUS Sent (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n* 1 EXISTS\r\n* 1 RECENT\r\n"
    )


def test_none_ends_it(store: Store) -> None:
    a, _ = pair(store)
    a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))")
    assert a(b"m NOTIFY NONE") == ok(b"m")
    deliver(store, 1, mailbox="Sent")
    assert told(a) == b""
    assert not a.session.watching


def test_refusals(store: Store) -> None:
    a, _ = pair(store)
    cases = {
        b"NOTIFY SET (SELECTED (MessageNew))": (
            b"BAD MessageNew and MessageExpunge go together (RFC 5465 section 5)"
        ),
        b"NOTIFY SET (SELECTED (FlagChange))": (
            b"BAD FlagChange needs MessageNew and MessageExpunge (RFC 5465 section 5)"
        ),
        b"NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))": (
            b"BAD MessageNew takes FETCH items for the selected mailbox only"
        ),
        b"NOTIFY SET (SELECTED (MessageNew (BODY[]) MessageExpunge))": (
            b"BAD MessageNew takes the FETCH items of the index here: UID, FLAGS, INTERNALDATE,"
            b" RFC822.SIZE, MODSEQ, SAVEDATE"
        ),
        b"NOTIFY SET (SELECTED (MailboxName))": (
            b"BAD SELECTED takes message events only (RFC 5465 section 6.1)"
        ),
        b"NOTIFY SET (SELECTED NONE) (SELECTED-DELAYED NONE)": (
            b"BAD one SELECTED or SELECTED-DELAYED filter at most (RFC 5465 section 6.1)"
        ),
        b"NOTIFY SET (PERSONAL (AnnotationChange))": (
            b"NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName"
            b" SubscriptionChange)] an event this server cannot tell"
        ),
        b"NOTIFY SET (PERSONAL (Foo))": b"BAD unknown NOTIFY event Foo",
        b"NOTIFY SET (FOO (MessageNew MessageExpunge))": b"BAD unknown NOTIFY filter FOO",
        b"NOTIFY SET": b"BAD expected a space",
        b"NOTIFY SET STATUS": b"BAD expected a space",
        b"NOTIFY": b"BAD expected a space",
        b"NOTIFY GET": b"BAD NOTIFY takes SET or NONE",
        b"NOTIFY SET (PERSONAL MessageNew)": b"BAD expected events or NONE",
    }
    for command, answer in cases.items():
        assert a(b"x " + command) == b"x " + answer + b"\r\n", command
    assert not a.session.watching


def test_too_many_mailboxes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "MAX_WATCHED", 7)
    a, b = pair(store)  # six mailboxes
    assert a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")
    b(b"c CREATE One")
    deliver(store, 1, mailbox="One")
    assert told(a) == b"* STATUS One (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
    b(b"c CREATE Two")
    assert a.session.notify_poll() == [
        Send(
            data=b"* OK [NOTIFICATIONOVERFLOW] more than 7 mailboxes to watch: notifications end"
            b" (NOTIFY NONE)\r\n"
        ),
        Log(text="NOTIFY overflow for bob@hamburger.edu"),
    ]
    assert not a.session.watching
    assert a(b"m NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == (
        b"m NO [NOTIFICATIONOVERFLOW] more than 7 mailboxes to watch\r\n"
    )


def test_every_syntax_error_says_what_was_expected(store: Store) -> None:
    a, _ = pair(store)
    long = b"X" * 50
    cases = {
        b"NOTIFY (": b"expected SET or NONE",
        b"NOTIFY SET x": b"expected STATUS or an event group",
        b"NOTIFY SET )": b"expected STATUS or an event group",
        b"NOTIFY SET STATUS x": b'expected "(" and an event group',
        b"NOTIFY SET ((": b"expected a filter",
        b"NOTIFY SET (" + long + b" NONE)": b"unknown NOTIFY filter " + b"X" * 40,
        b"NOTIFY SET (PERSONAL ((": b"expected an event",
        b"NOTIFY SET (PERSONAL (" + long + b"))": b"unknown NOTIFY event " + b"X" * 40,
        b"NOTIFY SET (PERSONAL NONE": b'expected ")" after the events',
        b"NOTIFY SET (PERSONAL )": b"expected events or NONE",
        b"NOTIFY SET (PERSONAL ()": b"expected an event",
        b"NOTIFY SET (PERSONAL (MessageNew MessageExpunge) )": b'expected ")" after the events',
        b"NOTIFY SET (MAILBOXES () NONE)": b"expected an atom or a string",
        b"NOTIFY SET (SUBTREE (a b NONE)": b"expected a space",
        b"NOTIFY SET " + b" ".join([b"(PERSONAL NONE)"] * (notify.MAX_GROUPS + 1)): (
            b"more than %d event groups" % notify.MAX_GROUPS
        ),
    }
    for command, answer in cases.items():
        got = a(b"x " + command)
        assert got == b"x BAD " + answer + b"\r\n", (command, got)


def test_the_parsed_groups() -> None:
    """What NOTIFY SET gives the session: empty mailboxes and FETCH items when none were
    named, STATUS or not, events in RFC 5465's spelling whatever the case."""
    cmd = parse_command(
        b"n NOTIFY SET (personal (messagenew MESSAGEEXPUNGE)) (SUBTREE (a b) NONE)"
        b" (selected (MessageNew (UID) MessageExpunge))\r\n"
    )
    assert cmd == notify.Notify(
        tag="n",
        name="NOTIFY",
        groups=(
            notify.EventGroup("PERSONAL", (), frozenset({"MessageNew", "MessageExpunge"})),
            notify.EventGroup("SUBTREE", ("a", "b"), frozenset()),
            notify.EventGroup(
                "SELECTED",
                (),
                frozenset({"MessageNew", "MessageExpunge"}),
                (FetchItem("UID"),),
            ),
        ),
    )
    cmd = parse_command(b"n NOTIFY SET STATUS (INBOXES NONE)\r\n")
    assert cmd == notify.Notify(
        tag="n", name="NOTIFY", status=True, groups=(notify.EventGroup("INBOXES", (), frozenset()),)
    )


def test_too_many_mailboxes_in_a_filter(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "MAX_WATCHED", 3)
    a, _ = pair(store)
    assert a(b"x NOTIFY SET (MAILBOXES (a b c d) NONE)") == (
        b"x BAD more than 3 mailboxes in a filter\r\n"
    )
    assert a(b"y NOTIFY SET (MAILBOXES (a b c) NONE)") == ok(b"y")


@pytest.mark.parametrize("utf8", [False, True])
def test_names_as_the_session_writes_them(store: Store, utf8: bool) -> None:
    """Under UTF8=ACCEPT the names are UTF-8 (literals), else modified UTF-7: in STATUS, LIST,
    OLDNAME, \\NonExistent and subscription lines alike; several changes in one look."""
    a, b = pair(store)
    if utf8:
        a(b"e ENABLE UTF8=ACCEPT")
    name = "Entwürfe"
    wire_name = (b"{9}\r\n" + name.encode()) if utf8 else b"Entw&APw-rfe"
    renamed = (b"{10}\r\n" + "Entwürfe2".encode()) if utf8 else b"Entw&APw-rfe2"
    events = b"(MessageNew MessageExpunge MailboxName SubscriptionChange)"
    assert a(b"n NOTIFY SET (PERSONAL " + events + b")") == ok(b"n")
    b(b"c CREATE Entw&APw-rfe")
    b(b"d SUBSCRIBE Entw&APw-rfe")
    assert told(a) == (
        b'* LIST () "/" ' + wire_name + b'\r\n* LIST (\\Subscribed) "/" ' + wire_name + b"\r\n"
    )
    deliver(store, 1, mailbox=name)
    b(b"e CREATE Other")
    assert told(a) == (
        b'* LIST () "/" Other\r\n* STATUS ' + wire_name + b" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
    )
    b(b"f RENAME Entw&APw-rfe Entw&APw-rfe2")
    b(b"g DELETE Other")
    assert told(a) == (
        b'* LIST () "/" ' + renamed + b' ("OLDNAME" (' + wire_name + b"))\r\n"
        b'* LIST (\\NonExistent) "/" Other\r\n'
        b"* STATUS " + renamed + b" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
    )
    b(b"h UNSUBSCRIBE Entw&APw-rfe")
    assert told(a) == b'* LIST (\\NonExistent) "/" ' + wire_name + b"\r\n"
    asked = (b'"' + "Entwürfe2".encode() + b'"') if utf8 else b"Entw&APw-rfe2"
    counts = b" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY %d UNSEEN 1)\r\n" % (
        store.user(BOB).mailbox("Entwürfe2").uidvalidity
    )
    assert a(b"s NOTIFY SET STATUS (MAILBOXES " + asked + b" (MessageNew MessageExpunge))") == (
        b"* STATUS " + renamed + counts + ok(b"s")
    )


def test_a_mailbox_made_again_and_modseq_with_new_mail(store: Store) -> None:
    a, b = pair(store)
    a(b"e ENABLE CONDSTORE")
    b(b"c CREATE Work")
    deliver(store, 1, mailbox="Work")
    assert a(b"n NOTIFY SET (MAILBOXES Work (MessageNew MessageExpunge))") == ok(b"n")
    deliver(store, 2, mailbox="Work")
    assert told(a) == b"* STATUS Work (MESSAGES 2 UIDNEXT 3 UNSEEN 2 HIGHESTMODSEQ 3)\r\n"
    b(b"d DELETE Work")
    b(b"c CREATE Work")
    deliver(store, 3, mailbox="Work")
    validity = store.user("bob@hamburger.edu").mailbox("Work").uidvalidity
    assert told(a) == (
        b"* STATUS Work (MESSAGES 1 UIDNEXT 2 UNSEEN 1 UIDVALIDITY %d HIGHESTMODSEQ 2)\r\n"
        % validity
    )


def test_new_messages_carry_their_modseq_once_condstore_is_on(store: Store) -> None:
    a, _ = pair(store)
    a(b"e ENABLE CONDSTORE")
    assert a(b"n NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge))") == ok(b"n")
    a(b"s SELECT INBOX")
    deliver(store, 1)
    assert told(a) == (  # RFC 7162 §3.1.4: every FETCH with FLAGS says MODSEQ too
        b"* 1 EXISTS\r\n* 1 RECENT\r\n* 1 FETCH (UID 1 FLAGS (\\Recent) MODSEQ (2))\r\n"
    )


def test_name_events_of_the_mailboxes_a_filter_names_only(store: Store) -> None:
    a, b = pair(store)
    groups = b"(MAILBOXES (Work Play Subbed) (MailboxName SubscriptionChange))"
    assert a(b"n NOTIFY SET " + groups) == ok(b"n")
    b(b"c CREATE Aaa")
    b(b"d CREATE Work")  # made after an unwatched one: still told
    assert told(a) == b'* LIST () "/" Work\r\n'
    b(b"e RENAME Aaa Play")  # Aaa's UIDVALIDITY was learnt when it was made, unwatched
    assert told(a) == b'* LIST () "/" Play ("OLDNAME" (Aaa))\r\n'
    # names the filter leaves out, Sent among them (there before NOTIFY, never watched)
    for command in (b"f CREATE Other", b"g DELETE Other", b"h SUBSCRIBE Other", b"h DELETE Sent"):
        b(command)
        assert told(a) == b"", command
    b(b"i DELETE Work")
    assert told(a) == b'* LIST (\\NonExistent) "/" Work\r\n'
    b(b"j SUBSCRIBE Subbed")
    assert told(a) == b'* LIST (\\Subscribed \\NonExistent) "/" Subbed\r\n'
    b(b"k UNSUBSCRIBE Subbed")
    assert told(a) == b'* LIST (\\NonExistent) "/" Subbed\r\n'
    b(b"l RENAME Play Zzz")  # to a name the filter leaves out: Play is gone, all it says
    assert told(a) == b'* LIST (\\NonExistent) "/" Play\r\n'


def test_name_events_of_subscribed_mailboxes(store: Store) -> None:
    a, b = pair(store)
    assert a(b"n NOTIFY SET (SUBSCRIBED (MailboxName SubscriptionChange))") == ok(b"n")
    b(b"c SUBSCRIBE Later")
    assert told(a) == b'* LIST (\\Subscribed \\NonExistent) "/" Later\r\n'
    b(b"d CREATE Later")
    b(b"e CREATE Plain")  # not subscribed: not told
    assert told(a) == b'* LIST () "/" Later\r\n'
    b(b"f UNSUBSCRIBE Later")  # subscribed until now: told
    assert told(a) == b'* LIST () "/" Later\r\n'
    b(b"g SUBSCRIBE Plain")
    assert told(a) == b'* LIST (\\Subscribed) "/" Plain\r\n'
    b(b"h DELETE Plain")  # still subscribed when it went
    assert told(a) == b'* LIST (\\NonExistent) "/" Plain\r\n'


def test_a_mailbox_gone_again_before_its_status_is_read_is_told_made() -> None:
    """Another session deleted it between the listing and the STATUS: its name is told, with
    no OLDNAME (there is no UIDVALIDITY to match a removed name with)."""
    watch = notify.Watch((notify.EventGroup("PERSONAL", (), frozenset({"MailboxName"})),))
    counts = {"INBOX": (0, 1, 7, 0, 0), "Old": (0, 1, 9, 0, 0)}
    plain = {"utf8": False, "modseq": False, "first": False}
    assert watch.changes(None, ["INBOX", "Old"], set(), counts.get, **plain) == b""
    told = watch.changes(None, ["INBOX", "New"], set(), {"INBOX": counts["INBOX"]}.get, **plain)
    assert told == b'* LIST () "/" New\r\n* LIST (\\NonExistent) "/" Old\r\n'


def test_the_selected_mailbox_and_the_others_in_one_poll(store: Store) -> None:
    a, _ = pair(store)
    groups = b"(SELECTED (MessageNew (UID) MessageExpunge)) (PERSONAL (MessageNew MessageExpunge))"
    assert a(b"n NOTIFY SET " + groups) == ok(b"n")
    a(b"s SELECT INBOX")
    assert a.session.notify_poll() == []  # nothing new: no action at all, not an empty send
    deliver(store, 1, mailbox="Sent")
    deliver(store, 2)
    assert told(a) == (
        b"* STATUS Sent (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
        b"* 1 EXISTS\r\n* 1 RECENT\r\n* 1 FETCH (UID 1)\r\n"
    )


def test_a_failing_notify_check_is_logged(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = pair(store)
    assert a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")

    def busy(*args: object, **kwargs: object) -> None:
        raise StoreError("index busy", "INUSE")

    monkeypatch.setattr(store.user(BOB), "mailbox_names", busy)
    assert a.session.notify_poll() == [
        Log(text="NOTIFY check failed for bob@hamburger.edu: index busy")
    ]


def test_a_mailbox_watched_again_is_told_afresh(store: Store) -> None:
    """A mailbox the filter names again (here: subscribed again) is news, as one made: its
    counts are told though they did not change while it was not watched."""
    a, b = pair(store)
    b(b"c CREATE Work")
    deliver(store, 1, mailbox="Work")
    assert a(b"n NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge))") == ok(b"n")
    b(b"d SUBSCRIBE Work")
    assert told(a) == b"* STATUS Work (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
    b(b"e UNSUBSCRIBE Work")
    assert told(a) == b""
    b(b"f SUBSCRIBE Work")
    assert told(a) == b"* STATUS Work (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"


def test_a_mailbox_made_with_mail_in_it_under_condstore(store: Store) -> None:
    a, b = pair(store)
    a(b"e ENABLE CONDSTORE")
    assert a(b"n NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == ok(b"n")
    b(b"c CREATE Work")
    deliver(store, 1, mailbox="Work")
    assert told(a) == b"* STATUS Work (MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ 2)\r\n"


def test_set_status_says_the_mailboxes_after_one_gone_meanwhile() -> None:
    """Another session deleted a mailbox between the listing and its STATUS: the mailboxes
    listed after it are said all the same."""
    watch = notify.Watch(
        (notify.EventGroup("PERSONAL", (), frozenset({"MessageNew", "MessageExpunge"})),)
    )
    counts = {"INBOX": (1, 2, 7, 1, 3)}
    said = watch.changes(
        None, ["Gone", "INBOX"], set(), counts.get, utf8=False, modseq=False, first=True
    )
    assert said == b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7 UNSEEN 1)\r\n"


def test_a_rename_says_the_old_name_of_a_mailbox_never_watched(store: Store) -> None:
    """RFC 5465 §5.4: the LIST of a renamed mailbox's new name carries OLDNAME, also when the
    old name was there before NOTIFY, outside the filter, or selected."""
    a, b = pair(store)
    a(b"s SELECT Drafts")
    assert a(b"n NOTIFY SET (MAILBOXES (Play Work) (MailboxName))") == ok(b"n")
    b(b"c RENAME Sent Play")
    assert told(a) == b'* LIST () "/" Play ("OLDNAME" (Sent))\r\n'
    b(b"d RENAME Drafts Work")
    assert told(a) == b'* LIST () "/" Work ("OLDNAME" (Drafts))\r\n'


def test_the_mailboxes_no_event_names_are_not_read() -> None:
    """Without MailboxName no UIDVALIDITY is learnt: the STATUS of the watched mailboxes only
    is read."""
    inboxes = notify.EventGroup("INBOXES", (), frozenset({"MessageNew", "MessageExpunge"}))
    asked: list[str] = []

    def status_of(name: str) -> notify.Counts:
        asked.append(name)
        return (0, 1, 7, 0, 0)

    watch = notify.Watch((inboxes,))
    for _ in range(2):
        watch.changes(
            None, ["INBOX", "Sent"], set(), status_of, utf8=False, modseq=False, first=False
        )
    assert asked == ["INBOX", "INBOX"]


def test_a_mailbox_gone_is_told_by_its_name_as_the_session_writes_names(store: Store) -> None:
    a, b = pair(store)
    a(b"e ENABLE UTF8=ACCEPT")
    assert a(b"n NOTIFY SET (PERSONAL (MailboxName))") == ok(b"n")
    b(b"c CREATE Entw&APw-rfe")
    assert told(a) == b'* LIST () "/" {9}\r\n' + "Entwürfe".encode() + b"\r\n"
    b(b"d DELETE Entw&APw-rfe")
    assert told(a) == b'* LIST (\\NonExistent) "/" {9}\r\n' + "Entwürfe".encode() + b"\r\n"


def test_a_mailbox_no_filter_names_goes_unsaid_without_name_events(store: Store) -> None:
    """Without MailboxName the UIDVALIDITY of a mailbox the filters leave out was never read:
    its deletion is not told, and the watch goes on."""
    a, b = pair(store)
    assert a(b"n NOTIFY SET (INBOXES (MessageNew MessageExpunge))") == ok(b"n")
    b(b"d DELETE Drafts")
    assert told(a) == b""
    deliver(store, 1)
    assert told(a) == b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"
