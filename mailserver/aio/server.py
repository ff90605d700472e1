"""`mailserver serve`: one mail server process, every listener of its config on one MailContext.

Start-up, in order: the TLS certificate (the configured one, or one made on first start:
mailserver/tls.py), the users file (a file that cannot be read stops the start, with why),
the store with every user's index reconciled against the files (each reconcile that changed
something is logged), then the listeners of `config.endpoints()`:

- `smtp`: the MX (mailserver/aio/smtp.py), delivering into the store; `250` only once every
  recipient's copy is durable (Store.deliver_batch: one index commit), then the user's IMAP
  sessions are told, and the files are put in place in the background (Store.settle);
- `imap`/`imaps`, `pop3`/`pop3s`: the shells mailserver/aio/imap.py and pop3.py;
- `submission`/`submissions`: mail from logged-in users (mailserver/aio/submission.py): local
  recipients into the store, others into the outbound queue, whose runner
  (mailserver/aio/queue.py) starts with the server when `[queue] resolver` is set, reading
  what the spool kept from before;
- `control`: the control endpoint (`stats`: counters, sessions, listeners, the queue's length;
  `queue`: what `mailserver queue` shows and does).

SIGTERM/SIGINT stop it (minternet/service.py): listeners close, deliveries under way end, the
worker threads finish, the store closes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
import time
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from mailserver import smtp
from mailserver import tls as mailtls
from mailserver.aio import workers
from mailserver.aio.context import MailContext
from mailserver.aio.imap import ImapServer, SessionFactory
from mailserver.aio.pop3 import Pop3Server
from mailserver.aio.queue import QueueRunner, QueueSettings
from mailserver.aio.smtp import MxServer
from mailserver.aio.submission import SubmissionHandler, SubmissionServer
from mailserver.config import MailConfig
from mailserver.imap import session as imapsession
from mailserver.message import store_summary
from mailserver.queue.retry import Entry, Policy
from mailserver.queue.spool import Spool
from mailserver.store import Delivery, ReconcileReport, Store, StoreError
from mailserver.users import UserDb, UserError, normalise
from minternet import pki
from minternet.connect import Connector
from minternet.control import Command, ControlServer
from minternet.dnsclient import DnsClient
from minternet.logs import Throttle
from minternet.stream import StreamListener

log = logging.getLogger("mailserver")


def _key(address: str) -> str:
    """The address as sessions know their user (UserDb.verify's normal form)."""
    try:
        return normalise(address)
    except UserError:
        return address.lower()


class StoreDelivery:
    """The MX's and submission's Deliver: one copy per recipient into the store, durable before
    it returns. Transactions that arrive while a store call is under way wait for it and then
    go into the store together, in one Store.deliver_batch: one index commit (one fsync) for
    all of them, whatever the number of worker threads (the store's own group commit gathers
    only the commits of threads that meet). If a gathered call fails, each of its transactions
    is tried again alone, so that one bad delivery fails only its own sender; a user whose copy
    was committed before the failure then gets it twice, never none (a sender that is told
    of a failure sends again anyway)."""

    def __init__(self, ctx: MailContext) -> None:
        self.ctx = ctx
        self._waiting: list[tuple[list[Delivery], asyncio.Future[None]]] = []
        self._storing: asyncio.Task[None] | None = None

    async def deliver(
        self, recipients: list[str], data: bytes, *, envelope_from: str, received_header: bytes
    ) -> None:
        head = smtp.return_path(envelope_from) + received_header
        batch = [Delivery(address=_key(r), data=head + data) for r in recipients]
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((batch, done))
        if self._storing is None:
            self._storing = asyncio.create_task(self._store_waiting())
        await done

    async def _store_waiting(self) -> None:
        group: list[tuple[list[Delivery], asyncio.Future[None]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                await self._store(group)
        except BaseException:  # cancelled (the server stops): nobody waits for ever
            for _, done in group + self._waiting:
                done.cancel()
            self._waiting = []
            raise
        finally:
            self._storing = None

    async def _store(self, group: list[tuple[list[Delivery], asyncio.Future[None]]]) -> None:
        deliveries = [d for batch, _ in group for d in batch]
        try:
            await self.ctx.run(self.ctx.store.deliver_batch, deliveries)
        except Exception as error:
            if len(group) == 1:
                _settle_future(group[0][1], error)
                return
            for waiting in group:
                await self._store([waiting])
            return
        self.ctx.counters.deliveries += len(deliveries)
        for d in deliveries:
            self.ctx.notifier.notify(d.address, "INBOX")
        # durable in the index already: the files go in place after the 250 (store/settle.py)
        self.ctx.settle_later([d.address for d in deliveries])
        for _, done in group:
            _settle_future(done, None)


def _settle_future(done: asyncio.Future[None], error: Exception | None) -> None:
    """Tell a waiting sender its outcome (unless it stopped waiting: a cancelled session)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def quota_check(ctx: MailContext) -> smtp.Full | None:
    """SMTP's question at RCPT: is this local user full (store/quota.py)? None when the config
    sets no quota: then nobody is asked anything."""
    quotas = ctx.config.quota
    if not (quotas.storage or quotas.messages or quotas.users):
        return None

    async def full(address: str, size: int) -> str | None:
        key = _key(address)
        quota = quotas.of(key)
        if not quota.limited:
            return None
        usage = await ctx.run(lambda: ctx.store.user(key).usage())
        return quota.full(usage, size)

    return full


class Listener(Protocol):
    def close(self) -> None: ...

    def wait_closed(self) -> Coroutine[Any, Any, Any]: ...


def client_tls(ca_file: str) -> ssl.SSLContext:
    """STARTTLS towards other mail servers: verified against `ca_file` when one is given (the
    topology's CA), else opportunistic, as Postfix's `smtp_tls_security_level = may`: encrypted
    whatever the certificate, since a server with a certificate nobody can check still deserves
    the mail (and refusing it would leave the mail in the queue for days)."""
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def queue_row(entry: Entry, now: float, *, full: bool = False) -> dict[str, object]:
    """A queued message as `queue list` (and with `full`, `queue show`) gives it."""
    errors = [r.error for r in entry.recipients if r.error]
    row: dict[str, object] = {
        "id": entry.id,
        "age": round(now - entry.arrival),
        "sender": entry.sender,
        "recipients": [r.address for r in entry.recipients],
        "attempts": entry.attempts,
        "next_attempt_in": max(round(entry.next_attempt - now), 0),
        "last_error": errors[-1] if errors else None,
    }
    if full:
        row["arrival"] = entry.arrival
        row["recipients"] = [
            {"address": r.address, "status": r.status, "error": r.error, "remote": r.remote}
            for r in entry.recipients
        ]
    return row


def _report_text(report: ReconcileReport) -> str | None:
    """What a reconcile did, for one log line; None when it changed nothing."""
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items() if v]
    if report.rebuilt:
        parts.insert(0, "index rebuilt (new UIDVALIDITYs)")
    if report.corrupt_index_kept:
        parts.append(f"unreadable index kept as {report.corrupt_index_kept}")
    if report.unusable_folders:
        parts.append(f"folders left alone: {', '.join(report.unusable_folders[:10])}")
    return "; ".join(parts) or None


def default_session_factory(
    ctx: MailContext, kind: str, host: str, idle_poll: float = 1.0
) -> SessionFactory:
    """The IMAP session core (mailserver/imap/session.py) with this listener's settings."""
    cfg = ctx.config
    settings = imapsession.Settings(
        hostname=cfg.hostname,
        plaintext_ok=cfg.auth.allows_plaintext(host),
        starttls=kind == "imap",
        max_literal=cfg.limits.max_literal,
        max_message_size=cfg.limits.max_message_size,
        idle_poll=idle_poll,
        max_line=cfg.limits.max_line,
    )
    return lambda tls_active: imapsession.Session(settings, tls_active=tls_active)


class MailDaemon:
    """`start()` binds every listener and returns {kind: port}; `stop()` ends them."""

    def __init__(
        self,
        config: MailConfig,
        *,
        control: tuple[str, int] | None = None,
        name: str = "mailserver",
        # Worker threads for the store and password checks. Few are best: Python code in one
        # holds the GIL that the event loop and the others need, and on a quiet 2-core machine
        # the 50-session mix took 11.4 s with 8 threads, 9.1 s with 4, 7.4 s with 2
        # (bench.mail_imap --steps mix, alternating runs, 2026-11-30).
        threads: int = 2,
        imap_factory: Any = default_session_factory,
        idle_poll: float = 1.0,
        # the argv of worker K (aio/workers.py), when config.workers > 1; None: no workers
        command: workers.Command | None = None,
        role: workers.Role | None = None,  # this process is a worker: what it was told
    ) -> None:
        self.name = name
        self.config = config
        self.control_addr = control
        self.threads = threads
        self.imap_factory = imap_factory
        self.idle_poll = idle_poll
        self.throttle = Throttle()
        self.ctx: MailContext | None = None
        self.mx: MxServer | None = None
        self.queue: QueueRunner | None = None
        self.listeners: dict[str, Listener] = {}
        self.submission: dict[str, SubmissionServer] = {}
        self.streams: dict[str, StreamListener[Any]] = {}
        self.refused = 0  # connections over the server-wide cap
        self.command = command
        self.role = role
        self.workers: workers.Workers | None = None  # the first process's, when it has some
        self.upstream: workers.Upstream | None = None  # a worker's link to the first process

    async def start(self) -> dict[str, int]:
        cfg = self.config
        issued = mailtls.server_certificate(cfg)
        context = pki.server_context(issued)
        paths = cfg.paths()
        users = UserDb(paths.users)
        users.load()  # UserError: the start stops, saying why
        store = Store(
            str(paths.mail), summarize=store_summary, host=cfg.hostname, quota=cfg.quota.of
        )
        self.ctx = ctx = MailContext(cfg, store, users, context, threads=self.threads)
        self.delivery = StoreDelivery(ctx)  # one for every listener: their messages go together
        if self.role is not None:
            return await self._start_worker(ctx, self.role)
        reports = await ctx.run(store.open_all)
        for address, report in reports.items():
            text = _report_text(report)
            if text:
                log.warning("store of %s reconciled: %s", address, text)
            for line in report.details[:20]:
                log.info("store of %s: %s", address, line)
        log.info("%d users, %d mailbox stores opened; certificate %s",
                 len(users.addresses()), len(reports), issued.cert)  # fmt: skip
        self.queue = self._queue(ctx)
        if self.queue is not None:
            await self.queue.start()
        endpoints = cfg.endpoints()
        if self.control_addr is not None:
            endpoints["control"] = self.control_addr
        ports: dict[str, int] = {}
        command = self.command if cfg.workers > 1 else None  # None: this process serves alone
        for kind, (host, port) in endpoints.items():
            reuse = command is not None and kind in workers.SHARED
            ports[kind] = await self._listen(ctx, kind, host, port, reuse_port=reuse)
        if command is not None:
            self.workers = w = workers.Workers(
                cfg.workers,
                command,
                {kind: port for kind, port in ports.items() if kind in workers.SHARED},
                ctx.notifier.notify_here,
            )
            ctx.notifier.forward = w.notify
            await w.start()
        return ports

    async def _start_worker(self, ctx: MailContext, role: workers.Role) -> dict[str, int]:
        """A worker (aio/workers.py): the IMAP and POP3 listeners only, on the first process's
        ports; notices and reports through the socket pair it was given."""
        ports: dict[str, int] = {}
        for kind, (host, _) in ctx.config.endpoints().items():
            if kind in role.ports:
                ports[kind] = await self._listen(ctx, kind, host, role.ports[kind], reuse_port=True)
        here = ctx.notifier.notify_here
        self.upstream = up = workers.Upstream(role, here, lambda: self.stats([]))
        ctx.notifier.forward = up.notify
        return ports

    @staticmethod
    def _smtp_settings(ctx: MailContext) -> smtp.MxSettings:
        cfg, limits = ctx.config, ctx.config.limits
        return smtp.MxSettings(
            hostname=cfg.hostname,
            domains=cfg.domains,
            max_message_size=limits.max_message_size,
            timeout=limits.smtp_idle_timeout,
            max_connections=limits.max_connections,
            handshake_timeout=limits.handshake_timeout,
        )

    def _queue(self, ctx: MailContext) -> QueueRunner | None:
        """The outbound queue's runner, when the config names a resolver."""
        cfg = ctx.config
        q = cfg.queue
        resolver = q.resolver_address()
        if resolver is None:
            log.info("no [queue] resolver: no mail is sent to other domains")
            return None
        tls = client_tls(q.ca_file)
        delivery = self.delivery

        async def deliver_local(address: str, data: bytes) -> None:  # a delivery notice
            header = f"Received: by {cfg.hostname} (delivery status notification)\r\n".encode()
            await delivery.deliver([address], data, envelope_from="<>", received_header=header)

        return QueueRunner(
            Spool(cfg.paths().queue),
            QueueSettings(
                hostname=cfg.hostname,
                local_names=(cfg.hostname,),
                relay_port=q.relay_port,
                policy=Policy(
                    first_retry=q.first_retry,
                    max_backoff=q.max_backoff,
                    give_up=q.give_up,
                    warn_after=q.warn_after or None,
                ),
                concurrency=q.concurrency,
                timeout=q.timeout,
            ),
            DnsClient(resolver[0], resolver[1], source=cfg.address),
            Connector(source=cfg.address),
            is_local=cfg.serves_address,
            deliver_local=deliver_local,
            tls_context=tls,
        )

    async def _listen(
        self, ctx: MailContext, kind: str, host: str, port: int, *, reuse_port: bool = False
    ) -> int:
        if kind == "smtp":
            self.mx = mx = MxServer(
                self._smtp_settings(ctx), ctx.users, self.delivery, tls_context=ctx.tls,
                throttle=self.throttle, full=quota_check(ctx),
            )  # fmt: skip
            self.listeners[kind] = mx
            return await mx.start(host, port)
        if kind in ("imap", "imaps"):
            factory = self.imap_factory(ctx, kind, host, self.idle_poll)
            imap = ImapServer(
                ctx, kind, factory, throttle=self.throttle, idle_poll=self.idle_poll,
                over_cap=self.over_cap,
            )  # fmt: skip
            self.listeners[kind] = imap
            self.streams[kind] = imap.listener
            return await imap.start(host, port, reuse_port=reuse_port)
        if kind in ("pop3", "pop3s"):
            pop = Pop3Server(ctx, kind, host, throttle=self.throttle, over_cap=self.over_cap)
            self.listeners[kind] = pop
            self.streams[kind] = pop.listener
            return await pop.start(host, port, reuse_port=reuse_port)
        if kind in ("submission", "submissions"):
            sub = SubmissionServer(
                SubmissionHandler(
                    self._smtp_settings(ctx), ctx.users, self.delivery,
                    self.queue.enqueue if self.queue is not None else None,
                    full=quota_check(ctx),
                ),
                ctx.login,
                tls_context=ctx.tls,
                implicit_tls=kind == "submissions",
                throttle=self.throttle,
            )  # fmt: skip
            self.listeners[kind] = sub
            self.submission[kind] = sub
            return await sub.start(host, port)
        if kind == "control":
            commands: dict[str, Command] = {"stats": self.stats, "queue": self.queue_command}
            control = ControlServer(commands, throttle=self.throttle)
            self.listeners[kind] = control
            return await control.start(host, port)
        raise ValueError(f"unknown listener kind {kind!r}")

    def connections(self) -> int:
        """Connections open on every listener but control."""
        listeners = [self.mx.listener if self.mx is not None else None]
        listeners += [s.listener for s in self.submission.values()]
        return sum(len(s.connections) for s in self.streams.values()) + sum(
            len(p) for p in listeners if p is not None
        )

    def processes(self) -> int:
        """How many processes serve IMAP and POP3: as many as the config says, when this one
        is a worker or can start them; else 1."""
        return self.config.workers if self.role is not None or self.command else 1

    def over_cap(self) -> bool:
        """True when a new IMAP or POP3 connection (already counted) is one too many:
        `limits.max_connections` holds for every listener together, divided among the
        processes when there are workers. It is told so and closed, with a log line
        (rate-limited: a flood cannot fill the log)."""
        count = self.connections()
        if count <= -(-self.config.limits.max_connections // self.processes()):
            return False
        self.refused += 1
        where = "all listeners" if self.processes() == 1 else "this process's listeners"
        self.throttle(log, "mail-cap", "refusing a connection: %d open on %s", count, where)
        return True

    def stats(self, args: list[str]) -> dict[str, object]:
        """The control endpoint's `stats`: what `minternet status` shows for a mail host."""
        ctx = self.ctx
        assert ctx is not None
        c = ctx.counters
        sessions = ctx.session_counts()
        counters: dict[str, object] = {
            "logins": c.logins,
            "login_failures": c.login_failures,
            "logins_refused": c.logins_refused,
            "deliveries": c.deliveries,
            "sessions": sum(sessions.values()),
            "connections": self.connections(),
            "connections_refused": self.refused,
        }
        if self.mx is not None:
            counters.update(self.mx.stats())
        for kind, sub in self.submission.items():
            counters[f"{kind}_accepted"] = sub.handler.counts["accepted"]
        if self.queue is not None:
            counters["queue"] = len(self.queue.entries)
            counters.update({f"queue_{k}": v for k, v in self.queue.counts.items()})
        own: dict[str, object] = {
            "stats": counters,
            "logins_by_protocol": dict(c.by_protocol),
            "sessions_by_user": sessions,
            "listeners": {
                **{kind: len(s.connections) for kind, s in self.streams.items()},
                **{k: len(s.listener) if s.listener else 0 for k, s in self.submission.items()},
            },
        }
        return own if self.workers is None else workers.combine(own, self.workers.reports())

    async def queue_command(self, args: list[str]) -> dict[str, object]:
        """The control endpoint's `queue` (`mailserver queue`): list, show ID, retry [ID],
        delete ID."""
        runner = self.queue
        if runner is None:
            return {"error": "this server has no outbound queue ([queue] resolver is not set)"}
        what, rest = (args[0].lower(), args[1:]) if args else ("list", [])
        now = time.time()
        if what == "list" and not rest:
            entries = sorted(runner.entries.values(), key=lambda e: (e.arrival, e.id))
            return {"queue": [queue_row(e, now) for e in entries]}
        if what == "show" and len(rest) == 1:
            entry = runner.entries.get(rest[0])
            if entry is None:
                return {"error": f"no queued message {rest[0]!r}"}
            return {"entry": queue_row(entry, now, full=True)}
        if what == "retry" and len(rest) <= 1:
            count = runner.retry(rest[0] if rest else None)
            if rest and not count:
                return {"error": f"no queued message {rest[0]!r}"}
            return {"retried": count}
        if what == "delete" and len(rest) == 1:
            if not await runner.delete(rest[0]):
                return {"error": f"no queued message {rest[0]!r} (or it is being tried now)"}
            return {"deleted": rest[0]}
        return {"error": "usage: queue [list | show ID | retry [ID] | delete ID]"}

    async def stop(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        if self.workers is not None:
            await self.workers.stop()
        if self.upstream is not None:
            self.upstream.close()
        for listener in self.listeners.values():
            await listener.wait_closed()
        self.listeners.clear()
        if self.queue is not None:
            await self.queue.close()
        ctx = self.ctx
        if ctx is not None:
            await asyncio.get_running_loop().run_in_executor(None, ctx.close)
            ctx.store.close()


def add_serve(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `serve` subcommand (registered in mailserver/cli.py's SUBCOMMANDS)."""
    from minternet import options

    p = sub.add_parser(
        "serve",
        help="run the mail server: SMTP (MX), IMAP, POP3 and their TLS ports",
        description="Run one mail server as --config describes it (mailserver/config.py).",
    )
    options.daemon_options(p, name="mailserver", config="the keys of mailserver.config")
    # how the first process starts a worker (aio/workers.py); not for people
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-channel", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-ports", type=workers.parse_ports, help=argparse.SUPPRESS)
    p.add_argument("--worker-parent", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """`mailserver serve`: run until SIGTERM/SIGINT; exit status 1 if it cannot start."""
    from mailserver import config as mailconfig
    from minternet import config as mconfig
    from minternet import logs, service
    from minternet.listen import AddressError, parse_hostport

    logs.setup(args.name, args.log_level)
    if not args.config:
        log.error("--config FILE is required (the server's TOML configuration)")
        return 2
    try:
        cfg = mailconfig.load(args.config)
        control = parse_hostport(args.control) if args.control else None
    except (mconfig.ConfigError, AddressError) as e:
        log.error("%s", e)
        return 2
    config_path = os.path.abspath(args.config)

    def command(n: int, fd: int, ports: Mapping[str, int]) -> list[str]:
        return [
            sys.executable, "-m", "mailserver", "serve", "--config", config_path,
            "--name", f"{args.name}.{n}", "--log-level", args.log_level,
            "--worker", str(n), "--worker-channel", str(fd),
            "--worker-ports", workers.format_ports(ports), "--worker-parent", str(os.getpid()),
        ]  # fmt: skip

    role = None
    if args.worker is not None:
        if None in (args.worker_channel, args.worker_ports, args.worker_parent):
            log.error("--worker needs --worker-channel, --worker-ports and --worker-parent")
            return 2
        role = workers.Role(args.worker, args.worker_channel, args.worker_ports, args.worker_parent)
        control = None
    daemon = MailDaemon(cfg, control=control, name=args.name, command=command, role=role)
    try:
        return service.run(daemon, ready_file=args.ready_file)
    except (UserError, StoreError, ValueError) as e:  # the users file, the store, the cert
        log.error("cannot start: %s", e)
        return 1
