"""The submission listeners (RFC 6409 on 587 with STARTTLS, RFC 8314 on 465 with implicit TLS):
the MX's aiosmtpd protocol with AUTH, and a handler that asks mailserver/submission.py.

- AUTH PLAIN and LOGIN, offered and taken only over TLS (STARTTLS first on `submission`);
  the password is checked in the worker threads (scrypt) through MailContext.login, which
  slows down and then refuses a client address that keeps failing; `535 5.7.8` for a wrong
  one. The session keeps the user's address, never the password.
- Without a login, MAIL, RCPT and DATA get `530 5.7.0` (aiosmtpd's auth_required).
- The message: the MX's checks (NUL, bare line ends, hops), then the submission policy (From:
  and Sender: must be the user's), Date and Message-ID added, a Received field naming the
  client's address and ESMTPSA. Local recipients get it in their mailbox (StoreDelivery), the
  others go into the outbound queue (QueueRunner.enqueue); `250` only once both are durable.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import time
import warnings
from base64 import b64decode
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailserver import smtp
from mailserver.aio.smtp import MxSMTP, peer_ip, tls_info
from mailserver.submission import Local, Remote, SubmissionPolicy, complete
from minternet.logs import Throttle
from minternet.protolisten import ProtocolListener

log = logging.getLogger(__name__)

Login = Callable[[str, bytes, str, str], Awaitable[str | None]]  # MailContext.login
Enqueue = Callable[[str, list[str], bytes], Awaitable[str]]  # QueueRunner.enqueue

NO_RELAY = "550 5.7.1 this server does not send mail to other domains (no queue configured)"


class SubmissionHandler:
    """aiosmtpd's handler hooks for submission: MAIL, RCPT and DATA for a logged-in user."""

    def __init__(
        self,
        settings: smtp.MxSettings,
        users: smtp.Users,
        deliver: smtp.Deliver,
        enqueue: Enqueue | None,
        *,
        full: smtp.Full | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: secrets.token_hex(8).upper(),
    ) -> None:
        self.settings = settings
        self.policy = SubmissionPolicy(settings, users)
        self.deliver = deliver
        self.full = full  # a local recipient over quota (smtp.Full); None: no quotas
        self.enqueue = enqueue
        self.clock = clock
        self.new_id = new_id
        self.counts = {"accepted": 0, "refused": 0, "not_stored": 0}

    def _refused(self, session: Session, what: str, reply: str) -> str:
        self.counts["refused"] += 1
        log.info("%s: submission refused %s: %s", peer_ip(session), smtp.loggable(what), reply)
        return reply

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        user = getattr(server, "user", None)
        refusal = self.policy.sender(user, address, utf8=envelope.smtp_utf8)
        if refusal is not None:
            return self._refused(session, f"MAIL FROM:<{address}> of {user}", refusal)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return smtp.SENDER_OK

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        accepted = getattr(envelope, "routes", [])
        reply, rcpt = self.policy.recipient(address, utf8=envelope.smtp_utf8, accepted=accepted)
        if isinstance(rcpt, Remote) and self.enqueue is None:
            reply, rcpt = NO_RELAY, None
        if rcpt is not None and not isinstance(rcpt, Remote) and self.full is not None:
            why = await self.full(rcpt.address, smtp.declared_size(envelope.mail_options))
            if why is not None:
                reply, rcpt = smtp.mailbox_full(address, why), None
        if rcpt is None:
            if reply != smtp.RECIPIENT_OK:
                return self._refused(session, f"RCPT TO:<{address}>", reply)
            return reply
        envelope.routes = [*accepted, rcpt]  # type: ignore[attr-defined]
        envelope.rcpt_tos.append(rcpt.address)
        return reply

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        user = getattr(server, "user", "")
        sender = envelope.mail_from or ""
        refusal, data = smtp.prepare(
            envelope.original_content or b"", max_hops=self.settings.max_hops
        )
        refusal = refusal or self.policy.header_sender(user, data)
        if refusal is not None:
            return self._refused(session, f"a message from <{sender}>", refusal)
        message_id = self.new_id()
        now = self.clock()
        data = complete(data, now=now, message_id=lambda: f"{message_id}@{self.settings.hostname}")
        routes = getattr(envelope, "routes", [])
        local = [r.address for r in routes if isinstance(r, Local)]
        remote = [r.address for r in routes if isinstance(r, Remote)]
        header = smtp.received_header(
            helo=session.host_name or "",
            peer=peer_ip(session),
            hostname=self.settings.hostname,
            protocol=smtp.with_protocol(esmtp=True, tls=True, auth=True, utf8=envelope.smtp_utf8),
            message_id=message_id,
            recipients=[r.address for r in routes],
            now=now,
            tls=tls_info(session),
        )
        try:
            queued = ""
            if remote:
                assert self.enqueue is not None
                queued = await self.enqueue(sender, remote, header + data)
            if local:
                await self.deliver.deliver(
                    local, data, envelope_from=sender, received_header=header
                )
        except Exception as e:
            self.counts["not_stored"] += 1
            log.error(
                "%s: submission %s from <%s> not stored: %r",
                peer_ip(session),
                message_id,
                sender,
                e,
            )
            return smtp.NOT_STORED
        self.counts["accepted"] += 1
        where = f", queued as {queued}" if queued else ""
        to = ",".join(f"<{r.address}>" for r in routes)
        log.info("%s: %s submitted %s from <%s> to %s, %d octets%s",
                 peer_ip(session), user, message_id, sender, to, len(data), where)  # fmt: skip
        return smtp.stored(message_id)


