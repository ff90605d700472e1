"""Mailbox operations: defaults, CREATE, DELETE, RENAME, subscriptions, LIST, LSUB, STATUS."""

from __future__ import annotations

import os
import stat

import pytest

from mailserver.store import ListEntry, Status, Store, StoreError, UserStore, maildir
from mailserver.store.errors import ALREADYEXISTS, CANNOT, NONEXISTENT

from .conftest import ADDRESS, T0, message

DEFAULT_NAMES = ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]


def folders(user: UserStore) -> list[str]:
    return sorted(e for e in os.listdir(user.maildir) if e.startswith("."))


def test_defaults_with_special_use(user: UserStore) -> None:
    assert user.mailbox_names() == DEFAULT_NAMES
    assert folders(user) == [".Archive", ".Drafts", ".Junk", ".Sent", ".Trash"]
    uses = {e.name: e.special_use for e in user.list_mailboxes("*")}
    assert uses == {
        "Archive": "\\Archive",
        "Drafts": "\\Drafts",
        "INBOX": None,
        "Junk": "\\Junk",
        "Sent": "\\Sent",
        "Trash": "\\Trash",
    }
    assert user.subscriptions() == DEFAULT_NAMES
    for name in ("Archive", "Drafts", "Junk", "Sent", "Trash"):
        assert os.path.exists(os.path.join(user.maildir, "." + name, "maildirfolder"))


def test_uidvalidity_unique_and_from_the_clock(user: UserStore) -> None:
    values = [user.mailbox(n).uidvalidity for n in DEFAULT_NAMES]
    assert len(set(values)) == 6
    assert all(int(T0) <= v <= int(T0) + 6 for v in values)
    info = user.mailbox("INBOX")
    assert (info.uidnext, info.highestmodseq) == (1, 1)


def test_deleted_default_stays_deleted(store: Store, user: UserStore) -> None:
    user.delete("Junk")
    store.close()
    again = store.user(ADDRESS)
    assert "Junk" not in again.mailbox_names()


def test_create(user: UserStore) -> None:
    info = user.create("Work/2024")
    assert info.name == "Work/2024"
    assert info.uidnext == 1
    assert "Work" in user.mailbox_names()  # superior created too
    assert folders(user)[-2:] == [".Work", ".Work.2024"]
    assert user.create("Trailing/").name == "Trailing"
    assert user.create("Proj", "\\Flagged").special_use == "\\Flagged"


@pytest.mark.parametrize(
    ("name", "code", "why"),
    [
        ("INBOX", ALREADYEXISTS, "mailbox 'INBOX' exists"),
        ("inbox", ALREADYEXISTS, "mailbox 'INBOX' exists"),
        ("Sent", ALREADYEXISTS, "mailbox 'Sent' exists"),
        ("Sent/", ALREADYEXISTS, "mailbox 'Sent' exists"),
        ("a//b", CANNOT, "empty hierarchy level"),
        ("a*", CANNOT, "contains"),
    ],
)
def test_create_refuses(user: UserStore, name: str, code: str, why: str) -> None:
    with pytest.raises(StoreError, match=why) as info:
        user.create(name)
    assert info.value.code == code


def test_create_refuses_unknown_special_use(user: UserStore) -> None:
    with pytest.raises(StoreError, match="unknown special use") as info:
        user.create("X", "\\Important")
    assert info.value.code == CANNOT
    assert "X" not in user.mailbox_names()


def test_special_use_goes_to_the_created_mailbox_not_its_new_parents(user: UserStore) -> None:
    info = user.create("Projects/2023/Done", "\\Archive")
    assert info.special_use == "\\Archive"
    assert user.mailbox("Projects").special_use is None
    assert user.mailbox("Projects/2023").special_use is None
    assert [(e.name, e.special_use) for e in user.list_mailboxes("Projects*")] == [
        ("Projects", None),
        ("Projects/2023", None),
        ("Projects/2023/Done", "\\Archive"),
    ]


