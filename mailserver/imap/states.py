"""What an IMAP session is made of, apart from its engine (session.py): the capabilities the
server announces, the listener's settings, the session's states and what it may wait for, and
which commands each state takes (RFC 3501 §3 and §6).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailserver.imap.actions import Action, Send

SERVER_NAME = "minternet mailserver"
CAPABILITIES = (
    "IMAP4rev1",
    "IMAP4rev2",
    "LITERAL+",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CHILDREN",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "ESEARCH",
    "CONDSTORE",
    "QRESYNC",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "SEARCHRES",
    "CONTEXT=SEARCH",
    "CONTEXT=SORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "THREAD=REFS",
    "I18NLEVEL=1",
    "UTF8=ACCEPT",
    "WITHIN",
    "MULTIAPPEND",
    "CATENATE",
    "URL-PARTIAL",
    "BINARY",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "SAVEDATE",
    "SNIPPET=FUZZY",
    "PREVIEW=FUZZY",
    "PREVIEW",
    "NOTIFY",
)


def command_limit(max_line: int, max_literal: int, max_message_size: int) -> int:
    """The most octets one command may hold, its lines and literals together: a line and the
    largest literal, which is an APPEND's message (APPENDLIMIT). The shell frames commands
    with it (minternet/framing.py `max_command`).

    A MULTIAPPEND (RFC 3502) is one command, so its messages together fit in what one message
    may be: the feature does not raise what one connection can make the server hold, and a
    client sends at once as many messages as fit (at most commands.MAX_APPEND_MESSAGES). A
    synchronising literal that would go over is refused with NO [TOOBIG] before it is sent; a
    non-synchronising one closes the connection with the reason (RFC 7888 §4).
    """
    return max_line + 2 + max(max_literal, max_message_size)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What a session knows of its listener."""

    hostname: str  # greeting, ID
    plaintext_ok: bool  # LOGIN / AUTHENTICATE PLAIN allowed before TLS on this listener
    starttls: bool  # STARTTLS offered (False on imaps: TLS from the start)
    max_literal: int  # non-APPEND literal cap
    max_message_size: int  # APPEND literal cap (APPENDLIMIT)
    idle_poll: float = 1.0  # seconds between IDLE checks without a notice
    max_line: int = 8192  # a command line, up to its first literal (config.Limits.max_line)

    @property
    def max_command(self) -> int:
        return command_limit(self.max_line, self.max_literal, self.max_message_size)


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Wait(enum.Enum):
    """What a session waits for besides a command."""

    NOTHING = "nothing"
    SASL = "sasl"  # the client's AUTHENTICATE response line
    PASSWORD = "password"  # CheckPassword's result (login_result)
    TLS = "tls"  # the handshake after STARTTLS (tls_started)
    IDLE = "idle"  # DONE


ANY_STATE = frozenset(State) - {State.LOGOUT}
BEFORE_LOGIN = frozenset({State.NOT_AUTHENTICATED})
LOGGED_IN = frozenset({State.AUTHENTICATED, State.SELECTED})
WITH_MAILBOX = frozenset({State.SELECTED})

#: Each command and the states that take it (RFC 3501 §6; ENABLE: RFC 5161 §3.1).
STATES: dict[str, frozenset[State]] = {
    "CAPABILITY": ANY_STATE,
    "NOOP": ANY_STATE,
    "LOGOUT": ANY_STATE,
    "ID": ANY_STATE,
    "STARTTLS": BEFORE_LOGIN,
    "LOGIN": BEFORE_LOGIN,
    "AUTHENTICATE": BEFORE_LOGIN,
    "ENABLE": frozenset({State.AUTHENTICATED}),
    "COMPRESS": LOGGED_IN,  # RFC 4978 §5: command-auth
    "GETQUOTA": LOGGED_IN,  # RFC 9208
    "GETQUOTAROOT": LOGGED_IN,
    "SETQUOTA": LOGGED_IN,
    "SELECT": LOGGED_IN,
    "EXAMINE": LOGGED_IN,
    "CREATE": LOGGED_IN,
    "DELETE": LOGGED_IN,
    "RENAME": LOGGED_IN,
    "SUBSCRIBE": LOGGED_IN,
    "UNSUBSCRIBE": LOGGED_IN,
    "LIST": LOGGED_IN,
    "LSUB": LOGGED_IN,
    "STATUS": LOGGED_IN,
    "APPEND": LOGGED_IN,
    "NAMESPACE": LOGGED_IN,
    "IDLE": LOGGED_IN,
    "NOTIFY": LOGGED_IN,
    "CHECK": WITH_MAILBOX,
    "CLOSE": WITH_MAILBOX,
    "UNSELECT": WITH_MAILBOX,
    "EXPUNGE": WITH_MAILBOX,
    "SEARCH": WITH_MAILBOX,
    "SORT": WITH_MAILBOX,
    "THREAD": WITH_MAILBOX,
    "CANCELUPDATE": WITH_MAILBOX,
    "FETCH": WITH_MAILBOX,
    "STORE": WITH_MAILBOX,
    "COPY": WITH_MAILBOX,
    "MOVE": WITH_MAILBOX,
}


def merge(actions: list[Action]) -> list[Action]:
    """Adjacent Sends as one (one write for the shell); empty Sends dropped."""
    out: list[Action] = []
    for a in actions:
        if isinstance(a, Send):
            if not a.data:
                continue
            last = out[-1] if out else None
            if isinstance(last, Send):
                out[-1] = Send(data=last.data + a.data)
                continue
        out.append(a)
    return out
