"""Deliveries acknowledged after one index commit (Store.deliver_batch) and settled afterwards:
every crash point recovers the message whole under its UID, and every operation on a message
not yet settled behaves as on a settled one."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mailserver.store import Delivery, ReconcileReport, Store, UserStore, maildir
from mailserver.store.reconcile import MAX_DETAILS

from .conftest import ADDRESS, Clock, message


def deliver(store: Store, n: int = 1, **kw: object) -> int:
    (uid,) = store.deliver_batch([Delivery(address=ADDRESS, data=message(n), **kw)])  # type: ignore[arg-type]
    return uid


def pending(user: UserStore) -> list[tuple[int, int, str]]:
    return user.db.execute("SELECT mailbox_id, uid, final FROM pending ORDER BY uid").fetchall()


def files(user: UserStore, mailbox: str = "INBOX") -> dict[str, list[str]]:
    folder = user.folder_path(mailbox)
    return {sub: sorted(os.listdir(os.path.join(folder, sub))) for sub in ("new", "cur", "tmp")}


def row_path(user: UserStore, uid: int, mailbox: str = "INBOX") -> str:
    (path,) = user.db.execute(
        "SELECT m.path FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        " WHERE b.name = ? AND m.uid = ?",
        (mailbox, uid),
    ).fetchone()
    return str(path)


def crash(store: Store) -> None:
    """The process dies: nothing settled on the way out."""
    for user in store._users.values():
        user._unsettled.clear()
    store.close()


def reopen(store: Store) -> tuple[UserStore, ReconcileReport]:
    crash(store)
    user = store.user(ADDRESS)
    return user, store.reports[ADDRESS]


def counts(report: ReconcileReport) -> dict[str, int]:
    return {k: v for k, v in report.counts().items() if v}


# -- the path of a delivery -------------------------------------------------------------------


def test_acknowledged_in_tmp_with_its_content_in_the_index_then_settled(
    store: Store, user: UserStore
) -> None:
    uid = deliver(store)
    assert uid == 1
    base = row_path(user, uid).removeprefix("tmp/")
    assert row_path(user, uid) == f"tmp/{base}"
    assert files(user) == {"new": [], "cur": [], "tmp": [base]}
    (data,) = user.db.execute("SELECT data FROM pending").fetchone()
    assert data == message(1)
    assert pending(user) == [(1, 1, f"new/{base}")]
    assert user.unsettled() == 1
    assert user.read_message("INBOX", uid) == message(1)
    where = user.message_file("INBOX", uid)
    inode = os.stat(where.path).st_ino
    store.settle([ADDRESS.upper()])
    assert files(user) == {"new": [base], "cur": [], "tmp": []}
    assert os.stat(Path(user.maildir, "new", base)).st_ino == inode  # renamed, not rewritten
    assert row_path(user, uid) == f"new/{base}"
    assert pending(user) == [] and user.unsettled() == 0
    assert user.read_file("INBOX", uid, where) == message(1)  # follows the rename
    assert [m.uid for m in user.fetch("INBOX")] == [1]


def test_flagged_delivery_settles_into_cur(store: Store, user: UserStore) -> None:
    uid = deliver(store, flags=("\\Seen",), mailbox="Junk")
    (name,) = files(user, "Junk")["tmp"]
    store.settle([ADDRESS])
    assert files(user, "Junk") == {"new": [], "cur": [f"{name}:2,S"], "tmp": []}
    assert user.fetch("Junk")[0].flags == ("\\Seen",)
    assert user.read_message("Junk", uid) == message(1)


def test_expunge_settles_a_pending_delivery_before_it_unlinks(
    store: Store, user: UserStore
) -> None:
    # a delivery already \\Deleted, expunged before it settled: it is put in place first, and
    # then expunged as any message: nothing stays to settle
    uid = deliver(store, flags=("\\Deleted",))
    assert len(pending(user)) == 1 and user.unsettled() == 1
    assert user.expunge("INBOX") == [uid]
    assert pending(user) == [] and user.unsettled() == 0
    assert files(user) == {"new": [], "cur": [], "tmp": []}


def test_settle_of_a_user_not_open_or_without_deliveries_does_nothing(store: Store) -> None:
    store.settle(["nobody@x.test"])
    assert "nobody@x.test" not in store._users
    user = store.user(ADDRESS)
    user.deliver("INBOX", message(1))  # APPEND's path: in place before it returns
    store.settle([ADDRESS])
    assert pending(user) == [] and len(files(user)["new"]) == 1


def test_many_deliveries_settle_in_one_call(store: Store, user: UserStore) -> None:
    uids = store.deliver_batch([Delivery(address=ADDRESS, data=message(n)) for n in range(5)])
    uids += [deliver(store, 9)]
    user.settle()
    assert pending(user) == [] and files(user)["tmp"] == [] and len(files(user)["new"]) == 6
    assert [user.read_message("INBOX", u) for u in uids] == [
        *(message(n) for n in range(5)),
        message(9),
    ]


def test_a_settle_while_another_runs_leaves_the_work_to_it(store: Store, user: UserStore) -> None:
    deliver(store)
    with user._settling:  # another thread is settling
        done = threading.Thread(target=user.settle)
        done.start()
        done.join(5)
        assert not done.is_alive()
        assert len(pending(user)) == 1
    user.settle()
    assert pending(user) == []


def test_an_operation_settles_this_process_tmp_file_by_renaming_it(
    store: Store, user: UserStore
) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    inode = os.stat(Path(user.maildir, "tmp", base)).st_ino
    user.store("INBOX", [uid], "add", ["\\Flagged"])
    assert files(user) == {"new": [], "cur": [f"{base}:2,F"], "tmp": []}
    assert os.stat(Path(user.maildir, "cur", f"{base}:2,F")).st_ino == inode
    assert pending(user) == [] and user.unsettled() == 0


def test_a_settle_meanwhile_settled_inline_changes_nothing(store: Store, user: UserStore) -> None:
    deliver(store)
    todo = dict(user._unsettled)
    user.store("INBOX", [1], "add", ["\\Seen"])  # settles inline
    assert user._settle_round(todo) is True
    assert user.unsettled() == 0 and pending(user) == []
    assert [len(v) for v in files(user).values()] == [0, 1, 0]


def test_a_tmp_file_that_cannot_be_fsynced_is_written_again(store: Store, user: UserStore) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    Path(user.maildir, "tmp", base).write_bytes(b"garbage")
    user._unsettled[1, uid] = "/nonexistent/tmp/file"
    user.settle()
    assert user.read_message("INBOX", uid) == message(1)
    assert files(user) == {"new": [base], "cur": [], "tmp": []}


def test_settle_commits_without_waiting_and_puts_full_back(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(store)
    modes = []
    real = user._write

    def spy(settle: bool = False):  # type: ignore[no-untyped-def]
        modes.append(user.db.execute("PRAGMA synchronous").fetchone()[0])
        return real(settle)

    monkeypatch.setattr(user, "_write", spy)
    user.settle()
    assert modes == [1, 1]  # NORMAL: recovery replays what a power cut takes back
    assert user.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_a_failed_settle_stops_and_leaves_the_delivery_pending(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(store)
    monkeypatch.setattr(user, "_settle_round", lambda todo: False)
    user.settle()  # returns: no endless loop
    assert user.unsettled() == 1


def test_close_settles(store: Store, user: UserStore) -> None:
    uid = deliver(store)
    store.close()
    again = store.user(ADDRESS)
    assert counts(store.reports[ADDRESS]) == {}
    assert pending(again) == [] and files(again)["tmp"] == []
    assert again.read_message("INBOX", uid) == message(1)


# -- every crash point, built by hand -------------------------------------------------------


def check_recovered(store: Store, user: UserStore, report: ReconcileReport, uid: int) -> None:
    assert counts(report) == {"recovered": 1}
    (line,) = report.details
    assert line.startswith(f"INBOX UID {uid} recovered: file new/")
    assert pending(user) == []
    assert [m.uid for m in user.fetch("INBOX")] == [uid]
    assert user.read_message("INBOX", uid) == message(1)
    assert len(files(user)["new"]) == 1 and files(user)["cur"] == []
    assert files(user)["tmp"] == []
    assert user.mailbox("INBOX").uidnext == uid + 1
    assert user.changes_since("INBOX", 0, 1).expunged == []


@pytest.mark.parametrize("tmp_state", ["whole", "cut short", "gone"])
def test_crash_after_the_commit_before_any_rename(
    store: Store, user: UserStore, tmp_state: str
) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    tmp = Path(user.maildir, "tmp", base)
    if tmp_state == "cut short":
        tmp.write_bytes(message(1)[:10])  # a power cut: the file was never fsynced
    elif tmp_state == "gone":
        tmp.unlink()
    again, report = reopen(store)
    check_recovered(store, again, report, uid)


def test_crash_after_the_rename_before_the_row_followed(store: Store, user: UserStore) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    os.rename(Path(user.maildir, "tmp", base), Path(user.maildir, "new", base))
    again, report = reopen(store)
    check_recovered(store, again, report, uid)
    assert row_path(again, uid) == f"new/{base}"


def test_crash_after_the_row_followed_before_the_pending_row_went(
    store: Store, user: UserStore
) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    os.rename(Path(user.maildir, "tmp", base), Path(user.maildir, "new", base))
    user.db.execute("UPDATE messages SET path = ?", (f"new/{base}",))
    again, report = reopen(store)
    check_recovered(store, again, report, uid)


def test_a_rename_lost_to_a_power_cut_after_the_row_followed(store: Store, user: UserStore) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    os.unlink(Path(user.maildir, "tmp", base))
    user.db.execute("UPDATE messages SET path = ?", (f"new/{base}",))
    again, report = reopen(store)
    check_recovered(store, again, report, uid)


def test_a_file_renamed_by_another_program_is_followed_with_its_flags(
    store: Store, user: UserStore
) -> None:
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    os.rename(Path(user.maildir, "tmp", base), Path(user.maildir, "cur", base + ":2,S"))
    again, report = reopen(store)
    assert counts(report) == {"recovered": 1, "renamed": 1, "flags_changed": 1}
    assert files(again) == {"new": [], "cur": [base + ":2,S"], "tmp": []}
    assert row_path(again, uid) == f"cur/{base}:2,S"
    assert again.fetch("INBOX")[0].flags == ("\\Seen",)  # reconcile read the new name
    assert again.read_message("INBOX", uid) == message(1)


def test_a_tmp_file_without_a_committed_row_stays_a_tmp_file(
    store: Store, user: UserStore, clock: Clock
) -> None:
    Path(user.maildir, "tmp", "1.M1P1Q1.h,S=5").write_bytes(b"half!")
    again, report = reopen(store)
    assert counts(report) == {}
    assert again.fetch("INBOX") == [] and files(again)["tmp"] == ["1.M1P1Q1.h,S=5"]
    clock.now = (
        os.stat(Path(again.maildir, "tmp", "1.M1P1Q1.h,S=5")).st_ctime + maildir.TMP_MAX_AGE + 9
    )
    again, report = reopen(store)
    assert counts(report) == {"stale_tmp_removed": 1}
    assert files(again) == {"new": [], "cur": [], "tmp": []}


def test_recovery_of_many_next_to_settled_messages(store: Store, user: UserStore) -> None:
    first = deliver(store, 1)
    user.settle()
    rest = store.deliver_batch([Delivery(address=ADDRESS, data=message(n)) for n in (2, 3)])
    again, report = reopen(store)
    assert counts(report) == {"recovered": 2}
    assert [again.read_message("INBOX", u) for u in [first, *rest]] == [
        message(n) for n in (1, 2, 3)
    ]
    assert len(files(again)["new"]) == 3


def test_another_process_recovers_and_this_one_then_finds_nothing_to_do(
    store: Store, user: UserStore, clock: Clock
) -> None:
    uid = deliver(store)
    other = Store(store.root, clock=clock, host="cli.test")
    try:
        theirs = other.user(ADDRESS)
        assert other.reports[ADDRESS].recovered == 1
        assert theirs.read_message("INBOX", uid) == message(1)
        theirs.store("INBOX", [uid], "add", ["\\Seen"])
    finally:
        other.close()
    user.settle()
    assert user.unsettled() == 0
    (name,) = files(user)["cur"]
    assert files(user) == {"new": [], "cur": [name], "tmp": []}  # no second copy in new/
    assert user.read_message("INBOX", uid) == message(1)


# -- operations on a message not yet settled -------------------------------------------------


def on_store(user: UserStore) -> object:
    return [m.flags for m in user.store("INBOX", [1], "add", ["\\Seen", "$Label"]).messages]


def on_copy(user: UserStore) -> object:
    mapping = user.copy("INBOX", [1], "Archive").mapping
    return mapping, user.read_message("Archive", 1), user.read_message("INBOX", 1)


def on_move(user: UserStore) -> object:
    mapping = user.move("INBOX", [1], "Archive").mapping
    return mapping, user.read_message("Archive", 1), list(user.uids("INBOX"))


def on_expunge(user: UserStore) -> object:
    user.store("INBOX", [1], "add", ["\\Deleted"])
    return user.expunge("INBOX"), list(user.uids("INBOX"))


def on_pop3_delete(user: UserStore) -> object:
    return user.pop3_delete([1]), list(user.uids("INBOX"))


def on_rename(user: UserStore) -> object:
    user.rename("Junk", "Spam")
    return user.read_message("Spam", 1)


def on_rename_inbox(user: UserStore) -> object:
    user.rename("INBOX", "Old")
    return user.read_message("Old", 1), list(user.uids("INBOX"))


def on_delete(user: UserStore) -> object:
    user.delete("Junk")
    return user.mailbox_names()


def on_reconcile(user: UserStore) -> object:
    return counts(user.reconcile())


OPERATIONS = [
    on_store,
    on_copy,
    on_move,
    on_expunge,
    on_pop3_delete,
    on_rename,
    on_rename_inbox,
    on_delete,
    on_reconcile,
]


def all_in_place(user: UserStore) -> list[str]:
    """Where every row's file is: each exists, none in tmp/; nothing left on disk unindexed."""
    rows = user.db.execute(
        "SELECT b.name, m.path FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
    ).fetchall()
    on_disk = []
    for name in user.mailbox_names():
        folder = user.folder_path(name)
        assert os.listdir(os.path.join(folder, "tmp")) == []
        on_disk += [
            f"{name}:{sub}" for sub in ("new", "cur") for _ in os.listdir(f"{folder}/{sub}")
        ]
    for name, path in rows:
        assert not path.startswith("tmp/")
        assert os.path.exists(os.path.join(user.folder_path(name), path))
    return sorted(on_disk)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda f: f.__name__)
