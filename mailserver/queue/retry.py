"""A queued message's life, without I/O: what one delivery attempt's outcomes do to it, when it
is tried next, when the queue gives up, and which delivery status notifications it owes.

An `Entry` is the envelope the spool keeps beside the message: who sent it, when it arrived,
the recipients still to deliver (each with the last error it met), how many attempts were
made and when the next is due. After an attempt, `after_attempt` takes one outcome per
recipient tried:

- `Delivered` (a 2xx from the remote server): the recipient is done;
- `Failed` (a 5xx, or a route that can never work: NXDOMAIN, null MX, a loop): the recipient
  is done and goes into a "failed" notice to the sender;
- `Deferred` (a 4xx, a refused or dropped connection, no answer from DNS): the recipient
  stays, with the error kept for `queue list` and for the notice if the queue gives up.

A recipient not in the outcomes (not tried this time) stays as it was. The next attempt comes
after a backoff that doubles from `first_retry` up to `max_backoff` (Postfix's
minimal_backoff_time and maximal_backoff_time: 5 minutes, then at most about an hour), and no
later than the give-up time. Once a message has been queued for `give_up` (5 days, Postfix's
maximal_queue_lifetime), its remaining recipients fail with 5.4.7 (RFC 3463: delivery time
expired) and their last error. After `warn_after` (4 hours; None for never) one "delayed"
notice says the message is still being retried (RFC 3464 `Action: delayed`).

A message with the null sender (a notice itself) never causes a notice: its failures are
only logged, so that two servers cannot bounce bounces back and forth (RFC 5321 §4.5.5).

`to_json` and `from_json` are the spool file's form; `from_json` checks every field, so that a
damaged or hand-edited file is refused (QueueError) rather than half-read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "Deferred",
    "Delivered",
    "Entry",
    "Failed",
    "Notice",
    "Outcome",
    "Policy",
    "QueueError",
    "Recipient",
    "Report",
    "Step",
    "after_attempt",
    "backoff",
    "from_json",
    "to_json",
]

FORMAT = 1  # the spool file's version
MAX_RECIPIENTS = 1000  # in one spool file (the MX takes at most 100 a message)
MAX_TEXT = 2000  # octets of an address, host or error kept from a file


class QueueError(ValueError):
    """A spool file that is not an entry of this version."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The retry schedule, in seconds (see the module docstring)."""

    first_retry: float = 300.0
    max_backoff: float = 3600.0
    give_up: float = 5 * 86400.0
    warn_after: float | None = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Recipient:
    """A recipient still to deliver, and what the last attempt met (None before any)."""

    address: str
    status: str | None = None  # RFC 3463, e.g. "4.4.1"
    error: str | None = None  # e.g. "mail.hamburger.edu[127.0.0.3]: 451 4.3.0 try again"
    remote: str | None = None  # the host that said it, when one did


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued message's envelope (its content is a separate file of the spool)."""

    id: str
    sender: str  # "" for the null reverse-path: the message is a notice itself
    arrival: float
    recipients: tuple[Recipient, ...]
    next_attempt: float
    attempts: int = 0
    warned: bool = False


@dataclass(frozen=True, slots=True)
class Delivered:
    address: str
    remote: str
    reply: str  # the remote server's reply, for the log


@dataclass(frozen=True, slots=True)
class Deferred:
    address: str
    status: str
    error: str
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    address: str
    status: str
    error: str
    remote: str | None = None


Outcome = Delivered | Deferred | Failed


