"""The POP3 listener: the sans-I/O POP3 session (mailserver/pop3.py) on the stream layer.

The core parses its own lines, so the framer here passes bytes through as they come
(`Chunks`); the listener still gives the cap, flow control, implicit TLS (pop3s) and the
STARTTLS upgrade (STLS). Every call into the session runs in the server's worker threads
(a RETR or the QUIT's deletions touch the store), one at a time per connection.

Login goes through MailContext: the password check with its failure delay, then the per-user
session count. The maildrop is the user's INBOX through UserStore.pop3_snapshot / read_message
/ pop3_delete; after the QUIT's deletions the IMAP sessions of the user are told (Notifier).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from mailserver import pop3
from mailserver.aio.context import MailContext
from mailserver.aio.deadline import Deadline
from mailserver.store import StoreError, UserStore
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits, StreamListener

log = logging.getLogger(__name__)

INBOX = "INBOX"
REFUSAL = b"-ERR [SYS/TEMP] too many connections, try later\r\n"


class Chunks:
    """A framer that hands over whatever bytes came, as one frame (the POP3 core frames lines
    itself, with its own bound on a line)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | None:
        if not self._buf:
            return None
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def pending(self) -> int:
        return 0

    def clear(self) -> None:
        self._buf.clear()


class StoreMaildrop:
    """A user's INBOX as POP3 sees it (pop3.Maildrop), over the store. Synchronous: called by
    the session, which the shell runs in a worker thread."""

    def __init__(self, store: UserStore) -> None:
        self.store = store
        self._uids: dict[str, int] = {}
        self.deleted = 0  # messages removed by QUIT, for the change notice

    def listing(self) -> Sequence[tuple[str, int]]:
        try:
            entries = self.store.pop3_snapshot()
        except (StoreError, OSError) as e:
            raise pop3.MaildropError(str(e)) from e
        self._uids = {e.uidl: e.uid for e in entries}
        return [(e.uidl, e.size) for e in entries]

    def read(self, uid: str) -> bytes:
        try:
            return self.store.read_message(INBOX, self._uids[uid])
        except (StoreError, OSError, KeyError) as e:
            raise pop3.MaildropError(str(e)) from e

    def delete(self, uids: Sequence[str]) -> None:
        try:
            removed = self.store.pop3_delete([self._uids[u] for u in uids])
        except (StoreError, OSError, KeyError) as e:
            raise pop3.MaildropError(str(e)) from e
        # A message another session expunged meanwhile is gone as asked: not an error.
        self.deleted += len(removed)