def test_names_with_dots_slashes_and_non_ascii(user: UserStore) -> None:
    user.create("v1.2/Ré~sumé")
    assert ".v1~2e2.Ré~7esumé" in folders(user)
    uid = user.deliver("v1.2/Ré~sumé", message())
    assert user.read_message("v1.2/Ré~sumé", uid) == message()
    assert [e.name for e in user.list_mailboxes("v1.2/*")] == ["v1.2/Ré~sumé"]


def test_delete(user: UserStore) -> None:
    user.create("Old")
    user.deliver("Old", message())
    user.delete("Old")
    assert "Old" not in user.mailbox_names()
    assert ".Old" not in folders(user)
    assert os.listdir(os.path.join(user.home, "deleted")) == []
    with pytest.raises(StoreError, match="no mailbox 'Old'") as info:
        user.status("Old")
    assert info.value.code == NONEXISTENT


def test_recreated_mailbox_has_new_uidvalidity(user: UserStore) -> None:
    first = user.create("X").uidvalidity
    user.delete("X")
    assert user.create("X").uidvalidity > first


def test_delete_with_children_leaves_noselect_parent(user: UserStore) -> None:
    user.create("P/C")
    user.deliver("P", message())
    user.delete("P")
    assert [(e.name, e.exists, e.has_children) for e in user.list_mailboxes("P*")] == [
        ("P", False, True),
        ("P/C", True, False),
    ]
    with pytest.raises(StoreError, match="'P' has inferior mailboxes") as info:
        user.delete("P")
    assert info.value.code == CANNOT
    user.delete("P/C")
    with pytest.raises(StoreError, match="no mailbox 'P'") as info:
        user.delete("P")
    assert info.value.code == NONEXISTENT


def test_delete_inbox_refused(user: UserStore) -> None:
    with pytest.raises(StoreError, match="INBOX cannot be deleted") as info:
        user.delete("inbox")
    assert info.value.code == CANNOT


def test_rename_with_inferiors_keeps_uids(user: UserStore) -> None:
    user.create("A/B")
    uid = user.deliver("A/B", message())
    before = user.mailbox("A/B").uidvalidity
    user.rename("A", "Z/Y")
    assert [n for n in user.mailbox_names() if n[:2] in ("A/", "Z", "Z/")] == ["Z", "Z/Y", "Z/Y/B"]
    assert "A" not in user.mailbox_names()
    assert user.mailbox("Z/Y/B").uidvalidity == before
    assert user.read_message("Z/Y/B", uid) == message()
    assert ".A" not in folders(user)
    assert {".Z", ".Z.Y", ".Z.Y.B"} <= set(folders(user))