@dataclass(frozen=True, slots=True)
class Report:
    """One recipient in a notice: RFC 3464's Final-Recipient, Status, Remote-MTA and
    Diagnostic-Code come from these."""

    address: str
    status: str
    error: str
    remote: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A delivery status notification owed to the sender."""

    action: Literal["failed", "delayed"]
    reports: tuple[Report, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """What an attempt leaves: the entry to keep (None: remove it, nobody is left), the
    notices to send, and who was delivered or failed (for the log)."""

    entry: Entry | None
    notices: tuple[Notice, ...]
    delivered: tuple[str, ...]
    failed: tuple[Report, ...]


def backoff(policy: Policy, attempts: int) -> float:
    """Seconds between attempt number `attempts` (1 for the first) and the next."""
    return min(policy.first_retry * 2 ** min(max(attempts - 1, 0), 32), policy.max_backoff)


def _report(r: Recipient, status: str, error: str) -> Report:
    return Report(r.address, status, error, r.remote)


def after_attempt(entry: Entry, outcomes: Iterable[Outcome], now: float, policy: Policy) -> Step:
    """The entry after an attempt with these outcomes (at most one per recipient: a later one
    for the same address wins), at time `now`."""
    by_address = {o.address: o for o in outcomes}
    left: list[Recipient] = []
    delivered: list[str] = []
    failed: list[Report] = []
    for r in entry.recipients:
        o = by_address.get(r.address)
        if isinstance(o, Delivered):
            delivered.append(r.address)
        elif isinstance(o, Failed):
            failed.append(Report(r.address, o.status, o.error, o.remote))
        elif isinstance(o, Deferred):
            left.append(replace(r, status=o.status, error=o.error, remote=o.remote))
        else:
            left.append(r)
    attempts = entry.attempts + 1
    waited = now - entry.arrival
    if left and waited >= policy.give_up:
        days = policy.give_up / 86400
        for r in left:
            why = f"gave up after {days:g} days in the queue: {r.error or 'never tried'}"
            failed.append(_report(r, "5.4.7", why))
        left = []
    notices: list[Notice] = []
    bounce_ok = entry.sender != ""
    if failed and bounce_ok:
        notices.append(Notice("failed", tuple(failed)))
    warned = entry.warned
    if (
        left
        and bounce_ok
        and not warned
        and policy.warn_after is not None
        and waited >= policy.warn_after
    ):
        notices.append(
            Notice(
                "delayed",
                tuple(_report(r, r.status or "4.0.0", r.error or "not yet tried") for r in left),
            )
        )
        warned = True
    kept = None
    if left:
        due = min(now + backoff(policy, attempts), entry.arrival + policy.give_up)
        kept = replace(
            entry, recipients=tuple(left), attempts=attempts, next_attempt=due, warned=warned
        )
    return Step(kept, tuple(notices), tuple(delivered), tuple(failed))


# -- the spool file ---------------------------------------------------------------------------


def to_json(entry: Entry) -> bytes:
    """The entry as the spool keeps it (one JSON object, UTF-8)."""
    return json.dumps(
        {
            "format": FORMAT,
            "id": entry.id,
            "sender": entry.sender,
            "arrival": entry.arrival,
            "next_attempt": entry.next_attempt,
            "attempts": entry.attempts,
            "warned": entry.warned,
            "recipients": [
                {"address": r.address, "status": r.status, "error": r.error, "remote": r.remote}
                for r in entry.recipients
            ],
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode("utf-8")


def _get(obj: dict[str, Any], key: str, *kinds: type) -> Any:
    """obj[key] when its type is one of `kinds` (exactly: a JSON true is not a number)."""
    value = obj.get(key)
    if type(value) not in kinds:
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise QueueError(f"spool entry: {key} is missing or not a {names}")
    if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_TEXT:
        raise QueueError(f"spool entry: {key} is longer than {MAX_TEXT} octets")
    return value


def from_json(data: bytes) -> Entry:
    """Read a spool entry; QueueError unless it is one of this version, every field in place."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise QueueError(f"spool entry: not JSON ({e})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise QueueError(f"spool entry: not an entry of format {FORMAT}")
    raw = _get(obj, "recipients", list)
    if not 1 <= len(raw) <= MAX_RECIPIENTS:
        raise QueueError(f"spool entry: 1 to {MAX_RECIPIENTS} recipients, not {len(raw)}")
    recipients = []
    for item in raw:
        if not isinstance(item, dict):
            raise QueueError("spool entry: a recipient is not an object")
        none = type(None)
        recipients.append(
            Recipient(
                address=_get(item, "address", str),
                status=_get(item, "status", str, none),
                error=_get(item, "error", str, none),
                remote=_get(item, "remote", str, none),
            )
        )
    entry = Entry(
        id=_get(obj, "id", str),
        sender=_get(obj, "sender", str),
        arrival=float(_get(obj, "arrival", int, float)),
        recipients=tuple(recipients),
        next_attempt=float(_get(obj, "next_attempt", int, float)),
        attempts=_get(obj, "attempts", int),
        warned=_get(obj, "warned", bool),
    )
    if not entry.id or not entry.id.isalnum() or not entry.id.isascii():
        raise QueueError(f"spool entry: bad id {entry.id!r}")
    if entry.attempts < 0:
        raise QueueError("spool entry: a negative number of attempts")
    if not (math.isfinite(entry.arrival) and math.isfinite(entry.next_attempt)):
        raise QueueError("spool entry: a time that is not a finite number")
    return entry
