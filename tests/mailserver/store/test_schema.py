"""The index schema: pragmas, versions, the migration hook, and refusals."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mailserver.message import Message, store_summary, summarize
from mailserver.store import Store, StoreError, UserStore, schema
from mailserver.store.base import SUMMARY_COLUMNS
from mailserver.store.errors import CANNOT, CORRUPTION

from .conftest import ADDRESS, Clock, message


def test_connect_sets_wal_full_busy_timeout(tmp_path: Path) -> None:
    db = schema.connect(str(tmp_path / "i.sqlite"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == schema.BUSY_TIMEOUT_MS
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {
        "meta",
        "mailboxes",
        "subscriptions",
        "messages",
        "summaries",
        "expunged",
        "keywords",
        "pending",
    }
    db.close()


def test_migration_hook_runs_each_step_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "i.sqlite")
    schema.connect(path).close()
    ran = []

    now = schema.SCHEMA_VERSION

    def to_next(db: sqlite3.Connection) -> None:
        ran.append(now + 1)
        db.execute("ALTER TABLE messages ADD COLUMN thread INTEGER")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 1)
    monkeypatch.setitem(schema.MIGRATIONS, now, to_next)
    db = schema.connect(path)
    assert ran == [now + 1]
    assert db.execute("PRAGMA user_version").fetchone()[0] == now + 1
    db.execute("SELECT thread FROM messages").fetchall()
    db.close()
    schema.connect(path).close()
    assert ran == [now + 1]


def test_failed_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "i.sqlite")
    schema.connect(path).close()

    def broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE messages ADD COLUMN half INTEGER")
        raise RuntimeError("disk on fire")

    now = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 1)
    monkeypatch.setitem(schema.MIGRATIONS, now, broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        schema.connect(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == now
    columns = [r[1] for r in db.execute("PRAGMA table_info(messages)")]
    assert "half" not in columns
    db.close()


# What versions 2 to 6 added, taken away again: an index as a version-1 server left it.
_TO_VERSION_1 = """
DROP INDEX summaries_sort;
DROP INDEX summaries_thread;
ALTER TABLE summaries DROP COLUMN subject_key;
ALTER TABLE summaries DROP COLUMN from_key;
ALTER TABLE summaries DROP COLUMN to_key;
ALTER TABLE summaries DROP COLUMN cc_key;
DROP TABLE pending;
ALTER TABLE summaries DROP COLUMN reply;
ALTER TABLE summaries DROP COLUMN subject_text;
ALTER TABLE messages DROP COLUMN savedate;
PRAGMA user_version = 1
"""


def version_1_index(root: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A store whose index a version-1 server wrote: three messages with their summaries
    (blob and SORT/THREAD columns, no subject text), delivered now and the index taken back
    to version 1's tables; their UIDs."""
    assert schema.SCHEMA_VERSION == 6  # a new version adds its undoing to _TO_VERSION_1
    old = Store(root, clock=clock, host="h")
    user = old.user(ADDRESS)
    uids = [user.deliver("INBOX", message(n)) for n in range(3)]
    for statement in _TO_VERSION_1.split(";\n"):
        user.db.execute(statement)
    for n, uid in enumerate(uids):
        row = store_summary(message(n))
        new_columns = ("subject_text", "reply", "subject_key", "from_key", "to_key", "cc_key")
        old_columns = [k for k in SUMMARY_COLUMNS if k not in new_columns]
        user.db.execute(
            "INSERT INTO summaries VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (uid, row["blob"], *(row[k] for k in old_columns)),
        )
    old.close()
    return uids


