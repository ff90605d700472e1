"""POP3 (RFC 1939) as a sans-I/O session: command lines in, response bytes and actions out.

With CAPA and response codes (RFC 2449, RFC 3206), STLS (RFC 2595), UIDL and TOP, USER/PASS
and AUTH PLAIN (RFC 5034, RFC 4616) with an initial response or the `+ ` continuation. APOP
is not offered: it needs the password in the clear on the server, and we keep only hashes.

The shell feeds what it reads to `receive(data, now)` and carries out the actions it gets
back, in order: `Send` (bytes for the client), `StartTls` (upgrade the transport, then call
`tls_started`), `CheckPassword` (verify off the event loop, wait the failure delay if it
failed, then call `password_checked` with the user's maildrop or None) and `Close`. The core
never blocks, reads no clock (`now` comes in; `deadline` says when to give up on a silent
client) and never raises on anything a client sends: every line gets `+OK` or `-ERR`.

The maildrop is a snapshot taken at login (RFC 1939 §8: the session sees the messages that
were there when it began): a list of (unique-id, size) and a way to read one message; the
messages marked with DELE are removed only by QUIT, in the UPDATE state.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class MaildropError(Exception):
    """The store could not read or remove a message (the session answers -ERR [SYS/TEMP])."""


class Maildrop(Protocol):
    """What a POP3 session needs from the store, for one user's INBOX."""

    def listing(self) -> Sequence[tuple[str, int]]:
        """The messages, oldest first: (unique id, size in octets with CRLF line ends).
        Called once, at login: the session's snapshot."""
        ...

    def read(self, uid: str) -> bytes:
        """A message's bytes; MaildropError if it can no longer be read."""
        ...

    def delete(self, uids: Sequence[str]) -> None:
        """Remove these messages (at QUIT); MaildropError if some were not removed."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Bytes for the client."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTls:
    """Start TLS on the transport now (after sending what came before), then `tls_started`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckPassword:
    """Verify `password` for `user`, then call `password_checked` (no input is handled
    meanwhile)."""

    user: str
    password: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """Close the connection once everything before it is sent."""

    reason: str


