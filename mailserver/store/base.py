"""The state every part of a user's store shares: paths, the index connection, transactions,
and the index bookkeeping (mailbox rows, UIDVALIDITY, MODSEQ, the expunge log)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import maildir, names
from .errors import CORRUPTION, INUSE, LIMIT, NONEXISTENT, StoreError
from .quota import NO_QUOTA, Usage
from .records import ReconcileReport

#: A message's summary for the index: optional keys `blob` (bytes: the cached ENVELOPE and
#: BODYSTRUCTURE as the mime helper encodes them), the SORT/THREAD columns `date` (int,
#: seconds), `subject`, `from`, `to`, `cc`, `message_id`, `in_reply_to`, `references` (str),
#: `subject_text` (str: what SEARCH SUBJECT matches, opaque to the store) and `reply` (int:
#: 1 when the subject was a reply or forward, for THREAD) and the SORT keys `subject_key`,
#: `from_key`, `to_key`, `cc_key` (str: the columns as SORT compares them, octet by octet).
Summarize = Callable[[bytes], Mapping[str, object]]
Clock = Callable[[], float]

EXPUNGE_LOG_MAX = 100_000  # expunged UIDs remembered per mailbox (for the change feed, QRESYNC)
MAX_UID = 0xFFFFFFFF  # UIDs are 32-bit (RFC 3501 nz-number)
SUMMARY_COLUMNS = {
    "date": "date",
    "subject": "subject",
    "from": "from_",
    "to": "to_",
    "cc": "cc",
    "message_id": "message_id",
    "in_reply_to": "in_reply_to",
    "references": "refs",
    "subject_text": "subject_text",
    "reply": "reply",
    "subject_key": "subject_key",
    "from_key": "from_key",
    "to_key": "to_key",
    "cc_key": "cc_key",
}
#: The columns of a summaries row (mailbox_id, uid, blob, then SUMMARY_COLUMNS), named: a
#: migrated index has them in the order its migrations added them), placeholders for their
#: values, and its columns after the UID (what COPY copies).
SUMMARY_NAMES = ", ".join(("mailbox_id", "uid", "blob", *SUMMARY_COLUMNS.values()))
SUMMARY_VALUES = ", ".join("?" * (3 + len(SUMMARY_COLUMNS)))
SUMMARY_DATA = ", ".join(("blob", *SUMMARY_COLUMNS.values()))


@contextmanager
def _index_errors() -> Iterator[None]:
    """SQLite's errors as the store's: a lock held past the busy timeout is INUSE (RFC 5530:
    try again later), an unreadable index CORRUPTION (reopening the store rebuilds it)."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a bug in the store, not a state of the index
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise StoreError(f"index busy: {e}", INUSE) from e
        raise StoreError(f"index unreadable: {e}", CORRUPTION) from e
    except sqlite3.DatabaseError as e:
        raise StoreError(f"index unreadable: {e}", CORRUPTION) from e


class MailboxRow:
    """A mailboxes row as the operations use it."""

    __slots__ = (
        "highestmodseq",
        "id",
        "name",
        "recent_floor",
        "special_use",
        "uidnext",
        "uidvalidity",
    )

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.id,
            self.name,
            self.uidvalidity,
            self.uidnext,
            self.highestmodseq,
            self.special_use,
            self.recent_floor,
        ) = row


