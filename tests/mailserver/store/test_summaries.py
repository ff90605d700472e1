"""UserStore.summaries: the cached Summaries of many messages, read in chunks, computed and
stored when missing or unreadable."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from mailserver.message import Message, Summary, store_summary, summarize
from mailserver.store import Store, StoreError, UserStore
from mailserver.store import messages as ops
from mailserver.store.base import Summarize
from mailserver.store.errors import NONEXISTENT

from .conftest import ADDRESS, SCRATCH, Clock, message


@pytest.fixture
def root() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="summaries-test-", dir=SCRATCH)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def summarizing(root: str, clock: Clock) -> Iterator[UserStore]:
    store = Store(root, clock=clock, host="h", summarize=store_summary)
    yield store.user(ADDRESS)
    store.close()


def expected(n: int) -> Summary:
    return summarize(Message(message(n)))


def blob_of(user: UserStore, uid: int) -> object:
    row = user.db.execute("SELECT blob FROM summaries WHERE uid = ?", (uid,)).fetchone()
    return None if row is None else row[0]


def test_cached_summaries_of_the_uids_asked_unknown_ones_left_out(summarizing: UserStore) -> None:
    uids = [summarizing.deliver("INBOX", message(n)) for n in range(4)]
    got = summarizing.summaries("INBOX", [uids[3], uids[0], 999, uids[0]])
    assert got == {uids[0]: expected(0), uids[3]: expected(3)}
    assert list(got) == [uids[0], uids[3]]
    assert summarizing.summaries("INBOX", []) == {}
    assert summarizing.summaries("Archive", uids) == {}


def test_unknown_mailbox(summarizing: UserStore) -> None:
    with pytest.raises(StoreError, match="no mailbox 'Nope'") as info:
        summarizing.summaries("Nope", [1])
    assert info.value.code == NONEXISTENT


def test_missing_ones_are_computed_and_stored(root: str, clock: Clock) -> None:
    plain = Store(root, clock=clock, host="h")
    user = plain.user(ADDRESS)
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    assert user.summaries("INBOX", uids) == {}  # no summarize function: nothing to give
    plain.close()
    store = Store(root, clock=clock, host="h", summarize=store_summary)
    user = store.user(ADDRESS)
    assert blob_of(user, uids[1]) is None
    assert user.summaries("INBOX", uids[1:]) == {uids[1]: expected(1), uids[2]: expected(2)}
    assert blob_of(user, uids[1]) == expected(1).to_bytes()
    assert blob_of(user, uids[0]) is None  # not asked, not computed
    assert user.subject_texts("INBOX", uids) == {uids[1]: "\x00msg 1", uids[2]: "\x00msg 2"}
    assert user.summary("INBOX", uids[2]) == store_summary(message(2))
    store.close()


@pytest.mark.parametrize("blob", [b"\x00\xff garbage", b"\x93\x01\x02\x03", None, "text"])
def test_an_unreadable_blob_is_computed_again(summarizing: UserStore, blob: object) -> None:
    uid = summarizing.deliver("INBOX", message(5))
    summarizing.db.execute("UPDATE summaries SET blob = ?", (blob,))
    assert summarizing.summaries("INBOX", [uid]) == {uid: expected(5)}
    assert blob_of(summarizing, uid) == expected(5).to_bytes()


def test_one_query_per_chunk(summarizing: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    uids = [summarizing.deliver("INBOX", message(n)) for n in range(5)]
    monkeypatch.setattr(ops, "_IN_CHUNK", 2)
    queries: list[str] = []
    summarizing.db.set_trace_callback(queries.append)
    got = summarizing.summaries("INBOX", uids)
    summarizing.db.set_trace_callback(None)
    assert got == {u: expected(n) for n, u in enumerate(uids)}
    reads = [q for q in queries if "SELECT blob FROM summaries" in q]
    assert [q.count(" IN (") for q in reads] == [1, 1, 1]
    assert not [q for q in queries if "INSERT" in q]  # all were cached


def test_a_vanished_file_is_left_out(root: str, clock: Clock) -> None:
    plain = Store(root, clock=clock, host="h")
    user = plain.user(ADDRESS)
    a, b = user.deliver("INBOX", message(1)), user.deliver("INBOX", message(2))
    os.unlink(user.message_file("INBOX", a).path)
    plain.close()
    store = Store(root, clock=clock, host="h", summarize=store_summary)
    user = store.user(ADDRESS)
    assert user.summaries("INBOX", [a, b]) == {b: expected(2)}
    store.close()


@pytest.mark.parametrize(
    ("broken", "blob"),
    [
        (lambda data: 1 / 0, None),
        (lambda data: {"blob": b"not a summary"}, b"not a summary"),
        (lambda data: {"subject": "no blob"}, None),
    ],
)
def test_no_summary_from_a_summarizer_that_gives_none(
    root: str, clock: Clock, broken: Summarize, blob: bytes | None
) -> None:
    store = Store(root, clock=clock, host="h", summarize=broken)
    user = store.user(ADDRESS)
    uid = user.deliver("INBOX", message(1))
    assert user.summaries("INBOX", [uid]) == {}
    assert blob_of(user, uid) == blob
    store.close()


def test_a_message_expunged_while_computing_gets_no_row(
    summarizing: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = summarizing.deliver("INBOX", message(1), ["\\Deleted"])
    summarizing.db.execute("DELETE FROM summaries")
    read = summarizing.read_message

    def read_then_expunge(mailbox: str, u: int) -> bytes:
        data = read(mailbox, u)
        summarizing.expunge(mailbox)
        return data

    monkeypatch.setattr(summarizing, "read_message", read_then_expunge)
    assert summarizing.summaries("INBOX", [uid]) == {uid: expected(1)}
    assert summarizing.db.execute("SELECT count(*) FROM summaries").fetchone() == (0,)


def test_a_file_vanished_since_the_last_reconcile_leaves_out_that_one_only(
    summarizing: UserStore,
) -> None:
    uids = [summarizing.deliver("INBOX", message(n)) for n in range(3)]
    summarizing.db.execute("DELETE FROM summaries")
    os.unlink(summarizing.message_file("INBOX", uids[0]).path)  # still in the index
    got = summarizing.summaries("INBOX", uids)
    assert got == {uids[1]: expected(1), uids[2]: expected(2)}
    assert [blob_of(summarizing, u) for u in uids] == [
        None,
        expected(1).to_bytes(),
        expected(2).to_bytes(),
    ]


def test_summary_is_computed_once_then_read_from_the_index(root: str, clock: Clock) -> None:
    calls: list[bytes] = []

    def counting(data: bytes) -> dict[str, object]:
        calls.append(data)
        return store_summary(data)

    store = Store(root, clock=clock, host="h", summarize=counting)
    user = store.user(ADDRESS)
    uid = user.deliver("INBOX", message(1))  # computed as it is delivered
    assert [user.summary("INBOX", uid) for _ in range(2)] == [store_summary(message(1))] * 2
    assert calls == [message(1)]
    store.close()


def test_subject_texts_of_the_uids_asked(summarizing: UserStore) -> None:
    uids = [summarizing.deliver("INBOX", message(n)) for n in range(5)]
    got = summarizing.subject_texts("INBOX", [uids[3], uids[1], 999, uids[1]])
    assert got == {uids[1]: "\x00msg 1", uids[3]: "\x00msg 3"}  # not 2, between them
    assert summarizing.subject_texts("INBOX", [uids[0]]) == {uids[0]: "\x00msg 0"}
    assert summarizing.subject_texts("INBOX", uids[4:] + uids[:1]) == {
        uids[0]: "\x00msg 0",
        uids[4]: "\x00msg 4",
    }
    assert summarizing.subject_texts("INBOX", []) == {}
    assert summarizing.subject_texts("Archive", uids) == {}


def test_subject_texts_of_an_unknown_mailbox(summarizing: UserStore) -> None:
    for uids in ([1], []):
        with pytest.raises(StoreError, match="no mailbox 'Nope'") as info:
            summarizing.subject_texts("Nope", uids)
        assert info.value.code == NONEXISTENT


def test_subject_texts_leave_out_what_is_not_text(summarizing: UserStore) -> None:
    a, b, c, d = (summarizing.deliver("INBOX", message(n)) for n in range(4))
    summarizing.db.execute("UPDATE summaries SET subject_text = NULL WHERE uid = ?", (a,))
    summarizing.db.execute("UPDATE summaries SET subject_text = x'00ff' WHERE uid = ?", (b,))
    summarizing.db.execute("DELETE FROM summaries WHERE uid = ?", (c,))
    assert summarizing.subject_texts("INBOX", [a, b, c, d]) == {d: "\x00msg 3"}
    assert summarizing.subject_texts("INBOX", [c]) == {}  # nothing is computed
    assert blob_of(summarizing, c) is None


def test_subject_texts_in_one_query(summarizing: UserStore) -> None:
    uids = [summarizing.deliver("INBOX", message(n)) for n in range(ops._IN_CHUNK + 3)]
    queries: list[str] = []
    summarizing.db.set_trace_callback(queries.append)
    got = summarizing.subject_texts("INBOX", uids)
    summarizing.db.set_trace_callback(None)
    assert got == {u: f"\x00msg {n}" for n, u in enumerate(uids)}
    assert len([q for q in queries if "subject_text" in q]) == 1


def test_no_subject_text_without_a_summarizer_that_gives_one(root: str, clock: Clock) -> None:
    plain = Store(root, clock=clock, host="h", summarize=lambda data: {"blob": b"x"})
    user = plain.user(ADDRESS)
    uid = user.deliver("INBOX", message(1))
    assert user.subject_texts("INBOX", [uid]) == {}
    plain.close()
