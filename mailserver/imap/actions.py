"""What the IMAP session asks its shell to do: the actions `Session` methods return, in order.

They live apart from session.py so that the command modules (mailboxes.py, selected.py) can
build them without importing the session; session.py re-exports them (the interface is
`mailserver.imap.session.Send` and so on).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "Action",
    "CheckPassword",
    "Close",
    "Idle",
    "Log",
    "Notify",
    "Send",
    "StartCompress",
    "StartTls",
    "Stream",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Bytes for the client."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """A long response (a FETCH of many messages): the shell pulls the chunks in the worker
    pool, writes each and waits for the transport to drain; the session is not called again
    until the iterator is exhausted. Its last chunk holds the tagged response."""

    chunks: Iterator[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTls:
    """Upgrade the transport now (the OK went out before), then call `Session.tls_started`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCompress:
    """Compress the connection both ways from now on (COMPRESS DEFLATE, RFC 4978): the OK
    went out before, uncompressed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckPassword:
    """Verify the credentials (the failure delay included), then call `Session.login_result`."""

    user: bytes
    password: bytes = field(repr=False)
    mechanism: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify:
    """This session changed `mailbox`: wake the other sessions idling on it."""

    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Idle:
    """IDLE began: wait for notices (or `idle_poll` seconds) and call `Session.poll`, until
    the next frame arrives."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Log:
    """A line for the daemon's log (a store error, a refused command worth noting)."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """Close the connection once everything before it is written."""

    reason: str


Action = Send | Stream | StartTls | StartCompress | CheckPassword | Notify | Idle | Log | Close
