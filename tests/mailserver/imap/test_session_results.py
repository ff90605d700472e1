"""Search results kept or cut on the server, through a session on a real store. SEARCHRES (RFC
5182): SEARCH and SORT RETURN (SAVE), `$` in FETCH, STORE, COPY, MOVE and SEARCH, in both the
sequence and the UID forms, what MIN, MAX and PARTIAL save, expunges, a new SELECT, and a SAVE
that fails. PARTIAL (RFC 5267 §4.4): windows of SEARCH and SORT results. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap import selected
from mailserver.store import Store, StoreError
from mailserver.store.errors import INUSE
from tests.mailserver.imap.session_kit import BOB, Client, deliver, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


@pytest.fixture
def client(store: Store) -> Client:
    # UIDs 1..6, then 1 and 2 expunged: messages 1..4 are UIDs 3..6 ("msg 3".."msg 6")
    for n in range(1, 7):
        deliver(store, n)
    c = Client(store)
    c.select()
    c(b"x STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    c(b"y EXPUNGE")
    return c


def uids(c: Client, what: bytes = b"$") -> bytes:
    """The UIDs of `what` as one FETCH line each (through FETCH, the sequence form)."""
    return c(b"f FETCH " + what + b" (UID)")


def done(tag: bytes, name: bytes = b"SEARCH") -> bytes:
    return tag + b" OK " + name + b" completed\r\n"


def test_save_alone_answers_nothing_and_dollar_is_the_result(client: Client) -> None:
    assert client(b"a SEARCH RETURN (SAVE) OR SUBJECT 4 SUBJECT 6") == done(b"a")
    assert uids(client) == b"* 2 FETCH (UID 4)\r\n* 4 FETCH (UID 6)\r\nf OK FETCH completed\r\n"
    # the same messages in the UID form, whichever form saved them
    assert client(b"g UID FETCH $ (RFC822.SIZE)") == (
        b"* 2 FETCH (UID 4 RFC822.SIZE 148)\r\n* 4 FETCH (UID 6 RFC822.SIZE 148)\r\n"
        b"g OK FETCH completed\r\n"
    )
    assert client(b"h UID SEARCH RETURN (SAVE) UID 3,5") == done(b"h")
    assert uids(client) == b"* 1 FETCH (UID 3)\r\n* 3 FETCH (UID 5)\r\nf OK FETCH completed\r\n"


def test_save_with_other_options_answers_them(client: Client) -> None:
    assert client(b"a UID SEARCH RETURN (SAVE ALL) NOT SUBJECT 5") == (
        b'* ESEARCH (TAG "a") UID ALL 3:4,6\r\n' + done(b"a")
    )
    assert client(b"b SEARCH $") == b"* SEARCH 1 2 4\r\n" + done(b"b")
    assert client(b"c SEARCH RETURN (COUNT SAVE) SUBJECT msg") == (
        b'* ESEARCH (TAG "c") COUNT 4\r\n' + done(b"c")
    )
    assert client(b"d SEARCH $") == b"* SEARCH 1 2 3 4\r\n" + done(b"d")


@pytest.mark.parametrize(
    ("options", "saved"),
    [
        # MIN and MAX alone with SAVE save only those messages (RFC 5182 §2.1)
        (b"SAVE MIN", b"1"),
        (b"MAX SAVE", b"4"),
        (b"SAVE MIN MAX", b"1 4"),
        # with ALL or COUNT, the whole result
        (b"SAVE MIN COUNT", b"1 2 3 4"),
        (b"SAVE MAX ALL", b"1 2 3 4"),
    ],
)
def test_what_min_and_max_save(client: Client, options: bytes, saved: bytes) -> None:
    client(b"a SEARCH RETURN (" + options + b") ALL")
    assert client(b"b SEARCH $") == b"* SEARCH " + saved + b"\r\n" + done(b"b")


def test_sort_saves_and_min_is_the_first_in_sort_order(client: Client) -> None:
    assert client(b"a SORT RETURN (SAVE) (REVERSE SUBJECT) UTF-8 ALL") == done(b"a", b"SORT")
    assert client(b"b SEARCH $") == b"* SEARCH 1 2 3 4\r\n" + done(b"b")
    assert client(b"c UID SORT RETURN (SAVE MIN) (REVERSE SUBJECT) UTF-8 ALL") == (
        b'* ESEARCH (TAG "c") UID MIN 6\r\n' + done(b"c", b"SORT")
    )
    assert client(b"d UID SEARCH $") == b"* SEARCH 6\r\n" + done(b"d")
    # SORT on $: the saved messages, in order
    client(b"e SEARCH RETURN (SAVE) OR SUBJECT 3 SUBJECT 5")
    assert client(b"f SORT (REVERSE SUBJECT) UTF-8 $") == b"* SORT 3 1\r\n" + done(b"f", b"SORT")


def test_dollar_in_search_programs(client: Client) -> None:
    client(b"a SEARCH RETURN (SAVE) OR SUBJECT 3 SUBJECT 5")  # messages 1 and 3
    assert client(b"b SEARCH NOT $") == b"* SEARCH 2 4\r\n" + done(b"b")
    assert client(b"c SEARCH UID $ SUBJECT 5") == b"* SEARCH 3\r\n" + done(b"c")
    assert client(b"d UID SEARCH OR $ SUBJECT 6") == b"* SEARCH 3 5 6\r\n" + done(b"d")
    # a SAVE that reads `$` reads the result before it, then replaces it
    assert client(b"e SEARCH RETURN (SAVE) NOT $") == done(b"e")
    assert client(b"f SEARCH $") == b"* SEARCH 2 4\r\n" + done(b"f")


def test_store_copy_and_move_take_dollar(client: Client, store: Store) -> None:
    client(b"a SEARCH RETURN (SAVE) OR SUBJECT 4 SUBJECT 6")  # messages 2 and 4
    assert client(b"b STORE $ +FLAGS (\\Flagged)") == (
        b"* 2 FETCH (FLAGS (\\Flagged \\Recent))\r\n* 4 FETCH (FLAGS (\\Flagged \\Recent))\r\n"
        b"b OK STORE completed\r\n"
    )
    out = client(b"c COPY $ Archive")
    assert out.startswith(b"c OK [COPYUID ") and out.endswith(b" 4,6 1:2] COPY completed\r\n")
    out = client(b"d UID MOVE $ Trash")
    assert out.startswith(b"* OK [COPYUID ") and b" 4,6 1:2]" in out
    assert b"* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n" in out or b"* 2 EXPUNGE\r\n* 3 EXPUNGE\r\n" in out
    # the moved messages are gone from $: nothing is left of it
    assert uids(client) == b"f OK FETCH completed\r\n"
    user = store.user(BOB)
    assert [m.uid for m in user.fetch("Archive")] == [1, 2]
    assert [m.uid for m in user.fetch("Trash")] == [1, 2]


def test_expunged_messages_leave_dollar(client: Client) -> None:
    client(b"a SEARCH RETURN (SAVE) ALL")
    client(b"b STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert client(b"c EXPUNGE") == b"* 2 EXPUNGE\r\nc OK EXPUNGE completed\r\n"
    assert client(b"d UID SEARCH $") == b"* SEARCH 3 5 6\r\n" + done(b"d")


def test_a_new_select_starts_with_nothing_saved(client: Client) -> None:
    client(b"a SEARCH RETURN (SAVE) ALL")
    assert client(b"b SEARCH $") == b"* SEARCH 1 2 3 4\r\n" + done(b"b")
    client(b"c SELECT INBOX")
    assert client(b"d SEARCH $") == b"* SEARCH\r\n" + done(b"d")
    client(b"e SEARCH RETURN (SAVE) ALL")
    client(b"f UNSELECT")
    client(b"g EXAMINE INBOX")
    assert uids(client) == b"f OK FETCH completed\r\n"


def test_a_save_that_fails_leaves_dollar_empty(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client(b"a SEARCH RETURN (SAVE) ALL")

    def busy(*args: object) -> object:
        raise StoreError("index busy", INUSE)

    with monkeypatch.context() as m:
        m.setattr(selected, "_found", busy)
        assert client(b"b SEARCH RETURN (SAVE) SUBJECT 3").startswith(b"b NO [INUSE] ")
        # a failing search without SAVE leaves it alone
    assert client(b"c SEARCH $") == b"* SEARCH\r\n" + done(b"c")
    client(b"d SEARCH RETURN (SAVE) ALL")
    with monkeypatch.context() as m:
        m.setattr(selected, "_found", busy)
        assert client(b"e SEARCH RETURN (MIN) ALL").startswith(b"e NO [INUSE] ")
        assert client(b"e SORT (SUBJECT) UTF-8 SUBJECT 3").startswith(b"e NO [INUSE] ")
    assert client(b"f SEARCH $") == b"* SEARCH 1 2 3 4\r\n" + done(b"f")


def test_capability_names_searchres(client: Client) -> None:
    assert b" SEARCHRES " in client(b"c CAPABILITY").split(b"\r\n")[0] + b" "


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        # positions in the result (messages 1..4 are UIDs 3..6), runs compacted, NIL for none
        (b"SEARCH RETURN (PARTIAL 1:2) ALL", b"PARTIAL (1:2 1:2)"),
        (b"UID SEARCH RETURN (PARTIAL 2:3) ALL", b"UID PARTIAL (2:3 4:5)"),
        (b"UID SEARCH RETURN (PARTIAL 1:100) NOT SUBJECT 4", b"UID PARTIAL (1:100 3,5:6)"),
        (b"SEARCH RETURN (PARTIAL 3:1) ALL", b"PARTIAL (1:3 1:3)"),  # the ends in order
        (b"SEARCH RETURN (PARTIAL 5:9) ALL", b"PARTIAL (5:9 NIL)"),
        (b"SEARCH RETURN (PARTIAL 1:2) SUBJECT nothing", b"PARTIAL (1:2 NIL)"),
        (b"SEARCH RETURN (PARTIAL 4:4 COUNT MIN) ALL", b"MIN 1 COUNT 4 PARTIAL (4:4 4)"),
        (b"SEARCH RETURN (CONTEXT COUNT) ALL", b"COUNT 4"),
        # SORT: positions in the sort order, and the numbers in that order
        (b"UID SORT RETURN (PARTIAL 1:2) (REVERSE SUBJECT) UTF-8 ALL", b"UID PARTIAL (1:2 6,5)"),
        (b"SORT RETURN (PARTIAL 2:4) (REVERSE SUBJECT) UTF-8 ALL", b"PARTIAL (2:4 3,2,1)"),
    ],
)
def test_partial(client: Client, command: bytes, answer: bytes) -> None:
    name = command.split()[1 if command.startswith(b"UID") else 0]
    assert client(b"p " + command) == (
        b'* ESEARCH (TAG "p") ' + answer + b"\r\n" + done(b"p", name)
    )


def test_save_with_partial_keeps_the_window(client: Client) -> None:
    assert client(b"a SEARCH RETURN (SAVE PARTIAL 2:3) ALL") == (
        b'* ESEARCH (TAG "a") PARTIAL (2:3 2:3)\r\n' + done(b"a")
    )
    assert client(b"b UID SEARCH $") == b"* SEARCH 4 5\r\n" + done(b"b")
    client(b"c SORT RETURN (PARTIAL 2:2 SAVE MIN) (REVERSE SUBJECT) UTF-8 ALL")
    assert client(b"d UID SEARCH $") == b"* SEARCH 5\r\n" + done(b"d")  # not MIN's 6


def test_older_and_younger_count_back_from_when_the_command_came(store: Store) -> None:
    # WITHIN (RFC 5032): internal dates two hours, half an hour and no time before the clock
    # (session_kit's T0, 14-Nov-2023 22:13:20 +0000)
    c = Client(store)
    c.login()
    data = b"Subject: within\r\n\r\nhello\r\n"
    for uid, when in enumerate((b"20:13:20", b"21:43:20", b"22:13:20"), 1):
        frame = b'a APPEND INBOX "14-Nov-2023 %s +0000" {%d+}\r\n' % (when, len(data))
        done = b"a OK [APPENDUID 1700000000 %d] APPEND completed\r\n" % uid
        assert c(frame + data).endswith(done)
    c(b"s SELECT INBOX")
    assert c(b"a SEARCH YOUNGER 3600") == b"* SEARCH 2 3\r\na OK SEARCH completed\r\n"
    assert c(b"b UID SEARCH OLDER 3600") == b"* SEARCH 1\r\nb OK SEARCH completed\r\n"
    assert c(b"c SEARCH OLDER 1800 YOUNGER 7201") == b"* SEARCH 1 2\r\nc OK SEARCH completed\r\n"
    assert c(b"d SEARCH RETURN (COUNT) NOT YOUNGER 1") == (
        b'* ESEARCH (TAG "d") COUNT 2\r\nd OK SEARCH completed\r\n'
    )
    assert c(b"e SORT (REVERSE ARRIVAL) UTF-8 YOUNGER 7201") == (
        b"* SORT 3 2 1\r\ne OK SORT completed\r\n"
    )
    assert c(b"f THREAD ORDEREDSUBJECT UTF-8 OLDER 1") == (
        b"* THREAD (1 2)\r\nf OK THREAD completed\r\n"
    )
    assert c(b"g SEARCH OLDER 0") == b"g BAD expected a nonzero number\r\n"
