"""SORT and UID SORT through a session on a real store (RFC 5256, RFC 5957's DISPLAYFROM and
DISPLAYTO): every key, REVERSE, ties in mailbox order, several criteria, the search program,
CONDSTORE's MODSEQ, and what is refused. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap import selected
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, T0, Client, store_fixture


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def mail(headers: str, body_size: int) -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\n" + "x" * body_size + "\r\n").encode()


# 1: a reply about bananas from Zed; 2: apples from Yves (mailbox alice); 3: a forwarded
# cherry from Émile with no Date (its internal date stands in), no To; 4: apples from Bob,
# the same sent date as 2. Bodies: sizes in the order 2, 4, 3, 1. Internal dates (ARRIVAL):
# in the order 2, 3, 1, 4, not the mailbox's.
ARRIVALS = [T0 + 300, T0 + 100, T0 + 200, T0 + 400]
MESSAGES = [
    mail(
        "From: Zed <zed@x.test>\nTo: carol@y.test\nCc: zoe@y.test\nSubject: Re: banana\n"
        "Date: Tue, 14 Nov 2023 12:00:00 +0000\n",
        900,
    ),
    mail(
        "From: Yves <alice@x.test>\nTo: Bob <bob@y.test>\nSubject: apple\n"
        "Date: Mon, 13 Nov 2023 09:00:00 +0100\n",
        0,
    ),
    mail("From: =?utf-8?q?=C3=89mile?= <emile@x.test>\nSubject: [list] Cherry (fwd)\n", 600),
    mail(
        "From: Bob <bob@x.test>\nTo: dave@y.test\nCc: aaron@y.test\nSubject: apple\n"
        "Date: Mon, 13 Nov 2023 08:00:00 +0000\n",
        300,
    ),
]


@pytest.fixture
def client(store: Store) -> Client:
    for raw, arrival in zip(MESSAGES, ARRIVALS, strict=True):
        store.deliver(BOB, "INBOX", raw, (), arrival)
    c = Client(store)
    c.select()
    return c


def sort(c: Client, args: bytes, uid: bool = False) -> bytes:
    return c((b"t UID SORT " if uid else b"t SORT ") + args)


def found(numbers: str) -> bytes:
    return (
        b"* SORT " + numbers.encode() if numbers else b"* SORT"
    ) + b"\r\nt OK SORT completed\r\n"


@pytest.mark.parametrize(
    ("criteria", "numbers"),
    [
        (b"(ARRIVAL)", "2 3 1 4"),
        (b"(REVERSE ARRIVAL)", "4 1 3 2"),
        (b"(SUBJECT)", "2 4 1 3"),  # apple, apple, banana, cherry: the tie in mailbox order
        (b"(REVERSE SUBJECT)", "3 1 2 4"),  # the tie still in mailbox order
        (b"(DATE)", "2 4 1 3"),  # 08:00Z twice, then 12:00Z, then 3's internal date (22:16Z)
        (b"(FROM)", "2 4 3 1"),  # alice, bob, emile, zed: the addr-mailbox
        (b"(DISPLAYFROM)", "4 3 2 1"),  # Bob, Émile, Yves, Zed: the display name
        (b"(TO)", "3 2 1 4"),  # none, bob, carol, dave
        (b"(DISPLAYTO)", "3 2 1 4"),  # none, Bob, carol@y.test, dave@y.test
        (b"(CC)", "2 3 4 1"),  # none twice, aaron, zoe
        (b"(SIZE)", "2 4 3 1"),
        (b"(SUBJECT REVERSE FROM)", "4 2 1 3"),  # the apples by sender, z to a
        (b"(SUBJECT DATE)", "2 4 1 3"),
        (b"(CC REVERSE ARRIVAL)", "3 2 4 1"),  # none (3 arrived after 2), aaron, zoe
    ],
)
@pytest.mark.parametrize("search", [b"ALL", b"1:*", b"UNDELETED"])
def test_every_key_and_reverse(
    client: Client, criteria: bytes, numbers: str, search: bytes
) -> None:
    # ALL takes the whole mailbox's keys in one read; any other search, the found messages'
    assert sort(client, criteria + b" UTF-8 " + search) == found(numbers)


def test_uid_sort_answers_uids_and_the_search_program_chooses(client: Client) -> None:
    assert client(b"e STORE 1 +FLAGS (\\Deleted)").startswith(b"* 1 FETCH")
    assert client(b"x EXPUNGE") == b"* 1 EXPUNGE\r\nx OK EXPUNGE completed\r\n"
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == found("1 3 2")  # numbers moved down
    assert sort(client, b"(SUBJECT) UTF-8 ALL", uid=True) == found("2 4 3")
    assert sort(client, b"(ARRIVAL) US-ASCII FROM bob", uid=True) == found("4")
    assert sort(client, b"(ARRIVAL) UTF-8 SUBJECT nothing") == found("")
    assert sort(client, b"(reverse size) utf-8 OR FROM bob FROM yves") == found("3 1")


def test_a_modseq_key_adds_the_highest_modseq(client: Client) -> None:
    out = sort(client, b"(REVERSE ARRIVAL) UTF-8 MODSEQ 1")
    assert out.startswith(b"* SORT 4 1 3 2 (MODSEQ ") and out.endswith(b"t OK SORT completed\r\n")
    assert sort(client, b"(ARRIVAL) UTF-8 MODSEQ 1000") == found("")


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (b"SUBJECT UTF-8 ALL", b"t BAD "),
        (b"() UTF-8 ALL", b"t BAD "),
        (b"(REVERSE) UTF-8 ALL", b"t BAD "),
        (b"(SUBJECT FOO) UTF-8 ALL", b"t BAD unknown sort key FOO\r\n"),
        (b"(SUBJECT) UTF-8", b"t BAD "),
        (b"(SUBJECT)", b"t BAD "),
        (b"(SUBJECT) ALL", b"t NO [BADCHARSET (UTF-8 US-ASCII)] charset ALL is not supported"),
        (b"(SUBJECT) KOI8-R ALL", b"t NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R "),
    ],
)
def test_what_is_refused(client: Client, args: bytes, answer: bytes) -> None:
    assert sort(client, args).startswith(answer)


def test_sort_needs_a_selected_mailbox(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"t SORT (SUBJECT) UTF-8 ALL").startswith(b"t BAD ")


def watch(monkeypatch: pytest.MonkeyPatch, store: Store, method: str) -> list[list[int]]:
    """The UIDs each call of Bob's store `method` (mailbox, uids) asks for, in a list."""
    user = store.user(BOB)
    asked: list[list[int]] = []
    real = getattr(user, method)

    def counting(mailbox: str, uids: list[int]) -> object:
        asked.append(list(uids))
        return real(mailbox, uids)

    monkeypatch.setattr(user, method, counting)
    return asked


