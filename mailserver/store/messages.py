"""Message operations: COPY, MOVE, STORE (with UNCHANGEDSINCE), EXPUNGE, SELECT's snapshot,
FETCH's index data, reading a message, summaries, the change feed and POP3 (delivery.py
stores new messages).

Every operation changes the files first and the index last, so that a crash between the two
leaves a state reconcile repairs without loss: a placed file the index lacks is adopted, a row
whose file was unlinked is expunged, a file renamed for new flags carries them in its name.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO

from mailserver.message.errors import MessageError
from mailserver.message.summary import Summary

from . import flags as fl
from . import maildir, names
from .base import (
    SUMMARY_COLUMNS,
    SUMMARY_DATA,
    SUMMARY_NAMES,
    SUMMARY_VALUES,
    MailboxRow,
    UserBase,
)
from .errors import CANNOT, NONEXISTENT, StoreError
from .records import Changes, CopyResult, MessageFile, MessageMeta, Pop3Entry, Snapshot, StoreResult

_META = "uid, size, internaldate, flags, keywords, modseq, savedate"
_IN_CHUNK = 500  # UIDs per "uid IN (...)" query
#: The columns of the summaries' covering index of SORT keys (schema 6), which `sort_keys` reads.
SORT_KEYS = ("date", "subject_key", "from_key", "to_key", "cc_key")
# A message's summary blob beside its UID (NULL when none is cached), for _rows.
_BLOB = (
    "uid, (SELECT blob FROM summaries s"
    " WHERE s.mailbox_id = messages.mailbox_id AND s.uid = messages.uid)"
)


_FLAG_NAMES: dict[tuple[int, str], tuple[str, ...]] = {}  # most messages share a few flag sets
_FLAG_NAMES_MAX = 4096


def _flag_names(bits: int, keywords: str) -> tuple[str, ...]:
    found = _FLAG_NAMES.get((bits, keywords))
    if found is None:
        if len(_FLAG_NAMES) >= _FLAG_NAMES_MAX:
            _FLAG_NAMES.clear()
        found = _FLAG_NAMES[bits, keywords] = fl.names(bits, fl.split_keywords(keywords))
    return found


# MessageMeta's slots, set directly: its frozen dataclass __init__ sets each field through
# object.__setattr__, at twice the cost, and one SEARCH or FETCH 1:* makes 100,000 of them.
_new = object.__new__
_SET_UID, _SET_SIZE, _SET_DATE, _SET_FLAGS, _SET_MODSEQ, _SET_SAVED = (
    MessageMeta.__dict__[name].__set__
    for name in ("uid", "size", "internaldate", "flags", "modseq", "savedate")
)


def _meta(row: Sequence[Any]) -> MessageMeta:
    uid, size, internaldate, bits, keywords, modseq, savedate = row[:7]
    meta: MessageMeta = _new(MessageMeta)
    _SET_UID(meta, uid)
    _SET_SIZE(meta, size)
    _SET_DATE(meta, internaldate)
    _SET_FLAGS(meta, _flag_names(bits, keywords))
    _SET_MODSEQ(meta, modseq)
    _SET_SAVED(meta, savedate)
    return meta


def _decoded(blob: object) -> Summary | None:
    """A cached blob as a Summary; None when there is none or it is not one (then the caller
    computes it again: a blob of an older version or a damaged index is never an error)."""
    if not isinstance(blob, bytes):
        return None
    try:
        return Summary.from_bytes(blob)
    except MessageError:
        return None


def _folded(keywords: Iterable[str]) -> frozenset[str]:
    return frozenset(k.lower() for k in keywords)


SELECT_CACHE = 8  # mailboxes per user whose SELECT answer is kept (base.py `_selected`)


class MessageOps(UserBase):
    """The message-level half of a user's store."""

    # -- reading ---------------------------------------------------------------------------

    def select(self, mailbox: str, readonly: bool = False) -> Snapshot:
        """SELECT (claims \\Recent for this session) or EXAMINE (readonly: claims none)."""
        ctx = self._read() if readonly else self._write()
        with ctx as db:
            box = self._row(db, mailbox)
            key = (box.uidvalidity, box.uidnext, box.highestmodseq)
            cached = self._selected.get(box.id)
            if cached is not None and cached[0] == key:
                _, uids, first_unseen, keywords = cached
            else:
                uids, first_unseen, keywords = self._select_rows(db, box)
                if len(self._selected) >= SELECT_CACHE:
                    del self._selected[next(iter(self._selected))]
                self._selected[box.id] = (key, uids, first_unseen, keywords)
            recent = range(0) if readonly else self._claim_recent(db, box, 1)
        return Snapshot(
            name=box.name,
            uidvalidity=box.uidvalidity,
            uidnext=box.uidnext,
            highestmodseq=box.highestmodseq,
            uids=array("I", uids),  # the session's own copy: it changes it as mail comes and goes
            recent=recent,
            first_unseen=first_unseen,
            keywords=keywords,
        )

    def _select_rows(
        self, db: sqlite3.Connection, box: MailboxRow
    ) -> tuple[array[int], int | None, tuple[str, ...]]:
        """What SELECT reads from the index: the UIDs, the first unseen UID, the keywords."""
        uids = self._uid_array(db, box)
        (first_unseen,) = db.execute(
            "SELECT min(uid) FROM messages WHERE mailbox_id = ? AND flags & 1 = 0", (box.id,)
        ).fetchone()
        keywords = tuple(
            r[0]
            for r in db.execute(
                "SELECT name FROM keywords WHERE mailbox_id = ? ORDER BY name", (box.id,)
            )
        )
        return uids, first_unseen, keywords

    def uids(self, mailbox: str) -> array[int]:
        """Every UID of the mailbox, ascending."""
        with self._read() as db:
            return self._uid_array(db, self._row(db, mailbox))

    def _uid_array(self, db: sqlite3.Connection, box: MailboxRow) -> array[int]:
        return array(
            "I",
            (
                r[0]
                for r in db.execute(
                    "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", (box.id,)
                )
            ),
        )

    def _rows(
        self, db: sqlite3.Connection, box: MailboxRow, uids: Iterable[int] | None, columns: str
    ) -> list[Any]:
        """Rows for `uids` (all when None), ascending by UID; unknown UIDs are skipped."""
        sql = f"SELECT {columns} FROM messages WHERE mailbox_id = ?"
        if uids is None:
            return db.execute(sql + " ORDER BY uid", (box.id,)).fetchall()
        want = sorted(set(uids))
        if not want:
            return []
        if len(want) > _IN_CHUNK:
            wanted = set(want)
            rows = db.execute(
                sql + " AND uid BETWEEN ? AND ? ORDER BY uid", (box.id, want[0], want[-1])
            ).fetchall()
            return [r for r in rows if r[0] in wanted]
        marks = ",".join("?" * len(want))
        return db.execute(sql + f" AND uid IN ({marks}) ORDER BY uid", (box.id, *want)).fetchall()

    def fetch(self, mailbox: str, uids: Iterable[int] | None = None) -> list[MessageMeta]:
        """Index data of the given UIDs (all when None), ascending; unknown UIDs skipped."""
        with self._read() as db:
            return [_meta(r) for r in self._rows(db, self._row(db, mailbox), uids, _META)]

    def uids_flagged(self, mailbox: str, masks: Iterable[int]) -> set[int]:
        """The UIDs of the messages whose system flags, as bits, are one of `masks` (a flag
        search: imap/searching.py `flag_masks`), in one index query."""
        want = sorted(set(masks))
        with self._read() as db:
            box = self._row(db, mailbox)
            if not want:
                return set()
            marks = ",".join("?" * len(want))
            sql = f"SELECT uid FROM messages WHERE mailbox_id = ? AND flags IN ({marks})"
            return {r[0] for r in db.execute(sql, (box.id, *want))}

    def message_file(self, mailbox: str, uid: int) -> MessageFile:
        """Where message `uid` is stored now, and its size; NONEXISTENT if it is not."""
        where = self.message_files(mailbox, [uid]).get(uid)
        if where is None:
            raise StoreError(f"no message with UID {uid}", NONEXISTENT)
        return where

    def message_files(self, mailbox: str, uids: Iterable[int]) -> dict[int, MessageFile]:
        """Where each of `uids` is stored now (one index query for them all: FETCH and SEARCH
        over many messages); unknown UIDs are left out."""
        with self._read() as db:
            box = self._row(db, mailbox)
            rows = self._rows(db, box, uids, "uid, path, size")
        folder = self.folder_path(box.name)
        return {
            uid: MessageFile(path=os.path.join(folder, path), size=size) for uid, path, size in rows
        }

    def read_file(self, mailbox: str, uid: int, where: MessageFile | None) -> bytes:
        """Message `uid` from `where` (from message_files), or as read_message finds it when
        that is None or no longer there (mutt renamed it, another process moved it)."""
        if where is not None:
            try:
                with open(where.path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
        return self.read_message(mailbox, uid)

    def open_message(self, mailbox: str, uid: int) -> BinaryIO:
        """An open binary file of message `uid` (stream big ones from it). Follows a rename
        by another process or by mutt between the index read and the open."""
        for _ in range(2):  # the index again: our own rename (a flag change) is found cheaply
            where = self.message_file(mailbox, uid)
            with contextlib.suppress(FileNotFoundError):
                return open(where.path, "rb")
        folder = os.path.dirname(os.path.dirname(where.path))
        base = maildir.FileName.parse(os.path.basename(where.path)).base
        found = maildir.listing(folder).get(base)
        if found is None:
            raise StoreError(f"the file of UID {uid} vanished", NONEXISTENT)
        return open(os.path.join(folder, *found), "rb")

    def read_message(self, mailbox: str, uid: int) -> bytes:
        """The whole message `uid` (CRLF line ends)."""
        with self.open_message(mailbox, uid) as f:
            return f.read()

    def summary(self, mailbox: str, uid: int) -> dict[str, object] | None:
        """The cached summary of `uid` (blob and SORT/THREAD fields), computed and stored on
        first use when a summarize function was given; None without one."""
        with self._read() as db:
            box = self._row(db, mailbox)
            row = db.execute(
                f"SELECT {SUMMARY_NAMES} FROM summaries WHERE mailbox_id = ? AND uid = ?",
                (box.id, uid),
            ).fetchone()
        if row is None:
            computed = self._summary_row(self.read_message(mailbox, uid))
            if computed is None:
                return None
            with self._write() as db:
                db.execute(
                    f"INSERT OR REPLACE INTO summaries ({SUMMARY_NAMES}) VALUES ({SUMMARY_VALUES})",
                    (box.id, uid, *computed),
                )
            row = (box.id, uid, *computed)
        return dict(zip(("blob", *SUMMARY_COLUMNS), row[2:], strict=True))

    def summaries(self, mailbox: str, uids: Iterable[int]) -> dict[int, Summary]:
        """The Summaries of `uids` (FETCH ENVELOPE/BODYSTRUCTURE, SEARCH SENT* over many
        messages), read with one query per _IN_CHUNK UIDs. One not cached, or whose blob is
        not a Summary, is computed from the message and stored, as `summary` does. A UID left
        out has none: unknown or expunged, its file vanished, or no summarize function (or
        one that failed). Every Summary asked for is held at once: ask in batches."""
        want = sorted(set(uids))
        found: dict[int, Summary] = {}
        missing: list[int] = []
        with self._read() as db:
            box = self._row(db, mailbox)
            for i in range(0, len(want), _IN_CHUNK):
                for uid, blob in self._rows(db, box, want[i : i + _IN_CHUNK], _BLOB):
                    summary = _decoded(blob)
                    if summary is None:
                        missing.append(uid)
                    else:
                        found[uid] = summary
        if not missing or self.summarize is None:
            return found
        rows = []
        for uid in missing:
            try:
                computed = self._summary_row(self.read_message(mailbox, uid))
            except StoreError:  # expunged, or its file vanished, since the query
                continue
            summary = None if computed is None else _decoded(computed[0])
            if computed is not None and summary is not None:
                found[uid] = summary
                rows.append((box.id, uid, *computed, box.id, uid))
        if rows:
            with self._write() as db:
                # not for a message expunged meanwhile: its row would outlive it
                db.executemany(
                    f"INSERT OR REPLACE INTO summaries ({SUMMARY_NAMES}) SELECT {SUMMARY_VALUES}"
                    " WHERE EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?)",
                    rows,
                )
        return found

    def subject_texts(self, mailbox: str, uids: Iterable[int]) -> dict[int, str]:
        """The cached `subject_text` of `uids` (SEARCH SUBJECT over many messages), one query
        for them all: the rows whose UIDs lie between the lowest and the highest asked for
        (ask for UIDs that are close together). A UID left out has none: unknown, expunged,
        a row made before the column (NULL) or one the summarizer left empty; nothing is
        computed here (SEARCH reads those messages)."""
        rows = self._summary_rows(mailbox, uids, "subject_text")
        return {uid: text for uid, text in rows if isinstance(text, str)}

    def _summary_rows(self, mailbox: str, uids: Iterable[int], columns: str) -> list[Any]:
        """Rows (uid, *columns) of the summaries of `uids`, in one query: the rows whose UIDs
        lie between the lowest and the highest asked for, those not asked for dropped."""
        want = set(uids)
        with self._read() as db:
            box = self._row(db, mailbox)
            if not want:
                return []
            rows = db.execute(
                f"SELECT uid, {columns} FROM summaries"
                " WHERE mailbox_id = ? AND uid BETWEEN ? AND ?",
                (box.id, min(want), max(want)),
            ).fetchall()
        return [row for row in rows if row[0] in want]

    def sort_columns(
        self, mailbox: str, uids: Iterable[int]
    ) -> dict[int, tuple[int | None, str, str, str, str]]:
        """The cached SORT columns of `uids`: (date, subject, from, to, cc) as the summarizer
        left them (summary.store_fields: the sent date or None, the base subject, the
        addr-mailboxes), one query for them all, as `subject_texts`. A UID left out has none
        (unknown, expunged, or no summary cached: read its Summary instead)."""
        rows = self._summary_rows(mailbox, uids, "date, subject, from_, to_, cc")
        return {
            uid: (date, subject, from_, to, cc)
            for uid, date, subject, from_, to, cc in rows
            if all(isinstance(v, str) for v in (subject, from_, to, cc))
        }

    def sort_keys(
        self, mailbox: str, uids: Iterable[int], columns: Sequence[str]
    ) -> dict[int, tuple[Any, ...]]:
        """The cached SORT keys of `uids`: for each, the values of `columns` (of SORT_KEYS:
        the sent date or None, and the string keys as the summarizer left them, compared
        octet by octet), in one scan of the index's covering index of them. A UID left out
        has none (unknown, expunged, or no keys cached: read it as `sort_columns`)."""
        bad = [c for c in columns if c not in SORT_KEYS]
        if bad:
            raise ValueError(f"not a sort key column: {bad[0]}")
        cached = "".join(f" AND {c} IS NOT NULL" for c in columns if c != "date")
        want = set(uids)
        with self._read() as db:
            box = self._row(db, mailbox)
            if not want:
                return {}
            rows = db.execute(
                f"SELECT uid, {', '.join(columns) or 'uid'} FROM summaries"
                " INDEXED BY summaries_sort"
                f" WHERE mailbox_id = ? AND uid BETWEEN ? AND ?{cached}",
                (box.id, min(want), max(want)),
            ).fetchall()
        return {row[0]: row[1:] for row in rows if row[0] in want}

    def sort_key_rows(self, mailbox: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """(uid, values of `columns`) of every message with its SORT keys cached, ascending
        by UID: `sort_keys` for a whole mailbox, as one list, in one index scan."""
        bad = [c for c in columns if c not in SORT_KEYS]
        if bad or not columns:
            raise ValueError(f"not sort key columns: {', '.join(bad) or 'none'}")
        cached = "".join(f" AND {c} IS NOT NULL" for c in columns if c != "date")
        with self._read() as db:
            box = self._row(db, mailbox)
            return db.execute(
                f"SELECT uid, {', '.join(columns)} FROM summaries INDEXED BY summaries_sort"
                f" WHERE mailbox_id = ?{cached} ORDER BY uid",
                (box.id,),
            ).fetchall()

    def set_sort_keys(self, mailbox: str, keys: Mapping[int, tuple[str, str, str, str]]) -> None:
        """Cache SORT's string keys (subject_key, from_key, to_key, cc_key) of messages whose
        summaries row has none (made before the index kept them: SORT computed them once, so
        it reads them next time). A UID without a row is left alone."""
        if not keys:
            return
        with self._write() as db:
            box = self._row(db, mailbox)
            db.executemany(
                "UPDATE summaries SET subject_key = ?, from_key = ?, to_key = ?, cc_key = ?"
                " WHERE mailbox_id = ? AND uid = ?",
                [(*k, box.id, uid) for uid, k in keys.items()],
            )

    def arrivals(self, mailbox: str) -> dict[int, tuple[int, int]]:
        """Each message's internal date and RFC822.SIZE (SORT's ARRIVAL and SIZE), by UID, in
        one query."""
        with self._read() as db:
            box = self._row(db, mailbox)
            sql = "SELECT uid, internaldate, size FROM messages WHERE mailbox_id = ?"
            return {uid: (date, size) for uid, date, size in db.execute(sql, (box.id,))}

    def thread_columns(
        self, mailbox: str, uids: Iterable[int]
    ) -> dict[int, tuple[int | None, str, int, str | None, str | None, str]]:
        """The cached THREAD columns of `uids`: (date, subject_key, reply, message_id,
        in_reply_to, references) as the summarizer left them (the sent date or None, the base
        subject as SORT compares it, 1 when it was a reply or forward, else 0, the ids as
        text, the references space-separated), in one scan of the index's covering index of
        them. A UID left out has none (unknown, expunged, no summary cached, or cached before
        the index kept `reply` or the keys: read its Summary)."""
        want = set(uids)
        with self._read() as db:
            box = self._row(db, mailbox)
            if not want:
                return {}
            rows = db.execute(
                "SELECT uid, date, subject_key, reply, message_id, in_reply_to, refs"
                " FROM summaries INDEXED BY summaries_thread"
                " WHERE mailbox_id = ? AND uid BETWEEN ? AND ? AND subject_key IS NOT NULL"
                " AND reply IS NOT NULL AND refs IS NOT NULL",
                (box.id, min(want), max(want)),
            ).fetchall()
        return {row[0]: row[1:] for row in rows if row[0] in want}

    # -- flags -----------------------------------------------------------------------------

    def store(
        self,
        mailbox: str,
        uids: Iterable[int],
        mode: str,
        flag_names: Iterable[str],
        unchanged_since: int | None = None,
    ) -> StoreResult:
        """STORE FLAGS (mode "set"), +FLAGS ("add") or -FLAGS ("remove") on UIDs; with
        UNCHANGEDSINCE (RFC 7162) a message whose modseq is higher is left alone and failed."""
        if mode not in ("set", "add", "remove"):
            raise StoreError(f"unknown STORE mode {mode!r}")  # code: CANNOT, the default
        bits, keywords = fl.parse(flag_names)
        with self._write(settle=True) as db:
            box = self._row(db, mailbox)
            folder = self.folder_path(box.name)
            rows = self._rows(db, box, uids, "uid, flags, keywords, modseq, path")
            failed, updates = [], []
            for row in rows:
                uid, old_bits, old_kw_text, modseq, path = row
                old_kw = fl.split_keywords(old_kw_text)
                if unchanged_since is not None and modseq > unchanged_since:
                    failed.append(uid)
                    continue
                if mode == "set":
                    new_bits, new_kw = bits, keywords
                elif mode == "add":
                    new_bits, new_kw = old_bits | bits, fl.merge(old_kw, keywords)
                else:
                    new_bits, new_kw = old_bits & ~bits, fl.remove(old_kw, keywords)
                if new_bits != old_bits or _folded(new_kw) != _folded(old_kw):
                    updates.append((uid, new_bits, new_kw, path))
            changed = frozenset(u[0] for u in updates)
            modseq = self._bump(db, box) if updates else box.highestmodseq
            subdirs: set[str] = set()
            rewritten = []
            used: dict[str, None] = {}
            for uid, new_bits, new_kw, path in updates:
                new_path = self._reflag(folder, path, new_bits, new_kw)
                if new_path != path:
                    subdirs.update((path[:3], new_path[:3]))
                rewritten.append(
                    (new_bits, fl.join_keywords(new_kw), modseq, new_path, box.id, uid)
                )
                used.update(dict.fromkeys(new_kw))
            db.executemany(
                "UPDATE messages SET flags = ?, keywords = ?, modseq = ?, path = ?"
                " WHERE mailbox_id = ? AND uid = ?",
                rewritten,
            )
            self._note_keywords(db, box, tuple(used))
            # a rename lost to a power cut would bring the old flags back
            maildir.run_parallel(
                [os.path.join(folder, d) for d in sorted(subdirs)], maildir.fsync_dir
            )
            after = self._rows(db, box, [r[0] for r in rows], _META)
        return StoreResult(
            messages=[_meta(r) for r in after], changed=changed, failed=failed, modseq=modseq
        )

    def _reflag(self, folder: str, path: str, bits: int, keywords: tuple[str, ...]) -> str:
        """Rename a message file so its info letters show `bits`; the new relative path."""
        name = maildir.FileName.parse(os.path.basename(path))
        keep = fl.from_info(name.info)[2] if name.info else ""
        new_path = "cur/" + maildir.file_name(name.base, fl.to_info(bits, keywords, keep))
        if new_path == path:
            return path
        try:
            os.rename(os.path.join(folder, path), os.path.join(folder, new_path))
        except FileNotFoundError:
            found = maildir.listing(folder).get(name.base)
            if found is None:
                return path  # vanished: reconcile will expunge it
            os.rename(os.path.join(folder, *found), os.path.join(folder, new_path))
        return new_path

    # -- copy, move, expunge -----------------------------------------------------------------

    def copy(self, source: str, uids: Iterable[int], target: str) -> CopyResult:
        """COPY: new UIDs in `target` (flags kept, \\Recent set), hard links where possible."""
        return self._transfer(source, uids, target, move=False)

    def move(self, source: str, uids: Iterable[int], target: str) -> CopyResult:
        """MOVE (RFC 6851): the files are renamed into `target` and expunged from `source`."""
        return self._transfer(source, uids, target, move=True)

    def _transfer(self, source: str, uids: Iterable[int], target: str, move: bool) -> CopyResult:
        with self._write(settle=True) as db:
            src = self._row(db, source)
            dst = self._row(db, target)
            if src.id == dst.id and move:
                raise StoreError("cannot move messages to the mailbox they are in", CANNOT)
            rows = self._rows(db, src, uids, "uid, base, path, size, internaldate, flags, keywords")
            if not move and self.quota.limited:  # a move keeps the usage as it is
                self.quota.check(self._usage(db), sum(r[3] for r in rows), len(rows))
            src_dir, dst_dir = self.folder_path(src.name), self.folder_path(dst.name)
            made: list[tuple[int, str, str, str]] = []  # old uid, new base, new path, old path
            try:
                for uid, base, path, size, _, _, _ in rows:
                    sub, _, fname = path.partition("/")
                    info = maildir.FileName.parse(fname).info
                    new_base = base if move else maildir.new_base(self.clock(), self.host, size)
                    new_path = f"{sub}/{maildir.file_name(new_base, info)}"
                    if self._carry(src_dir, path, base, dst_dir, new_path, move):
                        made.append((uid, new_base, new_path, path))
                for d in {os.path.join(dst_dir, m[2].split("/")[0]) for m in made}:
                    maildir.fsync_dir(d)
                if move:
                    for d in {os.path.join(src_dir, m[3].split("/")[0]) for m in made}:
                        maildir.fsync_dir(d)
                return self._transfer_rows(db, src, dst, rows, made, move)
            except BaseException:
                for _, _, new_path, old_path in made:
                    if move:
                        os.rename(os.path.join(dst_dir, new_path), os.path.join(src_dir, old_path))
                    else:
                        os.unlink(os.path.join(dst_dir, new_path))
                raise

    def _carry(
        self, src_dir: str, path: str, base: str, dst_dir: str, new_path: str, move: bool
    ) -> bool:
        """Link (copy) or rename (move) one file; False if it vanished."""
        origin = os.path.join(src_dir, path)
        if not os.path.exists(origin):
            found = maildir.listing(src_dir).get(base)
            if found is None:
                return False
            origin = os.path.join(src_dir, *found)
        dest = os.path.join(dst_dir, new_path)
        if move:
            os.rename(origin, dest)
            return True
        try:
            os.link(origin, dest)
        except OSError:  # another filesystem, or links not allowed: a durable copy
            with open(origin, "rb") as f:
                data = f.read()
            name = os.path.basename(new_path)
            tmp = maildir.write_tmp(dst_dir, name, data, os.stat(origin).st_mtime)
            os.rename(tmp, dest)
        return True

    def _transfer_rows(
        self,
        db: sqlite3.Connection,
        src: MailboxRow,
        dst: MailboxRow,
        rows: list[Any],
        made: list[tuple[int, str, str, str]],
        move: bool,
    ) -> CopyResult:
        by_uid = {r[0]: r for r in rows}
        mapping = []
        if made:
            modseq = self._bump(db, dst)
            first = self._take_uids(db, dst, len(made))
            now = int(self.clock())  # the copies' save date (RFC 8514: COPY and MOVE save)
            for i, (uid, new_base, new_path, _) in enumerate(made):
                _, _, _, size, date, bits, keywords = by_uid[uid]
                db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        dst.id,
                        first + i,
                        new_base,
                        new_path,
                        size,
                        date,
                        bits,
                        keywords,
                        modseq,
                        now,
                    ),
                )
                db.execute(
                    f"INSERT OR REPLACE INTO summaries ({SUMMARY_NAMES})"
                    f" SELECT ?, ?, {SUMMARY_DATA} FROM summaries"
                    " WHERE mailbox_id = ? AND uid = ?",
                    (dst.id, first + i, src.id, uid),
                )
                self._note_keywords(db, dst, fl.split_keywords(keywords))
                mapping.append((uid, first + i))
            if move:
                self._drop_rows(db, src, [m[0] for m in made])
        return CopyResult(uidvalidity=dst.uidvalidity, mapping=mapping)

    def _drop_rows(self, db: sqlite3.Connection, box: MailboxRow, uids: list[int]) -> None:
        """Delete index rows (files already gone) and log the expunge with a new MODSEQ."""
        if not uids:
            return
        modseq = self._bump(db, box)
        db.executemany(
            "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", [(box.id, u) for u in uids]
        )
        db.executemany(
            "DELETE FROM summaries WHERE mailbox_id = ? AND uid = ?", [(box.id, u) for u in uids]
        )
        self._log_expunged(db, box, uids, modseq)

    def expunge(self, mailbox: str, uids: Iterable[int] | None = None) -> list[int]:
        """EXPUNGE (every \\Deleted message) or UID EXPUNGE (those of `uids` that are
        \\Deleted); the expunged UIDs, ascending."""
        with self._write(settle=True) as db:
            box = self._row(db, mailbox)
            rows = self._rows(db, box, uids, "uid, base, path, flags")
            return self._remove(db, box, [r for r in rows if r[3] & fl.DELETED])

    def _remove(self, db: sqlite3.Connection, box: MailboxRow, rows: list[Any]) -> list[int]:
        folder = self.folder_path(box.name)
        dirs = set()
        for _, base, path, *_ in rows:
            try:
                os.unlink(os.path.join(folder, path))
                dirs.add(path[:3])
            except FileNotFoundError:  # renamed by another program since: find it by its base
                found = maildir.listing(folder).get(base)
                if found:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, *found))
                    dirs.add(found[0])
        # an unlink lost to a power cut would bring the message back
        maildir.run_parallel([os.path.join(folder, d) for d in sorted(dirs)], maildir.fsync_dir)
        gone = [r[0] for r in rows]
        self._drop_rows(db, box, gone)
        return gone

    # -- the change feed and POP3 ------------------------------------------------------------

    def changes_since(
        self, mailbox: str, modseq: int, known_uidnext: int, claim_recent: bool = True
    ) -> Changes:
        """What changed since `modseq` for a session that knows UIDs below `known_uidnext`.
        New messages' \\Recent goes to this session when `claim_recent` (not for EXAMINE)."""
        with self._read() as db:
            box = self._row(db, mailbox)
            if box.highestmodseq == modseq and box.uidnext == known_uidnext:
                return Changes(
                    highestmodseq=modseq,
                    uidnext=known_uidnext,
                    added=[],
                    changed=[],
                    expunged=[],
                    uids=None,
                    recent=range(0),
                )
        ctx = self._write() if claim_recent else self._read()
        with ctx as db:
            box = self._row(db, mailbox)
            rows = self._changed_rows(db, box, modseq)
            added = [_meta(r) for r in rows if r[0] >= known_uidnext]
            changed = [_meta(r) for r in rows if r[0] < known_uidnext]
            expunged = self._expunged_since(db, box, modseq, known_uidnext)
            current: array[int] | None = None
            if expunged is None:
                current = array(
                    "I",
                    (
                        r[0]
                        for r in db.execute(
                            "SELECT uid FROM messages WHERE mailbox_id = ? AND uid < ?"
                            " ORDER BY uid",
                            (box.id, known_uidnext),
                        )
                    ),
                )
            recent = range(0)
            if claim_recent and added:
                recent = self._claim_recent(db, box, known_uidnext)
        return Changes(
            highestmodseq=box.highestmodseq,
            uidnext=box.uidnext,
            added=added,
            changed=changed,
            expunged=expunged,
            uids=current,
            recent=recent,
        )

    def changed_since(self, mailbox: str, modseq: int) -> list[MessageMeta]:
        """The index data of the messages changed or added since `modseq`, by UID (QRESYNC,
        RFC 7162 §3.2.5)."""
        with self._read() as db:
            return [_meta(r) for r in self._changed_rows(db, self._row(db, mailbox), modseq)]

    def expunged_since(self, mailbox: str, modseq: int) -> list[int] | None:
        """The UIDs expunged since `modseq`, ascending; None when the expunge log no longer
        reaches back that far (see EXPUNGE_LOG_MAX) (QRESYNC's VANISHED)."""
        with self._read() as db:
            box = self._row(db, mailbox)
            return self._expunged_since(db, box, modseq, box.uidnext)

    def _changed_rows(self, db: sqlite3.Connection, box: MailboxRow, modseq: int) -> list[Any]:
        """The index rows (_META) of the messages changed or added since `modseq`, by UID."""
        return db.execute(
            f"SELECT {_META} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
            (box.id, modseq),
        ).fetchall()

    def _expunged_since(
        self, db: sqlite3.Connection, box: MailboxRow, modseq: int, below: int
    ) -> list[int] | None:
        """The UIDs under `below` expunged since `modseq`, ascending; None when the expunge
        log no longer reaches back that far (`modseq` under the mailbox's expunge floor)."""
        (floor,) = db.execute(
            "SELECT expunge_floor FROM mailboxes WHERE id = ?", (box.id,)
        ).fetchone()
        if modseq < floor:
            return None
        return [
            r[0]
            for r in db.execute(
                "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? AND uid < ?"
                " ORDER BY uid",
                (box.id, modseq, below),
            )
        ]

    def pop3_snapshot(self) -> list[Pop3Entry]:
        """INBOX for a POP3 session: UIDs, sizes and UIDL ids (stable while UIDVALIDITY is)."""
        with self._read() as db:
            box = self._row(db, names.INBOX)
            rows = db.execute(
                "SELECT uid, size FROM messages WHERE mailbox_id = ? ORDER BY uid", (box.id,)
            ).fetchall()
        return [
            Pop3Entry(uid=uid, size=size, uidl=f"{box.uidvalidity:08x}{uid:08x}")
            for uid, size in rows
        ]

    def pop3_delete(self, uids: Iterable[int]) -> list[int]:
        """POP3's QUIT: expunge these INBOX messages (\\Deleted or not); those expunged."""
        with self._write(settle=True) as db:
            box = self._row(db, names.INBOX)
            return self._remove(db, box, self._rows(db, box, uids, "uid, base, path"))
