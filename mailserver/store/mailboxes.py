"""Mailbox operations: CREATE, DELETE, RENAME (with RFC 3501's INBOX rule), subscriptions,
LIST/LSUB, STATUS, and the default mailboxes with their SPECIAL-USE attributes (RFC 6154)."""

from __future__ import annotations

import os
import shutil
import sqlite3

from . import maildir, names
from .base import MailboxRow, UserBase
from .errors import ALREADYEXISTS, CANNOT, NONEXISTENT, StoreError
from .records import ListEntry, MailboxInfo, Status

DEFAULTS = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
SPECIAL_USES = frozenset(
    ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
)


def _create_name(name: str) -> str:
    """CREATE's name: one trailing separator only says children will follow (RFC 3501)."""
    if name.endswith(names.SEP) and len(name) > 1:
        name = name[:-1]
    return names.normalize(name)


class MailboxOps(UserBase):
    """The mailbox-level half of a user's store."""

    def ensure_defaults(self) -> None:
        """Create the default mailboxes once per user (a deleted Junk stays deleted)."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'defaults'").fetchone():
                return
            for name, use in DEFAULTS:
                self.ensure_folder(name)
                if not self._exists(db, name):
                    self._insert_mailbox(db, name, use)
                db.execute("INSERT OR IGNORE INTO subscriptions VALUES (?)", (name,))
            db.execute("INSERT INTO meta VALUES ('defaults', 1)")

    def _exists(self, db: sqlite3.Connection, name: str) -> bool:
        return db.execute("SELECT 1 FROM mailboxes WHERE name = ?", (name,)).fetchone() is not None

    def _has_children(self, db: sqlite3.Connection, name: str) -> bool:
        prefix = name + names.SEP
        return (
            db.execute(
                "SELECT 1 FROM mailboxes WHERE substr(name, 1, ?) = ? LIMIT 1",
                (len(prefix), prefix),
            ).fetchone()
            is not None
        )

    def _make(self, db: sqlite3.Connection, name: str, use: str | None = None) -> None:
        """Create `name` and any missing superior names, folders first, then rows."""
        for up in [*names.ancestors(name), name]:
            if not self._exists(db, up):
                self.ensure_folder(up)
                self._insert_mailbox(db, up, use if up == name else None)

    def create(self, name: str, special_use: str | None = None) -> MailboxInfo:
        """CREATE: a new mailbox (superior names created as needed); ALREADYEXISTS if it is."""
        canonical = _create_name(name)
        if special_use is not None and special_use not in SPECIAL_USES:
            raise StoreError(f"unknown special use {special_use!r}", CANNOT)
        with self._write() as db:
            if self._exists(db, canonical):
                raise StoreError(f"mailbox {canonical!r} exists", ALREADYEXISTS)
            self._make(db, canonical, special_use)
            return _info(self._row(db, canonical))

    def delete(self, name: str) -> None:
        """DELETE: the mailbox and its messages go; its inferiors stay, so the name remains
        as their \\Noselect parent. INBOX cannot be deleted, nor a \\Noselect name that has
        inferiors (RFC 3501 section 6.3.4)."""
        canonical = names.normalize(name)
        if canonical == names.INBOX:
            raise StoreError("INBOX cannot be deleted", CANNOT)
        with self._write(settle=True) as db:
            if not self._exists(db, canonical):
                if self._has_children(db, canonical):
                    raise StoreError(f"{canonical!r} has inferior mailboxes", CANNOT)
                raise StoreError(f"no mailbox {canonical!r}", NONEXISTENT)
            box = self._row(db, canonical)
            # The folder leaves the Maildir in one rename, so a crash never leaves half of it
            # for reconcile to adopt back; the copy in deleted/ is removed after the commit.
            doomed = self._retire(self.folder_path(canonical))
            db.execute("DELETE FROM mailboxes WHERE id = ?", (box.id,))
        if doomed:
            shutil.rmtree(doomed, ignore_errors=True)

    def _retire(self, folder: str) -> str | None:
        if not os.path.isdir(folder):
            return None
        graveyard = os.path.join(self.home, "deleted")
        os.makedirs(graveyard, mode=0o700, exist_ok=True)
        target = os.path.join(
            graveyard, f"{os.path.basename(folder)}.{os.getpid()}.{int(self.clock() * 1e6)}"
        )
        os.rename(folder, target)
        maildir.fsync_dir(self.maildir)
        return target

    def rename(self, old: str, new: str) -> None:
        """RENAME: the mailbox and its inferiors take the new name (UIDVALIDITY kept). Renaming
        INBOX moves its messages to a new mailbox and leaves INBOX empty (RFC 3501 6.3.5)."""
        source = names.normalize(old)
        target = _create_name(new)
        if target == names.INBOX or source == target:
            raise StoreError(f"mailbox {target!r} exists", ALREADYEXISTS)
        if names.is_inferior(target, source):
            raise StoreError(f"cannot rename {source!r} under itself", CANNOT)
        with self._write(settle=True) as db:
            box = self._row(db, source)
            if source == names.INBOX:
                self._rename_inbox(db, box, target)
                return
            prefix = source + names.SEP
            moving = [source] + [
                r[0]
                for r in db.execute(
                    "SELECT name FROM mailboxes WHERE substr(name, 1, ?) = ? ORDER BY name",
                    (len(prefix), prefix),
                )
            ]
            pairs = [(n, target + n[len(source) :]) for n in moving]
            for _, to in pairs:
                names.normalize(to)  # too long a name fails before anything moves
                if self._exists(db, to) or os.path.exists(self.folder_path(to)):
                    raise StoreError(f"mailbox {to!r} exists", ALREADYEXISTS)
            parents = names.ancestors(target)
            if parents:  # the missing superior names, made as CREATE makes them
                self._make(db, parents[-1])
            done: list[tuple[str, str]] = []
            try:
                for frm, to in pairs:
                    if os.path.isdir(self.folder_path(frm)):
                        os.rename(self.folder_path(frm), self.folder_path(to))
                        done.append((frm, to))
                maildir.fsync_dir(self.maildir)
                for frm, to in pairs:
                    db.execute("UPDATE mailboxes SET name = ? WHERE name = ?", (to, frm))
            except BaseException:
                for frm, to in reversed(done):
                    os.rename(self.folder_path(to), self.folder_path(frm))
                raise

    def _rename_inbox(self, db: sqlite3.Connection, inbox: MailboxRow, target: str) -> None:
        if self._exists(db, target) or os.path.exists(self.folder_path(target)):
            raise StoreError(f"mailbox {target!r} exists", ALREADYEXISTS)
        self._make(db, target)
        dest = self._row(db, target)
        rows = db.execute(
            "SELECT uid, path FROM messages WHERE mailbox_id = ? ORDER BY uid", (inbox.id,)
        ).fetchall()
        for _, path in rows:
            try:
                os.rename(
                    os.path.join(self.maildir, path), os.path.join(self.folder_path(target), path)
                )
            except FileNotFoundError:
                continue  # vanished: the row moves anyway and reconcile expunges it there
        for folder in (self.maildir, self.folder_path(target)):
            for sub in ("cur", "new"):
                maildir.fsync_dir(os.path.join(folder, sub))
        for table in ("messages", "summaries"):
            db.execute(
                f"UPDATE {table} SET mailbox_id = ? WHERE mailbox_id = ?", (dest.id, inbox.id)
            )
        db.execute(
            "INSERT OR IGNORE INTO keywords SELECT ?, name FROM keywords WHERE mailbox_id = ?",
            (dest.id, inbox.id),
        )
        db.execute(
            "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, recent_floor = ? WHERE id = ?",
            (inbox.uidnext, inbox.highestmodseq, inbox.recent_floor, dest.id),
        )
        self._log_expunged(db, inbox, [uid for uid, _ in rows], self._bump(db, inbox))

    # -- subscriptions, LIST, LSUB ---------------------------------------------------------

    def subscribe(self, name: str) -> None:
        """SUBSCRIBE: the name need not exist (RFC 3501 lets a client subscribe to any)."""
        canonical = names.normalize(name)
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO subscriptions VALUES (?)", (canonical,))

    def unsubscribe(self, name: str) -> bool:
        """UNSUBSCRIBE; whether the name was subscribed."""
        canonical = names.normalize(name)
        with self._write() as db:
            cur = db.execute("DELETE FROM subscriptions WHERE name = ?", (canonical,))
            return cur.rowcount > 0

    def subscriptions(self) -> list[str]:
        """Every subscribed name, sorted (existing mailboxes or not)."""
        with self._read() as db:
            return [r[0] for r in db.execute("SELECT name FROM subscriptions ORDER BY name")]

    def list_mailboxes(self, pattern: str) -> list[ListEntry]:
        """LIST with a pattern already joined to its reference: existing mailboxes and implied
        parents (exists False: \\Noselect) matching it, with special use and subscription."""
        with self._read() as db:
            uses = dict(db.execute("SELECT name, special_use FROM mailboxes").fetchall())
            subscribed = {r[0] for r in db.execute("SELECT name FROM subscriptions")}
        return [
            ListEntry(
                name=e.name,
                exists=e.exists,
                has_children=e.has_children,
                special_use=uses.get(e.name),
                subscribed=e.name in subscribed,
            )
            for e in names.listing(pattern, uses)
        ]

    def list_subscribed(self, pattern: str) -> list[ListEntry]:
        """LSUB: subscribed names matching; an unsubscribed parent a `%` reaches has exists
        False (\\Noselect), as RFC 3501 section 6.3.9 shows."""
        with self._read() as db:
            uses = dict(db.execute("SELECT name, special_use FROM mailboxes").fetchall())
            subscribed = [r[0] for r in db.execute("SELECT name FROM subscriptions")]
        all_names = list(uses)
        return [
            ListEntry(
                name=e.name,
                exists=e.exists,
                special_use=uses.get(e.name),
                has_children=any(names.is_inferior(n, e.name) for n in all_names),
                subscribed=e.exists,
            )
            for e in names.listing(pattern, subscribed)
        ]

    def mailbox_names(self) -> list[str]:
        """Every existing mailbox, sorted."""
        with self._read() as db:
            return [r[0] for r in db.execute("SELECT name FROM mailboxes ORDER BY name")]

    def mailbox(self, name: str) -> MailboxInfo:
        """A mailbox's UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and special use; NONEXISTENT."""
        with self._read() as db:
            return _info(self._row(db, name))

    def status(self, name: str) -> Status:
        """STATUS: every item at once (one pass over the mailbox's index rows)."""
        with self._read() as db:
            box = self._row(db, name)
            count, recent, unseen, size, deleted, deleted_size = db.execute(
                f"SELECT count(*), total(uid >= {int(box.recent_floor)}), total((flags & 1) = 0),"
                " total(size), total((flags & 8) != 0),"
                " total(CASE WHEN flags & 8 THEN size ELSE 0 END)"
                " FROM messages WHERE mailbox_id = ?",
                (box.id,),
            ).fetchone()
        return Status(
            messages=count,
            recent=int(recent),
            uidnext=box.uidnext,
            uidvalidity=box.uidvalidity,
            unseen=int(unseen),
            highestmodseq=box.highestmodseq,
            size=int(size),
            deleted=int(deleted),
            deleted_storage=int(deleted_size),
        )


def _info(box: MailboxRow) -> MailboxInfo:
    return MailboxInfo(
        name=box.name,
        uidvalidity=box.uidvalidity,
        uidnext=box.uidnext,
        highestmodseq=box.highestmodseq,
        special_use=box.special_use,
    )
