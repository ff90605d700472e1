"""The mailbox store: Maildir++ per user on disk, a SQLite index (UIDs, flags, MODSEQ, the
expunge log, subscriptions, summaries), durable delivery, reconcile, and a change feed.

Synchronous and thread-safe per user; the asyncio shells call it from a worker thread, and
every call is one short transaction. The pieces:

- Layout: `<root>/<domain>/<localpart>/Maildir/` (INBOX; `.Sent`, `.Archive.2024` for
  Archive/2024; a `.` inside a name is `~2e`, see names.py), the index beside it.
- Delivery (Store.deliver, UserStore.deliver: APPEND): tmp/, fsync, rename into new/ (cur/
  with flags), fsync the folder, then one index transaction; only then the UIDs. SMTP's
  Store.deliver_batch waits for one fsync only: the file goes to tmp/ unsynced and its content
  into the index with its row (a `pending` row); Store.settle puts the file in place after the
  250, and any operation on the files or reconcile does it first (settle.py). Content is
  normalised to CRLF. Concurrent deliveries share fsyncs and a group commit.
- The index (schema.py): WAL, synchronous=FULL (the argument is there), busy_timeout, a schema
  version with a migration hook. Expunged UIDs are logged with their MODSEQ, the newest
  EXPUNGE_LOG_MAX (100,000) per mailbox; older ones leave an expunge floor behind.
- Sessions: select() gives the UID list and counters and claims \\Recent (a per-mailbox floor:
  one session gets each); changes_since(mailbox, modseq, known_uidnext) gives new messages,
  flag changes and expunges, for the session to announce when RFC 3501 allows.
- Reconcile (on open, Store.open_all at start): pending deliveries put in place (from the
  index when their tmp/ file cannot be trusted), unknown files adopted, vanished ones expunged,
  mutt's renames followed, a lost or corrupt index rebuilt with new UIDVALIDITYs; a report
  counts everything.
"""

from .errors import StoreError
from .names import listing, match
from .quota import NO_QUOTA, Quota, Usage
from .records import (
    Changes,
    CopyResult,
    Delivery,
    ListEntry,
    MailboxInfo,
    MessageFile,
    MessageMeta,
    Pop3Entry,
    ReconcileReport,
    Snapshot,
    Status,
    StoreResult,
)
from .store import Store
from .user import UserStore

__all__ = [
    "NO_QUOTA",
    "Changes",
    "CopyResult",
    "Delivery",
    "ListEntry",
    "MailboxInfo",
    "MessageFile",
    "MessageMeta",
    "Pop3Entry",
    "Quota",
    "ReconcileReport",
    "Snapshot",
    "Status",
    "Store",
    "StoreError",
    "StoreResult",
    "Usage",
    "UserStore",
    "listing",
    "match",
]