def test_version_1_gets_the_subject_text_column(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    uids = version_1_index(str(tmp_path), clock, monkeypatch)
    store = Store(str(tmp_path), clock=clock, host="h", summarize=store_summary)
    db = sqlite3.connect(os.path.join(store.home(ADDRESS), "index.sqlite"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "subject_text" not in [r[1] for r in db.execute("PRAGMA table_info(summaries)")]
    db.close()
    user = store.user(ADDRESS)
    assert user.db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    columns = [r[1] for r in user.db.execute("PRAGMA table_info(summaries)")]
    assert columns[-6:] == ["subject_text", "reply", "subject_key", "from_key", "to_key", "cc_key"]
    assert user.subject_texts("INBOX", uids) == {}  # rows made before the column: NULL
    # version 5's save dates: the internal date of the rows made before
    assert [(m.savedate, m.internaldate) for m in user.fetch("INBOX")] == [
        (m.internaldate, m.internaldate) for m in user.fetch("INBOX")
    ]
    assert user.thread_columns("INBOX", uids) == {}  # (nor `reply`, version 4's)
    old = user.summaries("INBOX", uids)  # their blobs are read as they were
    assert old == {u: summarize(Message(message(n))) for n, u in enumerate(uids)}
    texts = user.db.execute("SELECT subject_text FROM summaries").fetchall()
    assert texts == [(None,)] * 3
    new = user.deliver("INBOX", message(7))
    assert user.subject_texts("INBOX", [*uids, new]) == {new: "\x00msg 7"}
    columns = user.thread_columns("INBOX", [*uids, new])
    assert columns == {new: (None, "MSG 7", False, None, None, "")}
    # version 6's SORT keys: none for the rows made before (SORT maps their columns itself)
    keys = user.sort_keys("INBOX", [*uids, new], ["date", "subject_key", "from_key"])
    assert keys == {new: (None, "MSG 7", "A")}
    assert user.sort_keys("INBOX", [*uids, new], ["date"]) == {u: (None,) for u in [*uids, new]}
    assert user.sort_key_rows("INBOX", ["subject_key", "date"]) == [(new, "MSG 7", None)]
    with pytest.raises(ValueError, match=r"^not sort key columns: blob$"):
        user.sort_key_rows("INBOX", ["date", "blob"])
    with pytest.raises(ValueError, match=r"^not sort key columns: blob, uid$"):
        user.sort_key_rows("INBOX", ["blob", "date", "uid"])
    with pytest.raises(ValueError, match=r"^not sort key columns: none$"):
        user.sort_key_rows("INBOX", [])
    for index, columns in (  # what SORT and THREAD read, read from the index alone
        ("summaries_sort", "date, subject_key, from_key, to_key, cc_key"),
        ("summaries_thread", "date, subject_key, reply, message_id, in_reply_to, refs"),
    ):
        query = f"SELECT uid, {columns} FROM summaries INDEXED BY {index} WHERE mailbox_id = 1"
        plan = user.db.execute("EXPLAIN QUERY PLAN " + query).fetchall()
        assert f"COVERING INDEX {index}" in plan[0][-1]
    store.close()


def test_newer_index_is_refused_not_rebuilt(tmp_path: Path, clock: Clock) -> None:
    user, _ = UserStore.open(str(tmp_path), clock=clock, host="h")
    user.deliver("INBOX", b"x\r\n")
    user.db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 3}")
    user.close()
    with pytest.raises(
        StoreError,
        match=f"index schema version {schema.SCHEMA_VERSION + 3} is newer than this store's "
        rf"\({schema.SCHEMA_VERSION}\)",
    ) as info:
        UserStore.open(str(tmp_path), clock=clock, host="h")
    assert info.value.code == CANNOT
    assert not list(tmp_path.glob("index.sqlite.corrupt-*"))


def test_unknown_old_version_is_corruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "i.sqlite")
    monkeypatch.delitem(schema.MIGRATIONS, 0)
    with pytest.raises(StoreError, match="index schema version 0 has no migration") as info:
        schema.connect(path)
    assert info.value.code == CORRUPTION


def test_index_held_too_long_is_inuse(tmp_path: Path, clock: Clock) -> None:
    user, _ = UserStore.open(str(tmp_path), clock=clock, host="h")
    user.db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(str(tmp_path / "index.sqlite"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="index busy: database is locked") as info:
        user.create("X")
    assert info.value.code == "INUSE"
    holder.execute("ROLLBACK")
    holder.close()
    assert user.create("X").name == "X"  # the failed transaction left nothing behind
    user.close()


def test_damaged_pages_are_found_at_open(tmp_path: Path, clock: Clock) -> None:
    user, _ = UserStore.open(str(tmp_path), clock=clock, host="h")
    for n in range(300):
        user.create(f"box{n:03d}-" + "x" * 100)
    user.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    user.close()
    index = tmp_path / "index.sqlite"
    raw = bytearray(index.read_bytes())
    page = 4096
    for offset in range(page * 2, len(raw) - page, page):
        raw[offset + 100 : offset + 300] = b"\xff" * 200  # B-tree pages past the header
    index.write_bytes(bytes(raw))
    again, report = UserStore.open(str(tmp_path), clock=clock, host="h")
    assert report.rebuilt and report.corrupt_index_kept is not None
    assert report.mailboxes_added == 300  # every folder is still there, adopted again
    again.close()
