"""What the store's operations return: frozen records the IMAP and POP3 sessions read."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxInfo:
    """A mailbox's identity and counters (SELECT's UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ)."""

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """STATUS items (RFC 3501 section 6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 9208
    DELETED and DELETED-STORAGE: the messages marked \\Deleted, and their octets)."""

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int
    highestmodseq: int
    size: int
    deleted: int = 0
    deleted_storage: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ListEntry:
    """One LIST/LSUB answer: `exists` False is \\Noselect (a parent implied by its children)."""

    name: str
    exists: bool
    has_children: bool
    special_use: str | None
    subscribed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageMeta:
    """A message's index data: what FETCH FLAGS/UID/RFC822.SIZE/INTERNALDATE/MODSEQ/SAVEDATE
    answer."""

    uid: int
    size: int
    internaldate: int  # seconds since the epoch, UTC
    flags: tuple[str, ...]  # system flags first (\\Seen ...), then keywords
    modseq: int
    # when it was saved to its mailbox (RFC 8514), seconds, UTC; not compared: two readings
    # of one message are equal whatever the clock said when it was saved
    savedate: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What SELECT/EXAMINE needs: the UIDs in order and the mailbox's counters.

    `recent` is the range of UIDs this session got \\Recent for (only one session gets each,
    RFC 3501 section 2.3.2; EXAMINE claims none); some of them may since have been expunged.
    `first_unseen` is a UID (the session maps it to a sequence number for `[UNSEEN n]`).
    """

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    uids: array[int]
    recent: range
    first_unseen: int | None
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """What changed in a mailbox since a modseq a session has seen (the change feed).

    `added`: messages with UIDs at or above the session's known UIDNEXT; `changed`: known
    messages whose flags changed; `expunged`: known UIDs expunged since, ascending. When the
    expunge log no longer reaches back that far (see EXPUNGE_LOG_MAX), `expunged` is None and
    `uids` lists every current UID below the known UIDNEXT, so the session finds them by
    difference.
    """

    highestmodseq: int
    uidnext: int
    added: list[MessageMeta]
    changed: list[MessageMeta]
    expunged: list[int] | None
    uids: array[int] | None
    recent: range


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreResult:
    """A STORE's outcome: the messages' flags after it, which changed, which failed the
    UNCHANGEDSINCE test (RFC 7162 section 3.1.3: the MODIFIED response code), and its modseq."""

    messages: list[MessageMeta]
    changed: frozenset[int]
    failed: list[int]
    modseq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyResult:
    """COPY/MOVE: the target's UIDVALIDITY and (source UID, new UID) pairs for COPYUID."""

    uidvalidity: int
    mapping: list[tuple[int, int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFile:
    """Where a message's bytes are: its file (follow with UserStore.open) and size."""

    path: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pop3Entry:
    """One message of a POP3 session's INBOX snapshot: UID, octets, UIDL unique id."""

    uid: int
    size: int
    uidl: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One message for `Store.deliver_batch`: whose, which mailbox, the bytes, flags, date."""

    address: str
    data: bytes
    mailbox: str = "INBOX"
    flags: tuple[str, ...] = ()
    internaldate: float | None = None


@dataclass(slots=True, kw_only=True)
class ReconcileReport:
    """What reconciling the index with the files did, for the daemon's log. Nothing is dropped
    without being counted here."""

    rebuilt: bool = False  # the index was missing or unreadable: new UIDVALIDITYs
    corrupt_index_kept: str | None = None  # where an unreadable index was moved aside
    mailboxes_added: int = 0  # folders on disk the index did not know
    mailboxes_removed: int = 0  # index mailboxes whose folder vanished
    adopted: int = 0  # files given new UIDs
    vanished: int = 0  # index rows whose file was gone: expunged with a modseq
    renamed: int = 0  # files found under a new name (flags changed, new/ -> cur/)
    flags_changed: int = 0  # of those, the ones whose flags changed
    stale_tmp_removed: int = 0  # tmp/ files older than 36 hours (never acknowledged)
    recovered: int = 0  # acknowledged deliveries put in place from the index (settle.py)
    unusable_folders: list[str] = field(default_factory=list)  # names we cannot map: left alone
    details: list[str] = field(default_factory=list)  # one line per vanished or adopted file

    def counts(self) -> Mapping[str, int]:
        """The numeric fields, for a log line."""
        return {
            "mailboxes_added": self.mailboxes_added,
            "mailboxes_removed": self.mailboxes_removed,
            "adopted": self.adopted,
            "vanished": self.vanished,
            "renamed": self.renamed,
            "flags_changed": self.flags_changed,
            "stale_tmp_removed": self.stale_tmp_removed,
            "recovered": self.recovered,
        }