Action = Send | StartTls | CheckPassword | Close


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    CHECKING = "checking"  # a password is being verified
    SASL = "sasl"  # AUTH PLAIN sent "+ " and waits for the client's response line
    TLS = "tls"  # STLS answered; the handshake comes next
    TRANSACTION = "transaction"
    CLOSED = "closed"  # after QUIT (and UPDATE) or an error that ends the session


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a POP3 session needs to know about its listener."""

    hostname: str
    tls_available: bool  # STLS can be offered (a certificate is configured)
    plaintext_allowed: bool  # passwords may come before TLS (config.Auth.allows_plaintext)
    max_line: int = 1024  # a longer command line (without its CRLF) gets -ERR, skipped
    login_timeout: float = 60.0  # silence allowed before login
    idle_timeout: float = 600.0  # and after (RFC 1939 §3: at least 10 minutes)
    max_auth_failures: int = 3  # then the connection is closed
    max_bad_commands: int = 20  # unknown or malformed commands, then closed


#: Commands and the states that take them; any other (command, state) is -ERR with a reason.
COMMANDS: dict[str, frozenset[State]] = {
    "CAPA": frozenset({State.AUTHORIZATION, State.TRANSACTION}),
    "QUIT": frozenset({State.AUTHORIZATION, State.TRANSACTION}),
    "USER": frozenset({State.AUTHORIZATION}),
    "PASS": frozenset({State.AUTHORIZATION}),
    "AUTH": frozenset({State.AUTHORIZATION}),
    "STLS": frozenset({State.AUTHORIZATION}),
    "APOP": frozenset({State.AUTHORIZATION}),
    "STAT": frozenset({State.TRANSACTION}),
    "LIST": frozenset({State.TRANSACTION}),
    "RETR": frozenset({State.TRANSACTION}),
    "DELE": frozenset({State.TRANSACTION}),
    "NOOP": frozenset({State.TRANSACTION}),
    "RSET": frozenset({State.TRANSACTION}),
    "TOP": frozenset({State.TRANSACTION}),
    "UIDL": frozenset({State.TRANSACTION}),
}
MAX_PENDING = 64 * 1024  # input held while a password is checked or TLS starts
MAX_NUMBER_DIGITS = 9  # a message number or TOP line count; longer is "no such message"
AUTH_FAILED = b"-ERR [AUTH] Authentication failed\r\n"


def _ok(text: str) -> bytes:
    return f"+OK {text}\r\n".encode()


def _err(text: str) -> bytes:
    return f"-ERR {text}\r\n".encode()


def crlf_lines(message: bytes) -> bytes:
    """`message` with every line ending CRLF (a bare LF becomes CRLF) and a final CRLF."""
    text = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def multiline(first: bytes, body: bytes) -> bytes:
    """A multi-line response (RFC 1939 §3): the status line, `body` (CRLF lines) with every
    line that starts with "." given one more, and the terminating ".". Without the stuffing a
    body line that is a lone "." would end the response early."""
    stuffed = (b"\r\n" + body).replace(b"\r\n.", b"\r\n..")[2:]
    return first + stuffed + b".\r\n"


def top_of(message: bytes, lines: int) -> bytes:
    """The header, the blank line and the first `lines` lines of the body (RFC 1939 TOP)."""
    text = crlf_lines(message)
    if text.startswith(b"\r\n"):
        split = 2  # an empty header: the message starts with the blank line
    else:
        end = text.find(b"\r\n\r\n")
        if end < 0:
            return text  # no body at all: the whole message is header
        split = end + 4
    head, body = text[:split], text[split:]
    if lines == 0 or not body:
        return head
    parts = body.split(b"\r\n", lines)
    return head + b"\r\n".join(parts[:lines]) + (b"\r\n" if len(parts) > lines else b"")


def _number(text: str) -> int | None:
    """A decimal argument: digits only, no sign, not too long (else None)."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_NUMBER_DIGITS:
        return None
    return int(text)


