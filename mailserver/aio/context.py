"""What every listener of one mail server shares: config, store, users, TLS, the login rules,
the per-user session count and the change notices that wake IMAP IDLE.

One MailContext per `mailserver serve` process, built by mailserver/aio/server.py and handed to
each listener (IMAP, POP3, SMTP). The store and the users file are synchronous: `run` takes a
call off the event loop (one bounded pool of worker threads for the whole server, so a flood
of sessions cannot start unbounded threads).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import ssl
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mailserver.config import MailConfig
from mailserver.store import Store, UserStore
from mailserver.users import UserDb
from minternet.logs import Throttle
from minternet.ratelimit import TokenBuckets

T = TypeVar("T")

log = logging.getLogger("mailserver")

MAX_FAILURE_KEYS = 100_000  # client addresses whose failed logins are remembered
SETTLE_DELAY = 0.05  # seconds from a 250 to settling the files (store/settle.py) in a batch


def _settled(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("settling deliveries failed: %s", future.exception())


class Notifier:
    """Change notices per (user, mailbox): a writer calls `notify`, an IDLE session awaits
    `wait`. A notice is only a hint to look (the store is the truth), so a lost one costs at
    most the IDLE poll interval."""

    def __init__(self) -> None:
        self._waiters: dict[tuple[str, str | None], set[asyncio.Event]] = defaultdict(set)
        # where a notice also goes: the other processes of the server (aio/workers.py)
        self.forward: Callable[[str, str], None] | None = None

    def notify(self, address: str, mailbox: str) -> None:
        """A change here: tell this process's waiters, and the other processes."""
        self.notify_here(address, mailbox)
        if self.forward is not None:
            self.forward(address, mailbox)

    def notify_here(self, address: str, mailbox: str) -> None:
        """A change made here or told by another process: wake this process's waiters."""
        for key in ((address, mailbox), (address, None)):
            for event in self._waiters.get(key, ()):
                event.set()

    async def wait(self, address: str, mailbox: str | None, timeout: float) -> bool:
        """True if a notice came within `timeout` seconds: for `mailbox`, or for any mailbox
        of the user when it is None (NOTIFY watches several)."""
        key = (address, mailbox)
        event = asyncio.Event()
        self._waiters[key].add(event)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters[key]
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]


@dataclass(slots=True)
class Counters:
    """What the control endpoint's `stats` reports."""

    logins: int = 0
    login_failures: int = 0
    logins_refused: int = 0  # over the per-user or per-address limits, not checked
    deliveries: int = 0
    by_protocol: dict[str, int] = field(default_factory=dict)


class MailContext:
    """Shared by the listeners of one mail server (see the module docstring)."""

    def __init__(
        self,
        config: MailConfig,
        store: Store,
        users: UserDb,
        tls: ssl.SSLContext,
        *,
        threads: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.users = users
        self.tls = tls
        self.clock = clock
        self.notifier = Notifier()
        self.counters = Counters()
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="mail")
        auth = config.auth
        self._failures = TokenBuckets(auth.failure_rate, auth.failure_burst, MAX_FAILURE_KEYS)
        self._sessions: dict[str, int] = defaultdict(int)
        self._settle_due: set[str] = set()  # users with a settle job scheduled
        # a client over its budget: a line per address per 10 s at most (per server, so one
        # server's floods do not silence another's in the same process, nor tests each other)
        self._throttle = Throttle(clock=clock)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in the server's worker threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    def settle_later(self, addresses: list[str]) -> None:
        """Store.settle for these users in the worker threads after SETTLE_DELAY (the 250 is
        not held up by it): one job per user at a time, so what is delivered meanwhile settles
        in the same batch (one folder fsync, the files' fsyncs together). What is still pending
        at shutdown is settled by Store.close; a failure is logged, and left to the next
        operation on that user's files or to the next start (the content is in the index)."""
        due = [a for a in addresses if a not in self._settle_due]
        if due:
            self._settle_due.update(due)
            asyncio.get_running_loop().call_later(SETTLE_DELAY, self._settle, due)

    def _settle(self, addresses: list[str]) -> None:
        self._settle_due.difference_update(addresses)
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._pool, self.store.settle, addresses
            )
        except RuntimeError:  # the pool is shut down: Store.close settles
            return
        future.add_done_callback(_settled)

    async def login(self, address: str, password: bytes, peer: str, protocol: str) -> str | None:
        """The user's normalised address if the password is right, else None after the
        failure delay. A client address over its failure budget is refused unchecked (and
        also waits), so guessing is slow and says nothing about which users exist."""
        now = self.clock()
        if not self._failures.has_token(peer, now):
            # out of failures: refuse without looking; a right password now fails too
            self.counters.logins_refused += 1
            self._throttle(log, f"budget {peer}", "%s %s: login refused unchecked for %r: too many "
                      "failed logins from this address", peer, protocol, address[:100])  # fmt: skip
            await asyncio.sleep(self.config.auth.failure_delay)
            return None
        user = await self.run(self.users.verify, address, password)
        if user is None:
            self.counters.login_failures += 1
            self._failures.allow(peer, self.clock())  # only a failure costs a token
            log.info("%s %s: login failed for %r", peer, protocol, address[:100])
            await asyncio.sleep(self.config.auth.failure_delay)
            return None
        self.counters.logins += 1
        self.counters.by_protocol[protocol] = self.counters.by_protocol.get(protocol, 0) + 1
        return user

    def acquire_session(self, address: str) -> bool:
        """Count a logged-in session of `address`; False (and not counted) over the limit."""
        if self._sessions[address] >= self.config.limits.max_connections_per_user:
            self.counters.logins_refused += 1
            return False
        self._sessions[address] += 1
        return True

    def release_session(self, address: str) -> None:
        left = self._sessions.get(address, 0) - 1
        if left > 0:
            self._sessions[address] = left
        else:
            self._sessions.pop(address, None)

    def sessions(self, address: str) -> int:
        return self._sessions.get(address, 0)

    def session_counts(self) -> dict[str, int]:
        """Logged-in sessions per user, for the control endpoint's `stats`."""
        return dict(self._sessions)

    def user_store(self, address: str) -> UserStore:
        """The user's store (synchronous: call it through `run`)."""
        return self.store.user(address)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