def test_an_operation_on_a_pending_message_is_as_on_a_settled_one(
    clock: Clock, operation: Callable[[UserStore], object]
) -> None:
    results = []
    for settled in (True, False):
        root = Path(os.environ.get("TMPDIR", "/tmp"), f"settle-{os.getpid()}-{settled}")
        store = Store(str(root), clock=Clock(clock.now), host="mx.test")
        try:
            for mailbox in ("INBOX", "Junk"):
                store.deliver_batch([Delivery(address=ADDRESS, data=message(1), mailbox=mailbox)])
            user = store.user(ADDRESS)
            if settled:
                user.settle()
            assert len(pending(user)) == (0 if settled else 2)
            outcome = operation(user)
            results.append((outcome, all_in_place(user), user.mailbox("INBOX").highestmodseq))
            assert pending(user) == [] and user.unsettled() == 0
        finally:
            store.close()
            shutil.rmtree(root, ignore_errors=True)
    assert results[0] == results[1]


def test_settles_deliveries_and_flag_changes_racing_each_other(
    store: Store, user: UserStore
) -> None:
    delivered: list[int] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], object], times: int) -> None:
        try:
            for _ in range(times):
                job()
        except BaseException as e:  # a failure is asserted below
            errors.append(e)

    jobs = [
        threading.Thread(target=run, args=(lambda: delivered.append(deliver(store, 7)), 60)),
        threading.Thread(target=run, args=(lambda: delivered.append(deliver(store, 7)), 60)),
        threading.Thread(target=run, args=(user.settle, 200)),
        threading.Thread(
            target=run,
            args=(lambda: user.store("INBOX", user.uids("INBOX"), "add", ["\\Seen"]), 30),
        ),
    ]
    for t in jobs:
        t.start()
    for t in jobs:
        t.join(60)
    assert errors == []
    user.settle()
    assert pending(user) == [] and user.unsettled() == 0
    assert sorted(delivered) == list(range(1, 121))
    assert all(user.read_message("INBOX", uid) == message(7) for uid in delivered)
    assert len(all_in_place(user)) == 120  # each once, in new/ or cur/


