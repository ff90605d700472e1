"""The outbound queue's runner: due messages out of the spool, each domain's route from the DNS
client, the handover with aiosmtplib, and what happened written back to the spool.

The decisions are mailserver/queue's (route, attempt, retry, dsn); this file does the I/O:

- `enqueue` puts a message in the spool (durable before it returns: the submission's 250 may
  follow) and wakes the runner, which tries it at once;
- the runner sleeps until the next message is due (or until woken), and tries at most
  `concurrency` messages at a time, each recipient domain of a message in turn;
- a domain's MX comes from the resolver (the topology's local DNS server: never the system's),
  then each host's addresses; each address is tried through the connector (from this host's
  own address, within its caps) until one takes the transaction (attempt.next_host); a
  connection stays open `reuse_for` seconds after its message, and the next message for that
  domain goes over it (after RSET), without asking DNS again, as Postfix's connection cache
  does for a destination;
  STARTTLS is used when offered (verified against `tls_context`'s CAs; a handshake that fails
  moves on to the next address, as a failed greeting does);
- after the attempt the entry is updated or removed, and each notice owed is written
  (dsn.py) and delivered: into the sender's mailbox when the sender is local, else queued with
  the null sender.

Every step is logged for a person: a line per delivery, deferral, failure, notice and
give-up, with the queue id, the recipient and the remote server's words.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from mailserver.queue import attempt, dsn
from mailserver.queue.retry import (
    Deferred,
    Entry,
    Failed,
    Notice,
    Outcome,
    Policy,
    Recipient,
    after_attempt,
)
from mailserver.queue.route import Hosts, Refuse, route
from mailserver.queue.spool import Spool
from minternet.connect import Connector
from minternet.dnsclient import LookupFailed
from minternet.tasks import Tasks

log = logging.getLogger(__name__)

__all__ = ["QueueRunner", "QueueSettings", "Resolver"]


class Resolver(Protocol):
    """What the runner asks of DNS (minternet.dnsclient.DnsClient gives the real one)."""

    async def mx(self, domain: str) -> tuple[int, list[tuple[int, str]]]: ...

    async def addresses(self, host: str) -> tuple[int, list[str]]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    hostname: str  # our EHLO name, and the MAILER-DAEMON's domain
    local_names: tuple[str, ...] = ()  # names of this server, for the MX loop check
    relay_port: int = 25  # where remote MX servers listen (minternet up: 10025)
    policy: Policy = field(default_factory=Policy)
    concurrency: int = 10  # messages tried at once
    timeout: float = 60.0  # each SMTP command's reply
    idle_check: float = 60.0  # the longest sleep between looks at the spool
    # a connection stays open this long after a message, for the next one to the same address
    # (Postfix's smtp_connection_cache_time_limit is 2 s)
    reuse_for: float = 2.0


@dataclass(eq=False)
class _Session:
    """An open SMTP client connection to one address of a domain's route, and what closes its
    socket."""

    client: aiosmtplib.SMTP
    stack: contextlib.AsyncExitStack
    host: str
    ip: str
    expires: float = 0.0

    async def ready(self) -> bool:
        """Whether it can take another message (RSET answered); closed when not."""
        if self.client.is_connected:
            try:
                await self.client.rset()
                return True
            except (OSError, aiosmtplib.SMTPException, TimeoutError):
                pass
        await self.close()
        return False

    async def close(self, quit: bool = False) -> None:
        if quit:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await self.client.quit()
        self.client.close()
        await self.stack.aclose()


class QueueRunner:
    def __init__(
        self,
        spool: Spool,
        settings: QueueSettings,
        resolver: Resolver,
        connector: Connector,
        *,
        is_local: Callable[[str], bool],
        deliver_local: Callable[[str, bytes], Awaitable[None]],
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        new_id: Callable[[], str] = lambda: secrets.token_hex(8).upper(),
    ) -> None:
        self.spool = spool
        self.settings = settings
        self.resolver = resolver
        self.connector = connector
        self.is_local = is_local
        self.deliver_local = deliver_local
        self.tls_context = tls_context
        self.clock = clock
        self.rng = rng or random.Random()
        self.new_id = new_id
        self.entries: dict[str, Entry] = {}
        self.busy: set[str] = set()
        self.tasks = Tasks(log)
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._idle: dict[str, list[_Session]] = {}  # domain -> connections open to it
        self._reaper: asyncio.Task[None] | None = None
        self.clock_monotonic = time.monotonic
        self.counts = {"delivered": 0, "deferred": 0, "failed": 0, "notices": 0}

    # -- the life of the runner ---------------------------------------------------------------

    async def start(self) -> None:
        """Read the spool (what a crash left) and begin."""
        found = await asyncio.to_thread(self.spool.load)
        for problem in found.corrupt:
            log.error("queue: set aside a damaged entry: %s", problem)
        if found.orphans:
            log.info("queue: removed %d message(s) never acknowledged", found.orphans)
        self.entries = {e.id: e for e in found.entries}
        if self.entries:
            log.info("queue: %d message(s) waiting", len(self.entries))
        self._runner = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        for task in (self._runner, self._reaper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.tasks.cancel_all()
        for sessions in self._idle.values():
            for session in sessions:
                await session.close(quit=True)
        self._idle.clear()

    async def enqueue(self, sender: str, recipients: list[str], message: bytes) -> str:
        """Queue a message durably and wake the runner; its queue id."""
        now = self.clock()
        entry = Entry(self.new_id(), sender, now, tuple(Recipient(r) for r in recipients), now)
        await asyncio.to_thread(self.spool.put, entry, message)
        self.entries[entry.id] = entry
        log.info("queue %s: from <%s> to %s, %d octets", entry.id, sender,
                 ",".join(f"<{r}>" for r in recipients), len(message))  # fmt: skip
        self._wake.set()
        return entry.id

    def retry(self, ident: str | None = None) -> int:
        """Make one message (or all) due now; how many."""
        now = self.clock()
        chosen = [e for e in self.entries.values() if ident is None or e.id == ident]
        for e in chosen:
            self.entries[e.id] = dataclasses.replace(e, next_attempt=now)
        self._wake.set()
        return len(chosen)

    async def delete(self, ident: str) -> bool:
        """Drop a queued message (not one being tried right now); whether it was there."""
        if ident not in self.entries or ident in self.busy:
            return False
        del self.entries[ident]
        await asyncio.to_thread(self.spool.remove, ident)
        log.info("queue %s: deleted by the operator", ident)
        return True

    async def _run(self) -> None:
        while True:
            now = self.clock()
            free = self.settings.concurrency - len(self.busy)
            due = sorted(
                (
                    e
                    for e in self.entries.values()
                    if e.next_attempt <= now and e.id not in self.busy
                ),
                key=lambda e: e.next_attempt,
            )
            for e in due[: max(free, 0)]:
                self.busy.add(e.id)
                self.tasks.spawn(self._attempt(e.id), f"queue {e.id}")
            waiting = [e.next_attempt for e in self.entries.values() if e.id not in self.busy]
            pause = min([w - now for w in waiting] + [self.settings.idle_check])
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11's wait_for a cancel that arrives as
            # the wait ends is lost (CPython gh-86296), and close() then waited for this loop
            # forever (seen once in CI, on Debian's 3.11.2)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(pause, 0.01)):
                    await self._wake.wait()

    # -- one attempt ---------------------------------------------------------------------------

    async def _attempt(self, ident: str) -> None:
        try:
            entry = self.entries[ident]
            message = await asyncio.to_thread(self.spool.message, ident)
            outcomes: list[Outcome] = []
            domains: dict[str, list[str]] = {}
            for r in entry.recipients:
                domains.setdefault(r.address.rpartition("@")[2].lower(), []).append(r.address)
            for domain, rcpts in domains.items():
                outcomes += await self._domain(domain, rcpts, entry.sender, message)
            step = after_attempt(entry, outcomes, self.clock(), self.settings.policy)
            self._log(ident, outcomes)
            header = b""
            if step.notices:  # read before the entry may go
                header = await asyncio.to_thread(self.spool.header, ident)
            if step.entry is not None:
                await asyncio.to_thread(self.spool.update, step.entry)
                self.entries[ident] = step.entry
            else:
                await asyncio.to_thread(self.spool.remove, ident)
                del self.entries[ident]
            for notice in step.notices:
                await self._notify(entry, notice, header)
        except Exception as e:
            # the spool's disk failing, or a bug: the message stays, tried again later (not at
            # once: that would spin and fill the log)
            log.error("queue %s: attempt failed, tried again later: %r", ident, e)
            if ident in self.entries:
                kept = self.entries[ident]
                later = self.clock() + self.settings.policy.first_retry
                self.entries[ident] = dataclasses.replace(kept, next_attempt=later)
        finally:
            self.busy.discard(ident)
            self._wake.set()

    def _log(self, ident: str, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            kind = type(o).__name__.lower()
            self.counts[kind] += 1
            said = o.reply if not isinstance(o, Deferred | Failed) else o.error
            log.info("queue %s: %s <%s> via %s: %s", ident, kind, o.address,
                     o.remote or "-", said)  # fmt: skip

    async def _domain(
        self, domain: str, rcpts: list[str], sender: str, message: bytes
    ) -> list[Outcome]:
        while self._idle.get(domain):  # a connection another message left open: no lookups
            session = self._idle[domain].pop()
            if await session.ready():
                done, _ = await self._over(session, domain, sender, rcpts, message, reused=True)
                if done is not None:
                    return done
        try:
            rcode: int | None
            rcode, mx = await self.resolver.mx(domain)
        except LookupFailed:
            rcode, mx = None, []
        way = route(domain, rcode, mx, rng=self.rng, local_names=self.settings.local_names)
        if isinstance(way, Refuse):
            return [Failed(a, way.status, way.reason) for a in rcpts]
        if not isinstance(way, Hosts):
            return [Deferred(a, way.status, way.reason) for a in rcpts]
        last = f"no address found for {', '.join(way.hosts)}"
        for host in way.hosts:
            try:
                _, addresses = await self.resolver.addresses(host)
            except LookupFailed as e:
                last = f"{host}: {e}"
                continue
            for ip in addresses:
                done, error = await self._try(domain, host, ip, sender, rcpts, message)
                if done is not None:
                    return done
                last = error
        return attempt.unreachable(rcpts, last)

    async def _try(
        self, domain: str, host: str, ip: str, sender: str, rcpts: list[str], message: bytes
    ) -> tuple[list[Outcome] | None, str]:
        """The outcomes from this address, or (None, why) to try the next one."""
        stage = "connect"
        stack = contextlib.AsyncExitStack()
        try:
            sock = await stack.enter_async_context(
                self.connector.socket(ip, self.settings.relay_port)
            )
            client = aiosmtplib.SMTP(
                sock=sock,
                hostname=host,
                local_hostname=self.settings.hostname,
                timeout=self.settings.timeout,
                start_tls=False,
                tls_context=self.tls_context,
            )
            stage = "greeting"
            await client.connect()
            stage = "ehlo"
            await client.ehlo()
            if client.supports_extension("starttls") and self.tls_context is not None:
                stage = "starttls"
                await client.starttls(tls_context=self.tls_context)
                await client.ehlo()
        except (OSError, aiosmtplib.SMTPException, TimeoutError) as e:
            await stack.aclose()
            assert attempt.next_host(stage)  # every stage before MAIL moves on to the next host
            return None, f"{host}[{ip}]: {_reason(e)}"
        return await self._over(_Session(client, stack, host, ip), domain, sender, rcpts, message)

    async def _over(
        self,
        session: _Session,
        domain: str,
        sender: str,
        rcpts: list[str],
        message: bytes,
        reused: bool = False,
    ) -> tuple[list[Outcome] | None, str]:
        """One transaction on an open session; the session is kept for the next message to the
        same domain (for `reuse_for` seconds) unless it broke. A kept session that breaks
        before the server took anything gives (None, why): a new connection is tried."""
        t = attempt.Transaction(list(rcpts), session.host)
        try:
            outcomes = await self._transaction(session.client, t, sender, message)
        except (OSError, aiosmtplib.SMTPException, TimeoutError) as e:
            await session.close()
            why = f"{session.host}[{session.ip}]: {_reason(e)}"
            if reused and not t.decided and not t.accepted:
                return None, why
            t.lost(why)
            return t.outcomes(), why
        if session.client.is_connected and self.settings.reuse_for > 0:
            session.expires = self.clock_monotonic() + self.settings.reuse_for
            self._idle.setdefault(domain, []).append(session)
            self._reap_soon()
        else:
            await session.close()
        return outcomes, ""

    def _reap_soon(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        """Close idle connections once their time is up (a QUIT each)."""
        while any(self._idle.values()):
            await asyncio.sleep(min(self.settings.reuse_for, 1.0))
            now = self.clock_monotonic()
            for key, sessions in list(self._idle.items()):
                for session in [s for s in sessions if s.expires <= now]:
                    sessions.remove(session)
                    await session.close(quit=True)
                if not sessions:
                    del self._idle[key]

    async def _transaction(
        self, client: aiosmtplib.SMTP, t: attempt.Transaction, sender: str, message: bytes
    ) -> list[Outcome]:
        options = []
        if client.supports_extension("size"):
            options.append(f"SIZE={len(message)}")
        if not message.isascii() and client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        if not (sender.isascii() and all(a.isascii() for a in t.recipients)):
            if not client.supports_extension("smtputf8"):
                return [
                    Failed(a, "5.6.7", f"{t.remote} does not take non-ASCII addresses (SMTPUTF8)")
                    for a in t.recipients
                ]
            options.append("SMTPUTF8")
        path = b"FROM:<" + sender.encode() + b">"
        reply = await client.execute_command(b"MAIL", path, *(o.encode() for o in options))
        if not t.mail(reply.code, reply.message):
            return t.outcomes()
        for a in t.recipients:
            reply = await client.execute_command(b"RCPT", b"TO:<" + a.encode() + b">")
            t.rcpt(a, reply.code, reply.message)
        if t.wants_data():
            if not message.endswith(b"\n"):  # aiosmtplib puts the final dot right after
                message += b"\r\n"
            try:
                reply = await client.data(message)
                t.data(reply.code, reply.message)
            except aiosmtplib.SMTPResponseException as e:
                t.data(e.code, e.message)
        return t.outcomes()

    # -- notices -------------------------------------------------------------------------------

    async def _notify(self, entry: Entry, notice: Notice, header: bytes) -> None:
        now = self.clock()
        data = dsn.notice_message(
            notice,
            sender=entry.sender,
            arrival=entry.arrival,
            original_header=header,
            reporting_mta=self.settings.hostname,
            now=now,
            retry_until=entry.arrival + self.settings.policy.give_up,
            message_id=f"{self.new_id()}@{self.settings.hostname}",
            boundary=secrets.token_hex(12),
        )
        self.counts["notices"] += 1
        if self.is_local(entry.sender):
            await self.deliver_local(entry.sender, data)
            where = "delivered here"
        else:
            where = "queued as " + await self.enqueue("", [entry.sender], data)
        about = ",".join(f"<{r.address}>" for r in notice.reports)
        log.info("queue %s: %s notice to <%s> for %s, %s",
                 entry.id, notice.action, entry.sender, about, where)  # fmt: skip


def _reason(e: BaseException) -> str:
    """What went wrong, for a person (the caller says where): the remote reply, or the system's
    words for a failed connection ("connection refused"), or the error's own text."""
    if isinstance(e, aiosmtplib.SMTPResponseException):
        return f"{e.code} {e.message}"
    if isinstance(e, OSError) and not isinstance(e, ssl.SSLError) and e.errno:
        return os.strerror(e.errno).lower()
    return str(e) or type(e).__name__
