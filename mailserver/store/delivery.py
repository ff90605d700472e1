"""Durable delivery and APPEND: write to tmp/, fsync, rename into new/ or cur/, fsync the
folder, and only then the index transaction that gives the UIDs. SMTP's deferred deliveries
(`defer`, Store.deliver_batch) skip the file's fsync and rename and commit the content with the
row instead; settle.py puts their files in place later.

Files of a batch are fsynced concurrently (concurrent fsyncs share the filesystem's journal
commits), a batch's folders once each, and concurrent callers on one user share a group commit
(one WAL fsync). A crash at any point leaves either nothing visible (tmp/, swept after 36 hours)
or a complete file in new/ or cur/ that the index has or reconcile adopts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Sequence

from . import flags as fl
from . import maildir, names
from .base import SUMMARY_NAMES, SUMMARY_VALUES, MailboxRow, UserBase
from .errors import NONEXISTENT, StoreError


class _Placed:
    """A message file on its way in: written to `tmp`, then renamed to `final` (`path` inside
    its folder), then given its index row."""

    __slots__ = (
        "base",
        "bits",
        "data",
        "data_size",
        "deferred",
        "final",
        "internaldate",
        "keywords",
        "mailbox",
        "path",
        "summary",
        "tmp",
    )

    def __init__(
        self,
        mailbox: str,
        base: str,
        path: str,
        size: int,
        internaldate: int,
        bits: int,
        keywords: tuple[str, ...],
        summary: tuple[object, ...] | None,
        tmp: str,
        final: str,
        data: bytes | None = None,
    ) -> None:
        self.mailbox, self.base, self.path, self.data_size = mailbox, base, path, size
        self.internaldate, self.bits, self.keywords = internaldate, bits, keywords
        self.summary, self.tmp, self.final = summary, tmp, final
        # deferred (settle.py): the content goes into the index with the row, the file stays
        # in tmp/ until settled
        self.data, self.deferred = data, data is not None


def settle(placed: Sequence[_Placed]) -> None:
    """Make written files durable and visible: fsync them (concurrently), rename each into
    new/ or cur/, fsync each folder once. Several users' files settle together."""
    try:
        maildir.run_parallel([p.tmp for p in placed], maildir.fsync_file)
        for p in placed:
            os.rename(p.tmp, p.final)
        maildir.run_parallel({os.path.dirname(p.final) for p in placed}, maildir.fsync_dir)
    except BaseException:
        discard(placed)
        raise


def discard(placed: Iterable[_Placed]) -> None:
    """Remove the files of deliveries that failed before they were acknowledged."""
    for p in placed:
        for path in (p.tmp, p.final):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


class _Pending:
    """One caller's deliveries waiting for a group commit, then its UIDs or its error."""

    __slots__ = ("done", "error", "placed", "uids")

    def __init__(self, placed: list[_Placed]) -> None:
        self.placed = placed
        self.done = False
        self.uids: list[int] = []
        self.error: BaseException | None = None

    def succeed(self, uids: list[int]) -> None:
        self.uids, self.done = uids, True

    def fail(self, error: BaseException | None) -> None:
        self.error, self.done = error, True

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        return self.uids