class UserBase:
    """One user's Maildir and index. Every public method is one short transaction; a
    threading lock makes one instance safe to share between sessions' worker threads, and
    SQLite's locking (busy_timeout) between processes."""

    def __init__(
        self,
        home: str,
        db: sqlite3.Connection,
        *,
        clock: Clock,
        host: str,
        summarize: Summarize | None,
    ) -> None:
        self.home = home
        self.maildir = os.path.join(home, "Maildir")
        self.db = db
        self.clock = clock
        self.host = host
        self.summarize = summarize
        self.quota = NO_QUOTA  # the user's limits (quota.py); the Store sets them on open
        self._lock = threading.RLock()
        self._group = threading.Condition()  # group commit of deliveries (messages.py)
        self._queue: list[Any] = []
        self._committing = False
        # deliveries this process committed as pending, their tmp/ file written whole:
        # (mailbox_id, uid) -> the tmp path (settle.py)
        self._unsettled: dict[tuple[int, int], str] = {}
        self._settling = threading.Lock()  # one background settle per user at a time
        # SELECT's UID list, first unseen and keywords of recently selected mailboxes, kept
        # while the mailbox's (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) stay the same: every change
        # to its messages moves one of them (messages.py select)
        self._selected: dict[
            int, tuple[tuple[int, int, int], Any, int | None, tuple[str, ...]]
        ] = {}

    def close(self) -> None:
        """Close the index connection."""
        with self._lock:
            self.db.close()

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self, settle: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock is taken at once). With
        `settle`, pending deliveries are put in place first (settle.py): for operations that
        rename, link or unlink message files, which must never meet a tmp/ path."""
        with self._lock, _index_errors():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if settle:
                    self._settle_pending(self.db)
                yield self.db
                self.db.execute("COMMIT")
            finally:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent view across several queries."""
        with self._lock, _index_errors():
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                if self.db.in_transaction:
                    self.db.execute("COMMIT")

    # -- quota (quota.py) ---------------------------------------------------------------------

    def usage(self) -> Usage:
        """What the user keeps: octets and messages, every mailbox together (GETQUOTA)."""
        with self._read() as db:
            return self._usage(db)

    def _usage(self, db: sqlite3.Connection) -> Usage:
        octets, count = db.execute("SELECT total(size), count(*) FROM messages").fetchone()
        return Usage(int(octets), count)

    def check_quota(self, octets: int, messages: int) -> None:
        """StoreError OVERQUOTA if `messages` more messages of `octets` octets do not fit
        (APPEND asks before it stores: two at once may both fit and together not, by at most
        one of them; COPY checks in its own transaction)."""
        if self.quota.limited:
            self.quota.check(self.usage(), octets, messages)

    def _settle_pending(
        self, db: sqlite3.Connection, report: ReconcileReport | None = None
    ) -> None:
        """Put every pending delivery in place (settle.py); here, for the type checker."""
        raise NotImplementedError

    # -- paths ----------------------------------------------------------------------------

    def folder_path(self, name: str) -> str:
        """The Maildir directory of canonical mailbox `name`."""
        folder = names.to_folder(name)
        return os.path.join(self.maildir, folder) if folder else self.maildir

    def ensure_folder(self, name: str) -> str:
        """Create the folder of canonical `name` if missing; its path."""
        path = self.folder_path(name)
        maildir.ensure(path, subfolder=name != names.INBOX)
        return path

    # -- index bookkeeping ----------------------------------------------------------------

    def _row(self, db: sqlite3.Connection, name: str) -> MailboxRow:
        canonical = names.normalize(name)
        row = db.execute(
            "SELECT id, name, uidvalidity, uidnext, highestmodseq, special_use, recent_floor"
            " FROM mailboxes WHERE name = ?",
            (canonical,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no mailbox {canonical!r}", NONEXISTENT)
        return MailboxRow(row)

    def _new_uidvalidity(self, db: sqlite3.Connection) -> int:
        """A UIDVALIDITY no mailbox of this user had before: the clock's seconds, or one more
        than the last one given (two mailboxes created in one second, a clock set back)."""
        row = db.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
        value = max(int(self.clock()), (row[0] if row else 0) + 1) & MAX_UID or 1
        db.execute("INSERT OR REPLACE INTO meta VALUES ('last_uidvalidity', ?)", (value,))
        return value

    def _insert_mailbox(
        self, db: sqlite3.Connection, name: str, special_use: str | None = None
    ) -> int:
        cur = db.execute(
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, special_use)"
            " VALUES (?, ?, 1, 1, ?)",
            (name, self._new_uidvalidity(db), special_use),
        )
        return int(cur.lastrowid or 0)

    def _bump(self, db: sqlite3.Connection, box: MailboxRow) -> int:
        """The next MODSEQ of `box`, recorded as its HIGHESTMODSEQ."""
        box.highestmodseq += 1
        db.execute(
            "UPDATE mailboxes SET highestmodseq = ? WHERE id = ?", (box.highestmodseq, box.id)
        )
        return box.highestmodseq

    def _claim_recent(self, db: sqlite3.Connection, box: MailboxRow, first: int) -> range:
        """\\Recent for this session: the unclaimed UIDs from `first` on (RFC 3501 2.3.2: one
        session gets each). The claim moves the mailbox's recent floor to UIDNEXT: one row
        written, however many messages (Dovecot keeps a first-recent UID the same way)."""
        start = max(box.recent_floor, first)
        if start >= box.uidnext:
            return range(0)
        box.recent_floor = box.uidnext
        db.execute("UPDATE mailboxes SET recent_floor = ? WHERE id = ?", (box.uidnext, box.id))
        return range(start, box.uidnext)

    def _take_uids(self, db: sqlite3.Connection, box: MailboxRow, n: int) -> int:
        """Reserve `n` UIDs from UIDNEXT; the first one."""
        first = box.uidnext
        if first + n - 1 > MAX_UID:
            raise StoreError(f"mailbox {box.name!r} has used every UID", LIMIT)
        box.uidnext += n
        db.execute("UPDATE mailboxes SET uidnext = ? WHERE id = ?", (box.uidnext, box.id))
        return first

    def _log_expunged(
        self, db: sqlite3.Connection, box: MailboxRow, uids: list[int], modseq: int
    ) -> None:
        """Record expunged UIDs, keeping the newest EXPUNGE_LOG_MAX per mailbox.

        The dropped rows' highest modseq becomes the mailbox's expunge floor: a change feed
        asked for changes since a modseq below it cannot list expunges and says so.
        """
        if not uids:
            return
        db.executemany(
            "INSERT OR REPLACE INTO expunged VALUES (?, ?, ?)",
            [(box.id, uid, modseq) for uid in uids],
        )
        db.execute(
            "UPDATE mailboxes SET expunge_count = expunge_count + ? WHERE id = ?",
            (len(uids), box.id),
        )
        (count,) = db.execute(
            "SELECT expunge_count FROM mailboxes WHERE id = ?", (box.id,)
        ).fetchone()
        excess = count - EXPUNGE_LOG_MAX
        if excess > 0:
            (floor,) = db.execute(
                "SELECT max(modseq) FROM (SELECT modseq FROM expunged WHERE mailbox_id = ?"
                " ORDER BY modseq, uid LIMIT ?)",
                (box.id, excess),
            ).fetchone()
            db.execute("DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?", (box.id, floor))
            db.execute(
                "UPDATE mailboxes SET expunge_floor = ?, expunge_count ="
                " (SELECT count(*) FROM expunged WHERE mailbox_id = ?) WHERE id = ?",
                (floor, box.id, box.id),
            )

    def _note_keywords(
        self, db: sqlite3.Connection, box: MailboxRow, keywords: tuple[str, ...]
    ) -> None:
        if keywords:
            db.executemany(
                "INSERT OR IGNORE INTO keywords VALUES (?, ?)", [(box.id, k) for k in keywords]
            )

    def _summary_row(self, data: bytes) -> tuple[object, ...] | None:
        """The summaries row of a message, or None: without a summarize function, or when it
        fails or answers with values SQLite cannot hold. A message the summarizer cannot read
        is still delivered; the session parses it when asked (hostile mail is stored as is)."""
        if self.summarize is None:
            return None
        try:
            summary = self.summarize(data)
            row = (summary.get("blob"), *(summary.get(k) for k in SUMMARY_COLUMNS))
        except Exception:
            return None
        if not all(v is None or isinstance(v, (bytes, str, int)) for v in row):
            return None
        return row