def watch_keys(monkeypatch: pytest.MonkeyPatch, store: Store) -> list[tuple[list[int], list[str]]]:
    """The UIDs and columns each call of Bob's store `sort_keys` asks for, in a list."""
    user = store.user(BOB)
    asked: list[tuple[list[int], list[str]]] = []
    real = user.sort_keys

    def counting(mailbox: str, uids: list[int], columns: list[str]) -> object:
        asked.append((list(uids), list(columns)))
        return real(mailbox, uids, columns)

    monkeypatch.setattr(user, "sort_keys", counting)
    return asked


def watch_calls(monkeypatch: pytest.MonkeyPatch, store: Store, method: str) -> list[int]:
    """How many times Bob's store `method` is called, as a list that counts (its length)."""
    user = store.user(BOB)
    calls: list[int] = []
    real = getattr(user, method)

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(user, method, counting)
    return calls


def forbid(monkeypatch: pytest.MonkeyPatch, store: Store, method: str) -> None:
    """Any call of Bob's store `method` fails the test."""

    def refused(*args: object) -> object:
        raise AssertionError(f"{method} was called")

    monkeypatch.setattr(store.user(BOB), method, refused)


def test_column_keys_read_the_cached_keys_only(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = watch_keys(monkeypatch, store)
    forbid(monkeypatch, store, "summaries")
    forbid(monkeypatch, store, "sort_columns")
    forbid(monkeypatch, store, "fetch")  # (every message has a sent date, or a cached one)
    assert sort(client, b"(SUBJECT REVERSE FROM) UTF-8 ALL") == found("4 2 1 3")
    assert asked == []  # ALL, every key cached: the whole mailbox's rows in one scan
    whole = watch_calls(monkeypatch, store, "sort_key_rows")
    assert sort(client, b"(REVERSE CC TO) UTF-8 ALL") == found("1 4 3 2")  # zoe aaron, then by TO
    assert (len(whole), asked) == (1, [])
    # a message the session has not been told of yet: not sorted, and every row read again
    store.deliver(BOB, "INBOX", MESSAGES[0], (), ARRIVALS[0])
    out = sort(client, b"(SUBJECT REVERSE FROM) UTF-8 ALL")
    assert out.startswith(b"* SORT 4 2 1 3\r\n* 5 EXISTS\r\n")  # (told after the answer)
    assert asked == [([1, 2, 3, 4], ["subject_key", "from_key"])] and len(whole) == 2
    client(b"t STORE 3 +FLAGS.SILENT (\\Seen)")  # (a search that is not ALL: found first)
    asked.clear()
    assert sort(client, b"(SUBJECT) UTF-8 UNSEEN") == found("2 4 1 5")  # (5: 1's copy)
    assert asked == [([1, 2, 4, 5], ["subject_key"])]


def test_a_date_key_reads_the_arrival_of_messages_without_a_sent_date_only(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = watch(monkeypatch, store, "fetch")
    forbid(monkeypatch, store, "arrivals")
    forbid(monkeypatch, store, "sort_columns")
    assert sort(client, b"(CC DATE TO) UTF-8 ALL") == found("2 3 4 1")  # none (by date), aaron, zoe
    assert asked == [[3]]  # 3 has no Date: its internal date stands in


def test_arrival_and_size_read_the_message_rows_in_one_query(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid(monkeypatch, store, "fetch")
    forbid(monkeypatch, store, "summaries")
    calls = watch_calls(monkeypatch, store, "arrivals")
    assert sort(client, b"(SIZE ARRIVAL) UTF-8 ALL") == found("2 4 3 1")  # no header read
    every = b"(ARRIVAL CC DATE FROM SIZE SUBJECT TO)"  # every key the index answers
    assert sort(client, every + b" UTF-8 ALL") == found("2 3 1 4")  # ARRIVAL decides
    assert len(calls) == 2


def test_nothing_found_reads_no_index_data(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid(monkeypatch, store, "fetch")
    assert sort(client, b"(ARRIVAL) UTF-8 SUBJECT nothing") == found("")


def test_display_keys_read_the_summaries_in_batches(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selected, "BATCH", 3)
    asked = watch(monkeypatch, store, "summaries")
    forbid(monkeypatch, store, "sort_columns")
    assert sort(client, b"(DISPLAYFROM SUBJECT) UTF-8 ALL") == found("4 3 2 1")
    assert asked == [[1, 2, 3], [4]]


def test_a_message_without_cached_keys_is_read_from_its_columns_or_summary(
    client: Client, store: Store
) -> None:
    user = store.user(BOB)
    user.db.execute("DELETE FROM summaries WHERE uid = 3")  # computed again from the file
    user.db.execute("UPDATE summaries SET subject = NULL, subject_key = NULL WHERE uid = 1")
    user.db.execute("UPDATE summaries SET subject_key = NULL WHERE uid = 4")  # (as schema 5's)
    assert set(user.sort_columns("INBOX", [1, 2, 3, 4])) == {2, 4}
    assert set(user.sort_keys("INBOX", [1, 2, 3, 4], ["subject_key"])) == {2}
    assert set(user.sort_keys("INBOX", [1, 2, 3, 4], ["date"])) == {1, 2, 4}
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == found("2 4 1 3")
    assert sort(client, b"(REVERSE DATE) UTF-8 ALL") == found("3 1 2 4")
    assert sort(client, b"(SUBJECT) UTF-8 ALL", uid=True) == found("2 4 1 3")
    assert user.sort_columns("INBOX", []) == {}
    assert user.sort_columns("INBOX", [9]) == {}
    assert user.sort_keys("INBOX", [9], ["date"]) == {}
    with pytest.raises(ValueError, match="not a sort key column: blob"):
        user.sort_keys("INBOX", [1], ["blob"])


WITHOUT_2 = [  # the orders of test_every_key_and_reverse, UID 2 left out
    (b"(SUBJECT)", "4 1 3"),
    (b"(ARRIVAL)", "3 1 4"),
    (b"(DATE)", "4 1 3"),
    (b"(DISPLAYFROM)", "4 3 1"),
    (b"(SIZE FROM)", "4 3 1"),
]


@pytest.mark.parametrize("search", [b"ALL", b"1:*"])
def test_a_message_expunged_by_another_session_is_not_sorted(
    client: Client, store: Store, search: bytes
) -> None:
    other = Client(store)
    other.select()
    other(b"t STORE 2 +FLAGS.SILENT (\\Deleted)")
    other(b"t EXPUNGE")  # UID 2 is gone; this session has not been told yet
    for criteria, uids in WITHOUT_2:  # (the first also tells the EXPUNGE, after the SORT)
        out = sort(client, criteria + b" UTF-8 " + search, uid=True)
        assert out.split(b"\r\n")[0] == b"* SORT " + uids.encode()


@pytest.mark.parametrize(
    ("criteria", "uids"), [c for c in WITHOUT_2 if b"SIZE" in c[0] or b"ARR" in c[0]]
)
def test_a_message_gone_between_the_reads_of_its_keys_and_its_row_is_not_sorted(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch, criteria: bytes, uids: str
) -> None:
    # UID 2 expunged by another session after its sort keys were read, before its arrival and
    # size: the message rows no longer have it
    user = store.user(BOB)
    real = user.arrivals
    monkeypatch.setattr(
        user, "arrivals", lambda box: {u: v for u, v in real(box).items() if u != 2}
    )
    assert sort(client, criteria + b" UTF-8 1:*", uid=True) == found(uids)


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        # RFC 5267 §3.1: MIN and MAX are the first and last in sort order, not the smallest
        # and largest numbers; ALL keeps the sort order, ascending runs only as ranges
        (b"RETURN (MIN MAX COUNT ALL) (ARRIVAL) UTF-8 ALL", b"MIN 2 MAX 4 COUNT 4 ALL 2:3,1,4"),
        (b"RETURN (MIN MAX) (REVERSE ARRIVAL) UTF-8 ALL", b"MIN 4 MAX 2"),
        (b"RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL", b"ALL 4,1,3,2"),
        (b"RETURN () (SIZE) UTF-8 ALL", b"ALL 2,4,3,1"),
        (b"RETURN (COUNT) (SUBJECT) UTF-8 SUBJECT apple", b"COUNT 2"),
        (b"RETURN (ALL) (SUBJECT) UTF-8 SUBJECT apple", b"ALL 2,4"),
        (b"RETURN (MIN MAX ALL COUNT) (DATE) UTF-8 SUBJECT durian", b"COUNT 0"),
        (b"RETURN (MIN MAX ALL) (DATE) UTF-8 SUBJECT durian", b""),
    ],
)
def test_esort_answers_in_sort_order(client: Client, args: bytes, answer: bytes) -> None:
    tail = b" " + answer if answer else b""
    assert sort(client, args) == b'* ESEARCH (TAG "t")' + tail + b"\r\nt OK SORT completed\r\n"


def test_uid_esort_answers_uids_and_a_modseq_key_adds_the_highest(client: Client) -> None:
    client(b"t STORE 1 +FLAGS.SILENT (\\Deleted)")
    client(b"t EXPUNGE")  # UIDs 2, 3, 4 are now messages 1, 2, 3
    args = b"RETURN (MIN MAX ALL) (REVERSE ARRIVAL) UTF-8 ALL"
    out = sort(client, args, uid=True)
    assert out == b'* ESEARCH (TAG "t") UID MIN 4 MAX 2 ALL 4,3,2\r\nt OK SORT completed\r\n'
    out = sort(client, args)
    assert out == b'* ESEARCH (TAG "t") MIN 3 MAX 1 ALL 3,2,1\r\nt OK SORT completed\r\n'
    client(b"t STORE 2 +FLAGS.SILENT (\\Flagged)")
    plain = sort(client, b"(ARRIVAL) UTF-8 MODSEQ 1", uid=True)  # `* SORT 2 3 4 (MODSEQ n)`
    highest = int(plain.split(b"(MODSEQ ")[1].split(b")")[0])
    assert plain.startswith(b"* SORT 2 3 4 (MODSEQ ") and highest > 1
    out = sort(client, b"RETURN (COUNT) (ARRIVAL) UTF-8 MODSEQ 1", uid=True)
    assert out == b'* ESEARCH (TAG "t") UID COUNT 3 MODSEQ %d\r\nt OK SORT completed\r\n' % (
        highest
    )


@pytest.mark.parametrize(
    "criteria",
    [
        b"(SUBJECT)",
        b"(REVERSE SUBJECT)",
        b"(FROM DATE)",
        b"(REVERSE DATE)",
        b"(TO REVERSE CC)",
        b"(CC SIZE)",
        b"(ARRIVAL SUBJECT)",
        b"(REVERSE FROM REVERSE TO)",
        b"(DISPLAYFROM DATE)",
    ],
)
def test_cached_keys_sort_as_the_keys_computed_on_the_spot(
    client: Client, store: Store, criteria: bytes
) -> None:
    user = store.user(BOB)
    fast = [sort(client, criteria + b" UTF-8 " + key) for key in (b"ALL", b"NOT SUBJECT cherry")]
    user.db.execute("UPDATE summaries SET subject_key = NULL, from_key = NULL")  # as schema 5's
    user.db.execute("UPDATE summaries SET to_key = NULL, cc_key = NULL")
    slow = [sort(client, criteria + b" UTF-8 " + key) for key in (b"ALL", b"NOT SUBJECT cherry")]
    assert slow == fast
    assert len(fast[0].split(b"\r\n")[0].split()) == 2 + 4  # (every message, once)
    # the slow road kept what it computed: the keys are cached again, as delivery leaves them
    keys = user.sort_keys("INBOX", [1, 2, 3, 4], ["subject_key", "from_key", "to_key", "cc_key"])
    if criteria == b"(REVERSE DATE)":  # no string key: the slow road was not taken
        assert keys == {}
        return
    assert keys[3] == ("CHERRY", "EMILE", "", "")  # (the addr-mailbox: emile@)
    assert set(keys) == {1, 2, 3, 4}


def test_as_many_messages_as_the_session_knows_but_not_the_same_ones(
    client: Client, store: Store
) -> None:
    # another session expunged UID 2 and UID 5 arrived: the store has as many messages as this
    # session knows of, but not the same; SORT ... ALL must sort the ones the session knows
    other = Client(store)
    other.select()
    other(b"t STORE 2 +FLAGS.SILENT (\\Deleted)")
    other(b"t EXPUNGE")
    store.deliver(BOB, "INBOX", MESSAGES[0], (), ARRIVALS[0])
    out = sort(client, b"(SUBJECT) UTF-8 ALL", uid=True)
    assert out.split(b"\r\n")[0] == b"* SORT 4 1 3"
