"""One user's mailbox store: the Maildir++ tree and its SQLite index, opened and reconciled."""

from __future__ import annotations

import os
import sqlite3

from . import maildir, schema
from .base import Clock, Summarize
from .delivery import DeliveryOps
from .errors import CORRUPTION, StoreError
from .mailboxes import MailboxOps
from .messages import MessageOps
from .reconcile import ReconcileOps
from .records import ReconcileReport
from .settle import SettleOps

INDEX = "index.sqlite"


class UserStore(MailboxOps, DeliveryOps, MessageOps, SettleOps, ReconcileOps):
    """Everything a session does to one user's mail: mailboxes, messages, the change feed.

    Layout under the user's home: `Maildir/` (INBOX, `.Sent`, `.Archive.2024`, ...),
    `index.sqlite` (+ its WAL), and `deleted/` (folders on their way out).
    """

    @classmethod
    def open(
        cls, home: str, *, clock: Clock, host: str, summarize: Summarize | None = None
    ) -> tuple[UserStore, ReconcileReport]:
        """Open (creating if needed) and reconcile; a missing or unreadable index is rebuilt
        from the files (the unreadable one is kept beside it), with new UIDVALIDITYs."""
        report = ReconcileReport()
        os.makedirs(home, mode=0o700, exist_ok=True)
        maildir.ensure(os.path.join(home, "Maildir"))
        path = os.path.join(home, INDEX)
        report.rebuilt = not os.path.exists(path)
        try:
            db = _checked(path)
        except StoreError as e:
            if e.code != CORRUPTION:
                raise
            report.corrupt_index_kept = _set_aside(path, clock())
            report.rebuilt = True
            db = schema.connect(path)
        store = cls(home, db, clock=clock, host=host, summarize=summarize)
        try:
            store.ensure_defaults()
            store.reconcile(report)
        except BaseException:
            db.close()
            raise
        return store, report


def _checked(path: str) -> sqlite3.Connection:
    """The index connection, after SQLite's quick integrity check (about 1 s per GB)."""
    db = schema.connect(path)
    try:
        (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as e:
        verdict = str(e)
    if verdict != "ok":
        db.close()
        raise StoreError(f"index {path} fails its integrity check: {verdict}", CORRUPTION)
    return db


def _set_aside(path: str, now: float) -> str:
    """Move an unreadable index (and its WAL) aside, never deleting it; the new name."""
    kept = f"{path}.corrupt-{int(now)}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, kept + suffix)
    return kept
