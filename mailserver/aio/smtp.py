"""The MX listener: aiosmtpd's SMTP protocol with our handler, on minternet's protocol listener.

The decisions are mailserver/smtp.py's; this shell feeds it aiosmtpd's hooks and writes what
it answers. Where aiosmtpd 1.4.6 falls short of the MX this subclass makes up for it:

- every 2xx/4xx/5xx reply after the greeting goes through `enhance` (aiosmtpd's own lack
  RFC 3463 codes), and its echo of client bytes loses control characters;
- EHLO is ours: PIPELINING, ENHANCEDSTATUSCODES and SMTPUTF8 advertised, no AUTH (the MX takes
  no logins: AUTH gets 503); HELO/EHLO answers carry no enhanced code (RFC 2034 §4);
- the command line limits are per connection (aiosmtpd grows a class-wide dict on every EHLO);
- at its timeout the client is told (`421 4.4.2`), and a client that does not read is aborted
  rather than closed (a close would wait for it forever);
- every refusal is logged: the handler's with what was refused, aiosmtpd's own (syntax,
  sequence, size) through the throttle, so a client repeating one cannot flood the log.

The connection cap, the abort of stalled peers and shutdown are the listener's
(minternet/protolisten.py); the per-command deadline is aiosmtpd's own `timeout`, which within
DATA every read renews, up to `data_timeout` from the DATA command. STARTTLS is aiosmtpd's
(`tls_context` on the protocol object: a handler cannot turn it on), checked on both event
loops; `require_starttls` stays off, since an MX that the world's servers reach must not insist
on TLS (RFC 3207 §4).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import secrets
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException, syntax

from mailserver import smtp
from minternet.logs import Throttle
from minternet.protolisten import ProtocolListener

log = logging.getLogger(__name__)

#: aiosmtpd logs every command line at INFO on this logger, and each unknown command, raw, as a
#: WARNING (a client could fill the log): our own lines say what matters.
logging.getLogger("mail.log").setLevel(logging.ERROR)

#: RFC 5321 §4.5.3.1.4: 512 octets a command line, plus what each extension adds to MAIL
#: (SIZE= 26 by RFC 1870, SMTPUTF8 10 by RFC 6531, BODY=8BITMIME 15 by RFC 6152's syntax).
_COMMAND_LINE = 512
_MAIL_LINE = _COMMAND_LINE + 26 + 10 + 15


# <local@domain> with a dot-atom local part and a dot-separated domain, as nearly every client
# writes MAIL FROM and RCPT TO: read here, because aiosmtpd's parser (the email package's
# header parser) costs about a tenth of a millisecond a call. Anything else (quotes, comments,
# address literals, the null path) goes to aiosmtpd, as before.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


def peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


def tls_info(session: Session) -> smtp.TlsInfo | None:
    extra = session.ssl
    obj = extra.get("ssl_object") if extra else None
    if obj is None:
        return None
    cipher = obj.cipher()
    return smtp.TlsInfo(
        version=str(obj.version()),
        cipher=str(cipher[0]) if cipher else "unknown",
        bits=int(cipher[2]) if cipher and cipher[2] else None,
    )


class MxHandler:
    """aiosmtpd's handler hooks for the MX: MAIL, RCPT and DATA through the MX policy."""

    def __init__(
        self,
        settings: smtp.MxSettings,
        users: smtp.Users,
        deliver: smtp.Deliver,
        *,
        full: smtp.Full | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: secrets.token_hex(8).upper(),
    ) -> None:
        self.settings = settings
        self.policy = smtp.MxPolicy(settings, users)
        self.deliver = deliver
        self.full = full  # a recipient over quota (smtp.Full); None: no quotas
        self.clock = clock
        self.new_id = new_id
        self.inflight: set[asyncio.Task[bool]] = set()  # deliveries not yet done
        self.counts: collections.Counter[str] = collections.Counter()

    def _refused(self, server: SMTP, session: Session, what: str, reply: str) -> str:
        self.counts["refused"] += 1
        log.info("%s: refused %s: %s", peer_ip(session), smtp.loggable(what), reply)
        if isinstance(server, MxSMTP):
            server.logged = reply  # said here, with what was refused: not again in push
        return reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.policy.sender(address, utf8=envelope.smtp_utf8)
        if refusal is not None:
            return self._refused(server, session, f"MAIL FROM:<{address}>", refusal)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return smtp.SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply, add = self.policy.recipient(
            address, utf8=envelope.smtp_utf8, accepted=envelope.rcpt_tos
        )
        if add is not None and self.full is not None:
            why = await self.full(add, smtp.declared_size(envelope.mail_options))
            if why is not None:
                reply, add = smtp.mailbox_full(address, why), None
        if add is not None:
            envelope.rcpt_tos.append(add)
            envelope.rcpt_options.extend(options)
        elif reply != smtp.RECIPIENT_OK:
            return self._refused(server, session, f"RCPT TO:<{address}>", reply)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        sender = envelope.mail_from or "<>"
        path = "<>" if sender == "<>" else f"<{sender}>"
        refusal, data = smtp.prepare(content, max_hops=self.settings.max_hops)
        if refusal is not None:
            return self._refused(server, session, f"a message from {path}", refusal)
        message_id = self.new_id()
        recipients = list(envelope.rcpt_tos)
        peer = peer_ip(session)
        protocol = smtp.with_protocol(
            esmtp=session.extended_smtp,
            tls=session.ssl is not None,
            auth=bool(session.authenticated),
            utf8=envelope.smtp_utf8,
        )
        header = smtp.received_header(
            helo=session.host_name or "",
            peer=peer,
            hostname=self.settings.hostname,
            protocol=protocol,
            message_id=message_id,
            recipients=recipients,
            now=self.clock(),
            tls=tls_info(session),
        )
        # A delivery once begun runs to its end even if the client goes: half a store write is
        # worse than a duplicate (the client, not told, sends again: RFC 5321 §6.1).
        work = asyncio.ensure_future(
            self._deliver(
                recipients, data, sender, header, f"{peer}: message {message_id} from {path}"
            )
        )
        self.inflight.add(work)
        work.add_done_callback(self.inflight.discard)
        if not await asyncio.shield(work):
            if isinstance(server, MxSMTP):
                server.logged = smtp.NOT_STORED  # _deliver said why
            return smtp.NOT_STORED
        self.counts["accepted"] += 1
        log.info("%s: accepted %s from %s to %s, %d octets", peer, message_id, path,
                 ",".join(f"<{r}>" for r in recipients), len(data))  # fmt: skip
        return smtp.stored(message_id)

    async def _deliver(
        self, recipients: list[str], data: bytes, sender: str, header: bytes, what: str
    ) -> bool:
        try:
            await self.deliver.deliver(
                recipients, data, envelope_from=sender, received_header=header
            )
        except Exception as e:
            self.counts["not_stored"] += 1
            log.warning("%s not stored: %r", what, e)
            return False
        return True

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            return smtp.INTERNAL_ERROR  # (MxSMTP logged it; aiosmtpd closes the connection)
        log.error("internal error in an SMTP session: %r", error, exc_info=error)
        return smtp.INTERNAL_ERROR


