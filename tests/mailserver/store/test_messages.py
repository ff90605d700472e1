"""Message operations: delivery, APPEND, COPY, MOVE, STORE, EXPUNGE, reading, summaries, POP3."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from mailserver.store import (
    CopyResult,
    Delivery,
    MessageMeta,
    Pop3Entry,
    ReconcileReport,
    Store,
    StoreError,
    UserStore,
    maildir,
)
from mailserver.store.base import MAX_UID
from mailserver.store.errors import CANNOT, LIMIT, NONEXISTENT
from mailserver.store.messages import SELECT_CACHE

from .conftest import ADDRESS, SCRATCH, T0, Clock, files, message


def test_deliver_writes_crlf_file_in_new(user: UserStore) -> None:
    uid = user.deliver("INBOX", b"Subject: x\n\nline\rcr\n")
    assert uid == 1
    on_disk = files(user)
    assert on_disk["cur"] == [] and on_disk["tmp"] == []
    (name,) = on_disk["new"]
    assert re.fullmatch(rf"{int(T0)}\.M\d+P{os.getpid()}Q\d+\.mx\.test,S=24", name)
    body = b"Subject: x\r\n\r\nline\r\ncr\r\n"
    assert Path(user.maildir, "new", name).read_bytes() == body
    assert user.read_message("INBOX", uid) == body
    assert user.fetch("INBOX") == [
        MessageMeta(uid=1, size=24, internaldate=int(T0), flags=(), modseq=2)
    ]


def test_index_data_are_ordinary_frozen_values(user: UserStore) -> None:
    uid = user.deliver("INBOX", message(), ["\\Seen", "Work"], internaldate=1_000_000_000)
    (meta,) = user.fetch("INBOX")
    made = MessageMeta(
        uid=uid, size=len(message()), internaldate=1_000_000_000, flags=("\\Seen", "Work"), modseq=2
    )
    assert meta == made and hash(meta) == hash(made)
    # the save date is now, not the date the message carries (RFC 8514)
    assert meta.savedate == int(user.clock()) and meta.savedate != meta.internaldate
    made = dataclasses.replace(made, savedate=meta.savedate)
    assert repr(meta) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.uid = 7  # type: ignore[misc]
    assert meta.uid == uid


def test_append_with_flags_and_date_goes_to_cur(user: UserStore) -> None:
    uid = user.deliver(
        "Sent",
        message(),
        ["\\Seen", "\\Answered", "$Forwarded", "Work"],
        internaldate=1_000_000_000.5,
    )
    (name,) = files(user, "Sent")["cur"]
    assert name.endswith(f",S={len(message())}:2,PRS")
    assert os.stat(os.path.join(user.folder_path("Sent"), "cur", name)).st_mtime == 1_000_000_000
    (meta,) = user.fetch("Sent", [uid])
    assert meta.flags == ("\\Seen", "\\Answered", "$Forwarded", "Work")
    assert meta.internaldate == 1_000_000_000
    assert user.select("Sent").keywords == ("$Forwarded", "Work")


def test_uids_and_modseqs_increase(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    assert uids == [1, 2, 3]
    assert [m.modseq for m in user.fetch("INBOX")] == [2, 3, 4]
    info = user.mailbox("INBOX")
    assert (info.uidnext, info.highestmodseq) == (4, 4)


def test_deliver_refusals_leave_nothing(user: UserStore) -> None:
    with pytest.raises(StoreError, match="no mailbox 'Nope'") as info:
        user.deliver("Nope", message())
    assert info.value.code == NONEXISTENT
    with pytest.raises(StoreError, match="cannot store flag"):
        user.deliver("INBOX", message(), ["\\Recent"])
    assert files(user) == {"new": [], "cur": [], "tmp": []}
    assert user.status("INBOX").messages == 0


def test_deliver_many_one_transaction(user: UserStore) -> None:
    uids = user.deliver_many(
        [
            ("INBOX", message(1), (), None),
            ("Sent", message(2), ("\\Seen",), None),
            ("INBOX", message(3), (), None),
        ]
    )
    assert uids == [1, 1, 2]
    assert [m.modseq for m in user.fetch("INBOX")] == [2, 2]  # one MODSEQ per mailbox


def test_deliver_many_is_all_or_nothing(user: UserStore) -> None:
    with pytest.raises(StoreError, match="no mailbox 'Gone'"):
        user.deliver_many([("INBOX", message(1), (), None), ("Gone", message(2), (), None)])
    assert files(user) == {"new": [], "cur": [], "tmp": []}
    assert user.mailbox("INBOX").uidnext == 1


def test_deliver_batch_across_users(store: Store) -> None:
    uids = store.deliver_batch(
        [
            Delivery(address="bob@hamburger.edu", data=message(1)),
            Delivery(address="Carol@Hamburger.edu", data=message(1)),
            Delivery(address="bob@hamburger.edu", data=message(2), mailbox="Junk"),
            Delivery(address="bob@hamburger.edu", data=message(3)),
        ]
    )
    assert uids == [1, 1, 1, 2]
    carol = store.user("carol@hamburger.edu")
    assert carol.home == os.path.join(store.root, "hamburger.edu", "carol")
    assert carol.read_message("INBOX", 1) == message(1)
    assert store.user(ADDRESS).read_message("INBOX", 2) == message(3)


def test_deliver_batch_failure_acknowledges_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="no mailbox 'Gone'"):
        store.deliver_batch(
            [
                Delivery(address="a@x.test", data=message(1)),
                Delivery(address="b@x.test", data=message(2), mailbox="Gone"),
            ]
        )
    for who in ("a@x.test", "b@x.test"):
        assert store.user(who).status("INBOX").messages == 0
        assert files(store.user(who)) == {"new": [], "cur": [], "tmp": []}


def test_deliver_batch_keeps_addresses_apart_that_upper_case_would_join(store: Store) -> None:
    uids = store.deliver_batch(
        [
            Delivery(address="straße@x.test", data=message(1)),
            Delivery(address="Strasse@x.test", data=message(2)),  # "STRASSE" either way
        ]
    )
    assert uids == [1, 1]
    assert store.user("straße@x.test").read_message("INBOX", 1) == message(1)
    assert store.user("strasse@x.test").read_message("INBOX", 1) == message(2)


def test_deliver_batch_keeps_what_one_user_committed_when_another_fails(store: Store) -> None:
    full = store.user("b@x.test")
    full.db.execute("UPDATE mailboxes SET uidnext = ? WHERE name = 'INBOX'", (MAX_UID + 1,))
    with pytest.raises(StoreError, match="'INBOX' has used every UID") as info:
        store.deliver_batch(
            [
                Delivery(address="a@x.test", data=message(1)),
                Delivery(address="b@x.test", data=message(2)),
            ]
        )
    assert info.value.code == LIMIT
    # a@ was committed first: its copy stays, as after a crash at this point (the sender
    # retries: a duplicate, never a loss); b@'s file is removed, nothing for reconcile to adopt
    assert store.user("a@x.test").read_message("INBOX", 1) == message(1)
    assert files(full) == {"new": [], "cur": [], "tmp": []}


def test_the_last_uid_then_limit(user: UserStore) -> None:
    # UIDs are 32-bit unsigned (RFC 3501 nz-number): the last one is listed like any other,
    # and a delivery after it is refused with LIMIT, its file removed
    user.db.execute("UPDATE mailboxes SET uidnext = ? WHERE name = 'INBOX'", (MAX_UID,))
    assert user.deliver("INBOX", message(1)) == MAX_UID
    assert list(user.uids("INBOX")) == [MAX_UID]
    assert list(user.select("INBOX").uids) == [MAX_UID]
    with pytest.raises(StoreError, match="'INBOX' has used every UID") as info:
        user.deliver("INBOX", message(2))
    assert info.value.code == LIMIT
    assert len(files(user)["new"]) == 1
    assert user.read_message("INBOX", MAX_UID) == message(1)


@pytest.mark.parametrize(
    "address",
    [
        "nobody",
        "@x.test",
        "a@",
        "a/b@x.test",
        "a@../x",
        ".a@x.test",
        "a@.x",
        "a\x00@x.test",
        "a@x\\y",
    ],
)
def test_bad_addresses(store: Store, address: str) -> None:
    with pytest.raises(StoreError, match="not a mailbox address") as info:
        store.home(address)
    assert info.value.code == CANNOT


def test_store_modes_and_file_names(user: UserStore) -> None:
    uid = user.deliver("INBOX", message())
    r = user.store("INBOX", [uid], "add", ["\\Seen", "\\Flagged", "Work"])
    assert r.changed == {uid} and r.failed == [] and r.modseq == 3
    assert r.messages == [
        MessageMeta(
            uid=uid,
            size=len(message()),
            internaldate=int(T0),
            flags=("\\Seen", "\\Flagged", "Work"),
            modseq=3,
        )
    ]
    assert files(user)["new"] == []
    assert files(user)["cur"][0].endswith(":2,FS")
    r = user.store("INBOX", [uid], "remove", ["\\Flagged", "WORK"])
    assert r.messages[0].flags == ("\\Seen",) and r.modseq == 4
    assert files(user)["cur"][0].endswith(":2,S")
    r = user.store("INBOX", [uid], "set", ["\\Deleted", "\\Draft"])
    assert r.messages[0].flags == ("\\Deleted", "\\Draft")
    assert files(user)["cur"][0].endswith(":2,DT")
    r = user.store("INBOX", [uid], "set", ["\\Deleted", "\\Draft"])
    assert r.changed == frozenset() and r.modseq == 5  # no change, no new MODSEQ
    assert user.mailbox("INBOX").highestmodseq == 5


def test_store_keeps_foreign_info_letters(user: UserStore) -> None:
    uid = user.deliver("INBOX", message(), ["\\Seen"])
    (name,) = files(user)["cur"]
    cur = os.path.join(user.maildir, "cur")
    os.rename(os.path.join(cur, name), os.path.join(cur, name + "ab"))  # Dovecot keyword letters
    user.reconcile()
    user.store("INBOX", [uid], "add", ["\\Flagged"])
    assert files(user)["cur"][0].endswith(":2,FSab")


def test_store_unchangedsince(user: UserStore) -> None:
    a, b = user.deliver("INBOX", message(1)), user.deliver("INBOX", message(2))
    user.store("INBOX", [b], "add", ["\\Seen"])  # b now has modseq 4, a has 2
    r = user.store("INBOX", [a, b, 99], "add", ["\\Flagged"], unchanged_since=3)
    assert r.failed == [b]
    assert r.changed == {a}
    assert [m.uid for m in r.messages] == [a, b]
    assert r.messages[1].flags == ("\\Seen",)
    r = user.store("INBOX", [a], "add", ["\\Answered"], unchanged_since=0)
    assert r.failed == [a] and r.changed == frozenset()


def test_store_refusals(user: UserStore) -> None:
    uid = user.deliver("INBOX", message())
    with pytest.raises(StoreError, match="unknown STORE mode 'toggle'") as refused:
        user.store("INBOX", [uid], "toggle", ["\\Seen"])
    assert refused.value.code == CANNOT
    with pytest.raises(StoreError, match="cannot store flag"):
        user.store("INBOX", [uid], "add", ["\\Recent"])
    many = [f"k{i}" for i in range(40)]
    user.store("INBOX", [uid], "add", many)
    with pytest.raises(StoreError, match="more than 64 keywords") as info:
        user.store("INBOX", [uid], "add", [f"j{i}" for i in range(25)])
    assert info.value.code == LIMIT
    assert user.fetch("INBOX")[0].flags == tuple(many)


def test_store_on_unknown_uids_is_empty(user: UserStore) -> None:
    r = user.store("INBOX", [5, 6], "add", ["\\Seen"])
    assert (r.messages, r.changed, r.failed, r.modseq) == ([], frozenset(), [], 1)


def test_copy(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1), ["\\Seen", "Work"])
    b = user.deliver("INBOX", message(2))
    result = user.copy("INBOX", [b, a, 77], "Archive")
    assert result == CopyResult(
        uidvalidity=user.mailbox("Archive").uidvalidity, mapping=[(a, 1), (b, 2)]
    )
    copies = user.fetch("Archive")
    assert [m.flags for m in copies] == [("\\Seen", "Work"), ()]
    assert [user.read_message("Archive", u) for u in (1, 2)] == [message(1), message(2)]
    assert user.select("Archive").recent == range(1, 3)
    assert files(user, "Archive")["new"] and files(user, "Archive")["cur"]
    # a hard link: same inode, different base
    src = user.message_file("INBOX", a).path
    dst = user.message_file("Archive", 1).path
    assert os.stat(src).st_ino == os.stat(dst).st_ino
    assert os.path.basename(src).split(":")[0] != os.path.basename(dst).split(":")[0]
    assert user.status("INBOX").messages == 2
    assert user.copy("INBOX", [], "Archive").mapping == []


def test_copy_to_missing_mailbox(user: UserStore) -> None:
    user.deliver("INBOX", message())
    with pytest.raises(StoreError, match="no mailbox 'Nope'") as info:
        user.copy("INBOX", [1], "Nope")
    assert info.value.code == NONEXISTENT


def test_move(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1), ["\\Flagged"])
    b = user.deliver("INBOX", message(2))
    before = user.mailbox("INBOX")
    result = user.move("INBOX", [a, b], "Trash")
    assert result.mapping == [(a, 1), (b, 2)]
    assert files(user) == {"new": [], "cur": [], "tmp": []}
    assert [m.flags for m in user.fetch("Trash")] == [("\\Flagged",), ()]
    changes = user.changes_since("INBOX", before.highestmodseq, before.uidnext)
    assert changes.expunged == [a, b]
    assert user.read_message("Trash", 2) == message(2)
    with pytest.raises(StoreError, match="cannot move messages to the mailbox they are in"):
        user.move("Trash", [1], "Trash")


def test_expunge(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(4)]
    user.store("INBOX", uids[:3], "add", ["\\Deleted"])
    assert user.expunge("INBOX", [uids[1], uids[3]]) == [uids[1]]  # UID EXPUNGE
    assert user.expunge("INBOX") == [uids[0], uids[2]]
    assert [m.uid for m in user.fetch("INBOX")] == [uids[3]]
    assert len(files(user)["cur"]) + len(files(user)["new"]) == 1
    assert user.expunge("INBOX") == []
    with pytest.raises(StoreError, match="no message with UID 1") as info:
        user.read_message("INBOX", uids[0])
    assert info.value.code == NONEXISTENT


def test_fetch_selects_uids(user: UserStore) -> None:
    for n in range(7):
        user.deliver("INBOX", message(n))
    uids = user.deliver_many([("INBOX", message(n), (), None) for n in range(600)])
    assert [m.uid for m in user.fetch("INBOX", [uids[0], uids[-1], 9999])] == [uids[0], uids[-1]]
    wide = set(uids[::2]) | {10_000}
    assert [m.uid for m in user.fetch("INBOX", wide)] == sorted(set(uids[::2]))
    assert user.fetch("INBOX", []) == []
    assert len(user.fetch("INBOX")) == 607


def test_uids_flagged_are_those_with_one_of_the_flag_masks(user: UserStore) -> None:
    uids = user.deliver_many(
        [
            ("INBOX", message(1), (), None),
            ("INBOX", message(2), ("\\Seen",), None),
            ("INBOX", message(3), ("\\Seen", "\\Flagged", "$Label1"), None),
            ("Sent", message(4), ("\\Seen",), None),  # another mailbox's
        ]
    )
    assert user.uids_flagged("INBOX", [0]) == {uids[0]}
    assert user.uids_flagged("INBOX", [1]) == {uids[1]}  # \Seen alone: not 3 (also \Flagged)
    assert user.uids_flagged("INBOX", [1, 5, 1]) == {uids[1], uids[2]}
    assert user.uids_flagged("INBOX", [4, 8]) == set()
    assert user.uids_flagged("INBOX", []) == set()
    user.store("INBOX", [uids[0]], "add", ["\\Seen"])
    assert user.uids_flagged("INBOX", [1]) == {uids[0], uids[1]}
    assert user.uids_flagged("Sent", [1]) == {uids[3]}
    with pytest.raises(StoreError, match="no mailbox 'Gone'") as caught:
        user.uids_flagged("Gone", [1])
    assert caught.value.code == NONEXISTENT


def test_open_follows_a_rename_behind_the_index(user: UserStore) -> None:
    uid = user.deliver("INBOX", message())
    (name,) = files(user)["new"]
    os.rename(
        os.path.join(user.maildir, "new", name), os.path.join(user.maildir, "cur", name + ":2,S")
    )
    assert user.read_message("INBOX", uid) == message()
    os.unlink(os.path.join(user.maildir, "cur", name + ":2,S"))
    with pytest.raises(StoreError, match="the file of UID 1 vanished") as info:
        user.read_message("INBOX", uid)
    assert info.value.code == NONEXISTENT


def summarize(data: bytes) -> Mapping[str, object]:
    subject = data.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
    return {
        "blob": b"cached:" + subject.encode(),
        "subject": subject,
        "date": 42,
        "message_id": "<id@x>",
        "subject_text": "\x00" + subject,
        "reply": 1,
        "subject_key": subject.upper(),
    }


def test_summaries(tmp_path: Path, clock: Clock) -> None:
    store = Store(str(tmp_path), clock=clock, host="h", summarize=summarize)
    user = store.user(ADDRESS)
    uid = user.deliver("INBOX", message(7))
    expected = {
        "blob": b"cached:msg 7",
        "date": 42,
        "subject": "msg 7",
        "from": None,
        "to": None,
        "cc": None,
        "message_id": "<id@x>",
        "in_reply_to": None,
        "references": None,
        "subject_text": "\x00msg 7",
        "reply": 1,
        "subject_key": "MSG 7",  # (copied and moved with the rest)
        "from_key": None,
        "to_key": None,
        "cc_key": None,
    }
    assert user.summary("INBOX", uid) == expected
    user.copy("INBOX", [uid], "Archive")
    assert user.summary("Archive", 1) == expected
    user.create("Moved")
    user.move("Archive", [1], "Moved")
    assert user.summary("Moved", 1) == expected
    store.close()


def test_summary_computed_on_first_use(store: Store, clock: Clock) -> None:
    user = store.user(ADDRESS)
    uid = user.deliver("INBOX", message(3))
    assert user.summary("INBOX", uid) is None  # no summarize function
    store.close()
    later = Store(store.root, clock=clock, host="h", summarize=summarize)
    assert later.user(ADDRESS).summary("INBOX", uid) == {
        "blob": b"cached:msg 3",
        "date": 42,
        "subject": "msg 3",
        "from": None,
        "to": None,
        "cc": None,
        "message_id": "<id@x>",
        "in_reply_to": None,
        "references": None,
        "subject_text": "\x00msg 3",
        "reply": 1,
        "subject_key": "MSG 3",
        "from_key": None,
        "to_key": None,
        "cc_key": None,
    }
    later.close()


def test_pop3_snapshot_and_delete(user: UserStore) -> None:
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    v = user.mailbox("INBOX").uidvalidity
    assert user.pop3_snapshot() == [
        Pop3Entry(uid=u, size=len(message(n)), uidl=f"{v:08x}{u:08x}") for n, u in enumerate(uids)
    ]
    before = user.mailbox("INBOX")
    assert user.pop3_delete([uids[0], uids[2], 99]) == [uids[0], uids[2]]
    assert [e.uid for e in user.pop3_snapshot()] == [uids[1]]
    assert user.changes_since("INBOX", before.highestmodseq, before.uidnext).expunged == [
        uids[0],
        uids[2],
    ]


def test_open_all_reconciles_every_user(store: Store, clock: Clock) -> None:
    store.deliver("a@x.test", "INBOX", message(1))
    store.deliver("b@y.test", "INBOX", message(2))
    os.makedirs(os.path.join(store.root, "y.test", "not-a-user"))
    Path(store.root, "stray-file").write_bytes(b"")
    b_home = store.home("b@y.test")
    store.close()
    Path(b_home, "Maildir", "new", "1.dropped-in").write_bytes(b"m")
    again = Store(store.root, clock=clock, host="h")
    reports = again.open_all()
    assert sorted(reports) == ["a@x.test", "b@y.test"]
    assert reports["b@y.test"].adopted == 1 and reports["a@x.test"].adopted == 0
    again.close()
    assert Store(os.path.join(store.root, "missing")).open_all() == {}


def test_flag_names_memo_is_bounded(user: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailserver.store import messages

    monkeypatch.setattr(messages, "_FLAG_NAMES_MAX", 3)
    monkeypatch.setattr(messages, "_FLAG_NAMES", {})
    uids = [user.deliver("INBOX", message(n), [f"k{n}"]) for n in range(5)]
    assert [m.flags for m in user.fetch("INBOX")] == [(f"k{n}",) for n in range(5)]
    assert len(messages._FLAG_NAMES) <= 3
    assert [m.flags for m in user.fetch("INBOX", uids[:1])] == [("k0",)]


def test_expunge_finds_a_file_renamed_behind_its_back(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1), ["\\Deleted"])
    b = user.deliver("INBOX", message(2), ["\\Deleted"])
    path_a = user.message_file("INBOX", a).path
    os.rename(path_a, path_a + "F")  # mutt flagged it: "...:2,T" -> "...:2,TF"
    os.unlink(user.message_file("INBOX", b).path)  # and b is already gone
    assert user.expunge("INBOX") == [a, b]
    assert files(user) == {"new": [], "cur": [], "tmp": []}


def test_expunge_when_a_renamed_file_goes_before_it_is_unlinked(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mutt flagged the file, and another process expunged it between the listing that found
    # it under its new name and the unlink: the message is expunged all the same
    uid = user.deliver("INBOX", message(1), ["\\Deleted"])
    path = user.message_file("INBOX", uid).path
    os.rename(path, path + "F")
    real_listing = maildir.listing

    def listing_then_gone(folder: str) -> dict[str, tuple[str, str]]:
        found = real_listing(folder)
        for sub, name in found.values():
            os.unlink(os.path.join(folder, sub, name))
        return found

    monkeypatch.setattr(maildir, "listing", listing_then_gone)
    assert user.expunge("INBOX") == [uid]
    assert user.fetch("INBOX") == []
    assert files(user) == {"new": [], "cur": [], "tmp": []}


def test_expunge_syncs_the_directory_that_held_each_name(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an unlink is durable once the directory that held the name is synced: else a power cut
    # brings the message back, and reconcile adopts it under a new UID
    user.deliver("INBOX", message(1), ["\\Deleted"])  # in cur/
    synced: list[str] = []
    monkeypatch.setattr(maildir, "fsync_dir", synced.append)
    assert user.expunge("INBOX") == [1]
    assert {os.path.normpath(p) for p in synced} == {os.path.join(user.maildir, "cur")}


def test_store_syncs_exactly_the_directories_a_renamed_file_left_and_entered(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a rename lost to a power cut brings the old flags back: each directory a file left or
    # entered is synced, once, and none when no file was renamed
    new_uid = user.deliver("INBOX", message(1))  # in new/
    cur_uid = user.deliver("INBOX", message(2), ["\\Seen"])  # in cur/
    synced: list[str] = []
    monkeypatch.setattr(maildir, "fsync_dir", synced.append)

    def store(uids: list[int], flag: str) -> list[str]:
        synced.clear()
        user.store("INBOX", uids, "add", [flag])
        return sorted(os.path.normpath(p) for p in synced)

    cur, new = (os.path.join(user.maildir, sub) for sub in ("cur", "new"))
    assert store([cur_uid], "\\Flagged") == [cur]  # cur/ -> cur/
    assert store([new_uid], "\\Seen") == [cur, new]  # new/ -> cur/
    assert store([new_uid, cur_uid], "\\Answered") == [cur]  # two renames in cur/
    assert store([new_uid, cur_uid], "\\Seen") == []  # no change, no rename


def test_store_follows_a_file_renamed_behind_its_back(user: UserStore) -> None:
    uid = user.deliver("INBOX", message())
    (name,) = files(user)["new"]
    os.rename(  # mutt read it: new/ -> cur/ with \\Seen in its name
        os.path.join(user.maildir, "new", name), os.path.join(user.maildir, "cur", name + ":2,S")
    )
    r = user.store("INBOX", [uid], "add", ["\\Flagged"])
    assert r.messages[0].flags == ("\\Flagged",)  # the index's flags, as reconcile would read
    assert files(user) == {"new": [], "cur": [name + ":2,F"], "tmp": []}
    assert user.message_file("INBOX", uid).path == os.path.join(user.maildir, "cur", name + ":2,F")
    assert user.read_message("INBOX", uid) == message()


def test_store_and_expunge_list_the_folder_only_for_a_file_moved_behind_their_back(
    user: UserStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # each file is renamed or unlinked where the index says it is, inside the mailbox's
    # folder whatever the working directory: a listing of the folder for each message would
    # make STORE 1:* or EXPUNGE on a big mailbox quadratic
    monkeypatch.chdir(tmp_path)
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    listed: list[str] = []
    real_listing = maildir.listing

    def counted(folder: str) -> dict[str, tuple[str, str]]:
        listed.append(folder)
        return real_listing(folder)

    monkeypatch.setattr(maildir, "listing", counted)
    user.store("INBOX", uids, "add", ["\\Seen"])
    user.store("INBOX", uids[:2], "add", ["\\Deleted"])
    paths = [user.message_file("INBOX", u).path for u in uids]
    assert [p.rsplit(":", 1)[1] for p in paths] == ["2,ST", "2,ST", "2,S"]
    assert files(user)["cur"] == sorted(os.path.basename(p) for p in paths)
    assert user.expunge("INBOX") == uids[:2]
    assert listed == []
    assert os.listdir(tmp_path) == []
    assert [user.read_message("INBOX", u) for u in uids[2:]] == [message(2)]


@pytest.mark.parametrize(
    "broken",
    [
        lambda data: 1 / 0,
        lambda data: {"subject": {"not": "a column value"}},
        lambda data: ["not a mapping"],
    ],
)
def test_a_failing_summarizer_never_stops_delivery(clock: Clock, broken: object) -> None:
    root = tempfile.mkdtemp(dir=SCRATCH)
    store = Store(root, clock=clock, host="h", summarize=broken)  # type: ignore[arg-type]
    user = store.user(ADDRESS)
    uid = user.deliver("INBOX", message(1))
    assert user.read_message("INBOX", uid) == message(1)
    assert user.summary("INBOX", uid) is None
    store.close()
    shutil.rmtree(root)


def test_store_deliver_keeps_the_flags_and_date_it_is_given(store: Store) -> None:
    uid = store.deliver(ADDRESS, "INBOX", message(1), ["\\Seen"], internaldate=T0 - 86400)
    (meta,) = store.user(ADDRESS).fetch("INBOX", [uid])
    assert (meta.internaldate, meta.flags) == (int(T0 - 86400), ("\\Seen",))


def test_a_reconcile_report_counts_under_the_names_the_log_shows() -> None:
    report = ReconcileReport(
        mailboxes_added=1,
        mailboxes_removed=2,
        adopted=3,
        vanished=4,
        renamed=5,
        flags_changed=6,
        stale_tmp_removed=7,
        recovered=8,
    )
    assert dict(report.counts()) == {
        "mailboxes_added": 1,
        "mailboxes_removed": 2,
        "adopted": 3,
        "vanished": 4,
        "renamed": 5,
        "flags_changed": 6,
        "stale_tmp_removed": 7,
        "recovered": 8,
    }


def test_select_answers_stay_right_when_kept_for_many_mailboxes(user: UserStore) -> None:
    names = [f"Box{i}" for i in range(SELECT_CACHE + 2)]
    for i, name in enumerate(names):
        user.create(name)
        user.deliver(name, message(i), ("\\Seen",) if i % 2 else ())
    for _ in range(2):  # the second round answers from what was kept, where it was kept
        for i, name in enumerate(names):
            snap = user.select(name, readonly=True)
            assert (list(snap.uids), snap.first_unseen) == ([1], None if i % 2 else 1)
    assert len(user._selected) == SELECT_CACHE  # bounded: the oldest went first
    assert user.mailbox(names[0]).name == names[0]
    user.store(names[0], [1], "add", ["\\Seen", "$Done"])  # a change: not answered from before
    snap = user.select(names[0])
    assert (list(snap.uids), snap.first_unseen, snap.keywords) == ([1], None, ("$Done",))


def test_message_files_in_one_query_and_read_file_follows_a_rename(user: UserStore) -> None:
    a = user.deliver("INBOX", message(1))
    b = user.deliver("INBOX", message(2), ["\\Seen"])
    where = user.message_files("INBOX", [b, 99, a])  # an unknown UID is left out
    assert sorted(where) == [a, b]
    assert where[a] == user.message_file("INBOX", a) and where[b] == user.message_file("INBOX", b)
    assert (where[a].size, where[b].size) == (len(message(1)), len(message(2)))
    queries: list[str] = []
    user.db.set_trace_callback(queries.append)
    assert user.read_file("INBOX", a, where[a]) == message(1)
    user.db.set_trace_callback(None)
    assert queries == []  # read where message_files found it: the index is not asked again
    assert user.read_file("INBOX", b, None) == message(2)  # no path given: found as usual
    os.rename(where[b].path, where[b].path + "F")  # mutt flagged it after the lookup
    assert user.read_file("INBOX", b, where[b]) == message(2)
    os.unlink(where[a].path)  # gone for good
    with pytest.raises(StoreError, match="vanished") as info:
        user.read_file("INBOX", a, where[a])
    assert info.value.code == NONEXISTENT
    assert user.message_files("INBOX", []) == {}


def test_fetch_of_many_uids_reads_their_range_and_keeps_only_those_asked(
    user: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailserver.store import messages as ops

    uids = [user.deliver("INBOX", message(n)) for n in range(6)]
    monkeypatch.setattr(ops, "_IN_CHUNK", 2)
    queries: list[str] = []
    user.db.set_trace_callback(queries.append)
    got = user.fetch("INBOX", [uids[4], uids[1], uids[2], uids[1]])
    user.db.set_trace_callback(None)
    assert [m.uid for m in got] == [uids[1], uids[2], uids[4]]  # not uids[3], in the range
    assert [m.size for m in got] == [len(message(n)) for n in (1, 2, 4)]
    assert len([q for q in queries if "BETWEEN" in q and "IN (" not in q]) == 1