class Pop3Handler(StreamHandler[bytes]):
    """One POP3 connection."""

    def __init__(self, conn: Connection, server: Pop3Server) -> None:
        super().__init__(conn)
        self.server = server
        self.ctx = server.ctx
        self.framer = Chunks()
        loop = conn.listener.loop
        self.session = pop3.Session(server.settings, tls_active=conn.tls, now=loop.time())
        self.user: str | None = None  # counted in ctx.acquire_session while set
        self.maildrop: StoreMaildrop | None = None
        self.busy = False
        self.lost = False
        self.deadline = Deadline(self._timeout, self._expired, lambda: self.busy)

    def _timeout(self) -> float:
        s = self.server.settings
        return s.idle_timeout if self.user is not None else s.login_timeout

    def _expired(self) -> None:
        if self.conn.closing:
            return
        self.conn.log.info("pop3: timed out")
        self.conn.write(b"-ERR timed out, closing\r\n")
        self.conn.close()

    def started(self) -> None:
        if self.server.over_cap():
            self.conn.write(REFUSAL)
            self.conn.close()
            return
        self.conn.write(self.session.greeting())

    def frame_received(self, frame: bytes) -> Coroutine[Any, Any, None]:
        self.deadline.touch()
        return self._handle(frame)

    async def _handle(self, data: bytes) -> None:
        self.busy = True
        try:
            now = self.conn.now
            actions = await self.ctx.run(self.session.receive, data, now)
            await self._carry_out(actions)
        finally:
            self.busy = False
            self.deadline.touch()

    async def _carry_out(self, actions: list[pop3.Action]) -> None:
        conn = self.conn
        while actions:
            action, actions = actions[0], actions[1:]
            if conn.closing:
                return
            if isinstance(action, pop3.Send):
                conn.write(action.data)
            elif isinstance(action, pop3.StartTls):
                if not await conn.start_tls(self.ctx.tls):
                    return
                actions = self.session.tls_started() + actions
            elif isinstance(action, pop3.CheckPassword):
                actions = await self._check(action) + actions
            else:  # Close
                if action.reason not in ("quit",):
                    conn.log.info("pop3: closing: %s", action.reason)
                conn.close()
                return

    async def _check(self, action: pop3.CheckPassword) -> list[pop3.Action]:
        ctx, conn = self.ctx, self.conn
        kind = self.server.kind
        address = await ctx.login(action.user, action.password, conn.peer, kind)
        if self.lost:
            return []  # the client went while its password was checked: count nothing
        if address is None:
            return await ctx.run(self.session.password_checked, None, None)
        if not ctx.acquire_session(address):
            count = ctx.sessions(address)
            conn.log.info("%s: login refused for %s: %d sessions already", kind, address, count)
            why = f"{count} sessions of this user already: log out of another one"
            return await ctx.run(self.session.password_checked, None, None, why)
        self.user = address
        try:
            store = await ctx.run(ctx.user_store, address)
        except (StoreError, OSError) as e:
            conn.log.warning("%s: cannot open the store of %s: %s", kind, address, e)
            return [pop3.Send(data=b"-ERR [SYS/TEMP] cannot open the maildrop\r\n"),
                    pop3.Close(reason="store error")]  # fmt: skip
        self.maildrop = StoreMaildrop(store)
        conn.log.info("%s: login ok for %s", kind, address)
        return await ctx.run(self.session.password_checked, address, self.maildrop)

    def framing_error(self, error: Any) -> None:  # Chunks never raises
        pass

    def timed_out(self, partial: bool) -> None:
        self.conn.write(b"-ERR timed out, closing\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.deadline.cancel()
        if self.user is not None:
            self.ctx.release_session(self.user)
            if self.maildrop is not None and self.maildrop.deleted:
                self.ctx.notifier.notify(self.user, INBOX)
            self.user = None


class Pop3Server:
    """A POP3 (STLS) or POP3S (implicit TLS) listener of one mail server."""

    def __init__(
        self,
        ctx: MailContext,
        kind: str,
        host: str,
        *,
        throttle: Throttle,
        over_cap: Callable[[], bool] = lambda: False,
    ) -> None:
        cfg = ctx.config
        self.over_cap = over_cap  # the server-wide connection cap (every listener together)
        limits = cfg.limits
        self.ctx = ctx
        self.kind = kind
        implicit = kind == "pop3s"
        self.settings = pop3.Settings(
            hostname=cfg.hostname,
            tls_available=not implicit,
            plaintext_allowed=cfg.auth.allows_plaintext(host),
            max_line=limits.max_pop3_line,
            login_timeout=limits.login_timeout,
            idle_timeout=limits.pop3_idle_timeout,
        )
        self.listener = StreamListener(
            lambda conn: Pop3Handler(conn, self),
            StreamLimits(
                max_connections=limits.max_connections,
                # the backstop: each connection's own Deadline is the real rule
                idle_timeout=max(limits.login_timeout, limits.pop3_idle_timeout) + 5.0,
                handshake_timeout=limits.handshake_timeout,
            ),
            throttle=throttle,
            ssl=ctx.tls if implicit else None,
            refusal=REFUSAL,
        )

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> int:
        return await self.listener.start(host, port, reuse_port=reuse_port)

    def close(self) -> None:
        self.listener.close()

    async def wait_closed(self) -> None:
        await self.listener.wait_closed()
