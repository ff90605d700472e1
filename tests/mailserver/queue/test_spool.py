"""The queue's spool folder: durable puts, updates, removal, and what a restart finds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mailserver.queue.retry import Entry, QueueError, Recipient, to_json
from mailserver.queue.spool import Loaded, Spool

T0 = 1_800_000_000.0
MSG = b"From: alice@crepes.fr\r\nSubject: hi\r\n\r\nbody\r\n"


def entry(ident: str = "A1", at: float = T0, *rcpts: str) -> Entry:
    return Entry(ident, "alice@crepes.fr", at, tuple(Recipient(r) for r in rcpts or ("b@x",)), at)


def test_put_then_load_gives_the_entry_and_its_message(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "q")
    spool.put(entry("A1"), MSG)
    assert (tmp_path / "q" / "data" / "A1").read_bytes() == MSG
    assert (tmp_path / "q" / "entries" / "A1.json").read_bytes() == to_json(entry("A1"))
    again = Spool(tmp_path / "q")  # a restart
    assert again.load() == Loaded([entry("A1")], [], 0)
    assert again.message("A1") == MSG
    assert again.header("A1") == b"From: alice@crepes.fr\r\nSubject: hi\r\n\r\n"
    assert again.header("A1", limit=10) == b"From: alic"


def test_an_id_is_taken_once_and_must_be_a_plain_token(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("A1"), MSG)
    with pytest.raises(QueueError, match=r"^queue id A1 is taken$"):
        spool.put(entry("A1"), b"other")
    assert spool.message("A1") == MSG
    for bad in ("../x", "", "a.json", "x" * 65):
        with pytest.raises(QueueError, match=r"^bad queue id "):
            spool.message(bad)


def test_update_replaces_the_envelope_and_remove_forgets_both(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("A1", T0, "b@x", "c@x"), MSG)
    later = Entry(
        "A1", "alice@crepes.fr", T0, (Recipient("c@x", "4.0.0", "busy", None),), T0 + 300, 1
    )
    spool.update(later)
    assert Spool(tmp_path).load().entries == [later]
    spool.remove("A1")
    spool.remove("A1")  # twice is harmless
    assert Spool(tmp_path).load() == Loaded([], [], 0)
    assert list((tmp_path / "data").iterdir()) == []


def test_entries_load_in_arrival_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for ident, at in (("C", T0 + 2), ("A", T0 + 1), ("B", T0 + 1)):
        spool.put(entry(ident, at), MSG)
    assert [e.id for e in spool.load().entries] == ["A", "B", "C"]


def test_a_message_without_envelope_was_never_acknowledged_and_goes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "data" / "ORPHAN").write_bytes(MSG)  # a crash between the two renames
    (tmp_path / "data" / ".ORPHAN.x.tmp").write_bytes(MSG)  # one inside write_atomically
    (tmp_path / "entries" / ".A2.json.y.tmp").write_bytes(b"{")
    spool.put(entry("A1"), MSG)
    assert spool.load() == Loaded([entry("A1")], [], 1)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["A1"]
    assert sorted(p.name for p in (tmp_path / "entries").iterdir()) == ["A1.json"]


def test_damaged_entries_are_set_aside_with_their_message(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("GOOD"), MSG)
    spool.put(entry("BAD"), b"kept for a person")
    (tmp_path / "entries" / "BAD.json").write_bytes(b'{"format": 1}')
    spool.put(entry("LOST"), MSG)
    os.unlink(tmp_path / "data" / "LOST")
    (tmp_path / "entries" / "OTHER.json").write_bytes(to_json(entry("ELSE")))
    (tmp_path / "entries" / "x.txt").write_bytes(b"?")
    found = spool.load()
    assert found.entries == [entry("GOOD")]
    assert found.corrupt == [
        "BAD.json: spool entry: recipients is missing or not a list",
        "LOST.json: its message file is missing",
        "OTHER.json: it names another id, ELSE",
        "x.txt: not a queue entry's name",
    ]
    assert (tmp_path / "corrupt" / "BAD.message").read_bytes() == b"kept for a person"
    assert sorted(p.name for p in (tmp_path / "corrupt").iterdir()) == [
        "BAD.json",
        "BAD.message",
        "LOST.json",
        "OTHER.json",
        "x.txt",
    ]
    assert Spool(tmp_path).load() == Loaded([entry("GOOD")], [], 0)  # nothing left to report


def test_the_folders_are_the_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        Spool(tmp_path / "q")
    finally:
        os.umask(old)
    for name in ("data", "entries", "corrupt"):
        assert stat.S_IMODE((tmp_path / "q" / name).stat().st_mode) == 0o700


def test_the_header_ends_at_the_first_empty_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("A1"), b"Subject: hi\r\n\r\nbody\r\n\r\nmore\r\n")
    assert spool.header("A1") == b"Subject: hi\r\n\r\n"


def test_orphans_are_counted_without_temporary_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for name in ("O1", "O2", ".O3.x.tmp"):
        (tmp_path / "data" / name).write_bytes(MSG)
    assert spool.load() == Loaded([], [], 2)
    assert list((tmp_path / "data").iterdir()) == []


def test_what_cannot_be_removed_or_moved_is_left_in_place(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "entries" / ".A1.json.x.tmp").mkdir()  # not a file: unlink fails
    (tmp_path / "data" / "D1").mkdir()
    (tmp_path / "entries" / "B1.json").write_bytes(b"{")
    (tmp_path / "corrupt" / "B1.json").mkdir()  # taken by a folder: the move fails
    (tmp_path / "corrupt" / "B1.json" / "x").write_bytes(b"")
    found = spool.load()
    assert found.entries == [] and found.orphans == 0
    assert [c.split(" (")[0] for c in found.corrupt] == ["B1.json: spool entry: not JSON"]
    assert sorted(p.name for p in (tmp_path / "entries").iterdir()) == [".A1.json.x.tmp", "B1.json"]
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["D1"]


def test_an_entry_needs_the_json_suffix_and_a_plain_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("A1"), MSG)
    os.rename(tmp_path / "entries" / "A1.json", tmp_path / "entries" / "A1")
    os.unlink(tmp_path / "data" / "A1")  # (else it would go to corrupt/ under the same name)
    found = spool.load()
    assert found == Loaded([], ["A1: not a queue entry's name"], 0)
    assert sorted(p.name for p in (tmp_path / "corrupt").iterdir()) == ["A1"]


def test_a_message_without_header_fields_has_an_empty_header(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(entry("A1"), b"\r\nbody, not header\r\n\r\nmore\r\n")
    spool.put(entry("A2"), b"\r\n\r\nbody\r\n")
    assert spool.header("A1") == spool.header("A2") == b"\r\n"  # its blank line alone


def test_an_envelope_without_its_suffix_does_not_lose_its_message(tmp_path: Path) -> None:
    # entries/A1 (no .json) and data/A1: both set aside, neither over the other
    spool = Spool(tmp_path)
    (tmp_path / "entries" / "A1").write_bytes(to_json(entry("A1")))
    (tmp_path / "data" / "A1").write_bytes(MSG)
    assert spool.load().corrupt == ["A1: not a queue entry's name"]
    assert (tmp_path / "corrupt" / "A1").read_bytes() == to_json(entry("A1"))
    assert (tmp_path / "corrupt" / "A1.message").read_bytes() == MSG
