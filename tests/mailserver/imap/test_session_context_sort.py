"""CONTEXT=SORT (RFC 5267 §4.3) through sessions on a real store: SORT RETURN (UPDATE) kept up
to date in its order, ADDTO and REMOVEFROM with the positions of §4.3.2-4.3.3 (where a message
is once inserted, where it was before it was taken out, each pair counted after the pairs
before it), by UID or by sequence number, REMOVEFROM before an EXPUNGE in the numbering it
still has, CANCELUPDATE and a tag in use. Exact bytes, and a replay of the updates by the
RFC's rules that must give the order a new SORT gives."""

from __future__ import annotations

import gc
import re
import weakref
from collections.abc import Iterator

import pytest

from mailserver.imap import selected
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, Client, message, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def put(store: Store, n: int, subject: str, flags: tuple[str, ...] = ()) -> int:
    return store.deliver(BOB, "INBOX", message(n, subject=subject), flags)


def esearch(tag: bytes, data: bytes, uid: bool = False) -> bytes:
    return b'* ESEARCH (TAG "' + tag + b'")' + (b" UID " if uid else b" ") + data + b"\r\n"


@pytest.fixture
def pair(store: Store) -> tuple[Client, Client]:
    """Two sessions on Bob's INBOX: UIDs 1..3 about "kiwi", "fig" and "lime"; the first keeps
    `s` (UID SORT by SUBJECT, every message) and `r` (SORT by REVERSE SUBJECT, the unseen)."""
    for n, subject in enumerate(("kiwi", "fig", "lime"), 1):
        put(store, n, subject)
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    assert a(b"s UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 ALL") == (
        esearch(b"s", b"ALL 2,1,3", uid=True) + b"s OK SORT completed\r\n"
    )
    assert a(b"r SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN") == (
        b'* ESEARCH (TAG "r")\r\nr OK SORT completed\r\n'
    )
    return a, b


def test_the_rfcs_example_three_messages_before_the_first(store: Store) -> None:
    # RFC 5267 §4.3.3: a result of 2734:2735 gets 2731:2733, all sorting before it; the RFC
    # gives them as (1 2733 1 2732 1 2731), we as (1 2731 2 2732 3 2733): the same list
    put(store, 1, "delta")
    put(store, 2, "echo")
    a = Client(store)
    a.select()
    assert a(b"c UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL").endswith(b"c OK SORT completed\r\n")
    for n, subject in ((3, "alpha"), (4, "bravo"), (5, "charlie")):
        put(store, n, subject)
    assert a(b"n NOOP") == (
        b"* 5 EXISTS\r\n* 5 RECENT\r\n"
        + esearch(b"c", b"ADDTO (1 3 2 4 3 5)", uid=True)
        + b"n OK NOOP completed\r\n"
    )


def test_new_messages_take_their_place_in_each_order(
    pair: tuple[Client, Client], store: Store
) -> None:
    a, _ = pair
    put(store, 4, "grape")  # between fig and kiwi
    put(store, 5, "apple")  # first
    put(store, 6, "zucchini", ("\\Seen",))  # last, and not in r
    assert a(b"n NOOP") == (
        b"* 6 EXISTS\r\n* 6 RECENT\r\n"
        # s: fig kiwi lime -> fig grape kiwi lime -> apple fig grape kiwi lime -> ... zucchini
        + esearch(b"s", b"ADDTO (2 4 1 5 6 6)", uid=True)
        # r (unseen, Z to A): lime kiwi fig -> lime kiwi grape fig -> ... fig apple
        + esearch(b"r", b"ADDTO (3 4 5 5)")
        + b"n OK NOOP completed\r\n"
    )
    assert a(b"m NOOP") == b"m OK NOOP completed\r\n"


def test_flags_move_messages_in_and_out_with_their_positions(pair: tuple[Client, Client]) -> None:
    a, b = pair
    b(b"x STORE 1,3 +FLAGS (\\Seen)")  # kiwi and lime leave r: lime was 1st, then kiwi 1st
    assert a(b"n NOOP") == (
        b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"r", b"REMOVEFROM (2 1 1 3)")
        + b"n OK NOOP completed\r\n"
    )
    b(b"y STORE 3 -FLAGS (\\Seen)")  # lime is back, before fig
    assert a(b"m NOOP") == (
        b"* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n"
        + esearch(b"r", b"ADDTO (1 3)")
        + b"m OK NOOP completed\r\n"
    )


