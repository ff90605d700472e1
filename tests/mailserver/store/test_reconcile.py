"""Reconcile: the index follows the files, and nothing is dropped without being counted."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from mailserver.store import ReconcileReport, Store, UserStore, maildir

from .conftest import ADDRESS, T0, Clock, message


def reopen(store: Store) -> tuple[UserStore, ReconcileReport]:
    store.close()
    user = store.user(ADDRESS)
    return user, store.reports[ADDRESS]


def counts(report: ReconcileReport) -> dict[str, int]:
    return {k: v for k, v in report.counts().items() if v}


def test_first_open_is_a_rebuild_with_nothing_to_do(store: Store) -> None:
    store.user(ADDRESS)
    report = store.reports[ADDRESS]
    assert report.rebuilt is True
    assert counts(report) == {}
    assert report.details == [] and report.unusable_folders == []


def test_clean_reopen_changes_nothing(store: Store, user: UserStore) -> None:
    user.deliver("INBOX", message(), ["\\Seen"])
    before = user.mailbox("INBOX")
    again, report = reopen(store)
    assert report.rebuilt is False
    assert counts(report) == {}
    assert again.mailbox("INBOX") == before


def test_unknown_files_are_adopted_with_flags_from_their_names(
    store: Store, user: UserStore
) -> None:
    user.deliver("INBOX", message(1))
    Path(user.maildir, "new", "100.foreign").write_bytes(b"a\nb\n")
    Path(user.maildir, "cur", "200.foreign:2,FPS").write_bytes(b"xyz")
    os.utime(Path(user.maildir, "cur", "200.foreign:2,FPS"), (5, 5))
    again, report = reopen(store)
    assert counts(report) == {"adopted": 2}
    assert report.details == [
        "INBOX UID 2 adopted: file new/100.foreign",
        "INBOX UID 3 adopted: file cur/200.foreign:2,FPS",
    ]
    metas = again.fetch("INBOX", [2, 3])
    assert [(m.uid, m.size, m.flags) for m in metas] == [
        (2, 4, ()),
        (3, 3, ("\\Seen", "\\Flagged", "$Forwarded")),
    ]
    assert metas[1].internaldate == 5
    assert again.read_message("INBOX", 2) == b"a\nb\n"  # stored as found, not rewritten
    assert again.select("INBOX").recent == range(1, 4)


def test_vanished_files_are_expunged_with_a_modseq(store: Store, user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    before = user.mailbox("INBOX")
    path = user.message_file("INBOX", uids[1]).path
    os.unlink(path)
    again, report = reopen(store)
    assert counts(report) == {"vanished": 1}
    rel = os.path.relpath(path, again.maildir)
    assert report.details == [f"INBOX UID 2 expunged: file {rel} vanished"]
    changes = again.changes_since("INBOX", before.highestmodseq, before.uidnext)
    assert changes.expunged == [uids[1]]
    assert again.mailbox("INBOX").highestmodseq == before.highestmodseq + 1
    new_uid = again.deliver("INBOX", message(9))
    assert new_uid == 4  # an expunged UID never comes back


def test_mutt_renames_are_followed(store: Store, user: UserStore) -> None:
    a = user.deliver("INBOX", message(1))
    b = user.deliver("INBOX", message(2), ["\\Seen", "\\Flagged"])
    (new_name,) = os.listdir(os.path.join(user.maildir, "new"))
    (cur_name,) = os.listdir(os.path.join(user.maildir, "cur"))
    # mutt reads a: new/ -> cur/ with S; mutt unflags b and marks it replied
    os.rename(
        os.path.join(user.maildir, "new", new_name),
        os.path.join(user.maildir, "cur", new_name + ":2,S"),
    )
    base = cur_name.split(":")[0]
    os.rename(
        os.path.join(user.maildir, "cur", cur_name),
        os.path.join(user.maildir, "cur", base + ":2,RS"),
    )
    before = user.mailbox("INBOX")
    again, report = reopen(store)
    assert counts(report) == {"renamed": 2, "flags_changed": 2}
    assert [(m.uid, m.flags) for m in again.fetch("INBOX")] == [
        (a, ("\\Seen",)),
        (b, ("\\Seen", "\\Answered")),
    ]
    changes = again.changes_since("INBOX", before.highestmodseq, before.uidnext)
    assert [m.uid for m in changes.changed] == [a, b]
    assert again.read_message("INBOX", a) == message(1)


def test_move_to_cur_without_flag_change_is_only_a_rename(store: Store, user: UserStore) -> None:
    user.deliver("INBOX", message())
    (name,) = os.listdir(os.path.join(user.maildir, "new"))
    os.rename(
        os.path.join(user.maildir, "new", name), os.path.join(user.maildir, "cur", name + ":2,")
    )
    before = user.mailbox("INBOX")
    again, report = reopen(store)
    assert counts(report) == {"renamed": 1}
    assert again.mailbox("INBOX") == before


def test_folders_appearing_and_vanishing(store: Store, user: UserStore) -> None:
    user.create("Gone")
    user.deliver("Gone", message())
    shutil.rmtree(user.folder_path("Gone"))
    maildir.ensure(os.path.join(user.maildir, ".Lists.python~2eorg"), subfolder=True)
    Path(user.maildir, ".Lists.python~2eorg", "new", "1.x").write_bytes(b"m")
    os.mkdir(os.path.join(user.maildir, ".INBOX"))
    os.mkdir(os.path.join(user.maildir, ".INBOX", "cur"))
    os.mkdir(os.path.join(user.maildir, ".nocur"))  # not a folder at all: ignored
    again, report = reopen(store)
    assert counts(report) == {
        "mailboxes_added": 1,
        "mailboxes_removed": 1,
        "vanished": 1,
        "adopted": 1,
    }
    assert report.unusable_folders == [".INBOX"]
    assert "Gone" not in again.mailbox_names()
    assert "Lists/python.org" in again.mailbox_names()
    assert again.read_message("Lists/python.org", 1) == b"m"
    assert "mailbox 'Gone' removed: its folder vanished (1 messages)" in report.details


def test_lost_inbox_folder_is_recreated(store: Store, user: UserStore) -> None:
    user.deliver("INBOX", message())
    shutil.rmtree(os.path.join(user.maildir, "new"))
    again, report = reopen(store)
    assert counts(report) == {"vanished": 1}
    assert again.deliver("INBOX", message()) == 2


def test_missing_index_is_rebuilt_with_new_uidvalidity(
    store: Store, user: UserStore, clock: Clock
) -> None:
    user.deliver("INBOX", message(1), ["\\Seen"])
    user.deliver("Sent", message(2))
    old = user.mailbox("INBOX").uidvalidity
    store.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(os.path.join(user.home, "index.sqlite" + suffix)):
            os.unlink(os.path.join(user.home, "index.sqlite" + suffix))
    clock.now += 100
    again, report = reopen(store)
    assert report.rebuilt is True
    assert counts(report) == {"adopted": 2}
    assert again.mailbox("INBOX").uidvalidity > old
    assert [m.flags for m in again.fetch("INBOX")] == [("\\Seen",)]
    assert again.read_message("Sent", 1) == message(2)
    assert again.mailbox("Sent").special_use == "\\Sent"


def test_corrupt_index_is_kept_aside_and_rebuilt(
    store: Store, user: UserStore, clock: Clock
) -> None:
    user.deliver("INBOX", message(1))
    store.close()
    index = os.path.join(user.home, "index.sqlite")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(index + suffix):
            os.unlink(index + suffix)
    Path(index).write_bytes(b"this is not a database" * 100)
    again, report = reopen(store)
    assert report.rebuilt is True
    assert report.corrupt_index_kept == f"{index}.corrupt-{int(clock.now)}"
    assert Path(report.corrupt_index_kept).read_bytes().startswith(b"this is not")
    assert counts(report) == {"adopted": 1}
    assert again.read_message("INBOX", 1) == message(1)


def test_stale_tmp_and_deleted_leftovers_are_swept(
    store: Store, user: UserStore, clock: Clock
) -> None:
    half = Path(user.maildir, "tmp", "half")
    half.write_bytes(b"half")
    os.utime(half, (T0 - 10**6, T0 - 10**6))  # an old internaldate does not make it stale
    os.makedirs(os.path.join(user.home, "deleted", ".X.1.2", "cur"))
    ctime = os.stat(half).st_ctime
    clock.now = ctime + maildir.TMP_MAX_AGE - 10  # maybe still being written by someone
    again, report = reopen(store)
    assert report.stale_tmp_removed == 0
    assert half.exists()
    assert os.listdir(os.path.join(again.home, "deleted")) == []
    clock.now = ctime + maildir.TMP_MAX_AGE + 10
    again, report = reopen(store)
    assert report.stale_tmp_removed == 1
    assert not half.exists()


def test_each_intermediate_state_of_a_delivery(store: Store, user: UserStore) -> None:
    """A crash after each step of deliver: never a half message, never a lost one."""
    data = message(1)
    # 1. written to tmp/ (maybe partly), never renamed: invisible, swept after 36 hours
    Path(user.maildir, "tmp", "1.half").write_bytes(data[:5])
    # 2. renamed into new/ but the index not updated: adopted
    Path(user.maildir, "new", f"2.placed,S={len(data)}").write_bytes(data)
    again, report = reopen(store)
    assert counts(report) == {"adopted": 1}
    assert [m.uid for m in again.fetch("INBOX")] == [1]
    assert again.read_message("INBOX", 1) == data
    # 3. committed too: nothing to do on the next open
    again, report = reopen(store)
    assert counts(report) == {}
    assert again.status("INBOX").messages == 1


def test_report_details_are_bounded(store: Store, user: UserStore) -> None:
    for n in range(250):
        Path(user.maildir, "new", f"{n:04d}.x").write_bytes(b"m")
    _, report = reopen(store)
    assert report.adopted == 250
    assert len(report.details) == 200


def test_folder_made_without_tmp_gets_one(store: Store, user: UserStore) -> None:
    os.makedirs(os.path.join(user.maildir, ".Mutt", "cur"))
    again, report = reopen(store)
    assert report.mailboxes_added == 1
    assert again.deliver("Mutt", message()) == 1
    user_known = os.path.join(again.maildir, ".Sent", "tmp")
    shutil.rmtree(user_known)
    again, _ = reopen(store)
    assert again.deliver("Sent", message()) == 1


def test_a_corrupt_index_another_process_holds_goes_aside_with_its_wal_and_shm(
    tmp_path: Path, clock: Clock
) -> None:
    # While another process has the index open, its WAL and shared memory stay on disk when
    # this one closes: they go aside with the index, never to be read beside the new one.
    user, _ = UserStore.open(str(tmp_path), clock=clock, host="h")
    for n in range(100):
        user.create(f"box{n:03d}-" + "x" * 100)
    user.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index = tmp_path / "index.sqlite"
    holder = sqlite3.connect(str(index), isolation_level=None)
    holder.execute("SELECT count(*) FROM mailboxes").fetchone()
    user.close()
    raw = bytearray(index.read_bytes())
    for offset in range(4096 * 2, len(raw) - 4096, 4096):
        raw[offset + 100 : offset + 300] = b"\xff" * 200  # B-tree pages past the header
    index.write_bytes(bytes(raw))
    try:
        again, report = UserStore.open(str(tmp_path), clock=clock, host="h")
    finally:
        holder.close()
    kept = report.corrupt_index_kept
    assert kept == f"{index}.corrupt-{int(clock.now)}"
    for suffix in ("-wal", "-shm"):
        assert os.path.exists(kept + suffix)
    assert report.mailboxes_added == 100  # every folder is still there, adopted again
    again.close()


def test_a_file_gone_between_listing_and_adoption_is_skipped_and_the_next_adopted(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(user.maildir, "new", "100.first").write_bytes(b"one")
    Path(user.maildir, "new", "200.second").write_bytes(b"two!")
    real = maildir.listing

    def listing_then_gone(folder: str) -> dict[str, tuple[str, str]]:
        found = real(folder)
        if folder == user.maildir:  # mutt expunged it right after we listed the folder
            Path(user.maildir, "new", "100.first").unlink(missing_ok=True)
        return found

    monkeypatch.setattr(maildir, "listing", listing_then_gone)
    report = user.reconcile()
    assert counts(report) == {"adopted": 1}
    assert report.details == ["INBOX UID 1 adopted: file new/200.second"]
    assert [(m.uid, m.size) for m in user.fetch("INBOX")] == [(1, 4)]
    assert user.read_message("INBOX", 1) == b"two!"
