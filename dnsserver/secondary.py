"""A secondary zone's timers (RFC 1034 §4.3.5, RFC 1996), sans-I/O: when to ask the primary,
when to transfer, and when the copy is too old to serve.

- Every REFRESH seconds the secondary asks the primary for the zone's SOA; a serial after ours
  (RFC 1982) means a transfer. A NOTIFY from the primary makes the check due at once.
- A check or transfer that fails is tried again every RETRY seconds.
- EXPIRE seconds after the last successful check the copy is no longer served (SERVFAIL):
  better no answer than one that may be long out of date. A secondary without a copy (never
  transferred) serves nothing either, and asks every RETRY seconds.
- A primary whose serial is before ours (RFC 1982) is not followed: its data would go back in
  time. The check counts as failed and says so.

The timers come from the SOA of the copy; before there is one, `Timers()` (the first attempt at
once, then every 10 s, no expiry to wait for).
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsserver.update import serial_after

MIN_RETRY = 1.0  # seconds: however small the SOA's RETRY, do not hammer the primary


@dataclass(frozen=True, slots=True)
class Timers:
    """From the SOA: REFRESH, RETRY and EXPIRE, in seconds."""

    refresh: float = 3600.0
    retry: float = 10.0
    expire: float = 1209600.0


@dataclass(frozen=True, slots=True)
class Check:
    """What the primary's SOA means: transfer or not, and why (for the log)."""

    transfer: bool
    why: str


class SecondaryTimers:
    """The state of one secondary zone. `serial` None: no copy yet."""

    def __init__(
        self, now: float, serial: int | None, timers: Timers, last_ok: float | None
    ) -> None:
        self.serial = serial
        self.timers = timers
        self.last_ok = last_ok  # when the primary last answered a check (or the copy was made)
        self.next_check = now  # the first check is at once

    def due(self, now: float) -> bool:
        return now >= self.next_check

    def wait(self, now: float) -> float:
        """Seconds until the next check (0 when due)."""
        return max(0.0, self.next_check - now)

    def notified(self, now: float) -> None:
        """A NOTIFY from the primary: check now."""
        self.next_check = now

    def checked(self, now: float, primary_serial: int) -> Check:
        """The primary answered the SOA query with `primary_serial`."""
        if self.serial is None:
            return Check(True, f"no copy yet: transfer serial {primary_serial}")
        if serial_after(primary_serial, self.serial):
            return Check(True, f"serial {primary_serial} is after ours ({self.serial})")
        if primary_serial == self.serial:
            self.last_ok = now
            self.next_check = now + self.timers.refresh
            return Check(False, f"serial {primary_serial} is ours: up to date")
        self.failed(now)
        return Check(False, f"the primary's serial {primary_serial} is before ours "
                     f"({self.serial}): not followed")  # fmt: skip

    def transferred(self, now: float, serial: int, timers: Timers) -> None:
        self.serial = serial
        self.timers = timers
        self.last_ok = now
        self.next_check = now + timers.refresh

    def failed(self, now: float) -> None:
        self.next_check = now + max(MIN_RETRY, self.timers.retry)

    def expires_at(self) -> float | None:
        """When the copy expires if no check succeeds before (None: no copy)."""
        if self.serial is None or self.last_ok is None:
            return None
        return self.last_ok + self.timers.expire

    def expired(self, now: float) -> bool:
        """The copy must not be served: none, or no successful check for EXPIRE seconds."""
        if self.serial is None or self.last_ok is None:
            return True
        return now - self.last_ok >= self.timers.expire
