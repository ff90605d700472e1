"""The mail store of a server: one UserStore per address under a root directory, and the
batch delivery the SMTP handler uses for a message with several recipients."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence

from . import maildir
from .base import Clock, Summarize
from .delivery import discard
from .errors import CANNOT, StoreError
from .quota import Quota
from .records import Delivery, ReconcileReport
from .user import UserStore

_BAD_IN_PART = frozenset("/\\\x00")


class Store:
    """Mail of every user under `root`: `<root>/<domain>/<localpart>/Maildir/` and its index.

    Addresses are lower-cased (localpart and domain) to find the directory; the users module
    decides who exists. A user's store is opened and reconciled on first use and kept open;
    `reports` holds what each reconcile did, for the daemon's log.
    """

    def __init__(
        self,
        root: str,
        *,
        summarize: Summarize | None = None,
        clock: Clock = time.time,
        host: str | None = None,
        quota: Callable[[str], Quota] | None = None,
    ) -> None:
        self.root = root
        self.quota = quota  # address -> the user's limits (quota.py); None: no quotas
        self.summarize = summarize
        self.clock = clock
        self.host = maildir.safe_host(host if host is not None else socket.gethostname())
        self.reports: dict[str, ReconcileReport] = {}
        self._users: dict[str, UserStore] = {}
        self._lock = threading.Lock()

    def home(self, address: str) -> str:
        """The directory of `address`; StoreError if it cannot name one safely."""
        local, at, domain = address.lower().rpartition("@")
        for part in (local, domain):
            if (
                not at
                or not part
                or part.startswith(".")
                or len(part.encode()) > 255
                or any(ch in _BAD_IN_PART for ch in part)
            ):
                raise StoreError(f"not a mailbox address: {address!r}", CANNOT)
        return os.path.join(self.root, domain, local)

    def user(self, address: str) -> UserStore:
        """The store of `address`, opened (and reconciled) on first use."""
        key = address.lower()
        with self._lock:
            found = self._users.get(key)
            if found is None:
                found, report = UserStore.open(
                    self.home(address), clock=self.clock, host=self.host, summarize=self.summarize
                )
                if self.quota is not None:
                    found.quota = self.quota(key)
                self._users[key] = found
                self.reports[key] = report
            return found

    def open_all(self) -> dict[str, ReconcileReport]:
        """Open (and so reconcile) every user found under the root; address -> report. For
        the daemon's start, which logs each report."""
        if not os.path.isdir(self.root):
            return {}
        for domain in sorted(os.listdir(self.root)):
            if not os.path.isdir(os.path.join(self.root, domain)):
                continue
            for local in sorted(os.listdir(os.path.join(self.root, domain))):
                if os.path.isdir(os.path.join(self.root, domain, local, "Maildir")):
                    self.user(f"{local}@{domain}")
        return dict(self.reports)

    def deliver(
        self,
        address: str,
        mailbox: str,
        data: bytes,
        flags: Sequence[str] = (),
        internaldate: float | None = None,
    ) -> int:
        """Store one message durably for `address`; its UID once it is safe to say 250."""
        return self.user(address).deliver(mailbox, data, tuple(flags), internaldate)

    def deliver_batch(self, deliveries: Sequence[Delivery]) -> list[int]:
        """Store many messages (one per recipient of an SMTP transaction, or several
        transactions gathered by the shell): every file written to tmp/, then one index
        transaction per user that holds the content too (settle.py): its commit is the one
        fsync wait. Returns the UIDs in order, only when all are durable; on an error none is
        acknowledged (written files are removed). The files are put in place by `settle`
        (call it after answering), or by the next operation that needs them there."""
        groups: dict[str, list[int]] = {}
        for i, d in enumerate(deliveries):
            groups.setdefault(d.address.lower(), []).append(i)
        written = []
        uids = [0] * len(deliveries)
        committed: set[int] = set()
        try:
            for address, indexes in groups.items():
                user = self.user(address)
                items = [
                    (
                        deliveries[i].mailbox,
                        deliveries[i].data,
                        deliveries[i].flags,
                        deliveries[i].internaldate,
                    )
                    for i in indexes
                ]
                written.append((user, indexes, user.write_files(items, defer=True)))

            def commit(n: int) -> None:
                user, indexes, files = written[n]
                for i, uid in zip(indexes, user.commit_placed(files), strict=True):
                    uids[i] = uid
                committed.add(n)

            maildir.run_parallel(range(len(written)), commit)
        except BaseException:
            # Users already committed keep their copy (as after a crash at this point); the
            # caller answers with an error, and the sender retries: a duplicate, never a loss.
            discard(
                p for n, (_, _, files) in enumerate(written) if n not in committed for p in files
            )
            raise
        return uids

    def settle(self, addresses: Sequence[str]) -> None:
        """Put in place the files of these users' deliveries (deliver_batch's, after the 250);
        users not open have none."""
        for address in addresses:
            with self._lock:
                user = self._users.get(address.lower())
            if user is not None:
                user.settle()

    def close(self) -> None:
        """Settle what is pending (settle.py) and close every open user store."""
        with self._lock:
            for user in self._users.values():
                user.close()
            self._users.clear()
