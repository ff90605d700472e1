"""The IMAP command engine as a sans-I/O session: whole command frames in, actions out.

The shell (mailserver/aio/imap.py) frames the client's bytes (minternet/framing.py `Lines`),
asks `literal()` what to say to each synchronising literal, feeds each whole command (or
AUTHENTICATE response line, or the DONE of IDLE) to `receive()`, and carries out the actions
it gets back in order (actions.py: Send, Stream, StartTls, StartCompress, CheckPassword,
Notify, Idle, Log, Close). Methods that touch the store (`receive`, `tls_started`,
`login_result`, `poll`) run in the worker pool, one at a time per session.

States (RFC 3501 §3): not authenticated -> authenticated -> selected, and logout. Between
them, a session may wait for one thing: the client's SASL response, the password check, the
TLS handshake, or the end of IDLE. Every command gets a tagged OK, NO or BAD; nothing a client
sends makes a method raise. A store failure is `NO [code]` (StoreError, RFC 5530 codes) or
`NO [SERVERBUG]` with a Log action.

states.py has what a session is made of (capabilities, settings, states, which command each
state takes); this module has the dispatch, the login (LOGIN, AUTHENTICATE PLAIN with SASL-IR,
LOGINDISABLED before TLS), STARTTLS and the commands of any state (CAPABILITY, NOOP, LOGOUT,
ID, ENABLE, COMPRESS, NAMESPACE, IDLE); mailboxes.py has the authenticated-state commands,
selected.py the selected-state ones (ordering.py SORT and THREAD), view.py the selected mailbox
and its change feed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from mailserver.imap import encode, mailboxes, notify, ordering, selected
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
from mailserver.imap.commands import (
    Append,
    Authenticate,
    Command,
    Compress,
    Copy,
    Enable,
    Expunge,
    Fetch,
    ListMailboxes,
    Login,
    MailboxCommand,
    QuotaCommand,
    Rename,
    Select,
    Status,
    Store,
    parse_command,
    parse_idle_done,
    parse_sasl_response,
    peek_tag,
)
from mailserver.imap.search_commands import CancelUpdate, Search, Sort, Thread
from mailserver.imap.seqset import SeqSetError
from mailserver.imap.states import (
    CAPABILITIES,
    LOGGED_IN,
    SERVER_NAME,
    STATES,
    WITH_MAILBOX,
    Settings,
    State,
    Wait,
    command_limit,
    merge,
)
from mailserver.imap.syntax import ParseError
from mailserver.imap.view import View
from mailserver.store import StoreError, UserStore
from mailserver.store.errors import NONEXISTENT

__all__ = [
    "Action",
    "CheckPassword",
    "Close",
    "Idle",
    "Log",
    "Notify",
    "Send",
    "Session",
    "Settings",
    "StartCompress",
    "StartTls",
    "State",
    "Stream",
    "Wait",
    "command_limit",
]

_APPEND = re.compile(rb"[^ ]+ APPEND ", re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}\r\n\Z")  # a line's end that announces a literal
_SASL_MECHANISMS = ("PLAIN",)


def _tagged(tag: str, status: str, text: str, code: bytes | None = None) -> bytes:
    return encode.tagged(tag, status, text, code)


class Session:
    """One IMAP connection's protocol state (see the module docstring)."""

    def __init__(self, settings: Settings, *, tls_active: bool) -> None:
        self.settings = settings
        self.tls_active = tls_active
        self.state = State.NOT_AUTHENTICATED
        self.wait = Wait.NOTHING
        self.pending_tag = ""  # the tag of the AUTHENTICATE, LOGIN or IDLE under way
        self.store: UserStore | None = None
        self.view: View | None = None
        self.condstore = False
        self.qresync = False  # ENABLE QRESYNC: VANISHED for EXPUNGE, and the QRESYNC forms
        self.compressed = False  # COMPRESS DEFLATE done (RFC 4978)
        self.utf8 = False  # ENABLE UTF8=ACCEPT (RFC 6855): UTF-8 strings and mailbox names
        self.rev2 = False  # ENABLE IMAP4rev2 (RFC 9051): UTF-8, ESEARCH, no \\Recent
        self.watch: notify.Watch | None = None  # NOTIFY SET (RFC 5465): what to tell
        self._address: str | None = None

    # -- the interface's properties ------------------------------------------------------

    @property
    def address(self) -> str | None:
        return self._address

    @property
    def selected(self) -> str | None:
        return self.view.name if self.view is not None else None

    @property
    def idling(self) -> bool:
        return self.wait is Wait.IDLE

    @property
    def authenticated(self) -> bool:
        return self.state in LOGGED_IN

    # -- capabilities ---------------------------------------------------------------------

    def _plaintext_ok(self) -> bool:
        return self.tls_active or self.settings.plaintext_ok

    def capabilities(self) -> list[str]:
        """What CAPABILITY says now (RFC 3501 §7.2.1: it changes with TLS and login)."""
        caps = list(CAPABILITIES)
        if self.state is State.NOT_AUTHENTICATED:
            if self.settings.starttls and not self.tls_active:
                caps.append("STARTTLS")
            if self._plaintext_ok():
                caps += [f"AUTH={m}" for m in _SASL_MECHANISMS]
            else:
                caps.append("LOGINDISABLED")
        else:
            caps.append("COMPRESS=DEFLATE")  # once logged in, as Dovecot: COMPRESS needs it
        caps.append(f"APPENDLIMIT={self.settings.max_message_size}")
        return caps

    def _capability_code(self) -> bytes:
        return encode.code("CAPABILITY", *[c.encode() for c in self.capabilities()])

    def greeting(self) -> bytes:
        """`* OK [CAPABILITY ...] host IMAP4rev1 ready`."""
        return encode.untagged_status(
            "OK", f"{self.settings.hostname} IMAP4rev1 ready", self._capability_code()
        )

    # -- literals -------------------------------------------------------------------------

    def literal(self, size: int, fits: bool, first_line: bytes) -> tuple[bytes, bool]:
        """A synchronising literal announced in the command that `first_line` opens: (`+ ...`,
        True) to take it, or the tagged NO [TOOBIG] (the client then sends nothing of it),
        False. APPEND's message is bounded by max_message_size once logged in, and all of
        them together by the size of a command (`command_limit`: the framer's `fits` says it);
        any other literal by max_literal."""
        if self.wait is not Wait.NOTHING:  # a SASL response or DONE has no literal
            return encode.untagged_status("BAD", "a literal is not expected here"), False
        append = self.authenticated and _APPEND.match(first_line) is not None
        limit = self.settings.max_message_size if append else self.settings.max_literal
        if fits and size <= limit:
            return encode.continuation("Ready for literal data"), True
        tag = peek_tag(first_line)
        if append and size <= limit:
            total = self.settings.max_command
            text = f"APPEND over the {total}-octet limit for a whole command (its messages)"
        elif append:
            text = f"message over the {limit}-octet limit (APPENDLIMIT)"
        else:
            text = f"literal over the {limit}-octet limit"
        if tag is None:
            return encode.untagged_status("BAD", text, b"TOOBIG"), False
        return _tagged(tag, "NO", text, b"TOOBIG"), False

    # -- input ----------------------------------------------------------------------------

    def receive(self, frame: bytes) -> list[Action]:
        """One whole command (or the SASL response line, or DONE while idling)."""
        if self.state is State.LOGOUT:
            return []
        if self.wait is Wait.SASL:
            return self._guard(self.pending_tag, lambda: self._sasl_line(frame))
        if self.wait is Wait.IDLE:
            return self._guard(self.pending_tag, lambda: self._idle_line(frame))
        if self.wait is not Wait.NOTHING:
            tag = peek_tag(frame) or "*"
            return [Send(data=_tagged(tag, "BAD", f"wait for the {self.wait.value} to finish"))]
        too_big = self._oversized(frame)
        if too_big:
            tag = peek_tag(frame) or "*"
            return [Send(data=_tagged(tag, "BAD", too_big, b"TOOBIG"))]
        try:
            cmd = parse_command(frame, searchres=True, utf8=self.utf8)
        except ParseError as e:
            return [Send(data=_tagged(e.tag or "*", e.kind, e.reason, e.code))]
        return self._guard(cmd.tag, lambda: self._command(cmd))

    def _oversized(self, frame: bytes) -> str:
        """Why a command is refused for a non-synchronising literal (LITERAL+) over the cap
        of its kind, which the framer (sized for APPEND) let through; "" when none is."""
        limit = self.settings.max_literal
        if len(frame) <= limit or (self.authenticated and _APPEND.match(frame)):
            return ""
        pos = 0
        while (end := frame.find(b"\r\n", pos)) >= 0:
            m = _LITERAL.search(frame, pos, end + 2)
            if m is None:
                break
            size = int(m.group(1))
            if size > limit:
                return f"literal over the {limit}-octet limit"
            pos = end + 2 + size
        return ""

    def _guard(self, tag: str, run: Callable[[], list[Action]]) -> list[Action]:
        """Run a command; a store failure or a bug becomes a tagged NO, never an exception."""
        try:
            return merge(run())
        except StoreError as e:
            actions: list[Action] = [Send(data=_tagged(tag, "NO", str(e), e.code.encode()))]
            if e.code in ("INUSE", "CORRUPTION"):
                actions.append(Log(text=f"store error for {self._address}: {e}"))
            return actions
        except OSError as e:
            return [
                Send(data=_tagged(tag, "NO", "the mail store failed", b"SERVERBUG")),
                Log(text=f"store failure for {self._address}: {e!r}"),
            ]
        except Exception as e:  # a bug: the client gets an answer, the log the details
            return [
                Send(data=_tagged(tag, "NO", "internal server error", b"SERVERBUG")),
                Log(text=f"internal error in IMAP session: {e!r}"),
            ]

    def _command(self, cmd: Command) -> list[Action]:
        states = STATES[cmd.name]  # parse_command names UID FETCH "FETCH", and so on
        if self.state not in states:
            return [Send(data=_tagged(cmd.tag, "BAD", self._wrong_state(cmd.name, states)))]
        handler = _HANDLERS[cmd.name]
        actions, tagged = handler(self, cmd)
        if tagged is None:
            return actions
        return [*actions, *self._finish(cmd, tagged)]

    def _wrong_state(self, name: str, states: frozenset[State]) -> str:
        if State.NOT_AUTHENTICATED in states and self.state is not State.NOT_AUTHENTICATED:
            return f"{name} is not allowed once authenticated"
        if self.state is State.NOT_AUTHENTICATED:
            return f"{name} needs authentication first (LOGIN or AUTHENTICATE)"
        if states == WITH_MAILBOX:
            return f"{name} needs a selected mailbox (SELECT or EXAMINE)"
        return f"{name} is only allowed before SELECT"

    def _finish(self, cmd: Command, tagged: bytes) -> list[Action]:
        """The selected mailbox's updates, then the tagged line. EXPUNGE responses wait
        while FETCH, STORE or SEARCH by sequence number is answered (RFC 3501 §7.4.1)."""
        if self.view is None:
            return [Send(data=tagged)]
        return self._with_updates(tagged, expunges=_expunges_ok(cmd))

    def _with_updates(self, tagged: bytes, *, expunges: bool) -> list[Action]:
        assert self.view is not None
        try:
            updates = self.view.updates(expunges=expunges)
        except StoreError as e:
            if e.code != NONEXISTENT:
                raise
            self.state = State.LOGOUT
            self.close()
            bye = encode.untagged_status("BYE", "the selected mailbox was deleted or renamed")
            return [Send(data=bye), Close(reason="selected mailbox gone")]
        code = self.view.modseq_code()
        if code is not None and not tagged:  # (IDLE: said untagged)
            updates += encode.untagged_status("OK", "Highest", code)
        return [Send(data=updates + encode.with_code(tagged, code))]

    # -- any state ------------------------------------------------------------------------

    def _capability(self, cmd: Command) -> tuple[list[Action], bytes]:
        line = encode.capability(self.capabilities())
        return [Send(data=line)], _tagged(cmd.tag, "OK", "CAPABILITY completed")

    def _noop(self, cmd: Command) -> tuple[list[Action], bytes]:
        return [], _tagged(cmd.tag, "OK", f"{cmd.name} completed")

    def _logout(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        self.state = State.LOGOUT
        self.close()
        bye = encode.untagged_status("BYE", f"{self.settings.hostname} logging out")
        ok = _tagged(cmd.tag, "OK", "LOGOUT completed")
        return [Send(data=bye + ok), Close(reason="logout")], None

    def _id(self, cmd: Command) -> tuple[list[Action], bytes]:
        line = encode.untagged(b"ID", [b"name", SERVER_NAME.encode()])
        return [Send(data=line)], _tagged(cmd.tag, "OK", "ID completed")

    def _enable(self, cmd: Command) -> tuple[list[Action], bytes]:
        assert isinstance(cmd, Enable)
        enabled = []
        if "CONDSTORE" in cmd.capabilities and not self.condstore:
            self._enable_condstore()
            enabled.append(b"CONDSTORE")
        if "QRESYNC" in cmd.capabilities and not self.qresync:
            self._enable_condstore()  # QRESYNC implies CONDSTORE (RFC 7162 §3.2.3)
            self.qresync = True
            enabled.append(b"QRESYNC")
        if "IMAP4REV2" in cmd.capabilities and not self.rev2:
            self.rev2 = self.utf8 = True  # RFC 9051 takes in UTF8=ACCEPT's strings and names
            enabled.append(b"IMAP4rev2")
        if "UTF8=ACCEPT" in cmd.capabilities and not self.utf8:
            self.utf8 = True
            enabled.append(b"UTF8=ACCEPT")
        return [Send(data=encode.untagged(b"ENABLED", *enabled))], _tagged(
            cmd.tag, "OK", "ENABLE completed"
        )

    def _compress(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        """COMPRESS DEFLATE (RFC 4978 §3): the OK goes out uncompressed, then everything both
        ways is compressed. Once only (NO [COMPRESSIONACTIVE]); DEFLATE is the one mechanism."""
        assert isinstance(cmd, Compress)
        if self.compressed:
            return [], _tagged(cmd.tag, "NO", "DEFLATE is already active", b"COMPRESSIONACTIVE")
        if cmd.mechanism != "DEFLATE":
            return [], _tagged(cmd.tag, "NO", f"unknown compression mechanism {cmd.mechanism}")
        self.compressed = True
        ok = _tagged(cmd.tag, "OK", "DEFLATE active")
        return [Send(data=ok), StartCompress(), Log(text="COMPRESS DEFLATE active")], None

    def _enable_condstore(self) -> None:
        self.condstore = True
        if self.view is not None:
            self.view.condstore = True

    def _namespace(self, cmd: Command) -> tuple[list[Action], bytes]:
        line = b'* NAMESPACE (("" "/")) NIL NIL\r\n'
        return [Send(data=line)], _tagged(cmd.tag, "OK", "NAMESPACE completed")

    def _idle(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        self.wait = Wait.IDLE
        self.pending_tag = cmd.tag
        actions: list[Action] = [Send(data=encode.continuation("idling"))]
        actions += self.poll()
        return [*actions, Idle()], None

    def poll(self) -> list[Action]:
        """While idling: the selected mailbox's changes now, expunges included (RFC 2177),
        and what NOTIFY asked to be told of the others."""
        if self.wait is not Wait.IDLE:
            return []
        try:
            out = self._others()
            if self.view is not None:
                out += merge(self._with_updates(b"", expunges=True))
            return out
        except (StoreError, OSError) as e:  # no tagged NO: the IDLE goes on; try again later
            return [Log(text=f"IDLE check failed for {self._address}: {e}")]

    # -- NOTIFY (RFC 5465) ----------------------------------------------------------------

    @property
    def watching(self) -> bool:
        """Whether NOTIFY SET is in force (NOTIFY NONE or LOGOUT ends it)."""
        return self.watch is not None

    @property
    def notifying(self) -> bool:
        """Whether NOTIFY SET asked for events (the shell then calls notify_poll when no
        command is under way, and when the user's mailboxes change)."""
        return self.watch is not None and self.wait is Wait.NOTHING

    def _notify(self, cmd: Command) -> tuple[list[Action], bytes]:
        assert isinstance(cmd, notify.Notify)
        if notify.unsupported(cmd.groups):
            return [], _tagged(cmd.tag, "NO", "an event this server cannot tell", notify.BADEVENT)
        if cmd.none:
            self.watch = None
            return [], _tagged(cmd.tag, "OK", "NOTIFY completed")
        self.watch = notify.Watch(cmd.groups)
        out = self._others(first=cmd.status)
        if self.watch is None:  # too many mailboxes (RFC 5465 §3.1)
            text = f"more than {notify.MAX_WATCHED} mailboxes to watch"
            return [], _tagged(cmd.tag, "NO", text, b"NOTIFICATIONOVERFLOW")
        return out, _tagged(cmd.tag, "OK", "NOTIFY completed")

    def notify_poll(self) -> list[Action]:
        """No command under way: what NOTIFY asked to be told of since the last time (the
        selected mailbox's updates only if a SELECTED group asked for them, its expunges only
        without -DELAYED)."""
        if not self.notifying:
            return []
        assert self.watch is not None
        try:
            out = self._others()
            if self.watch is None:  # it overflowed
                return out
            group, view = self.watch.selected, self.view
            if view is not None and group is not None and group.events:
                uidnext = view.uidnext
                out += merge(self._with_updates(b"", expunges=group.filter == "SELECTED"))
                if group.fetch and self.view is view:  # MessageNew's FETCH items (§5.2)
                    fetched = notify.new_fetched(view, group.fetch, uidnext)
                    out += [Send(data=fetched)] if fetched else []
            return out
        except (StoreError, OSError) as e:
            return [Log(text=f"NOTIFY check failed for {self._address}: {e}")]

    def _others(self, *, first: bool = False) -> list[Action]:
        """The STATUS and LIST lines NOTIFY asks for, of the mailboxes but the selected one."""
        if self.watch is None:
            return []
        selected = self.view.name if self.view is not None else None
        try:
            out = notify.others(
                self.watch,
                self._user(),
                selected,
                utf8=self.utf8,
                modseq=self.condstore,
                first=first,
            )
        except notify.Overflow as e:  # RFC 5465 §5.8: as if NOTIFY NONE had come
            self.watch = None
            text = f"{e}: notifications end (NOTIFY NONE)"
            line = encode.untagged_status("OK", text, b"NOTIFICATIONOVERFLOW")
            return [Send(data=line), Log(text=f"NOTIFY overflow for {self._address}")]
        return [Send(data=out)] if out else []

    def _idle_line(self, frame: bytes) -> list[Action]:
        tag = self.pending_tag
        self.wait = Wait.NOTHING
        try:
            parse_idle_done(frame)
        except ParseError as e:
            return [Send(data=_tagged(tag, "BAD", f"{e.reason}; IDLE ended"))]
        tagged = _tagged(tag, "OK", "IDLE terminated")
        if self.view is None:
            return [Send(data=tagged)]
        return self._with_updates(tagged, expunges=True)

    # -- not authenticated ----------------------------------------------------------------

    def _starttls(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        if self.tls_active:
            return [], _tagged(cmd.tag, "BAD", "TLS is already active")
        if not self.settings.starttls:
            return [], _tagged(cmd.tag, "BAD", "STARTTLS is not offered here")
        self.wait = Wait.TLS
        ok = _tagged(cmd.tag, "OK", "Begin TLS negotiation now")
        return [Send(data=ok), StartTls()], None

    def tls_started(self) -> list[Action]:
        """The handshake after STARTTLS is done: the client asks CAPABILITY again."""
        if self.wait is Wait.TLS:
            self.wait = Wait.NOTHING
            self.tls_active = True
        return []

    def _no_plaintext(self, tag: str) -> bytes:
        return _tagged(
            tag, "NO", "passwords are not taken before TLS here: use STARTTLS", b"PRIVACYREQUIRED"
        )

    def _login(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        assert isinstance(cmd, Login)
        if not self._plaintext_ok():
            return [], self._no_plaintext(cmd.tag)
        return self._check(cmd.tag, cmd.user, cmd.password, "LOGIN")

    def _check(
        self, tag: str, user: bytes, password: bytes, mechanism: str
    ) -> tuple[list[Action], None]:
        self.wait = Wait.PASSWORD
        self.pending_tag = tag
        return [CheckPassword(user=user, password=password, mechanism=mechanism)], None

    def _authenticate(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        assert isinstance(cmd, Authenticate)
        if cmd.mechanism not in _SASL_MECHANISMS:
            return [], _tagged(cmd.tag, "NO", f"unsupported SASL mechanism {cmd.mechanism[:40]}")
        if not self._plaintext_ok():
            return [], self._no_plaintext(cmd.tag)
        if cmd.initial is None:
            self.wait = Wait.SASL
            self.pending_tag = cmd.tag
            return [Send(data=encode.continuation(b""))], None
        return self._plain(cmd.tag, cmd.initial)

    def _sasl_line(self, frame: bytes) -> list[Action]:
        tag = self.pending_tag
        self.wait = Wait.NOTHING
        try:
            response = parse_sasl_response(frame)
        except ParseError:
            return [Send(data=_tagged(tag, "BAD", "invalid base64 in the SASL response"))]
        if response is None:
            return [Send(data=_tagged(tag, "BAD", "AUTHENTICATE cancelled"))]
        actions, tagged = self._plain(tag, response)
        return actions if tagged is None else [*actions, Send(data=tagged)]

    def _plain(self, tag: str, response: bytes) -> tuple[list[Action], bytes | None]:
        """RFC 4616: [authzid] NUL authcid NUL passwd; an authzid other than the user is
        refused (no proxy logins)."""
        parts = response.split(b"\x00")
        if len(parts) != 3 or not parts[1]:
            return [], _tagged(tag, "BAD", "invalid PLAIN response")
        authzid, user, password = parts
        if authzid and authzid != user:
            return [], _tagged(tag, "NO", "cannot log in as another user", b"AUTHORIZATIONFAILED")
        return self._check(tag, user, password, "PLAIN")

    def login_result(
        self, address: str | None, store: UserStore | None, why: str = ""
    ) -> list[Action]:
        """After CheckPassword: the normalised address and its store on success; None with
        `why` ("" for wrong credentials) on failure."""
        if self.wait is not Wait.PASSWORD:
            return []
        self.wait = Wait.NOTHING
        tag = self.pending_tag
        if address is None or store is None:
            if why:
                return [Send(data=_tagged(tag, "NO", why, b"LIMIT"))]
            return [Send(data=_tagged(tag, "NO", "Authentication failed", b"AUTHENTICATIONFAILED"))]
        self._address = address
        self.store = store
        self.state = State.AUTHENTICATED
        return [Send(data=_tagged(tag, "OK", "Logged in", self._capability_code()))]

    def close(self) -> None:
        """The connection is gone (or logging out): drop the selected mailbox."""
        self.view = None
        self.wait = Wait.NOTHING

    # -- authenticated: mailboxes.py, with what the session keeps -------------------------

    def _user(self) -> UserStore:
        assert self.store is not None
        return self.store

    def _select(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        assert isinstance(cmd, Select)
        if cmd.qresync is not None and not self.qresync:  # RFC 7162 §3.2.5
            return [], _tagged(cmd.tag, "BAD", "QRESYNC needs ENABLE QRESYNC first")
        closed = b""
        if self.view is not None:
            self.view = None
            self.state = State.AUTHENTICATED
            closed = encode.untagged_status("OK", "Previous mailbox closed", b"CLOSED")
        if cmd.condstore:
            self._enable_condstore()
        try:
            view, out = selected.select(self._user(), cmd, self.condstore, self.qresync, self.rev2)
        except StoreError as e:  # the NO comes after [CLOSED]: the old mailbox is closed
            if not closed:
                raise
            return [Send(data=closed)], _tagged(cmd.tag, "NO", str(e), e.code.encode())
        self.view = view
        self.state = State.SELECTED
        return [Send(data=closed + out)], None

    def _mailbox_command(self, cmd: Command) -> tuple[list[Action], bytes]:
        store = self._user()
        if isinstance(cmd, Rename):
            result = mailboxes.rename(store, cmd)
            self._renamed(cmd.old, cmd.new)
            return result
        if isinstance(cmd, ListMailboxes):
            if "HIGHESTMODSEQ" in cmd.status:
                self._enable_condstore()
            return mailboxes.list_mailboxes(store, cmd)
        if isinstance(cmd, Status):
            if "HIGHESTMODSEQ" in cmd.items:
                self._enable_condstore()
            return mailboxes.status(store, cmd)
        if isinstance(cmd, Append):
            selected = None if self.view is None else self.view.name
            return mailboxes.append(store, cmd, self.settings.max_message_size, selected)
        if isinstance(cmd, QuotaCommand):
            return _QUOTA[cmd.name](store, cmd)
        assert isinstance(cmd, MailboxCommand)
        return _MAILBOX[cmd.name](store, cmd)

    def _renamed(self, old: str, new: str) -> None:
        """Our own RENAME of the selected mailbox (or a superior) keeps it selected."""
        view = self.view
        old, new = mailboxes.canonical(old), mailboxes.canonical(new)
        if view is None or old == "INBOX":
            return
        if view.name == old:
            view.name = new
        elif view.name.startswith(old + "/"):
            view.name = new + view.name[len(old) :]

    # -- selected: selected.py ------------------------------------------------------------

    def _view(self) -> View:
        assert self.view is not None
        return self.view

    def _close(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        view = self._view()
        actions = selected.close(view) if cmd.name == "CLOSE" else []
        self.view = None
        self.state = State.AUTHENTICATED
        return [*actions, Send(data=_tagged(cmd.tag, "OK", f"{cmd.name} completed"))], None

    def _selected_command(self, cmd: Command) -> tuple[list[Action], bytes | None]:
        view = self._view()
        try:
            if isinstance(cmd, Fetch):
                if cmd.vanished and not self.qresync:  # RFC 7162 §3.2.6
                    return [], _tagged(cmd.tag, "BAD", "VANISHED needs ENABLE QRESYNC first")
                if cmd.changedsince is not None or any(i.name == "MODSEQ" for i in cmd.items):
                    self._enable_condstore()
                return selected.fetch(view, cmd, _expunges_ok(cmd))
            if isinstance(cmd, Store):
                if cmd.unchangedsince is not None:
                    self._enable_condstore()
                return selected.store(view, cmd)
            if isinstance(cmd, (Search, Sort)):
                if selected.uses_modseq(cmd.key):
                    self._enable_condstore()
                if self.rev2 and isinstance(cmd, Search) and cmd.returns is None:
                    cmd = replace(cmd, returns=frozenset({"ALL"}))  # RFC 9051 §6.4.4: ESEARCH
                try:
                    if isinstance(cmd, Sort):
                        return ordering.sort(view, cmd)
                    return selected.search(view, cmd)
                except Exception:
                    if cmd.returns is not None and "SAVE" in cmd.returns:
                        view.saved = []  # RFC 5182 §2.1: a SAVE that fails leaves `$` empty
                    raise
            if isinstance(cmd, Thread):
                return ordering.thread(view, cmd)
            if isinstance(cmd, CancelUpdate):
                return selected.cancel_update(view, cmd)
            if isinstance(cmd, Copy):
                return selected.copy(view, cmd)
            assert isinstance(cmd, Expunge)
            return selected.expunge(view, cmd)
        except SeqSetError as e:
            return [], _tagged(cmd.tag, "BAD", str(e))


def _expunges_ok(cmd: Command) -> bool:
    """RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (their UID forms
    may send them)."""
    return not isinstance(cmd, (Fetch, Store, Search, Sort, Thread)) or cmd.uid


Handler = Callable[[Session, Command], tuple[list[Action], bytes | None]]

_MAILBOX = {
    "CREATE": mailboxes.create,
    "DELETE": mailboxes.delete,
    "SUBSCRIBE": mailboxes.subscribe,
    "UNSUBSCRIBE": mailboxes.unsubscribe,
}

_QUOTA = {
    "GETQUOTA": mailboxes.getquota,
    "GETQUOTAROOT": mailboxes.getquotaroot,
    "SETQUOTA": mailboxes.setquota,
}

_HANDLERS: dict[str, Handler] = {
    "CAPABILITY": Session._capability,
    "NOOP": Session._noop,
    "LOGOUT": Session._logout,
    "ID": Session._id,
    "ENABLE": Session._enable,
    "NOTIFY": Session._notify,
    "COMPRESS": Session._compress,
    "GETQUOTA": Session._mailbox_command,
    "GETQUOTAROOT": Session._mailbox_command,
    "SETQUOTA": Session._mailbox_command,
    "NAMESPACE": Session._namespace,
    "IDLE": Session._idle,
    "STARTTLS": Session._starttls,
    "LOGIN": Session._login,
    "AUTHENTICATE": Session._authenticate,
    "SELECT": Session._select,
    "EXAMINE": Session._select,
    "CREATE": Session._mailbox_command,
    "DELETE": Session._mailbox_command,
    "RENAME": Session._mailbox_command,
    "SUBSCRIBE": Session._mailbox_command,
    "UNSUBSCRIBE": Session._mailbox_command,
    "LIST": Session._mailbox_command,
    "LSUB": Session._mailbox_command,
    "STATUS": Session._mailbox_command,
    "APPEND": Session._mailbox_command,
    "CHECK": Session._noop,
    "CLOSE": Session._close,
    "UNSELECT": Session._close,
    "EXPUNGE": Session._selected_command,
    "SEARCH": Session._selected_command,
    "SORT": Session._selected_command,
    "THREAD": Session._selected_command,
    "CANCELUPDATE": Session._selected_command,
    "FETCH": Session._selected_command,
    "STORE": Session._selected_command,
    "COPY": Session._selected_command,
    "MOVE": Session._selected_command,
}