class MxSMTP(SMTP):
    """aiosmtpd's SMTP protocol with the MX's replies, EHLO, timeout and limits."""

    def __init__(
        self,
        handler: MxHandler,
        settings: smtp.MxSettings,
        tls_context: ssl.SSLContext | None,
        throttle: Throttle,
        auth_required: bool = False,
        auth_require_tls: bool = True,
    ) -> None:
        # Per connection (aiosmtpd's is a class attribute that every EHLO grows).
        self.command_size_limits = collections.defaultdict(
            lambda: _COMMAND_LINE, {"MAIL": _MAIL_LINE}
        )
        self._greeted = False
        self.logged: str | None = None  # the refusal the handler has just logged
        self.data_timeout = settings.data_timeout
        self._data_until: float | None = None  # the deadline of the DATA under way
        self.throttle = throttle
        super().__init__(
            handler,
            data_size_limit=settings.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,  # 8BITMIME, and the bytes as sent (anchors pitfall 4)
            hostname=settings.hostname,
            ident="ESMTP minternet",
            tls_context=tls_context,
            timeout=settings.timeout,
            auth_required=auth_required,  # submission (mailserver/aio/submission.py)
            auth_require_tls=auth_require_tls,
            loop=asyncio.get_running_loop(),
        )
        self.command_size_limits["MAIL"] = _MAIL_LINE  # __init__ cleared it
        self.handler_counts = handler.counts

    async def push(self, status: Any) -> None:
        if not self._greeted:
            self._greeted = True  # the greeting carries no enhanced code (RFC 2034 §4)
        elif isinstance(status, str) and not status.startswith("3"):
            status = smtp.enhance(status)
            if status[0] in "45" and status != self.logged:
                # aiosmtpd's own refusals (syntax, sequence, size): a line each, but a client
                # that repeats one cannot flood the log
                assert self.session is not None
                self.handler_counts["refused"] += 1
                self.throttle(log, f"smtp {status[:3]}", "%s: refused: %s",
                              peer_ip(self.session), status)  # fmt: skip
            self.logged = None
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """(address, the rest of the argument), as aiosmtpd's own gives them (checked by a
        property test), read by a regular expression when the path is a plain one; (None,
        None) for a malformed one."""
        m = _PLAIN_PATH.match(arg)
        if m is None or "(" in arg or self.local_part_limit:
            try:
                return super()._getaddr(arg)
            except (IndexError, ValueError):
                # the email package's parser fails on some malformed paths ("a@"): aiosmtpd
                # made that a 451 "internal error" (try again) and a traceback in the log; it
                # is a malformed address, which aiosmtpd answers 553 5.1.3
                return None, None
        return m[1], arg[m.end() :].lstrip(" \t")

    async def _push_lines(self, lines: list[str]) -> None:
        self._writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self._writer.drain()

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        """aiosmtpd's, with a handshake that fails (the client went, or spoke no TLS) logged as
        one line with the peer, not as an internal error with a traceback."""
        try:
            await super().smtp_STARTTLS(arg)
        except TLSSetupException as e:
            assert self.session is not None
            cause = e.__cause__
            self.throttle(log, "starttls", "%s: STARTTLS handshake failed: %s",
                          peer_ip(self.session), repr(cause) if cause else "?")  # fmt: skip
            raise

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        if not hostname:
            await self.push("501 Syntax: HELO hostname")
            return
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = False
        self.session.host_name = hostname
        await self._push_lines([f"250 {self.hostname}"])

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = True
        self.session.host_name = hostname
        starttls = self.tls_context is not None and not self._tls_protocol
        lines = smtp.ehlo_lines(
            self.hostname,
            max_size=self.data_size_limit or 0,
            starttls=starttls,
            auth=self.offers_auth(),
        )
        await self._push_lines(lines)

    def offers_auth(self) -> bool:
        """Whether EHLO offers AUTH: never on the MX (submission says otherwise)."""
        return False

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._data_until = self.loop.time() + self.data_timeout
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_until = None

    def data_received(self, data: bytes) -> None:
        # Within DATA, bytes arriving keep the connection alive for `timeout` more, up to
        # `data_timeout` from the DATA command: a slow link may send a big message, a client
        # that dribbles cannot hold the connection for ever. (aiosmtpd times a whole DATA with
        # the command timeout alone: 50 MB in 5 minutes needs 170 kB/s.)
        until = self._data_until
        if until is not None:
            left = until - self.loop.time()
            if left > 0:
                self._reset_timeout(min(self._timeout_duration, left))
        super().data_received(data)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(smtp.NO_AUTH)

    def _timeout_cb(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        assert self.session is not None
        log.info("%s: timed out", peer_ip(self.session))
        t: asyncio.WriteTransport = transport  # type: ignore[assignment]
        if t.get_write_buffer_size():
            t.abort()  # it does not read: a polite close would wait for it forever
            return
        t.write(smtp.timed_out(self.hostname))
        t.close()


class MxServer:
    """The SMTP MX of one mail server: `start` binds it, `close`/`wait_closed` end it."""

    def __init__(
        self,
        settings: smtp.MxSettings,
        users: smtp.Users,
        deliver: smtp.Deliver,
        *,
        tls_context: ssl.SSLContext | None = None,
        throttle: Throttle | None = None,
        full: smtp.Full | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.tls_context = tls_context
        self.handler = MxHandler(settings, users, deliver, full=full, clock=clock)
        if new_id is not None:
            self.handler.new_id = new_id
        self.throttle = throttle or Throttle()
        self.listener: ProtocolListener | None = None

    def _protocol(self) -> asyncio.Protocol:
        return MxSMTP(self.handler, self.settings, self.tls_context, self.throttle)

    async def start(self, host: str, port: int, **kwargs: Any) -> int:
        """Listen on (host, port) (see ProtocolListener.start); returns the real port."""
        self.listener = ProtocolListener(
            self._protocol,
            max_connections=self.settings.max_connections,
            throttle=self.throttle,
            refusal=smtp.cap_refusal(self.settings.hostname),
            handshake_timeout=self.settings.handshake_timeout,
        )
        return await self.listener.start(host, port, **kwargs)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        if self.listener is not None:
            await self.listener.wait_closed(timeout)
        if self.handler.inflight:  # begun deliveries end (see handle_DATA)
            await asyncio.wait(self.handler.inflight, timeout=timeout)

    def stats(self) -> dict[str, int]:
        """Counters for the control endpoint's `stats`."""
        listener = self.listener
        return {
            "smtp_connections": len(listener) if listener else 0,
            "smtp_refused_connections": listener.refused if listener else 0,
            "smtp_accepted": self.handler.counts["accepted"],
            "smtp_refused": self.handler.counts["refused"],
            "smtp_not_stored": self.handler.counts["not_stored"],
        }
