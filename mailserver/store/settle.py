"""Settling deliveries acknowledged before their file was in place (Store.deliver_batch, SMTP).

Such a delivery writes its file to tmp/ without fsync and commits its index row together with
a `pending` row holding the whole content: that one commit (one WAL fsync, shared by a group
commit) makes the message durable, and the shell says 250. The row's path names the tmp/ file
meanwhile, so FETCH and RETR read it from there (and follow the rename, as for any file).

Settling makes the file durable where it belongs and drops the copy in the index:

- in the background (`settle`, after the 250): fsync the tmp/ files (no lock held), then one
  transaction renames them into new/ or cur/ and points their rows there; fsync those folders
  (no lock held); then one transaction deletes the pending rows. Both transactions commit with
  `synchronous=NORMAL`: losing one to a power cut leaves the pending rows, which recovery
  replays, and a later FULL commit makes them durable with everything before it (the WAL is
  replayed in order).
- inline (`_settle_pending`, in the caller's write transaction) before every operation that
  renames, links or unlinks message files, and in reconcile: so those never see a tmp/ path.
  A tmp/ file this process wrote is fsynced and renamed; a file already in new/ or cur/ (the
  rename made it, the row did not follow) is kept (only fsynced files are ever renamed there);
  otherwise (a crash, another process's delivery) the content is written again from the
  pending row: tmp/, fsync, rename over the final name. Then the folders are fsynced, the row
  points at the file, and the pending row goes.

A tmp/ file whose row was never committed is left for the 36-hour sweep, as before.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from . import maildir
from .base import UserBase
from .reconcile import MAX_DETAILS
from .records import ReconcileReport

Key = tuple[int, int]  # (mailbox_id, uid)

_PENDING = (
    "SELECT p.mailbox_id, p.uid, p.final, m.base, m.path, m.internaldate, b.name"
    " FROM pending p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid"
    " JOIN mailboxes b ON b.id = p.mailbox_id"
)


def _followed(row: tuple[int, int, str, str, str, int, str], where: str) -> str:
    """The path a settled row names: its file's, unless another program renamed the file
    (new flags in its name); then the row keeps its old path, and reconcile follows the
    rename and reads the flags, as for any file renamed behind the index's back."""
    final, path = row[2], row[4]
    return where if where == final else path


