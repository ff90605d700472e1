"""THREAD and UID THREAD through a session on a real store (RFC 5256): both algorithms on
messages with Message-ID, References and In-Reply-To fields as MUAs write them, the search
program, UIDs, a missing Date, what is read from the index, and what is refused. Exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailserver.imap import ordering, selected, threads
from mailserver.message import Message
from mailserver.message.summary import summarize
from mailserver.store import Store
from tests.mailserver.imap.session_kit import BOB, T0, Client, store_fixture
from tests.mailserver.imap.test_session_sort import forbid, watch


@pytest.fixture
def store() -> Iterator[Store]:
    yield from store_fixture()


def mail(headers: str) -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\nbody\r\n").encode()


def date(day: int) -> str:
    return f"Date: {day} Nov 2023 09:00:00 +0000\n"


# 1 starts "lunch"; 2 answers it (References); 3 answers 2 (In-Reply-To only, as some MUAs
# write); 4 is about something else; 5 answers 1 but was sent before 2; 6 refers to a message
# Bob never got, whose other answer is 7 (both "party"); 8 has no Date (its internal date,
# T0 + 8, stands in: after all the others); 9 says "Re: lunch" but refers to nothing.
MESSAGES = [
    mail("Subject: lunch\nMessage-ID: <1@x>\n" + date(1)),
    mail("Subject: Re: lunch\nMessage-ID: <2@x>\nReferences: <1@x>\n" + date(3)),
    mail("Subject: Re: Re: lunch\nMessage-ID: <3@x>\nIn-Reply-To: <2@x>\n" + date(4)),
    mail("Subject: taxes\nMessage-ID: <4@x>\n" + date(2)),
    mail("Subject: RE: Lunch\nMessage-ID: <5@x>\nReferences: <1@x>\n" + date(2)),
    mail("Subject: Re: party\nMessage-ID: <6@x>\nReferences: <0@x>\n" + date(5)),
    mail("Subject: Re: party\nMessage-ID: <7@x>\nIn-Reply-To: <0@x> (sent)\n" + date(6)),
    mail("Subject: Re: taxes\nMessage-ID: <8@x>\nReferences: <4@x> <gone@x>\n"),
    mail("Subject: Re: lunch\nMessage-ID: <9@x>\n" + date(7)),
]


@pytest.fixture
def client(store: Store) -> Client:
    for n, raw in enumerate(MESSAGES, 1):
        store.deliver(BOB, "INBOX", raw, (), T0 + 86400 * 30 + n)
    c = Client(store)
    c.select()
    return c


def thread(c: Client, args: bytes, uid: bool = False) -> bytes:
    return c((b"t UID THREAD " if uid else b"t THREAD ") + args)


def found(threads: str) -> bytes:
    line = b"* THREAD " + threads.encode() if threads else b"* THREAD"
    return line + b"\r\nt OK THREAD completed\r\n"


def test_references(client: Client) -> None:
    # 1's answers 5 and 2 in date order, 3 under 2 (its In-Reply-To); 9, a reply with the
    # subject lunch and no references, joins 1 as its child (§3 step 5); 6 and 7 under a
    # dummy for the message that is not here; 8 under 4 (its References' last id is gone,
    # a dummy with one child: 8 takes its place under 4)
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(2 3)(9))(4 8)((6)(7))")


def test_ordered_subject(client: Client) -> None:
    # lunch (from 1 on 1 Nov), taxes (4, 2 Nov), party (6, 5 Nov): base subjects, case aside
    assert thread(client, b"ORDEREDSUBJECT UTF-8 ALL") == found("(1 (5)(2)(3)(9))(4 8)(6 7)")


def test_uid_thread_answers_uids_and_the_search_program_chooses(
    client: Client, store: Store
) -> None:
    client(b"a STORE 4 +FLAGS (\\Deleted)")
    client(b"b EXPUNGE")  # taxes gone: messages 4.. are UIDs 5..
    assert thread(client, b"REFERENCES UTF-8 ALL", uid=True) == found("(1 (5)(2 3)(9))((6)(7))(8)")
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (4)(2 3)(8))((5)(6))(7)")
    # only what the search finds: 2, 3 and 4 (5 before) without 1, so a dummy for it over 2
    # and 4, which 8 (9 before: a reply, with their subject) joins
    assert thread(client, b"REFERENCES UTF-8 SUBJECT lunch NOT HEADER Message-ID 1@x") == found(
        "((4)(2 3)(8))"
    )
    assert thread(client, b"ORDEREDSUBJECT UTF-8 SUBJECT nothing") == found("")
    assert store.user(BOB).thread_columns("INBOX", []) == {}


def test_references_read_the_index_columns_only(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = watch(monkeypatch, store, "thread_columns")
    dates = watch(monkeypatch, store, "fetch")
    forbid(monkeypatch, store, "summaries")
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(2 3)(9))(4 8)((6)(7))")
    assert thread(client, b"ORDEREDSUBJECT UTF-8 UID 2:4") == found("(4)(2 3)")
    assert asked == [list(range(1, 10)), [2, 3, 4]]
    assert dates == [[8]]  # the internal date of the one message without a Date field


def test_nothing_found_reads_no_index_data(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid(monkeypatch, store, "fetch")
    forbid(monkeypatch, store, "thread_columns")
    assert thread(client, b"REFERENCES UTF-8 SUBJECT nothing") == found("")


def test_a_message_without_cached_columns_is_read_from_its_summary(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selected, "BATCH", 2)
    user = store.user(BOB)
    user.db.execute("DELETE FROM summaries WHERE uid = 3")  # computed again from the file
    user.db.execute("UPDATE summaries SET reply = NULL WHERE uid IN (2, 5, 8, 9)")  # made before
    user.db.execute("UPDATE summaries SET subject_key = NULL WHERE uid = 4")  # (version 5's)
    assert set(user.thread_columns("INBOX", range(1, 10))) == {1, 6, 7}
    asked = watch(monkeypatch, store, "summaries")
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(2 3)(9))(4 8)((6)(7))")
    assert asked == [[2, 3], [4, 5], [8, 9]]
    # what was computed on the way is kept: message 3's summary row, message 4's subject key
    assert set(user.thread_columns("INBOX", range(1, 10))) == {1, 3, 4, 6, 7}
    assert thread(client, b"ORDEREDSUBJECT UTF-8 ALL") == found("(1 (5)(2)(3)(9))(4 8)(6 7)")


def test_a_message_whose_summary_is_unreadable_threads_as_one_without_headers(
    client: Client, store: Store
) -> None:
    user = store.user(BOB)
    user.db.execute("UPDATE summaries SET blob = x'00', reply = NULL WHERE uid = 2")
    # (the summary is computed again from the file, so 2 is threaded as it was)
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(2 3)(9))(4 8)((6)(7))")
    assert ordering._thread_row(None) == (None, "", False, None, None, "")


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (b"REFSX UTF-8 ALL", b"t BAD unknown thread algorithm REFSX\r\n"),
        (b"REFERENCES UTF-8", b"t BAD "),
        (b"REFERENCES", b"t BAD "),
        (b"REFERENCES ALL", b"t NO [BADCHARSET (UTF-8 US-ASCII)] charset ALL is not supported"),
        (b"ORDEREDSUBJECT KOI8-R ALL", b"t NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R "),
    ],
)
def test_what_is_refused(client: Client, args: bytes, answer: bytes) -> None:
    assert thread(client, args).startswith(answer)


def test_thread_needs_a_selected_mailbox(store: Store) -> None:
    c = Client(store)
    c.login()
    assert c(b"t THREAD REFERENCES UTF-8 ALL").startswith(b"t BAD ")
    assert c(b"u UID THREAD REFERENCES UTF-8 ALL").startswith(b"u BAD ")


def test_capability_names_both_algorithms(client: Client) -> None:
    caps = client(b"c CAPABILITY").split(b"\r\n")[0].split()
    assert b"THREAD=ORDEREDSUBJECT" in caps and b"THREAD=REFERENCES" in caps


def test_a_message_expunged_while_threading_is_left_out(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 has no Date: its internal date is read after the search, and by then it is gone
    user = store.user(BOB)
    real = user.fetch
    monkeypatch.setattr(
        user, "fetch", lambda box, uids=None: [m for m in real(box, uids) if m.uid != 8]
    )
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(2 3)(9))(4)((6)(7))")


def test_thread_columns_from_a_summary() -> None:
    raw = mail(
        "Subject: Re: Fwd: plans\nMessage-ID: <m@x>\nIn-Reply-To: <p@x>\n"
        "References: <a@x> <b@x>\n" + date(9)
    )
    row = ordering._thread_row(summarize(Message(raw)))
    assert row == (1699520400, "PLANS", True, "m@x", "p@x", "a@x b@x")


def test_the_same_thread_all_again_is_answered_from_memory(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ordering, "THREADS", threads.Answers(entries=8, octets=1 << 20))
    first = thread(client, b"REFERENCES UTF-8 ALL")
    assert first == found("(1 (5)(2 3)(9))(4 8)((6)(7))")
    asked = watch(monkeypatch, store, "thread_columns")
    other = Client(store)  # another session of the user, seeing the same messages
    other.select()
    assert thread(other, b"REFERENCES UTF-8 ALL") == first
    assert thread(client, b"REFERENCES UTF-8 ALL") == first
    assert asked == []  # neither read the index
    # another algorithm, the UID form, a search that is not ALL: their own answers
    assert thread(client, b"ORDEREDSUBJECT UTF-8 ALL") == found("(1 (5)(2)(3)(9))(4 8)(6 7)")
    assert thread(client, b"REFERENCES UTF-8 ALL", uid=True) == first
    assert thread(client, b"REFERENCES UTF-8 UID 1:*") == first
    assert len(asked) == 3
    # a new message: another set of UIDs, so the answer is worked out again
    store.deliver(BOB, "INBOX", MESSAGES[3], ())
    client(b"n NOOP")
    again = thread(client, b"REFERENCES UTF-8 ALL")  # (a copy of 4: joined to it by subject)
    assert again == found("(1 (5)(2 3)(9))((4 8)(10))((6)(7))")
    assert len(asked) == 4
    assert len(ordering.THREADS) == 4  # (ALL's: REFERENCES twice, ORDEREDSUBJECT, the UIDs)


def test_an_answer_missing_an_expunged_message_is_not_kept(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ordering, "THREADS", threads.Answers(entries=8, octets=1 << 20))
    other = Client(store)
    other.select()
    other(b"x STORE 2 +FLAGS.SILENT (\\Deleted)")
    other(b"y EXPUNGE")  # the client still sees message 2, whose index rows are gone
    assert thread(client, b"REFERENCES UTF-8 ALL") == found("(1 (5)(3)(9))(4 8)((6)(7))")
    assert len(ordering.THREADS) == 0


def test_thread_answers_are_bounded_in_number_and_octets() -> None:
    kept = threads.Answers(entries=2, octets=10)
    kept.put("a", b"1234")
    kept.put("b", b"5678")
    assert kept.get("a") == b"1234"  # (now the most recently used)
    kept.put("c", b"90")
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (b"1234", None, b"90")
    kept.put("d", b"123456")  # 4 + 2 + 6 > 10 octets: the least recently used goes
    assert (kept.get("a"), kept.get("c"), kept.get("d")) == (None, b"90", b"123456")
    assert (len(kept), kept.size) == (2, 8)
    kept.put("d", b"12")  # a key put again replaces its answer
    assert (kept.get("d"), kept.size) == (b"12", 4)
    kept.put("e", b"x" * 11)  # more than all of it: never kept
    assert (kept.get("e"), len(kept), kept.size) == (None, 2, 4)
    kept.put("f", b"x" * 10)  # all of it: every other goes
    assert (kept.get("c"), kept.get("d"), kept.get("f"), kept.size) == (None, None, b"x" * 10, 10)
