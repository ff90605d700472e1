"""The IMAP listener: the sans-I/O IMAP session (mailserver/imap/session.py) on the stream layer.

The framer is minternet.framing.Lines with literals: a frame is one whole command (or a SASL
line, or IDLE's DONE); a synchronising literal comes as a LiteralRequest, which the session
accepts (`+`) or refuses (tagged NO) before the client sends it. The session's actions are
carried out in order, as mailserver/imap/actions.py describes them:

- `Send` writes; `Stream` pulls chunks in a worker thread, ~64 KiB a batch, and waits for the
  peer to read before pulling more (the first batch is pulled in the same trip as the command
  that made the Stream: a small FETCH is one trip to the worker threads); `Log` is a log line
  with the peer;
- `StartTls` upgrades the connection, then `tls_started`; `StartCompress` turns on DEFLATE both
  ways (minternet/stream.py);
- `CheckPassword`: MailContext.login (failure delay, per-address budget), the per-user session
  count, the user's store, then `login_result`;
- `Notify` tells the other sessions of the user (MailContext.notifier) that a mailbox changed;
- `Idle`: until the next frame, wait for a notice on the selected mailbox (or `idle_poll`
  seconds) and call `poll()`, writing what it says;
- `Close` closes once what came before is written.

Every session call but `greeting`/`literal` runs in the worker threads, one at a time per
connection (a lock: the IDLE loop and the next frame never call the session at once). The
deadline is login_timeout before login and imap_idle_timeout after (RFC 3501 §5.4: at least
30 minutes); IDLE is a command, so it restarts the timer, as RFC 2177 expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Protocol

from mailserver.aio.context import MailContext
from mailserver.aio.deadline import Deadline
from mailserver.imap.actions import (
    Action,
    CheckPassword,
    Close,
    Idle,
    Log,
    Notify,
    Send,
    StartCompress,
    StartTls,
    Stream,
)
from mailserver.imap.commands import peek_tag
from mailserver.imap.states import command_limit
from mailserver.store import StoreError, UserStore
from minternet.framing import FramingError, Lines, LiteralRequest
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits, StreamListener

log = logging.getLogger(__name__)

STREAM_BATCH = 64 * 1024  # octets of a Stream pulled per trip to the worker threads
NOTIFY_POLLS = 10  # a NOTIFY session looks without a notice every this many idle polls
DRAIN_POLL = 0.005  # seconds before the first look at a peer that does not read yet,
MAX_DRAIN_POLL = 0.1  # doubling up to this
REFUSAL = b"* BYE Too many connections, try later\r\n"
_APPEND = re.compile(rb"[^ \r\n]+ APPEND ", re.IGNORECASE)  # a tag, then APPEND


class Session(Protocol):
    """The IMAP session core as the shell uses it (mailserver/imap/session.py)."""

    def greeting(self) -> bytes: ...
    def literal(self, size: int, fits: bool, first_line: bytes) -> tuple[bytes, bool]: ...
    def receive(self, frame: bytes) -> list[Action]: ...
    def tls_started(self) -> list[Action]: ...
    def login_result(
        self, address: str | None, store: UserStore | None, why: str = ""
    ) -> list[Action]: ...
    def poll(self) -> list[Action]: ...
    def notify_poll(self) -> list[Action]: ...
    def close(self) -> None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def selected(self) -> str | None: ...
    @property
    def idling(self) -> bool: ...
    @property
    def authenticated(self) -> bool: ...
    @property
    def notifying(self) -> bool: ...
    @property
    def watching(self) -> bool: ...


#: Makes a connection's session: (tls_active) -> Session.
SessionFactory = Callable[[bool], Session]


def _pull(chunks: Iterator[bytes], size: int) -> tuple[list[bytes], bool]:
    """Up to about `size` octets of a Stream's chunks (fewer at its end), and whether that
    was its end (then no trip to the worker threads is made for an empty last batch)."""
    out: list[bytes] = []
    got = 0
    for chunk in chunks:
        out.append(chunk)
        got += len(chunk)
        if got >= size:
            return out, False
    return out, True


class _Pulled(Iterator[bytes]):
    """A Stream's chunks whose first batch was pulled in the worker trip that made the Stream
    (most FETCH answers fit in one batch: one trip for the command instead of three)."""

    def __init__(self, chunks: Iterator[bytes], first: list[bytes], done: bool) -> None:
        self.chunks = chunks
        self.first = first
        self.done = done

    def __next__(self) -> bytes:
        return next(self.chunks)


def _receive(session: Session, frame: bytes) -> list[Action]:
    """`session.receive(frame)` (in the worker threads), with the first batch of its first
    Stream pulled in the same trip. Only the stream's production moves earlier: what is
    written, and in what order, stays as the actions say."""
    actions = session.receive(frame)
    for i, action in enumerate(actions):
        if isinstance(action, Stream):
            batch, done = _pull(action.chunks, STREAM_BATCH)
            actions[i] = Stream(chunks=_Pulled(action.chunks, batch, done))
            break
    return actions


class ImapHandler(StreamHandler[bytes | LiteralRequest]):
    """One IMAP connection: frames into the session, its actions out."""

    def __init__(self, conn: Connection, server: ImapServer) -> None:
        super().__init__(conn)
        self.server = server
        self.ctx = server.ctx
        limits = self.ctx.config.limits
        self.framer = self.lines = Lines(
            max_line=limits.max_line,
            literals=True,
            max_literal=max(limits.max_literal, limits.max_message_size),
            max_command=command_limit(limits.max_line, limits.max_literal, limits.max_message_size),
            literal_limit=self._literal_limit,
        )
        self.session = server.factory(conn.tls)
        self.lock = asyncio.Lock()  # one session call at a time
        self.user: str | None = None  # counted in ctx.acquire_session while set
        self.idle_task: asyncio.Task[None] | None = None
        self.watch_task: asyncio.Task[None] | None = None  # NOTIFY's, between commands
        self.idle_waiting = False  # the IDLE loop is waiting for a notice (safe to cancel)
        self.idle_done = False
        self.busy = False
        self.closed = False
        self.deadline = Deadline(self._timeout, self._expired, lambda: self.busy)

    def _literal_limit(self, first_line: bytes) -> int:
        """The largest literal the framer takes in the command that `first_line` opens: a
        message once logged in and in APPEND, else max_literal. A non-synchronising literal
        over it closes the connection (RFC 7888 §4: it is already on its way); a synchronising
        one is refused by the session before it is sent."""
        limits = self.ctx.config.limits
        if self.user is not None and _APPEND.match(first_line):
            return max(limits.max_literal, limits.max_message_size)
        return limits.max_literal

    # -- deadlines ----------------------------------------------------------------------

    def _timeout(self) -> float:
        limits = self.ctx.config.limits
        return limits.imap_idle_timeout if self.user is not None else limits.login_timeout

    def _expired(self) -> None:
        if self.conn.closing:
            return
        self.conn.log.info("imap: autologout (idle %.0f s)", self._timeout())
        self.conn.write(b"* BYE Autologout; idle for too long\r\n")
        self.conn.close()

    def timed_out(self, partial: bool) -> None:
        self.conn.write(b"* BYE Autologout; idle for too long\r\n")

    # -- frames -------------------------------------------------------------------------

    def started(self) -> None:
        if self.server.over_cap():
            self.closed = True
            self.conn.write(REFUSAL)
            self.conn.close()
            return
        self.conn.write(self.session.greeting())

    def frame_received(self, frame: bytes | LiteralRequest) -> Coroutine[Any, Any, None]:
        self.deadline.touch()
        return self._frame(frame)

    async def _frame(self, frame: bytes | LiteralRequest) -> None:
        self.busy = True
        try:
            await self._stop_idle()
            if self.closed:
                return
            if isinstance(frame, LiteralRequest):
                data, accept = self.session.literal(frame.size, frame.fits, frame.first_line)
                self.conn.write(data)
                if accept and frame.fits:
                    self.lines.accept_literal()
                else:
                    self.lines.reject_literal()
                return
            async with self.lock:
                actions = await self.ctx.run(_receive, self.session, frame)
                await self._carry_out(actions)
        finally:
            self.busy = False
            self.deadline.touch()
        if self.session.notifying and self.watch_task is None and not self.closed:
            self.watch_task = asyncio.ensure_future(self._watch())

    async def _carry_out(self, actions: list[Action]) -> None:
        """Carry out the session's actions in order (the caller holds the lock)."""
        conn, ctx = self.conn, self.ctx
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if conn.closing or self.closed:
                return
            match action:
                case Send(data=data):
                    conn.write(data)
                case Stream(chunks=chunks):
                    await self._stream(chunks)
                case StartTls():
                    if not await conn.start_tls(ctx.tls):
                        return
                    pending[:0] = await ctx.run(self.session.tls_started)
                case StartCompress():
                    conn.start_compress()
                case CheckPassword(user=user, password=password, mechanism=mechanism):
                    pending[:0] = await self._check(user, password, mechanism)
                case Notify(mailbox=mailbox):
                    address = self.session.address
                    if address is not None:
                        ctx.notifier.notify(address, mailbox)
                case Idle():
                    self._start_idle()
                case Log(text=text):
                    conn.log.info("%s: %s", self.server.kind, text)
                case Close():
                    self.closed = True
                    conn.close()
                    return

    async def _stream(self, chunks: Iterator[bytes]) -> None:
        conn = self.conn
        if isinstance(chunks, _Pulled):
            batch, done = chunks.first, chunks.done
            chunks = chunks.chunks
        else:
            batch, done = await self.ctx.run(_pull, chunks, STREAM_BATCH)
        while not conn.closing:
            if batch:
                conn.write(b"".join(batch))
            if done:
                return
            # The peer reads what we write before we pull more; one that never reads is
            # aborted by the listener at its deadline, which ends this loop.
            pause = DRAIN_POLL
            while conn.write_paused and not conn.closing:
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_DRAIN_POLL)
            if conn.closing:
                return
            batch, done = await self.ctx.run(_pull, chunks, STREAM_BATCH)

    async def _check(self, user: bytes, password: bytes, mechanism: str) -> list[Action]:
        ctx, conn = self.ctx, self.conn
        kind = self.server.kind
        name = user.decode("utf-8", "replace")
        address = await ctx.login(name, password, conn.peer, kind)
        if address is None:
            return await ctx.run(self.session.login_result, None, None, "")
        if self.user is not None or not ctx.acquire_session(address):
            conn.log.info("%s: login refused for %s: %d sessions already", kind, address,
                          ctx.sessions(address))  # fmt: skip
            why = "too many sessions of this user: log out of another one"
            return await ctx.run(self.session.login_result, None, None, why)
        self.user = address
        try:
            store = await ctx.run(ctx.user_store, address)
        except (StoreError, OSError) as e:
            conn.log.warning("%s: cannot open the store of %s: %s", kind, address, e)
            ctx.release_session(address)
            self.user = None
            return await ctx.run(self.session.login_result, None, None, "mailbox unavailable")
        conn.log.info("%s: login ok for %s (%s)", kind, address, mechanism)
        return await ctx.run(self.session.login_result, address, store)

    # -- IDLE (RFC 2177) ----------------------------------------------------------------

    def _start_idle(self) -> None:
        self.idle_done = False
        self.idle_task = asyncio.ensure_future(self._idle())

    async def _idle(self) -> None:
        ctx, session = self.ctx, self.session
        poll = self.server.idle_poll
        while not self.idle_done and not self.conn.closing:
            address, mailbox = session.address, session.selected
            self.idle_waiting = True
            try:
                if address is None or (mailbox is None and not session.watching):
                    await asyncio.sleep(poll)
                else:  # NOTIFY's events come from any of the user's mailboxes
                    await ctx.notifier.wait(address, None if session.watching else mailbox, poll)
            finally:
                self.idle_waiting = False
            if self.idle_done:
                return
            async with self.lock:
                if not session.idling:
                    return
                await self._carry_out(await ctx.run(session.poll))

    # -- NOTIFY (RFC 5465) ---------------------------------------------------------------

    async def _watch(self) -> None:
        """While NOTIFY SET asks for events: on each notice for one of the user's mailboxes
        (or every NOTIFY_POLLS idle polls, for writers outside this daemon), what changed,
        when no command is under way (a command's own updates come with it)."""
        ctx, session = self.ctx, self.session
        poll = self.server.idle_poll * NOTIFY_POLLS
        try:
            while not self.closed and not self.conn.closing and session.watching:
                address = session.address
                if address is None:
                    return
                await ctx.notifier.wait(address, None, poll)
                if self.busy or not session.notifying:
                    continue  # a command, or IDLE, is under way: it tells
                async with self.lock:
                    if self.closed or self.conn.closing or self.busy:
                        return
                    await self._carry_out(await ctx.run(session.notify_poll))
        except Exception:  # a bug must not take the connection's other work down with it
            log.exception("NOTIFY watcher of %s", session.address)
        finally:
            self.watch_task = None

    async def _stop_idle(self) -> None:
        """End the IDLE loop before the next frame reaches the session (a poll under way
        finishes and its output goes out first)."""
        task = self.idle_task
        if task is None:
            return
        self.idle_task = None
        self.idle_done = True
        if self.idle_waiting:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # -- the end ------------------------------------------------------------------------

    def framing_error(self, error: FramingError) -> None:
        # the command gets its BAD (RFC 3501 7.1.3), with its tag when it had a valid one;
        # what follows it cannot be framed reliably, so the connection closes with BYE
        tag = peek_tag(self.lines.head()) or "*"
        code = "[TOOBIG] " if error.too_big else ""
        self.conn.write(f"{tag} BAD {code}{error.reason}\r\n* BYE {error.reason}\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.cancel()
        if self.watch_task is not None:
            self.watch_task.cancel()
        self.idle_done = True
        if self.idle_task is not None and self.idle_waiting:
            self.idle_task.cancel()
        self.server.tasks.add(task := asyncio.ensure_future(self._finish()))
        task.add_done_callback(self.server.tasks.discard)

    async def _finish(self) -> None:
        if self.idle_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.idle_task
        async with self.lock:  # after any call under way
            try:
                await self.ctx.run(self.session.close)
            except Exception:
                log.exception("closing an IMAP session")
            finally:
                if self.user is not None:
                    self.ctx.release_session(self.user)
                    self.user = None


class ImapServer:
    """An IMAP (STARTTLS) or IMAPS (implicit TLS) listener of one mail server."""

    def __init__(
        self,
        ctx: MailContext,
        kind: str,
        factory: SessionFactory,
        *,
        throttle: Throttle,
        idle_poll: float = 1.0,
        over_cap: Callable[[], bool] = lambda: False,
    ) -> None:
        limits = ctx.config.limits
        self.over_cap = over_cap  # the server-wide connection cap (every listener together)
        self.ctx = ctx
        self.kind = kind
        self.factory = factory
        self.idle_poll = idle_poll
        self.tasks: set[asyncio.Future[None]] = set()
        self.listener = StreamListener(
            lambda conn: ImapHandler(conn, self),
            StreamLimits(
                max_connections=limits.max_connections,
                # the backstop: each connection's own Deadline is the real rule
                idle_timeout=max(limits.login_timeout, limits.imap_idle_timeout) + 5.0,
                handshake_timeout=limits.handshake_timeout,
            ),
            throttle=throttle,
            ssl=ctx.tls if kind == "imaps" else None,
            refusal=REFUSAL,
        )

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> int:
        return await self.listener.start(host, port, reuse_port=reuse_port)

    def close(self) -> None:
        """Stop: every client is told (RFC 3501 §7.1.5: BYE before the server closes)."""
        for conn in self.listener.connections:
            if not conn.closing and not conn.write_paused:
                conn.write(b"* BYE Server shutting down\r\n")
        self.listener.close()

    async def wait_closed(self) -> None:
        await self.listener.wait_closed()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5.0)