class SubmissionSMTP(MxSMTP):
    """The MX protocol with AUTH (over TLS only) and the submission handler."""

    def __init__(
        self,
        handler: SubmissionHandler,
        settings: smtp.MxSettings,
        tls_context: ssl.SSLContext | None,
        throttle: Throttle,
        login: Login,
        implicit_tls: bool,
    ) -> None:
        with warnings.catch_warnings():
            # aiosmtpd warns of AUTH without TLS: on the implicit port TLS came first
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            super().__init__(
                handler,  # type: ignore[arg-type]
                settings,
                None if implicit_tls else tls_context,  # STARTTLS only on the plain port
                throttle,
                auth_required=True,
                auth_require_tls=not implicit_tls,  # the implicit port is encrypted already
            )
        self.login = login
        self.implicit_tls = implicit_tls
        self.user: str | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self.implicit_tls and self.session is not None and self.session.ssl is None:
            self.session.ssl = {"ssl_object": transport.get_extra_info("ssl_object")}

    def offers_auth(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    smtp_AUTH = SMTP.smtp_AUTH  # aiosmtpd's own (the MX's refuses AUTH)

    async def _verify(self, login: bytes, password: bytes) -> AuthResult:
        assert self.session is not None
        address = login.decode("utf-8", "replace")
        user = await self.login(address, password, peer_ip(self.session), "submission")
        if user is None:
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
            )
        self.user = user
        return AuthResult(success=True, auth_data=LoginPassword(login, b""))

    async def _first(self, args: list[str], challenge: str) -> bytes | AuthResult:
        """The client's first response: given with AUTH (base64), else asked for. An
        AuthResult when there is none to use (the client gave up, or sent bad base64)."""
        if len(args) == 1:
            data = await self.challenge_auth(challenge)
            return data if isinstance(data, bytes) else AuthResult(success=False)
        try:
            return b64decode(args[1].encode(), validate=True)
        except ValueError:
            await self.push("501 5.5.2 Can't decode base64")
            return AuthResult(success=False, handled=True)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        data = await self._first(args, "")
        if isinstance(data, AuthResult):
            return data
        parts = data.split(b"\0")
        if len(parts) != 3 or (parts[0] and parts[0] != parts[1]):  # RFC 4616: authzid = authcid
            await self.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._verify(parts[1], parts[2])

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        login = await self._first(args, self.AuthLoginUsernameChallenge)
        if isinstance(login, AuthResult):
            return login
        password = await self.challenge_auth(self.AuthLoginPasswordChallenge)
        if not isinstance(password, bytes):  # MISSING: the client gave up
            return AuthResult(success=False)
        return await self._verify(login, password)


class SubmissionServer:
    """One submission listener: `start` binds it, `close`/`wait_closed` end it."""

    def __init__(
        self,
        handler: SubmissionHandler,
        login: Login,
        *,
        tls_context: ssl.SSLContext,
        implicit_tls: bool,
        throttle: Throttle | None = None,
    ) -> None:
        self.settings = handler.settings
        self.handler = handler
        self.login = login
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.throttle = throttle or Throttle()
        self.listener: ProtocolListener | None = None

    def _protocol(self) -> SubmissionSMTP:
        return SubmissionSMTP(
            self.handler, self.settings, self.tls_context, self.throttle, self.login,
            self.implicit_tls,
        )  # fmt: skip

    async def start(self, host: str, port: int) -> int:
        self.listener = ProtocolListener(
            self._protocol,
            max_connections=self.settings.max_connections,
            throttle=self.throttle,
            refusal=smtp.cap_refusal(self.settings.hostname),
            ssl=self.tls_context if self.implicit_tls else None,
            handshake_timeout=self.settings.handshake_timeout,
        )
        return await self.listener.start(host, port)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        if self.listener is not None:
            await self.listener.wait_closed(timeout)
