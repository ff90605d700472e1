"""A per-connection deadline whose length depends on the session's state (login_timeout before
login, the protocol's idle timeout after), for the IMAP and POP3 shells.

The stream listener's own sweep has one idle timeout per listener; a mail session needs a
shorter one before login than after. One timer per connection, re-armed lazily: activity only
moves `last`, and when the timer fires it checks the deadline again and sleeps on if it moved,
so a busy connection costs no timer churn. The listener's sweep stays as the backstop (set to
the longest of the timeouts) and still aborts peers that do not read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadline:
    """Calls `expired()` once no activity came for `timeout()` seconds (`busy()`: not now)."""

    def __init__(
        self,
        timeout: Callable[[], float],
        expired: Callable[[], None],
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self._expired = expired
        self._busy = busy
        self.last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0
        self._arm(self.last + timeout())

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = at
        self._handle = self._loop.call_at(at, self._check)

    def touch(self) -> None:
        """Activity: the deadline starts again from now (and comes sooner if the state's
        timeout got shorter, as after a login)."""
        self.last = self._loop.time()
        due = self.last + self._timeout()
        if self._handle is not None and due < self._at:
            self._arm(due)

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        due = self.last + self._timeout()
        if now < due or self._busy():
            self._arm(max(due, now + min(1.0, self._timeout())))
            return
        self._expired()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
