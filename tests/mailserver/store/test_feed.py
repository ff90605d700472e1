"""Several sessions on one mailbox: the change feed, \\Recent, the expunge log's bound, and
concurrent writers (threads sharing a store, and a second connection as another process)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator

import pytest

from mailserver.store import StoreError, UserStore, base
from mailserver.store.base import MailboxRow
from mailserver.store.errors import INUSE, NONEXISTENT

from .conftest import Clock, message


@pytest.fixture
def other(user: UserStore, clock: Clock) -> Iterator[UserStore]:
    """The same user's store opened a second time: its own connection, as another process."""
    second, _ = UserStore.open(user.home, clock=clock, host="other")
    yield second
    second.close()


def test_feed_sees_another_writers_changes(user: UserStore, other: UserStore) -> None:
    first = user.deliver("INBOX", message(1))
    snap = user.select("INBOX")
    assert list(snap.uids) == [first] and snap.recent == range(first, first + 1)
    new = other.deliver("INBOX", message(2))
    other.store("INBOX", [first], "add", ["\\Seen"])
    feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert [m.uid for m in feed.added] == [new]
    assert [(m.uid, m.flags) for m in feed.changed] == [(first, ("\\Seen",))]
    assert feed.expunged == [] and feed.uids is None
    assert feed.recent == range(new, new + 1)
    assert (feed.highestmodseq, feed.uidnext) == (4, 3)
    other.store("INBOX", [first], "add", ["\\Deleted"])
    other.expunge("INBOX")
    feed2 = user.changes_since("INBOX", feed.highestmodseq, feed.uidnext)
    assert feed2.expunged == [first]
    assert feed2.changed == []  # the flag change of an expunged message is not reported
    assert feed2.added == []


def test_no_change_is_an_empty_feed(user: UserStore) -> None:
    user.deliver("INBOX", message())
    snap = user.select("INBOX")
    feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert (feed.added, feed.changed, feed.expunged, feed.uids, feed.recent) == (
        [],
        [],
        [],
        None,
        range(0),
    )
    assert (feed.highestmodseq, feed.uidnext) == (snap.highestmodseq, snap.uidnext)


def test_message_added_then_expunged_is_neither(user: UserStore, other: UserStore) -> None:
    snap = user.select("INBOX")
    uid = other.deliver("INBOX", message(), ["\\Deleted"])
    other.expunge("INBOX")
    feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert (feed.added, feed.expunged) == ([], [])
    assert feed.uidnext == uid + 1


def test_recent_goes_to_one_session(user: UserStore, other: UserStore) -> None:
    a = user.select("INBOX")
    b = other.select("INBOX")
    uid = user.deliver("INBOX", message())
    got_b = other.changes_since("INBOX", b.highestmodseq, b.uidnext)
    got_a = user.changes_since("INBOX", a.highestmodseq, a.uidnext)
    assert got_b.recent == range(uid, uid + 1) and len(got_a.recent) == 0
    assert [m.uid for m in got_a.added] == [uid]
    assert len(other.select("INBOX").recent) == 0


def test_examine_claims_no_recent(user: UserStore) -> None:
    uid = user.deliver("INBOX", message())
    snap = user.select("INBOX", readonly=True)
    assert len(snap.recent) == 0
    later = user.deliver("INBOX", message(2))
    feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext, claim_recent=False)
    assert len(feed.recent) == 0
    assert list(user.select("INBOX").recent) == [uid, later]


def test_snapshot_fields(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1), ["\\Seen"])
    b = user.deliver("INBOX", message(2))
    snap = user.select("INBOX")
    assert snap.first_unseen == b
    assert list(snap.uids) == [a, b]
    assert snap.uids.itemsize == 4
    assert user.select("Sent").first_unseen is None
    assert list(user.uids("INBOX")) == [a, b]


def test_expunge_log_bound(user: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "EXPUNGE_LOG_MAX", 3)
    uids = [user.deliver("INBOX", message(n)) for n in range(6)]
    snap = user.select("INBOX")
    for uid in uids[:5]:  # five expunges, five MODSEQs; the log keeps three
        user.store("INBOX", [uid], "add", ["\\Deleted"])
        user.expunge("INBOX")
    recent_enough = user.changes_since("INBOX", snap.highestmodseq + 4 * 2, snap.uidnext)
    assert recent_enough.expunged == uids[4:5]
    too_old = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert too_old.expunged is None
    assert too_old.uids is not None and list(too_old.uids) == [uids[5]]
    rows = user.db.execute("SELECT count(*) FROM expunged").fetchone()[0]
    assert rows == 3


def test_expunge_log_trimmed_as_soon_as_it_holds_one_too_many(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "EXPUNGE_LOG_MAX", 3)
    uids = [user.deliver("INBOX", message(n)) for n in range(5)]
    snap = user.select("INBOX")
    for uid in uids[:4]:  # four expunges, each two MODSEQs after the one before
        user.store("INBOX", [uid], "add", ["\\Deleted"])
        user.expunge("INBOX")
    assert user.db.execute("SELECT count(*) FROM expunged").fetchone()[0] == 3
    kept = user.changes_since("INBOX", snap.highestmodseq + 2, snap.uidnext)
    assert kept.expunged == uids[1:4]
    too_old = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert too_old.expunged is None
    assert too_old.uids is not None and list(too_old.uids) == [uids[4]]