class Session:
    """One POP3 connection's protocol state. Call `greeting` once, then `receive`."""

    def __init__(self, settings: Settings, *, tls_active: bool, now: float) -> None:
        self.settings = settings
        self.tls_active = tls_active
        self.state = State.AUTHORIZATION
        self.user: str | None = None  # after login: the normalised address
        self._user_arg: str | None = None  # USER's argument, waiting for PASS
        self._buffer = b""
        self._skipping = False  # inside an over-long line, dropping it up to its LF
        self._last = now
        self._failures = 0
        self._bad = 0
        self._messages: list[tuple[str, int]] = []
        self._deleted: set[int] = set()
        self._drop: Maildrop | None = None

    # -- the shell's calls ---------------------------------------------------------------

    def greeting(self) -> bytes:
        return _ok(f"{self.settings.hostname} POP3 server ready")

    @property
    def deadline(self) -> float:
        """When a silent client is dropped: login_timeout after the last line before login,
        idle_timeout after it once logged in."""
        logged_in = self.state is State.TRANSACTION
        return self._last + (
            self.settings.idle_timeout if logged_in else self.settings.login_timeout
        )

    def receive(self, data: bytes, now: float) -> list[Action]:
        """Take bytes from the client; the actions to carry out, in order."""
        if self.state is State.CLOSED:
            return []
        self._last = now
        self._buffer += data
        if self.state in (State.CHECKING, State.TLS):
            if len(self._buffer) > MAX_PENDING:
                return self._close(_err("too much input while waiting"), "input flood")
            return []
        return self._run()

    def tls_started(self) -> list[Action]:
        """The handshake after STLS succeeded: the session starts over (RFC 2595 §4)."""
        if self.state is not State.TLS:
            return []
        self.tls_active = True
        self.state = State.AUTHORIZATION
        self._user_arg = None
        self._buffer = b""  # nothing sent before the handshake counts (STARTTLS injection)
        return []

    def password_checked(
        self, user: str | None, maildrop: Maildrop | None, in_use: str = ""
    ) -> list[Action]:
        """The result of a CheckPassword: the user and their maildrop, or None and None
        (wrong credentials); or, with `in_use` saying why, None and None for a right password
        that may not log in now (the user's session limit): `-ERR [IN-USE]` (RFC 3206 §4), not
        counted as a failure."""
        if self.state is not State.CHECKING:
            return []
        if in_use:
            self.state = State.AUTHORIZATION
            return [Send(data=_err(f"[IN-USE] {in_use}")), *self._run()]
        if user is None or maildrop is None:
            self.state = State.AUTHORIZATION
            self._failures += 1
            if self._failures >= self.settings.max_auth_failures:
                return self._close(AUTH_FAILED, "too many failed logins")
            return [Send(data=AUTH_FAILED), *self._run()]
        try:
            messages = list(maildrop.listing())
        except MaildropError:
            return self._close(_err("[SYS/TEMP] cannot open the maildrop"), "maildrop error")
        self.user, self._drop, self._messages = user, maildrop, messages
        self.state = State.TRANSACTION
        count, octets = self._stat()
        reply = _ok(f"maildrop has {count} messages ({octets} octets)")  # never echo the name
        return [Send(data=reply), *self._run()]

    # -- line handling -------------------------------------------------------------------

    def _close(self, data: bytes, reason: str) -> list[Action]:
        self.state = State.CLOSED
        self._buffer = b""
        return [Send(data=data), Close(reason=reason)]

    def _run(self) -> list[Action]:
        actions: list[Action] = []
        while self.state in (State.AUTHORIZATION, State.TRANSACTION, State.SASL):
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.settings.max_line + 1:  # +1: its CR may be there
                    self._buffer = b""
                    if not self._skipping:
                        self._skipping = True
                        actions += self._bad_command("line too long")
                break
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._skipping:
                self._skipping = False
                continue
            line = line.removesuffix(b"\r")
            if len(line) > self.settings.max_line:
                actions += self._bad_command("line too long")
                continue
            actions += self._line(line)
        return actions

    def _bad_command(self, why: str) -> list[Action]:
        self._bad += 1
        if self._bad >= self.settings.max_bad_commands:
            return self._close(_err(f"{why}; too many bad commands, closing"), "bad commands")
        return [Send(data=_err(why))]

    def _line(self, line: bytes) -> list[Action]:
        if self.state is State.SASL:
            return self._sasl_response(line)
        word, _, rest = line.partition(b" ")
        name = word.decode("ascii", "replace").upper()
        arg = rest.decode("utf-8", "surrogateescape")
        states = COMMANDS.get(name)
        if states is None:
            if not word:
                return self._bad_command("empty command")
            return self._bad_command("unknown command")
        if self.state not in states:
            where = "after login" if self.state is State.TRANSACTION else "before login"
            return self._bad_command(f"{name} is not valid {where}")
        handler: Callable[[Session, str, bytes], list[Action]] = _HANDLERS[name]
        return handler(self, arg, rest)

    # -- AUTHORIZATION -------------------------------------------------------------------

    def _may_take_password(self) -> bool:
        return self.tls_active or self.settings.plaintext_allowed

    def _no_plaintext(self) -> list[Action]:
        return [Send(data=_err("[AUTH] passwords are not taken before TLS here: use STLS"))]

    def _capa(self, arg: str, raw: bytes) -> list[Action]:
        if arg:
            return self._bad_command("CAPA takes no argument")
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self._may_take_password():
                caps += ["USER", "SASL PLAIN"]
            if self.settings.tls_available and not self.tls_active:
                caps.append("STLS")
        caps.append("IMPLEMENTATION minternet")
        body = "".join(f"{c}\r\n" for c in caps).encode()
        return [Send(data=multiline(_ok("Capability list follows"), body))]

    def _quit(self, arg: str, raw: bytes) -> list[Action]:
        if self.state is State.AUTHORIZATION:
            return self._close(_ok(f"{self.settings.hostname} POP3 server signing off"), "quit")
        # UPDATE (RFC 1939 §6): remove what DELE marked, then say goodbye.
        doomed = [self._messages[i][0] for i in sorted(self._deleted)]
        if doomed and self._drop is not None:
            try:
                self._drop.delete(doomed)
            except MaildropError:
                return self._close(_err("[SYS/TEMP] some deleted messages not removed"), "quit")
        count = len(self._messages) - len(doomed)
        left = "maildrop empty" if count == 0 else f"{count} messages left"
        return self._close(
            _ok(f"{self.settings.hostname} POP3 server signing off ({left})"), "quit"
        )

    def _userarg(self, arg: str, raw: bytes) -> list[Action]:
        if not self._may_take_password():
            return self._no_plaintext()
        if not arg:
            return self._bad_command("USER needs a name")
        self._user_arg = arg
        return [Send(data=_ok("send PASS"))]  # the same whether the user exists or not

    def _pass(self, arg: str, raw: bytes) -> list[Action]:
        if not self._may_take_password():
            return self._no_plaintext()
        if self._user_arg is None:
            return self._bad_command("USER first")
        user, self._user_arg = self._user_arg, None
        # RFC 1939 §7: the rest of the line is the password; it may hold spaces.
        return self._check(user, raw)

    def _check(self, user: str, password: bytes) -> list[Action]:
        self.state = State.CHECKING
        return [CheckPassword(user=user, password=password)]

    def _apop(self, arg: str, raw: bytes) -> list[Action]:
        return [Send(data=_err("APOP is not offered: use USER/PASS or AUTH PLAIN over TLS"))]

    def _auth(self, arg: str, raw: bytes) -> list[Action]:
        if not arg:  # the list of mechanisms, as many servers give it
            return [Send(data=multiline(_ok("SASL mechanisms follow"), b"PLAIN\r\n"))]
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() != "PLAIN":
            return [Send(data=_err("unsupported authentication mechanism"))]
        if not self._may_take_password():
            return self._no_plaintext()
        if not initial:
            self.state = State.SASL
            return [Send(data=b"+ \r\n")]
        return self._plain(initial.encode("utf-8", "surrogateescape"))

    def _sasl_response(self, line: bytes) -> list[Action]:
        self.state = State.AUTHORIZATION
        if line == b"*":  # RFC 5034 §4: the client cancels
            return [Send(data=_err("authentication cancelled"))]
        return self._plain(line)

    def _plain(self, response: bytes) -> list[Action]:
        """RFC 4616: base64 of authzid NUL authcid NUL password; "=" is an empty response."""
        try:
            decoded = b"" if response == b"=" else base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            return self._bad_command("bad base64 in the AUTH response")
        parts = decoded.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            return self._bad_command("AUTH PLAIN wants authzid NUL authcid NUL password")
        authzid, authcid, password = parts
        if authzid and authzid != authcid:  # no logging in as someone else
            self._failures += 1
            if self._failures >= self.settings.max_auth_failures:
                return self._close(AUTH_FAILED, "too many failed logins")
            return [Send(data=AUTH_FAILED)]
        return self._check(authcid.decode("utf-8", "surrogateescape"), password)

    def _stls(self, arg: str, raw: bytes) -> list[Action]:
        if arg:
            return self._bad_command("STLS takes no argument")
        if self.tls_active:
            return [Send(data=_err("TLS is already on"))]
        if not self.settings.tls_available:
            return [Send(data=_err("STLS is not available"))]
        self.state = State.TLS  # what the client pipelined after STLS is held, then dropped
        return [Send(data=_ok("begin TLS negotiation")), StartTls()]

    # -- TRANSACTION ---------------------------------------------------------------------

    def _stat(self) -> tuple[int, int]:
        live = [size for i, (_, size) in enumerate(self._messages) if i not in self._deleted]
        return len(live), sum(live)

    def _message(self, text: str) -> tuple[int | None, list[Action]]:
        """The index of message number `text`, or None and the -ERR to send."""
        number = _number(text)
        if number is None:
            return None, self._bad_command(f"{text!r} is not a message number")
        if not 1 <= number <= len(self._messages):
            return None, [Send(data=_err(f"no such message, only {len(self._messages)}"))]
        if number - 1 in self._deleted:
            return None, [Send(data=_err(f"message {number} already deleted"))]
        return number - 1, []

    def _stat_cmd(self, arg: str, raw: bytes) -> list[Action]:
        if arg:
            return self._bad_command("STAT takes no argument")
        count, octets = self._stat()
        return [Send(data=_ok(f"{count} {octets}"))]

    def _listing(self, arg: str, name: str, value: Callable[[int], str]) -> list[Action]:
        if " " in arg:
            return self._bad_command(f"{name} takes at most one argument")
        if arg:
            index, error = self._message(arg)
            if index is None:
                return error
            return [Send(data=_ok(f"{index + 1} {value(index)}"))]
        lines = "".join(
            f"{i + 1} {value(i)}\r\n" for i in range(len(self._messages)) if i not in self._deleted
        )
        count, octets = self._stat()
        first = _ok(f"{count} messages ({octets} octets)" if name == "LIST" else "unique-id list")
        return [Send(data=multiline(first, lines.encode()))]

    def _list(self, arg: str, raw: bytes) -> list[Action]:
        return self._listing(arg, "LIST", lambda i: str(self._messages[i][1]))

    def _uidl(self, arg: str, raw: bytes) -> list[Action]:
        return self._listing(arg, "UIDL", lambda i: self._messages[i][0])

    def _read(self, index: int) -> bytes | None:
        assert self._drop is not None
        try:
            return self._drop.read(self._messages[index][0])
        except MaildropError:
            return None

    def _retr(self, arg: str, raw: bytes) -> list[Action]:
        if not arg or " " in arg:
            return self._bad_command("RETR takes one message number")
        index, error = self._message(arg)
        if index is None:
            return error
        data = self._read(index)
        if data is None:
            return [Send(data=_err(f"[SYS/TEMP] message {index + 1} cannot be read now"))]
        text = crlf_lines(data)
        return [Send(data=multiline(_ok(f"{len(text)} octets"), text))]

    def _top(self, arg: str, raw: bytes) -> list[Action]:
        args = arg.split(" ")
        if len(args) != 2:
            return self._bad_command("TOP takes a message number and a number of lines")
        index, error = self._message(args[0])
        if index is None:
            return error
        lines = _number(args[1])
        if lines is None:
            return self._bad_command(f"{args[1]!r} is not a number of lines")
        data = self._read(index)
        if data is None:
            return [Send(data=_err(f"[SYS/TEMP] message {index + 1} cannot be read now"))]
        return [Send(data=multiline(_ok("top of message follows"), top_of(data, lines)))]

    def _dele(self, arg: str, raw: bytes) -> list[Action]:
        if not arg or " " in arg:
            return self._bad_command("DELE takes one message number")
        index, error = self._message(arg)
        if index is None:
            return error
        self._deleted.add(index)
        return [Send(data=_ok(f"message {index + 1} deleted"))]

    def _noop(self, arg: str, raw: bytes) -> list[Action]:
        if arg:
            return self._bad_command("NOOP takes no argument")
        return [Send(data=_ok("nothing done"))]

    def _rset(self, arg: str, raw: bytes) -> list[Action]:
        if arg:
            return self._bad_command("RSET takes no argument")
        self._deleted.clear()
        count, octets = self._stat()
        return [Send(data=_ok(f"maildrop has {count} messages ({octets} octets)"))]


_HANDLERS: dict[str, Callable[[Session, str, bytes], list[Action]]] = {
    "CAPA": Session._capa,
    "QUIT": Session._quit,
    "USER": Session._userarg,
    "PASS": Session._pass,
    "AUTH": Session._auth,
    "STLS": Session._stls,
    "APOP": Session._apop,
    "STAT": Session._stat_cmd,
    "LIST": Session._list,
    "RETR": Session._retr,
    "DELE": Session._dele,
    "NOOP": Session._noop,
    "RSET": Session._rset,
    "TOP": Session._top,
    "UIDL": Session._uidl,
}