def test_an_expunge_is_removed_before_its_expunge_in_the_old_numbers(
    pair: tuple[Client, Client],
) -> None:
    a, b = pair
    b(b"x STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"y EXPUNGE")  # kiwi goes: 2nd in s, 2nd in r
    assert a(b"f FETCH 3 (UID)") == b"* 3 FETCH (UID 3)\r\nf OK FETCH completed\r\n"  # waits
    assert a(b"n NOOP") == (
        esearch(b"s", b"REMOVEFROM (2 1)", uid=True)
        + esearch(b"r", b"REMOVEFROM (2 1)")
        + b"* 1 EXPUNGE\r\nn OK NOOP completed\r\n"
    )
    b(b"z STORE 2 +FLAGS (\\Seen)")  # lime, message 2 now, leaves r (1st of lime, fig)
    assert a(b"m NOOP") == (
        b"* 2 FETCH (UID 3 FLAGS (\\Seen \\Recent))\r\n"
        + esearch(b"r", b"REMOVEFROM (1 2)")
        + b"m OK NOOP completed\r\n"
    )


def test_a_tag_in_use_and_cancelupdate(pair: tuple[Client, Client], store: Store) -> None:
    a, _ = pair
    assert a(b"s SORT (DATE) UTF-8 ALL") == b"s BAD tag s names a search kept up to date\r\n"
    assert a(b"r SEARCH ALL") == b"r BAD tag r names a search kept up to date\r\n"
    assert a(b'x CANCELUPDATE "s"') == b"x OK CANCELUPDATE completed\r\n"
    put(store, 4, "apple")
    assert a(b"n NOOP") == (
        b"* 4 EXISTS\r\n* 4 RECENT\r\n" + esearch(b"r", b"ADDTO (4 4)") + b"n OK NOOP completed\r\n"
    )
    assert b" CONTEXT=SORT " in a(b"c CAPABILITY")


def test_a_message_gone_before_its_values_are_read_does_not_join(
    pair: tuple[Client, Client], store: Store
) -> None:
    a, _ = pair
    put(store, 4, "apple")
    ctx = a.session.view.contexts["s"]  # type: ignore[union-attr]
    real = ctx.values_of
    assert real is not None
    ctx.values_of = lambda uids: {}  # (expunged between the change feed and the read)
    assert a(b"n NOOP") == (  # nothing at all for s, not even an empty line
        b"* 4 EXISTS\r\n* 4 RECENT\r\n" + esearch(b"r", b"ADDTO (4 4)") + b"n OK NOOP completed\r\n"
    )
    assert 4 not in ctx.result and len(ctx.ranking or []) == 3
    ctx.values_of = real


@pytest.mark.parametrize("uid", [True, False])
def test_replaying_the_updates_gives_a_new_sorts_order(store: Store, uid: bool) -> None:
    # a client applies each ADDTO and REMOVEFROM pair in order (RFC 5267 §4.3.2-4.3.3); after
    # arrivals, flag changes and expunges its list is what a new SORT answers
    subjects = ["pear", "fig", "kiwi", "apple", "lime", "fig", "date", "plum"]
    for n, subject in enumerate(subjects[:4], 1):
        put(store, n, subject)
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    cmd = b"UID SORT" if uid else b"SORT"
    first = a(b"k " + cmd + b" RETURN (UPDATE ALL) (REVERSE DATE SUBJECT) UTF-8 UNSEEN")
    listed = _expand(re.search(rb" ALL ([\d:,]+)", first).group(1))  # type: ignore[union-attr]
    for n, subject in enumerate(subjects[4:], 5):
        put(store, n, subject)
    b(b"w NOOP")  # (b learns of the new messages)
    b(b"x STORE 2,5 +FLAGS (\\Seen)")
    b(b"y STORE 1 +FLAGS.SILENT (\\Deleted)")
    b(b"z EXPUNGE")
    out = a(b"n NOOP") + a(b"m NOOP")
    expunged = []
    for line in out.split(b"\r\n"):
        gone = re.fullmatch(rb"\* (\d+) EXPUNGE", line)
        if gone:  # numbers after it move down by one (UIDs do not)
            expunged.append(int(gone.group(1)))
            if not uid:
                listed = [n - 1 if n > int(gone.group(1)) else n for n in listed]
            continue
        for name, pairs in re.findall(rb"(ADDTO|REMOVEFROM) \(([\d ]+)\)", line):
            numbers = [int(x) for x in pairs.split()]
            for pos, number in zip(numbers[::2], numbers[1::2], strict=True):
                if name == b"ADDTO":
                    listed.insert(pos - 1, number)
                else:
                    assert listed.pop(pos - 1) == number
    assert expunged == [1]
    again = a(b"t " + cmd + b" (REVERSE DATE SUBJECT) UTF-8 UNSEEN").split(b"\r\n")[0]
    assert listed == [int(x) for x in again.split()[2:]]
    assert len(listed) == 5  # 8 delivered, 2 seen, 1 expunged


def _expand(text: bytes) -> list[int]:
    out: list[int] = []
    for part in text.split(b","):
        a, _, b = part.partition(b":")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def kept(tag: bytes) -> bytes:
    return b'* ESEARCH (TAG "' + tag + b'")\r\n'


def refused(tag: bytes, why: bytes) -> bytes:
    return b'* ESEARCH (TAG "' + tag + b'")\r\n* NO [NOUPDATE "' + tag + b'"] ' + why + b"\r\n"


def test_a_session_keeps_searches_of_so_many_messages_at_most(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a SORT counts its messages twice (it keeps their sort values), a SEARCH once; a search
    # that would take the session past MAX_KEPT is answered but not kept (before, only the
    # count was bounded: 16 SORTs a session whatever the mailbox, 160 MB a session at 50,000)
    for n, subject in enumerate(("kiwi", "fig", "lime"), 1):
        put(store, n, subject)
    monkeypatch.setattr(selected, "MAX_KEPT", 10)
    over = b"the searches kept up to date would hold over 10 messages"
    a = Client(store)
    a.select()
    assert (
        a(b"s SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL") == kept(b"s") + b"s OK SORT completed\r\n"
    )
    assert a(b"t SEARCH RETURN (UPDATE) ALL") == kept(b"t") + b"t OK SEARCH completed\r\n"  # 9
    assert a(b"u SEARCH RETURN (UPDATE) 1:2") == refused(b"u", over) + b"u OK SEARCH completed\r\n"
    assert a(b"v SEARCH RETURN (UPDATE) 1") == kept(b"v") + b"v OK SEARCH completed\r\n"  # 10
    assert a(b"w SORT RETURN (UPDATE) (SUBJECT) UTF-8 1") == (
        refused(b"w", over) + b"w OK SORT completed\r\n"
    )
    assert a(b'c CANCELUPDATE "s"') == b"c OK CANCELUPDATE completed\r\n"
    assert (
        a(b"x SORT RETURN (UPDATE) (SUBJECT) UTF-8 2:3") == kept(b"x") + b"x OK SORT completed\r\n"
    )
    put(store, 4, "apple")
    assert a(b"n NOOP") == (
        b"* 4 EXISTS\r\n* 4 RECENT\r\n" + esearch(b"t", b"ADDTO (0 4)") + b"n OK NOOP completed\r\n"
    )  # u and w were never kept, s no longer is


def test_every_session_together_keeps_so_many(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the process-wide bound: what another session keeps counts, until it cancels it or lets
    # its view go (its searches are then gone from memory)
    for n, subject in enumerate(("kiwi", "fig", "lime"), 1):
        put(store, n, subject)
    monkeypatch.setattr(selected, "KEPT", weakref.WeakSet())  # none of other tests' sessions
    monkeypatch.setattr(selected, "MAX_KEPT_ALL", 8)
    full = b"the server keeps as many searches up to date as it can"
    a, b = Client(store), Client(store)
    a.select()
    b.select()
    assert (
        a(b"s SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL") == kept(b"s") + b"s OK SORT completed\r\n"
    )
    assert b(b"t SEARCH RETURN (UPDATE) 1:2") == kept(b"t") + b"t OK SEARCH completed\r\n"  # 8
    assert b(b"u SEARCH RETURN (UPDATE) 3") == refused(b"u", full) + b"u OK SEARCH completed\r\n"
    assert a(b'c CANCELUPDATE "s"') == b"c OK CANCELUPDATE completed\r\n"
    assert (
        b(b"v SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL") == kept(b"v") + b"v OK SORT completed\r\n"
    )
    assert a(b"x SEARCH RETURN (UPDATE) 1") == refused(b"x", full) + b"x OK SEARCH completed\r\n"
    b(b"l LOGOUT")
    del b
    gc.collect()
    assert (
        a(b"y SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL") == kept(b"y") + b"y OK SORT completed\r\n"
    )