# -- settling meets other programs and failures ------------------------------------------------


def test_a_tmp_file_renamed_by_another_program_before_the_rename_is_followed(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # between the fsync (no lock held) and the rename, another program renamed the file with
    # new flags: the settle goes on, the row keeps its path (reading follows the file by its
    # base), and reconcile then follows the rename and reads the flags from the name
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    real = maildir.fsync_file

    def fsync_then_renamed(path: str) -> None:
        real(path)
        os.rename(path, Path(user.maildir, "cur", base + ":2,S"))

    monkeypatch.setattr(maildir, "fsync_file", fsync_then_renamed)
    user.settle()
    assert pending(user) == [] and user.unsettled() == 0
    assert files(user) == {"new": [], "cur": [base + ":2,S"], "tmp": []}
    assert row_path(user, uid) == f"tmp/{base}"
    assert user.read_message("INBOX", uid) == message(1)
    assert counts(user.reconcile()) == {"renamed": 1, "flags_changed": 1}
    assert row_path(user, uid) == f"cur/{base}:2,S"
    assert user.fetch("INBOX")[0].flags == ("\\Seen",)


def test_a_tmp_file_put_in_place_by_another_process_before_the_rename_is_kept(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process's recovery renamed the file into new/ but had not committed yet
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    real = maildir.fsync_file

    def fsync_then_placed(path: str) -> None:
        real(path)
        os.rename(path, Path(user.maildir, "new", base))

    monkeypatch.setattr(maildir, "fsync_file", fsync_then_placed)
    user.settle()
    assert pending(user) == [] and user.unsettled() == 0
    assert files(user) == {"new": [base], "cur": [], "tmp": []}
    assert row_path(user, uid) == f"new/{base}"
    assert user.read_message("INBOX", uid) == message(1)


def test_settle_fsyncs_the_folders_the_files_went_into(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.deliver_batch(
        [
            Delivery(address=ADDRESS, data=message(1)),
            Delivery(address=ADDRESS, data=message(2), flags=("\\Seen",), mailbox="Junk"),
        ]
    )
    assert len(pending(user)) == 2
    synced: list[str] = []
    monkeypatch.setattr(maildir, "fsync_dir", synced.append)
    user.settle()
    assert sorted(synced) == [
        os.path.join(user.folder_path("Junk"), "cur"),
        os.path.join(user.maildir, "new"),
    ]


def test_recovery_fsyncs_the_folder_the_file_went_into(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = deliver(store)
    crash(store)
    synced: list[str] = []
    real = maildir.fsync_dir

    def spy(path: str) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr(maildir, "fsync_dir", spy)
    again = store.user(ADDRESS)
    assert again.read_message("INBOX", uid) == message(1)
    assert os.path.join(again.maildir, "new") in synced
    assert again.maildir not in synced


def test_a_failed_settle_round_keeps_every_delivery_to_settle_later(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the files cannot be fsynced and writing them again fails (a full disk): the round is
    # rolled back and this process still owns both deliveries, which a later settle puts in place
    uids = store.deliver_batch([Delivery(address=ADDRESS, data=message(n)) for n in (1, 2)])
    assert uids == [1, 2]

    def fail(errno_: int) -> Callable[..., None]:
        def raise_(*args: object, **kw: object) -> None:
            raise OSError(errno_, os.strerror(errno_))

        return raise_

    with monkeypatch.context() as m:
        m.setattr(maildir, "fsync_file", fail(errno.EIO))
        m.setattr(maildir, "write_tmp", fail(errno.ENOSPC))
        with pytest.raises(OSError, match=r"No space left on device"):
            user.settle()
    assert user.unsettled() == 2 and [p[1] for p in pending(user)] == [1, 2]
    user.settle()
    assert user.unsettled() == 0 and pending(user) == []
    assert [user.read_message("INBOX", u) for u in uids] == [message(1), message(2)]
    assert files(user)["tmp"] == [] and len(files(user)["new"]) == 2


def test_an_operation_between_the_two_settle_transactions_settles_first(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # while settle fsyncs the folders (no lock held), a STORE settles the delivery inline:
    # settle's last transaction finds it done and finishes quietly
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    real = maildir.fsync_dir
    stored: list[object] = []

    def fsync_then_store(path: str) -> None:
        real(path)
        if not stored:  # once: the STORE's own settling fsyncs too
            stored.append(path)
            user.store("INBOX", [uid], "add", ["\\Seen"])

    monkeypatch.setattr(maildir, "fsync_dir", fsync_then_store)
    user.settle()
    assert stored == [os.path.join(user.maildir, "new")]
    assert user.unsettled() == 0 and pending(user) == []
    assert files(user) == {"new": [], "cur": [base + ":2,S"], "tmp": []}
    assert user.fetch("INBOX")[0].flags == ("\\Seen",)
    assert user.read_message("INBOX", uid) == message(1)


def test_recovery_looks_for_files_in_the_mailbox_folder_not_the_working_directory(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the row followed the rename, which a power cut took back; a file of the same relative
    # path in the process's working directory is not the message's
    uid = deliver(store)
    (base,) = files(user)["tmp"]
    os.unlink(Path(user.maildir, "tmp", base))
    user.db.execute("UPDATE messages SET path = ?", (f"new/{base}",))
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / base).write_bytes(b"not this")
    monkeypatch.chdir(tmp_path)
    again, report = reopen(store)
    check_recovered(store, again, report, uid)
    assert report.details == [f"INBOX UID {uid} recovered: file new/{base} put in place"]


def test_recovery_details_are_bounded_but_every_delivery_is_counted(
    store: Store, user: UserStore
) -> None:
    uids = store.deliver_batch([Delivery(address=ADDRESS, data=message(n)) for n in range(201)])
    again, report = reopen(store)
    assert counts(report) == {"recovered": 201}
    assert len(report.details) == MAX_DETAILS == 200
    assert [d.split(" ")[2] for d in report.details] == [str(u) for u in uids[:200]]
    assert pending(again) == [] and len(files(again)["new"]) == 201
