"""The mailbox store: Maildir++ per user on disk, a SQLite index (UIDs, flags, MODSEQ, the
expunge log, subscriptions, summaries), durable delivery, reconcile, and a change feed.

Synchronous and thread-safe per user; the asyncio shells call it from a worker thread. See
store.py (Store), user.py (UserStore), and schema.py for the durability argument.
"""

from .errors import StoreError
from .names import listing, match
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
    "Changes",
    "CopyResult",
    "Delivery",
    "ListEntry",
    "MailboxInfo",
    "MessageFile",
    "MessageMeta",
    "Pop3Entry",
    "ReconcileReport",
    "Snapshot",
    "Status",
    "Store",
    "StoreError",
    "StoreResult",
    "UserStore",
    "listing",
    "match",
]
