"""The index's SQLite schema, its version, the migration hook, and how a connection is opened.

Durability choice: WAL with `synchronous=FULL`. A message file is durable (fsynced, renamed,
directory fsynced) before its index row is written, so a lost commit never loses a message:
reconcile adopts the file. But a commit lost to a power cut after its UIDs were shown to a client
(APPENDUID, COPYUID, a FETCH) would let reconcile hand the same UIDs to other messages, and IMAP
forbids reusing a UID under one UIDVALIDITY. `FULL` fsyncs the WAL at every commit (3.7 ms here,
against 7 ms for the file and directory fsyncs of a delivery), which closes that hole;
`deliver_batch` amortises it over many messages. (`NORMAL` is safe against a process crash but
not against a power cut, as SQLite's documentation says of WAL mode.)
SMTP's deliveries (Store.deliver_batch) put the message itself in that commit (the `pending`
table, settle.py), so it is the one fsync before their 250; settling them afterwards commits
with `NORMAL`, which a power cut may undo: recovery then replays the pending rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .errors import CANNOT, CORRUPTION, StoreError

SCHEMA_VERSION = 6
BUSY_TIMEOUT_MS = 10_000  # another process (the CLI, a second daemon) holding the write lock

_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    special_use TEXT,
    expunge_floor INTEGER NOT NULL DEFAULT 0,  -- highest modseq dropped from the expunge log
    expunge_count INTEGER NOT NULL DEFAULT 0,  -- rows in the expunge log
    recent_floor INTEGER NOT NULL DEFAULT 1    -- UIDs from here on are recent, unclaimed
);
CREATE TABLE subscriptions (name TEXT PRIMARY KEY);
CREATE TABLE messages (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    base TEXT NOT NULL,          -- the file's unique part, which renames keep
    path TEXT NOT NULL,          -- "cur/<name>" or "new/<name>" inside the folder
    size INTEGER NOT NULL,
    internaldate INTEGER NOT NULL,
    flags INTEGER NOT NULL,      -- flags.py bits
    keywords TEXT NOT NULL DEFAULT '',
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_base ON messages (mailbox_id, base);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE TABLE summaries (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    blob BLOB,
    date INTEGER, subject TEXT, from_ TEXT, to_ TEXT, cc TEXT,
    message_id TEXT, in_reply_to TEXT, refs TEXT,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);
CREATE TABLE keywords (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, name)
) WITHOUT ROWID;
"""

# 2: the Subject fields as SEARCH matches them (textsearch.index_text), so SEARCH SUBJECT reads
# no file; NULL in rows made before (SEARCH reads their messages, as it did).
_SCHEMA_2 = """
ALTER TABLE summaries ADD COLUMN subject_text TEXT;
"""

# 3: SMTP deliveries acknowledged before their file is in place (settle.py): the content rides
# in the index's WAL, committed with the message's row, until the file is durable in new/ or
# cur/. `final` is where the file goes; the row's path names its tmp/ file meanwhile.
_SCHEMA_3 = """
CREATE TABLE pending (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    final TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages (mailbox_id, uid)
        ON DELETE CASCADE ON UPDATE CASCADE
);
"""

# 4: whether the Subject was a reply or forward (RFC 5256 §2.1), for THREAD REFERENCES' joining
# of threads with one subject (§3 step 5), so THREAD reads no summary; NULL in rows made before
# (THREAD reads their summaries).
_SCHEMA_4 = """
ALTER TABLE summaries ADD COLUMN reply INTEGER;
"""

# 5: when each message was saved to its mailbox (SAVEDATE, RFC 8514): delivery, APPEND, COPY
# or MOVE, or when a reconcile found its file (the file's mtime). Rows made before get their
# internal date, the time of delivery for mail that came by SMTP.
_SCHEMA_5 = """
ALTER TABLE messages ADD COLUMN savedate INTEGER;
UPDATE messages SET savedate = internaldate
"""

# 6: SORT's string keys as the i;unicode-casemap comparator compares them (the summarizer's
# `subject_key`, `from_key`, `to_key` and `cc_key`), and covering indexes of what SORT and THREAD
# read, so that they read a big mailbox's in one scan of a narrow index (not of the rows, which
# hold the summaries' blobs) and compare the keys as stored; NULL in rows made before (SORT and
# THREAD map their columns themselves, as they did, and SORT keeps what it computed).
_SCHEMA_6 = """
ALTER TABLE summaries ADD COLUMN subject_key TEXT;
ALTER TABLE summaries ADD COLUMN from_key TEXT;
ALTER TABLE summaries ADD COLUMN to_key TEXT;
ALTER TABLE summaries ADD COLUMN cc_key TEXT;
CREATE INDEX summaries_sort
    ON summaries (mailbox_id, uid, date, subject_key, from_key, to_key, cc_key);
CREATE INDEX summaries_thread
    ON summaries (mailbox_id, uid, date, subject_key, reply, message_id, in_reply_to, refs)
"""

#: version -> the function that brings an index of that version to the next one. Version 0 is
#: an empty file. A later schema adds `n: migrate_n_to_n_plus_1` here and bumps SCHEMA_VERSION.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: lambda db: _run(db, _SCHEMA_1),
    1: lambda db: _run(db, _SCHEMA_2),
    2: lambda db: _run(db, _SCHEMA_3),
    3: lambda db: _run(db, _SCHEMA_4),
    4: lambda db: _run(db, _SCHEMA_5),
    5: lambda db: _run(db, _SCHEMA_6),
}


def _run(db: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` in the caller's transaction (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the index at `path`; StoreError CORRUPTION if bad."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except sqlite3.DatabaseError as e:
        db.close()
        raise StoreError(f"index {path} unreadable: {e}", CORRUPTION) from e
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: sqlite3.Connection) -> None:
    """Run every migration from the index's version to SCHEMA_VERSION, each in a transaction."""
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                db.execute("COMMIT")
                return
            if version > SCHEMA_VERSION:  # never rebuilt: that would throw away its UIDs
                raise StoreError(
                    f"index schema version {version} is newer than this store's ({SCHEMA_VERSION})",
                    CANNOT,
                )
            if version not in MIGRATIONS:
                raise StoreError(f"index schema version {version} has no migration", CORRUPTION)
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