class SettleOps(UserBase):
    """Settling pending deliveries, as a part of a user's store."""

    def unsettled(self) -> int:
        """Deliveries of this process whose file is not in place yet."""
        return len(self._unsettled)

    def close(self) -> None:
        """Settle what this process delivered (shutdown), then close the index."""
        with self._lock:
            if self._unsettled:
                # a failure leaves pending rows, replayed when the store is next opened
                with contextlib.suppress(Exception), self._write() as db:
                    self._settle_pending(db)
            super().close()

    # -- in the background -------------------------------------------------------------------

    def settle(self) -> None:
        """Put the files of this process's pending deliveries in place (after the 250). A call
        while another runs returns at once: the running one takes the new deliveries too."""
        while self._unsettled:
            if not self._settling.acquire(blocking=False):
                return
            try:
                progress = True
                while self._unsettled and progress:
                    progress = self._settle_round(dict(self._unsettled))
            finally:
                self._settling.release()
            if not progress:
                return  # what is left waits for an operation, or close, to settle it inline

    def _settle_round(self, todo: dict[Key, str]) -> bool:
        """One batch; whether any of it was settled (here or meanwhile by another call)."""
        synced = self._fsynced(todo)
        with self._lazy_write() as db:
            rows = [r for r in db.execute(_PENDING).fetchall() if (r[0], r[1]) in todo]
            gone = todo.keys() - {(r[0], r[1]) for r in rows}
            for key in gone:  # settled inline meanwhile, or expunged with its mailbox
                self._unsettled.pop(key, None)
            dirs, updates = self._place_all(db, rows, synced)
            placed = [(box_id, uid) for _, box_id, uid in updates]
            db.executemany("UPDATE messages SET path = ? WHERE mailbox_id = ? AND uid = ?", updates)
        if placed:
            maildir.run_parallel(sorted(dirs), maildir.fsync_dir)
            with self._lazy_write() as db:
                db.executemany("DELETE FROM pending WHERE mailbox_id = ? AND uid = ?", placed)
                for key in placed:
                    self._unsettled.pop(key, None)
        return bool(placed or gone)

    def _fsynced(self, todo: dict[Key, str]) -> set[Key]:
        """The keys whose tmp/ file could be fsynced (the others are written again)."""
        synced: set[Key] = set()

        def sync(key: Key) -> None:
            with contextlib.suppress(OSError):
                maildir.fsync_file(todo[key])
                synced.add(key)

        maildir.run_parallel(todo, sync)
        return synced

    @contextmanager
    def _lazy_write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction committed without waiting for the disk (see the docstring)."""
        with self._lock:
            self.db.execute("PRAGMA synchronous = NORMAL")
            try:
                with self._write() as db:
                    yield db
            finally:
                self.db.execute("PRAGMA synchronous = FULL")

    # -- inline: before file operations, and in reconcile --------------------------------------

    def _settle_pending(
        self, db: sqlite3.Connection, report: ReconcileReport | None = None
    ) -> None:
        """Every pending delivery of this user put in place, in the caller's transaction."""
        rows = db.execute(_PENDING).fetchall()
        if not rows:
            return
        mine = {
            (r[0], r[1]): os.path.join(self.folder_path(r[6]), r[4])
            for r in rows
            if (r[0], r[1]) in self._unsettled and r[4].startswith("tmp/")
        }
        dirs, updates = self._place_all(db, rows, self._fsynced(mine), report)
        maildir.run_parallel(sorted(dirs), maildir.fsync_dir)
        db.executemany("UPDATE messages SET path = ? WHERE mailbox_id = ? AND uid = ?", updates)
        db.executemany(
            "DELETE FROM pending WHERE mailbox_id = ? AND uid = ?", [u[1:] for u in updates]
        )
        for _, box_id, uid in updates:
            self._unsettled.pop((box_id, uid), None)

    def _place_all(
        self,
        db: sqlite3.Connection,
        rows: list[tuple[int, int, str, str, str, int, str]],
        synced: set[Key],
        report: ReconcileReport | None = None,
    ) -> tuple[set[str], list[tuple[str, int, int]]]:
        """Each row's file put in place (`_place`): the folders to fsync, and (path, mailbox_id,
        uid) for each row. With a `report`, the deliveries of another process or from before a
        crash (not this process's own) are counted there as recovered."""
        dirs: set[str] = set()
        updates = []
        listings: dict[str, dict[str, tuple[str, str]]] = {}
        for row in rows:
            box_id, uid, name = row[0], row[1], row[6]
            where = self._place(db, row, (box_id, uid) in synced, listings)
            if report is not None and (box_id, uid) not in self._unsettled:
                report.recovered += 1
                if len(report.details) < MAX_DETAILS:
                    report.details.append(f"{name} UID {uid} recovered: file {where} put in place")
            dirs.add(os.path.join(self.folder_path(name), os.path.dirname(where)))
            updates.append((_followed(row, where), box_id, uid))
        return dirs, updates

    def _place(
        self,
        db: sqlite3.Connection,
        row: tuple[int, int, str, str, str, int, str],
        trusted: bool,
        listings: dict[str, dict[str, tuple[str, str]]],
    ) -> str:
        """Put one pending delivery's file in place (not yet fsyncing its folder); its path.

        A `trusted` tmp/ file (written whole by this process, fsynced) is renamed; a file the
        row already names in new/ or cur/, or one found there by its base (a rename made, the
        row not updated), is kept: only fsynced files are ever renamed there. Otherwise the
        content is written again from the pending row."""
        box_id, uid, final, base, path, date, name = row
        folder = self.folder_path(name)
        if path.startswith("tmp/"):
            if trusted:
                with contextlib.suppress(FileNotFoundError):
                    os.rename(os.path.join(folder, path), os.path.join(folder, final))
                    return final
        elif os.path.exists(os.path.join(folder, path)):
            return path
        if folder not in listings:
            listings[folder] = maildir.listing(folder)
        found = listings[folder].get(base)
        if found is not None:
            return "/".join(found)
        return self._restore(db, folder, box_id, uid, base, final, date)

    def _restore(
        self,
        db: sqlite3.Connection,
        folder: str,
        box_id: int,
        uid: int,
        base: str,
        final: str,
        date: int,
    ) -> str:
        """Write a pending delivery's file again from the index: tmp/, fsync, rename over
        `final` (a whole copy there, if any, has the same content); `final`."""
        (data,) = db.execute(
            "SELECT data FROM pending WHERE mailbox_id = ? AND uid = ?", (box_id, uid)
        ).fetchone()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, "tmp", base))
        tmp = maildir.write_tmp(folder, base, data, date)
        os.rename(tmp, os.path.join(folder, final))
        return final