def test_feed_too_old_for_the_log_lists_uids_from_2_to_the_31_on(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # UIDs are unsigned 32-bit (RFC 3501 nz-number): the UIDs still there are listed whole
    monkeypatch.setattr(base, "EXPUNGE_LOG_MAX", 1)
    user.db.execute("UPDATE mailboxes SET uidnext = ? WHERE name = 'INBOX'", (2**31,))
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    assert uids == [2**31, 2**31 + 1, 2**31 + 2]
    snap = user.select("INBOX")
    user.store("INBOX", uids[:2], "add", ["\\Deleted"])
    assert user.expunge("INBOX", uids[:1]) == uids[:1]
    assert user.expunge("INBOX", uids[1:2]) == uids[1:2]  # the log drops the first
    too_old = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert too_old.expunged is None
    assert too_old.uids is not None and list(too_old.uids) == uids[2:]


def test_feed_answers_the_mailboxes_uidnext(user: UserStore) -> None:
    # nothing changed since the current MODSEQ, but the UIDNEXT answered is the mailbox's,
    # not the one the caller knew
    uid = user.deliver("INBOX", message())
    box = user.mailbox("INBOX")
    feed = user.changes_since("INBOX", box.highestmodseq, 1)
    assert (feed.added, feed.highestmodseq, feed.uidnext) == ([], box.highestmodseq, uid + 1)


def test_examine_and_its_feed_answer_while_another_process_holds_the_write_lock(
    user: UserStore,
) -> None:
    # EXAMINE claims no \\Recent and writes nothing: it never waits for the write lock
    first = user.deliver("INBOX", message(1))
    snap = user.select("INBOX", readonly=True)
    second = user.deliver("INBOX", message(2))
    user.db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(os.path.join(user.home, "index.sqlite"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert list(user.select("INBOX", readonly=True).uids) == [first, second]
        feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext, claim_recent=False)
        assert [m.uid for m in feed.added] == [second] and len(feed.recent) == 0
        with pytest.raises(StoreError, match=r"index busy") as info:
            user.select("INBOX")  # SELECT claims \\Recent: it needs the lock
        assert info.value.code == INUSE
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_recent_claim_holds_the_write_lock_from_its_first_read(
    user: UserStore, other: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SELECT and a session's feed read the mailbox and claim its \\Recent in one write
    # transaction: another process cannot change the mailbox in between (its write waits for
    # the lock, here refused at once), and the claim never fails for having been overtaken
    first = user.deliver("INBOX", message(1))
    other.db.execute("PRAGMA busy_timeout = 0")
    refused: list[str] = []
    real_claim = user._claim_recent

    def claim_meanwhile(db: sqlite3.Connection, box: MailboxRow, start: int) -> range:
        try:
            other.store("INBOX", [first], "add", ["\\Seen"])
        except StoreError as e:
            refused.append(e.code)
        return real_claim(db, box, start)

    monkeypatch.setattr(user, "_claim_recent", claim_meanwhile)
    snap = user.select("INBOX")
    assert snap.recent == range(first, first + 1)
    second = user.deliver("INBOX", message(2))
    feed = user.changes_since("INBOX", snap.highestmodseq, snap.uidnext)
    assert [m.uid for m in feed.added] == [second] and feed.recent == range(second, second + 1)
    assert refused == [INUSE, INUSE]
    assert user.fetch("INBOX", [first])[0].flags == ()


def test_deleted_mailbox_feed_says_so(user: UserStore, other: UserStore) -> None:
    user.create("X")
    snap = user.select("X")
    other.delete("X")
    with pytest.raises(StoreError, match="no mailbox 'X'") as info:
        user.changes_since("X", snap.highestmodseq, snap.uidnext)
    assert info.value.code == NONEXISTENT


def test_concurrent_deliveries_get_distinct_uids(user: UserStore, other: UserStore) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def deliver(store: UserStore, n: int) -> None:
        for i in range(15):
            uid = store.deliver("INBOX", message(n * 100 + i))
            with lock:
                got.append(uid)

    threads = [
        threading.Thread(target=deliver, args=(s, n))
        for n, s in enumerate([user, user, other, other])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 61))
    assert user.status("INBOX").messages == 60
    bodies = {user.read_message("INBOX", u) for u in got}
    assert len(bodies) == 60


def test_qresync_reads_changes_and_expunges_since_a_modseq(
    user: UserStore, other: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "EXPUNGE_LOG_MAX", 2)
    uids = [user.deliver("INBOX", message(n)) for n in range(6)]
    start = user.mailbox("INBOX").highestmodseq
    assert user.changed_since("INBOX", start) == []
    assert user.expunged_since("INBOX", start) == []
    other.store("INBOX", uids[1:2], "add", ["\\Seen"])  # start + 1
    new = other.deliver("INBOX", message(9))  # start + 2
    changed = user.changed_since("INBOX", start)
    assert [(m.uid, m.flags, m.modseq) for m in changed] == [
        (uids[1], ("\\Seen",), start + 1),
        (new, (), start + 2),
    ]
    assert [m.uid for m in user.changed_since("INBOX", start + 1)] == [new]
    for uid in (uids[4], uids[0], uids[2]):  # three expunges; the log keeps the last two
        other.store("INBOX", [uid], "add", ["\\Deleted"])
        other.expunge("INBOX", [uid])
    now = user.mailbox("INBOX").highestmodseq
    assert user.expunged_since("INBOX", now) == []
    assert user.expunged_since("INBOX", now - 2) == [uids[2]]  # (each takes two MODSEQs)
    assert user.expunged_since("INBOX", now - 4) == [uids[0], uids[2]]  # ascending
    assert user.expunged_since("INBOX", now - 5) is None  # below the floor: the log forgot
    assert user.expunged_since("INBOX", start) is None
    # an expunged message's changes are gone with its row
    assert [m.uid for m in user.changed_since("INBOX", start)] == [uids[1], new]
    with pytest.raises(StoreError, match="no mailbox"):
        user.changed_since("Nope", 1)
    with pytest.raises(StoreError, match="no mailbox"):
        user.expunged_since("Nope", 1)
