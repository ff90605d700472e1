"""Reconcile the index with the files: run when a user's store is opened (and on demand).

Files the index does not know get new UIDs (flags from their names); rows whose file vanished
are expunged with a MODSEQ (so sessions and the expunge log see it); files renamed by mutt or
Dovecot (new/ -> cur/, changed info letters) are followed by their base name and their flags
taken from the name; folders are added and removed the same way. Everything it does is counted
in the report: nothing is dropped silently.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterable

from . import flags as fl
from . import maildir, names
from .base import MailboxRow, UserBase
from .errors import StoreError
from .records import ReconcileReport

MAX_DETAILS = 200  # detail lines kept in a report (the counts are always complete)


class ReconcileOps(UserBase):
    """Reconcile, as a part of a user's store."""

    def _disk_folders(self, report: ReconcileReport) -> dict[str, str]:
        """Mailbox name -> folder path of every Maildir++ folder on disk (INBOX included)."""
        found = {names.INBOX: self.maildir}
        for entry in sorted(os.listdir(self.maildir)):
            path = os.path.join(self.maildir, entry)
            if entry in (".", "..") or not entry.startswith(".") or not os.path.isdir(path):
                continue
            if not (
                os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new"))
            ):
                continue
            try:
                found[names.from_folder(entry)] = path
            except StoreError:
                report.unusable_folders.append(entry)
        return found

    def reconcile(self, report: ReconcileReport | None = None) -> ReconcileReport:
        """Bring the index in line with the Maildir; the report of what changed."""
        report = report or ReconcileReport()
        maildir.ensure(self.maildir)
        disk = self._disk_folders(report)
        with self._write() as db:
            known = {r[0] for r in db.execute("SELECT name FROM mailboxes")}
            for name in sorted(known - disk.keys()):
                box = self._row(db, name)
                if name == names.INBOX:
                    continue  # INBOX always exists: its rows are reconciled below
                (count,) = db.execute(
                    "SELECT count(*) FROM messages WHERE mailbox_id = ?", (box.id,)
                ).fetchone()
                db.execute("DELETE FROM mailboxes WHERE id = ?", (box.id,))
                report.mailboxes_removed += 1
                report.vanished += count
                self._detail(
                    report, f"mailbox {name!r} removed: its folder vanished ({count} messages)"
                )
            # deliveries acknowledged before their file was in place: put there first, so
            # none is taken for vanished (settle.py)
            self._settle_pending(db, report)
            for name in sorted(disk.keys() - known):
                self.ensure_folder(name)
                self._insert_mailbox(db, name)
                report.mailboxes_added += 1
                self._detail(report, f"mailbox {name!r} added: its folder appeared")
            for name in sorted(disk):
                self.ensure_folder(name)  # a folder made by another program may lack tmp/
                self._reconcile_box(db, self._row(db, name), disk[name], report)
        self._sweep(disk.values(), report)
        return report

    def _detail(self, report: ReconcileReport, line: str) -> None:
        if len(report.details) < MAX_DETAILS:
            report.details.append(line)

    def _reconcile_box(
        self, db: sqlite3.Connection, box: MailboxRow, folder: str, report: ReconcileReport
    ) -> None:
        files = maildir.listing(folder)
        rows = db.execute(
            "SELECT uid, base, path, flags, keywords FROM messages WHERE mailbox_id = ?", (box.id,)
        ).fetchall()
        vanished: list[int] = []
        updates: list[tuple[int, int, str, str, bool]] = []
        for uid, base, path, bits, keywords in rows:
            found = files.pop(base, None)
            if found is None:
                vanished.append(uid)
                self._detail(report, f"{box.name} UID {uid} expunged: file {path} vanished")
                continue
            actual = "/".join(found)
            if actual == path:
                continue
            report.renamed += 1
            info = maildir.FileName.parse(found[1]).info
            new_bits, new_kw = bits, fl.split_keywords(keywords)
            if info is not None:
                file_bits, forwarded, _ = fl.from_info(info)
                new_bits = file_bits
                new_kw = (
                    fl.merge(new_kw, [fl.FORWARDED])
                    if forwarded
                    else fl.remove(new_kw, [fl.FORWARDED])
                )
            flags_moved = new_bits != bits or new_kw != fl.split_keywords(keywords)
            report.flags_changed += flags_moved
            updates.append((uid, new_bits, fl.join_keywords(new_kw), actual, flags_moved))
        if updates:
            modseq = self._bump(db, box) if any(u[4] for u in updates) else 0
            for uid, new_bits, kw_text, actual, flags_moved in updates:
                if flags_moved:
                    db.execute(
                        "UPDATE messages SET flags = ?, keywords = ?, path = ?, modseq = ?"
                        " WHERE mailbox_id = ? AND uid = ?",
                        (new_bits, kw_text, actual, modseq, box.id, uid),
                    )
                else:
                    db.execute(
                        "UPDATE messages SET path = ? WHERE mailbox_id = ? AND uid = ?",
                        (actual, box.id, uid),
                    )
        if vanished:
            modseq = self._bump(db, box)
            db.executemany(
                "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?",
                [(box.id, u) for u in vanished],
            )
            db.executemany(
                "DELETE FROM summaries WHERE mailbox_id = ? AND uid = ?",
                [(box.id, u) for u in vanished],
            )
            self._log_expunged(db, box, vanished, modseq)
            report.vanished += len(vanished)
        if files:
            self._adopt(db, box, folder, files, report)

    def _adopt(
        self,
        db: sqlite3.Connection,
        box: MailboxRow,
        folder: str,
        files: dict[str, tuple[str, str]],
        report: ReconcileReport,
    ) -> None:
        modseq = self._bump(db, box)
        for base in sorted(files):
            sub, fname = files[base]
            try:
                st = os.stat(os.path.join(folder, sub, fname))
            except FileNotFoundError:
                continue  # gone while we looked: nothing to adopt
            info = maildir.FileName.parse(fname).info
            bits, forwarded, _ = fl.from_info(info or "")
            keywords = fl.FORWARDED if forwarded else ""
            uid = self._take_uids(db, box, 1)
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    box.id,
                    uid,
                    base,
                    f"{sub}/{fname}",
                    st.st_size,
                    int(st.st_mtime),
                    bits,
                    keywords,
                    modseq,
                    int(st.st_mtime),  # saved (RFC 8514) when its file was written
                ),
            )
            report.adopted += 1
            self._detail(report, f"{box.name} UID {uid} adopted: file {sub}/{fname}")

    def _sweep(self, folders: Iterable[str], report: ReconcileReport) -> None:
        """Remove tmp/ files past the Maildir spec's 36 hours, and finished deletions."""
        now = self.clock()
        for folder in folders:
            for path in maildir.stale_tmp(folder, now):
                try:
                    os.unlink(path)
                    report.stale_tmp_removed += 1
                except FileNotFoundError:
                    pass
        graveyard = os.path.join(self.home, "deleted")
        if os.path.isdir(graveyard):
            for entry in os.listdir(graveyard):
                shutil.rmtree(os.path.join(graveyard, entry), ignore_errors=True)
