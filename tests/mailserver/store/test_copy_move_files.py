"""COPY and MOVE on disk: the files they put in the target folder (Maildir names, hard links or
durable copies, mtimes), the index rows beside them, what happens when a file was renamed or
removed behind the index's back, and how a failed COPY or MOVE puts everything back."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from mailserver.store import CopyResult, Store, StoreError, UserStore, maildir
from mailserver.store.base import MAX_UID
from mailserver.store.errors import LIMIT

from .conftest import ADDRESS, T0, Clock, message
from .test_messages import files, summarize


def fresh_name(size: int, info: str | None = None) -> str:
    """A pattern for a file name COPY makes: a new unique base of this process and host."""
    tail = "" if info is None else re.escape(maildir.INFO_SEP + info)
    return rf"{int(T0)}\.M\d+P{os.getpid()}Q\d+\.mx\.test,S={size}{tail}"


def test_copy_names_each_file_afresh_and_keeps_its_subdir_and_flags(user: UserStore) -> None:
    seen = user.deliver("INBOX", message(1), ["\\Seen", "\\Flagged"])
    unseen = user.deliver("INBOX", message(2))
    inbox = files(user)
    user.copy("INBOX", [seen, unseen], "Archive")
    on_disk = files(user, "Archive")
    (in_cur,) = on_disk["cur"]
    (in_new,) = on_disk["new"]
    assert on_disk["tmp"] == []
    # a flagged message lands in cur/ with its info letters, an unread one in new/ without
    assert re.fullmatch(fresh_name(len(message(1)), "FS"), in_cur)
    assert re.fullmatch(fresh_name(len(message(2))), in_new)
    # the bases are new ones, and the source folder is as it was
    assert maildir.FileName.parse(in_cur).base != maildir.FileName.parse(inbox["cur"][0]).base
    assert in_new != inbox["new"][0]
    assert files(user) == inbox
    # the index rows point at those files
    assert user.message_file("Archive", 1).path == os.path.join(
        user.folder_path("Archive"), "cur", in_cur
    )
    assert user.message_file("Archive", 2).path == os.path.join(
        user.folder_path("Archive"), "new", in_new
    )


def test_move_keeps_each_file_name(user: UserStore) -> None:
    flagged = user.deliver("INBOX", message(1), ["\\Answered"])
    plain = user.deliver("INBOX", message(2))
    before = files(user)
    result = user.move("INBOX", [flagged, plain], "Trash")
    assert result.mapping == [(flagged, 1), (plain, 2)]
    # a rename only: the base and the info stay, as mutt and Dovecot expect of a moved file
    assert files(user, "Trash") == before
    assert files(user) == {"new": [], "cur": [], "tmp": []}
    (name,) = before["cur"]
    assert name.endswith(":2,R")
    assert user.message_file("Trash", 1).path == os.path.join(
        user.folder_path("Trash"), "cur", name
    )


def test_copy_registers_the_keywords_in_the_target(user: UserStore) -> None:
    user.deliver("INBOX", message(1), ["$Forwarded", "Work"])
    assert user.select("Archive").keywords == ()
    user.copy("INBOX", [1], "Archive")
    assert user.select("Archive").keywords == ("$Forwarded", "Work")
    assert user.fetch("Archive")[0].flags == ("$Forwarded", "Work")


def test_copy_takes_the_indexed_file_when_another_has_its_base(user: UserStore) -> None:
    # a foreign program left a second file with the same base in cur/: the index's own file
    # (still there) is the one copied, not the one a listing of the folder would prefer
    uid = user.deliver("INBOX", message(1))
    (name,) = files(user)["new"]
    Path(user.maildir, "cur", name + ":2,S").write_bytes(message(9))
    user.copy("INBOX", [uid], "Archive")
    assert user.read_message("Archive", 1) == message(1)
    assert os.path.samefile(
        user.message_file("Archive", 1).path, os.path.join(user.maildir, "new", name)
    )


@pytest.mark.parametrize("move", [False, True])
def test_transfer_follows_a_file_renamed_behind_the_index(user: UserStore, move: bool) -> None:
    a = user.deliver("INBOX", message(1))
    b = user.deliver("INBOX", message(2))
    indexed = user.message_file("INBOX", a).path  # in new/
    renamed = os.path.join(user.maildir, "cur", os.path.basename(indexed) + ":2,S")  # mutt read it
    os.rename(indexed, renamed)
    inode = os.stat(renamed).st_ino
    result = (user.move if move else user.copy)("INBOX", [a, b], "Archive")
    assert result.mapping == [(a, 1), (b, 2)]
    assert [user.read_message("Archive", u) for u in (1, 2)] == [message(1), message(2)]
    assert os.stat(user.message_file("Archive", 1).path).st_ino == inode
    assert os.path.exists(renamed) is not move


@pytest.mark.parametrize("move", [False, True])
def test_transfer_skips_a_file_that_vanished(user: UserStore, move: bool) -> None:
    a = user.deliver("INBOX", message(1))
    b = user.deliver("INBOX", message(2))
    os.unlink(user.message_file("INBOX", a).path)  # gone behind the index's back
    result = (user.move if move else user.copy)("INBOX", [a, b], "Archive")
    assert result == CopyResult(uidvalidity=user.mailbox("Archive").uidvalidity, mapping=[(b, 1)])
    assert [m.uid for m in user.fetch("Archive")] == [1]
    assert user.read_message("Archive", 1) == message(2)
    assert sum(len(v) for v in files(user, "Archive").values()) == 1
    # the vanished one is left to reconcile in the source; a moved one is gone from it
    assert list(user.uids("INBOX")) == ([a] if move else [a, b])


def test_copy_without_hard_links_writes_a_durable_copy(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = user.deliver("INBOX", message(1), ["\\Seen"], internaldate=1_000_000_000)
    user.deliver("INBOX", message(2))

    def no_link(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    result = user.copy("INBOX", [uid, 2], "Archive")
    assert result.mapping == [(uid, 1), (2, 2)]
    on_disk = files(user, "Archive")
    assert on_disk["tmp"] == []  # written in tmp/, then renamed into place
    (in_cur,) = on_disk["cur"]
    assert re.fullmatch(fresh_name(len(message(1)), "S"), in_cur)
    (in_new,) = on_disk["new"]
    assert re.fullmatch(fresh_name(len(message(2))), in_new)
    for src_uid, dst_uid in result.mapping:
        src = user.message_file("INBOX", src_uid).path
        dst = user.message_file("Archive", dst_uid).path
        assert Path(dst).read_bytes() == Path(src).read_bytes()
        assert os.stat(dst).st_ino != os.stat(src).st_ino  # a copy, not a link
        assert os.stat(dst).st_mtime == os.stat(src).st_mtime  # the internaldate
    assert os.stat(os.path.join(user.folder_path("Archive"), "cur", in_cur)).st_mtime == (
        1_000_000_000
    )
    assert user.fetch("Archive")[0].internaldate == 1_000_000_000


@pytest.mark.parametrize("move", [False, True])
def test_transfer_syncs_the_directories_it_changed(
    user: UserStore, monkeypatch: pytest.MonkeyPatch, move: bool
) -> None:
    # the new names are durable only once the directories holding them are synced, and a
    # move's old names are gone for good only once the source's directories are
    user.deliver("INBOX", message(1), ["\\Seen"])
    user.deliver("INBOX", message(2))
    synced: list[str] = []
    monkeypatch.setattr(maildir, "fsync_dir", synced.append)
    (user.move if move else user.copy)("INBOX", [1, 2], "Archive")
    archive = user.folder_path("Archive")
    wanted = {os.path.join(archive, sub) for sub in ("cur", "new")}
    if move:
        wanted |= {os.path.join(user.maildir, sub) for sub in ("cur", "new")}
    assert wanted <= set(synced)


@pytest.mark.parametrize("move", [False, True])
def test_a_failed_transfer_puts_the_files_back(user: UserStore, move: bool) -> None:
    uids = [
        user.deliver("INBOX", message(1), ["\\Seen"]),
        user.deliver("INBOX", message(2)),
    ]
    before = files(user)
    # the target has one UID left: the index refuses the two rows after the files were placed
    user.db.execute("UPDATE mailboxes SET uidnext = ? WHERE name = 'Archive'", (MAX_UID,))
    with pytest.raises(StoreError, match=r"'Archive' has used every UID") as info:
        (user.move if move else user.copy)("INBOX", uids, "Archive")
    assert info.value.code == LIMIT
    assert files(user, "Archive") == {"new": [], "cur": [], "tmp": []}
    assert files(user) == before  # a moved file is back under its old name
    assert [user.read_message("INBOX", u) for u in uids] == [message(1), message(2)]
    assert user.fetch("Archive") == []


def test_copy_caches_each_summary_under_its_new_uid(tmp_path: Path, clock: Clock) -> None:
    store = Store(str(tmp_path), clock=clock, host="h", summarize=summarize)
    try:
        user = store.user(ADDRESS)
        user.deliver("Archive", message(5))  # UID 1 of the target, with its own summary
        a = user.deliver("INBOX", message(1))
        b = user.deliver("INBOX", message(2))
        assert user.copy("INBOX", [a, b], "Archive").mapping == [(a, 2), (b, 3)]
        subjects = [user.summary("Archive", u)["subject"] for u in (1, 2, 3)]  # type: ignore[index]
        assert subjects == ["msg 5", "msg 1", "msg 2"]
    finally:
        store.close()