def test_a_rename_that_fails_midway_puts_every_folder_back(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user.create("A/B")
    uids = {name: user.deliver(name, message(n)) for n, name in enumerate(["A", "A/B"])}
    before = folders(user)

    def lost(path: str) -> None:  # the disk fails after both folders were renamed
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(maildir, "fsync_dir", lost)
    with pytest.raises(OSError, match=r"Input/output error"):
        user.rename("A", "Z")
    assert folders(user) == before
    assert {".A", ".A.B"} <= set(before) and ".Z" not in before
    assert user.mailbox_names() == sorted([*DEFAULT_NAMES, "A", "A/B"])
    monkeypatch.undo()
    assert [user.read_message(name, uid) for name, uid in uids.items()] == [message(0), message(1)]


@pytest.mark.parametrize(
    ("old", "new", "code", "why"),
    [
        ("Nope", "X", NONEXISTENT, "no mailbox 'Nope'"),
        ("Sent", "Trash", ALREADYEXISTS, "mailbox 'Trash' exists"),
        ("Sent", "INBOX", ALREADYEXISTS, "mailbox 'INBOX' exists"),
        ("Nope", "INBOX", ALREADYEXISTS, "mailbox 'INBOX' exists"),  # before the source
        ("Sent", "Sent", ALREADYEXISTS, "mailbox 'Sent' exists"),
        ("Sent", "Sent/Sub", CANNOT, "cannot rename 'Sent' under itself"),
    ],
)
def test_rename_refuses(user: UserStore, old: str, new: str, code: str, why: str) -> None:
    with pytest.raises(StoreError, match=why) as info:
        user.rename(old, new)
    assert info.value.code == code
    assert user.mailbox_names() == DEFAULT_NAMES


def test_rename_refuses_when_an_inferior_target_exists(user: UserStore) -> None:
    user.create("A/B")
    user.create("Q/B")
    with pytest.raises(StoreError, match="mailbox 'Q' exists"):
        user.rename("A", "Q")
    user.delete("Q")  # Q stays as the \\Noselect parent of Q/B
    with pytest.raises(StoreError, match="mailbox 'Q/B' exists") as info:
        user.rename("A", "Q")
    assert info.value.code == ALREADYEXISTS
    assert "A/B" in user.mailbox_names()
    assert ".A.B" in folders(user)


@pytest.mark.parametrize("source", ["Sent", "INBOX"])
@pytest.mark.parametrize("half", ["row", "folder"])
def test_rename_refuses_a_target_that_is_only_half_there(
    user: UserStore, source: str, half: str
) -> None:
    # Between two reconciles the index and the Maildir can disagree: a folder removed by
    # hand still has its row, one made by mutt has none. Either half means the name is taken.
    uid = user.deliver(source, message())
    if half == "row":
        user.create("Taken")
        os.rename(user.folder_path("Taken"), os.path.join(user.home, "elsewhere"))
    else:
        maildir.ensure(user.folder_path("Taken"), subfolder=True)
    with pytest.raises(StoreError, match=r"^mailbox 'Taken' exists$") as info:
        user.rename(source, "Taken")
    assert info.value.code == ALREADYEXISTS
    assert [m.uid for m in user.fetch(source)] == [uid]
    assert user.read_message(source, uid) == message()
    assert ("Taken" in user.mailbox_names()) == (half == "row")


def test_rename_inbox_moves_messages_and_leaves_it_empty(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    user.store("INBOX", [uids[0]], "add", ["\\Seen", "Work"])
    user.create("INBOX/Child")
    inbox = user.mailbox("INBOX")
    user.rename("INBOX", "Old Mail")
    assert user.status("INBOX") == Status(
        messages=0,
        recent=0,
        uidnext=4,
        uidvalidity=inbox.uidvalidity,
        unseen=0,
        highestmodseq=inbox.highestmodseq + 1,
        size=0,
    )
    moved = user.fetch("Old Mail")
    assert [m.uid for m in moved] == uids
    assert moved[0].flags == ("\\Seen", "Work")
    assert user.mailbox("Old Mail").uidvalidity != inbox.uidvalidity
    assert [user.read_message("Old Mail", u) for u in uids] == [message(n) for n in range(3)]
    assert "INBOX/Child" in user.mailbox_names()  # inferiors of INBOX are not renamed
    changes = user.changes_since("INBOX", inbox.highestmodseq, inbox.uidnext)
    assert changes.expunged == uids
    assert os.listdir(os.path.join(user.maildir, "cur")) == []
    assert os.listdir(os.path.join(user.maildir, "new")) == []
    assert user.select("Old Mail").keywords == ("Work",)


def test_subscriptions(user: UserStore) -> None:
    user.subscribe("Not/There")
    user.subscribe("inbox")
    assert user.subscriptions() == sorted([*DEFAULT_NAMES, "Not/There"])
    assert user.unsubscribe("Not/There") is True
    assert user.unsubscribe("Not/There") is False
    user.delete("Junk")
    assert "Junk" in user.subscriptions()  # never removed behind the client's back


def test_list_and_lsub(user: UserStore) -> None:
    user.create("A/B/C")
    user.delete("A/B")
    user.subscribe("A/B/C")
    user.unsubscribe("Junk")
    assert user.list_mailboxes("A/%") == [
        ListEntry(name="A/B", exists=False, has_children=True, special_use=None, subscribed=False)
    ]
    assert user.list_mailboxes("%") == [
        ListEntry(
            name=n,
            exists=True,
            has_children=n == "A",
            special_use=None if n in ("A", "INBOX") else "\\" + n,
            subscribed=n not in ("A", "Junk"),
        )
        for n in ["A", *DEFAULT_NAMES]
    ]
    assert user.list_subscribed("A/%") == [
        ListEntry(name="A/B", exists=False, has_children=True, special_use=None, subscribed=False)
    ]
    assert user.list_subscribed("*")[0] == ListEntry(
        name="A", exists=False, has_children=True, special_use=None, subscribed=False
    )
    assert [e.name for e in user.list_subscribed("*")] == [
        "A",
        "A/B",
        "A/B/C",
        "Archive",
        "Drafts",
        "INBOX",
        "Sent",
        "Trash",
    ]
    assert user.list_mailboxes("nothing*") == []
    assert user.list_subscribed("Sent") == [
        ListEntry(
            name="Sent", exists=True, has_children=False, special_use="\\Sent", subscribed=True
        )
    ]


def test_status(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1))
    user.deliver("INBOX", message(22), ["\\Seen"])
    info = user.mailbox("INBOX")
    assert user.status("INBOX") == Status(
        messages=2,
        recent=2,
        uidnext=3,
        uidvalidity=info.uidvalidity,
        unseen=1,
        highestmodseq=3,
        size=len(message(1)) + len(message(22)),
    )
    user.select("INBOX")
    assert user.status("INBOX").recent == 0
    user.store("INBOX", [a], "add", ["\\Seen"])
    assert user.status("inbox").unseen == 0
    assert user.status("Sent") == Status(
        messages=0,
        recent=0,
        uidnext=1,
        uidvalidity=user.mailbox("Sent").uidvalidity,
        unseen=0,
        highestmodseq=1,
        size=0,
    )


def test_rename_inbox_moves_every_file_when_one_has_vanished(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    os.unlink(user.message_file("INBOX", uids[0]).path)  # gone behind the index's back
    user.rename("INBOX", "Old Mail")
    assert [user.read_message("Old Mail", u) for u in uids[1:]] == [message(1), message(2)]
    assert os.listdir(os.path.join(user.maildir, "new")) == []  # nothing for INBOX to adopt


def test_rename_inbox_syncs_both_folders_cur_and_new(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the renamed files are durable only once the directories holding their names are synced:
    # else a power cut can put them back in INBOX while the index has them in the new mailbox
    user.deliver("INBOX", message(1))
    user.deliver("INBOX", message(2), ["\\Seen"])
    synced: list[str] = []
    monkeypatch.setattr(maildir, "fsync_dir", synced.append)
    user.rename("INBOX", "Old")
    old = user.folder_path("Old")
    wanted = {os.path.join(f, sub) for f in (user.maildir, old) for sub in ("cur", "new")}
    assert wanted <= set(synced)


def test_deleted_folders_wait_in_a_private_directory(user: UserStore) -> None:
    user.create("Old")
    mask = os.umask(0)
    try:
        user.delete("Old")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(os.path.join(user.home, "deleted")).st_mode) == 0o700


def test_delete_succeeds_when_its_copy_in_deleted_cannot_be_removed(
    store: Store, user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mailbox is gone once the index commits: a copy in deleted/ that cannot be removed
    # then (a file not ours, a read-only disk) is no error, and is swept at the next open.
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    for n in range(2):  # the same name twice in one second: two copies, two names
        user.create("Old")
        user.deliver("Old", message(n))
        with monkeypatch.context() as m:
            m.setattr(os, "unlink", refused)
            user.delete("Old")
        assert "Old" not in user.mailbox_names()
    graveyard = os.path.join(user.home, "deleted")
    left = sorted(os.listdir(graveyard))
    assert len(left) == 2
    assert all(name.startswith(f".Old.{os.getpid()}.") for name in left)
    store.close()
    store.user(ADDRESS)
    assert os.listdir(graveyard) == []