class DeliveryOps(UserBase):
    """Delivery, as a part of a user's store."""

    def deliver(
        self,
        mailbox: str,
        data: bytes,
        flags: Iterable[str] = (),
        internaldate: float | None = None,
    ) -> int:
        """Store one message durably and return its UID (SMTP delivery and IMAP APPEND).

        Without flags the file goes to new/, with flags to cur/ with its info letters.
        """
        return self.deliver_many([(mailbox, data, tuple(flags), internaldate)])[0]

    def deliver_many(
        self, items: Sequence[tuple[str, bytes, tuple[str, ...], float | None]]
    ) -> list[int]:
        """Store several messages with one directory fsync per folder and one index
        transaction; their UIDs, in order. Nothing is acknowledged unless all are stored."""
        placed = self.place(items)
        try:
            return self.commit_placed(placed)
        except BaseException:
            self.unplace(placed)
            raise

    def place(
        self, items: Sequence[tuple[str, bytes, tuple[str, ...], float | None]]
    ) -> list[_Placed]:
        """The file half of delivery: write, fsync, rename into place, fsync the folders."""
        placed = self.write_files(items)
        settle(placed)
        return placed

    def write_files(
        self, items: Sequence[tuple[str, bytes, tuple[str, ...], float | None]], defer: bool = False
    ) -> list[_Placed]:
        """Write each message to its folder's tmp/ (not yet fsynced: `settle` does that).
        `defer`: the content is committed with the row instead, and the file settled later
        (settle.py)."""
        prepared = []
        for mailbox, data, flag_names, internaldate in items:
            canonical = names.normalize(mailbox)
            bits, keywords = fl.parse(flag_names)
            prepared.append((canonical, maildir.normalize_crlf(data), bits, keywords, internaldate))
        placed: list[_Placed] = []
        try:
            for canonical, data, bits, keywords, internaldate in prepared:
                folder = self.folder_path(canonical)
                if not os.path.isdir(os.path.join(folder, "tmp")):
                    raise StoreError(f"no mailbox {canonical!r}", NONEXISTENT)
                now = self.clock()
                date = int(now if internaldate is None else internaldate)
                base = maildir.new_base(now, self.host, len(data))
                if bits or keywords:
                    rel = os.path.join("cur", maildir.file_name(base, fl.to_info(bits, keywords)))
                else:
                    rel = os.path.join("new", base)
                tmp = maildir.write_tmp(folder, base, data, date, sync=False)
                placed.append(
                    _Placed(
                        canonical,
                        base,
                        rel,
                        len(data),
                        date,
                        bits,
                        keywords,
                        self._summary_row(data),
                        tmp,
                        os.path.join(folder, rel),
                        data if defer else None,
                    )
                )
        except BaseException:
            discard(placed)
            raise
        return placed

    def unplace(self, placed: Iterable[_Placed]) -> None:
        """Remove files placed for a delivery that failed before it was acknowledged."""
        discard(placed)

    def commit_placed(self, placed: Sequence[_Placed]) -> list[int]:
        """The index half of delivery: UIDs from UIDNEXT, one MODSEQ per mailbox.

        Group commit: deliveries from several threads that arrive while a commit is under way
        wait for it and then go in the next transaction together, so they share its WAL fsync
        (one user's commits are serialised anyway). If the shared transaction fails, each
        delivery is committed alone, so one bad delivery fails only itself.
        """
        entry = _Pending(list(placed))
        with self._group:
            self._queue.append(entry)
            while not entry.done and self._committing:
                self._group.wait()
            if entry.done:
                return entry.result()
            self._committing = True
            batch, self._queue = self._queue, []
        try:
            self._commit_group(batch)
        finally:
            with self._group:
                self._committing = False
                self._group.notify_all()
        return entry.result()

    def _commit_group(self, batch: list[_Pending]) -> None:
        try:
            uids = self._commit_now([p for e in batch for p in e.placed])
        except BaseException:
            if len(batch) == 1:
                batch[0].fail(sys.exc_info()[1])
                return
            for e in batch:
                try:
                    e.succeed(self._commit_now(e.placed))
                except Exception as error:
                    e.fail(error)
            return
        at = 0
        for e in batch:
            e.succeed(uids[at : at + len(e.placed)])
            at += len(e.placed)

    def _commit_now(self, placed: Sequence[_Placed]) -> list[int]:
        uids: list[int] = []
        deferred: dict[tuple[int, int], str] = {}
        # the lock until they are known as this process's: an operation settling them first
        # renames their tmp/ files instead of writing them again from the index
        with self._lock:
            with self._write() as db:
                boxes: dict[str, tuple[MailboxRow, int]] = {}
                for p in placed:
                    if p.mailbox not in boxes:
                        box = self._row(db, p.mailbox)
                        boxes[p.mailbox] = (box, self._bump(db, box))
                    box, modseq = boxes[p.mailbox]
                    uids.append(self._insert(db, box, p, modseq))
                    if p.deferred:
                        deferred[box.id, uids[-1]] = p.tmp
            self._unsettled.update(deferred)
        return uids

    def _insert(self, db: sqlite3.Connection, box: MailboxRow, p: _Placed, modseq: int) -> int:
        known = db.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ? AND base = ?", (box.id, p.base)
        ).fetchone()
        if known:  # a reconcile in another process adopted the file before this commit
            return int(known[0])
        uid = self._take_uids(db, box, 1)
        db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                box.id,
                uid,
                p.base,
                "tmp/" + p.base if p.deferred else p.path,
                p.data_size,
                p.internaldate,
                p.bits,
                fl.join_keywords(p.keywords),
                modseq,
                int(self.clock()),  # its save date (RFC 8514): now, whatever date it carries
            ),
        )
        if p.deferred:
            db.execute("INSERT INTO pending VALUES (?, ?, ?, ?)", (box.id, uid, p.path, p.data))
        self._note_keywords(db, box, p.keywords)
        if p.summary is not None:
            db.execute(
                f"INSERT INTO summaries ({SUMMARY_NAMES}) VALUES ({SUMMARY_VALUES})",
                (box.id, uid, *p.summary),
            )
        return uid
