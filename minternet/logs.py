"""Logging setup shared by every daemon: one readable line per event, plus a per-kind rate limit."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable

from minternet.bounded import BoundedMap

#: When, which service, how bad, what: the service name is the line's, so no message repeats it,
#: and the Python module a line comes from is shown only at DEBUG (it helps developers only).
FORMAT = "%(asctime)s.%(msecs)03d %(service)s %(levelname)s %(message)s"
DEBUG_FORMAT = "%(asctime)s.%(msecs)03d %(service)s %(levelname)s %(message)s  [%(name)s]"
DATEFMT = "%Y-%m-%d %H:%M:%S"
#: An ERROR or CRITICAL line of FORMAT; group 1 is the message.
_ERROR_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+ (?:ERROR|CRITICAL) (.*?)(?:  \[[\w.]+\])?"
)


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level_arg(text: str) -> str:
    """argparse `type=` for --log-level: a clear usage error instead of a traceback from setup."""
    level = text.upper()
    if level not in LEVELS:
        raise argparse.ArgumentTypeError(
            f"invalid log level {text!r} (choose from {', '.join(LEVELS)})"
        )
    return level


def setup(service: str, level: str | int = "INFO", stream: object = None) -> None:
    """Send the root logger to `stream` (stderr by default), the service name on each line."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    debug = level in ("DEBUG", logging.DEBUG)
    handler.setFormatter(logging.Formatter(DEBUG_FORMAT if debug else FORMAT, DATEFMT))
    handler.addFilter(_ServiceFilter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def format_line(service: str, logger: str, level: int, message: str) -> str:
    """One line in the daemons' format, for a line written into a daemon's log from outside."""
    record = logging.LogRecord(logger, level, "", 0, message, None, None)
    record.service = service
    return logging.Formatter(FORMAT, DATEFMT).format(record)


def last_error(lines: Iterable[str]) -> str | None:
    """The message of the last ERROR or CRITICAL line of a daemon's log, if any."""
    found = None
    for line in lines:
        m = _ERROR_LINE.fullmatch(line.strip())
        if m:
            found = m.group(1)
    return found


class Throttle:
    """Allows one log line per kind of event per `interval` seconds; counts what it suppressed.

    Used for faults a flood can trigger (malformed packets, rate-limited clients), so that the
    log stays readable: the next line that gets through says how many were suppressed.
    """

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        # kinds are a small fixed set (the resolver's `problem` texts among them): bounded anyway
        self._last: BoundedMap[str, float] = BoundedMap(1024)
        self._suppressed: dict[str, int] = {}

    def __call__(self, log: logging.Logger, kind: str, msg: str, *args: object) -> None:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last.put(kind, now)
        n = self._suppressed.pop(kind, 0)
        if n:
            msg += f" (and {n} more like it suppressed)"
        log.warning(msg, *args)
