"""Several processes serving IMAP and POP3: `workers = N` in the config (mailserver/config.py).

One CPython process runs Python code on one core at a time (the GIL), and an IMAP server is
mostly Python code: bench.mail_imap's 50-session mix took 10.5 s in one process and 5.4 s in
two on a 2-core machine (2026-12-02). Dovecot runs a process per session for the same reason.

- The first process (`mailserver serve`) does all it does alone (SMTP, submission, the outbound
  queue, the control endpoint, the store's reconcile at start) and listens for IMAP and POP3
  with SO_REUSEPORT. It then starts N-1 more (`mailserver serve --worker K ...`, the same
  config), which listen on the same addresses and ports for IMAP and POP3 only; the kernel
  spreads new connections among the N.
- A change to a mailbox (a delivery, an APPEND, a flag, an expunge) is told to the other
  processes, so that an IDLE or NOTIFY session in another one hears of it at once: a datagram
  on a socket pair between each worker and the first process, which passes it on. A lost
  notice costs at most the IDLE poll interval (the store is the truth).
- Each worker sends the first process its counters every second, and `stats` (what
  `minternet status` shows) adds them up, with a line per process.
- The first process starts a worker that died again (at most once every RESTART_AFTER
  seconds), kills one that has not reported for HANG_AFTER seconds (stopped or stuck, it would
  keep getting its share of new connections), and stops them all when it stops; a worker
  whose first process is gone stops.
- Limits: `limits.max_connections` is divided among the processes; the per-user session
  limit and the budget of failed logins per address are each process's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: The listener kinds every process serves; the rest are the first process's alone.
SHARED = ("imap", "imaps", "pop3", "pop3s")
REPORT_EVERY = 1.0  # seconds between a worker's counters
REPORT_STALE = 5.0  # a report older than this is left out of `stats` (its worker is gone)
RESTART_AFTER = 5.0  # seconds between two starts of one worker
HANG_AFTER = 30.0  # a running worker silent this long (no report) is killed and started again
STOP_WAIT = 15.0  # seconds a worker has to stop before it is killed
READY_WAIT = 60.0  # seconds the first process waits for its workers to listen
MAX_DATAGRAM = 60_000
_NOTICE, _STATS, READY = b"N", b"S", b"R"


# --- the datagrams (sans-I/O) -------------------------------------------------------------


def notice(address: str, mailbox: str) -> bytes:
    """The datagram that tells of a change to `mailbox` of `address`."""
    return _NOTICE + address.encode() + b"\0" + mailbox.encode()


def report(stats: Mapping[str, object]) -> bytes:
    """The datagram of a worker's counters; without the sessions by user when that is too big
    for one datagram."""
    data = _STATS + json.dumps(stats, separators=(",", ":")).encode()
    if len(data) > MAX_DATAGRAM:
        return report({**stats, "sessions_by_user": {}})
    return data


@dataclass(frozen=True, slots=True)
class Notice:
    address: str
    mailbox: str


def read(datagram: bytes) -> Notice | dict[str, object] | bytes | None:
    """A Notice, a report's counters, READY (a worker listens), or None for anything else
    (logged by the caller)."""
    kind, body = datagram[:1], datagram[1:]
    if datagram == READY:
        return READY
    try:
        if kind == _NOTICE:
            address, sep, mailbox = body.decode().partition("\0")
            return Notice(address, mailbox) if sep and address and mailbox else None
        if kind == _STATS:
            value = json.loads(body)
            return value if isinstance(value, dict) else None
    except (UnicodeDecodeError, ValueError):
        return None
    return None


def _add(total: dict[str, object], more: Mapping[str, object]) -> None:
    for key, value in more.items():
        if isinstance(value, int) and not isinstance(value, bool):
            before = total.get(key, 0)
            total[key] = (before if isinstance(before, int) else 0) + value


def combine(
    own: dict[str, object], reports: Mapping[int, Mapping[str, object]]
) -> dict[str, object]:
    """The first process's `stats` with its workers' reports (by worker number) added in:
    every count summed (counters, logins by protocol, sessions by user, connections by
    listener), the number of processes among the counters, and a `workers` line per process
    (0 is the first) with its connections and sessions."""
    out: dict[str, object] = {key: dict(value) if isinstance(value, dict) else value
                              for key, value in own.items()}  # fmt: skip
    lines = [_line(0, os.getpid(), own)]
    for n, other in sorted(reports.items()):
        for key in ("stats", "logins_by_protocol", "sessions_by_user", "listeners"):
            part, mine = other.get(key), out.get(key)
            if isinstance(part, dict) and isinstance(mine, dict):
                _add(mine, part)
        pid = other.get("pid")
        lines.append(_line(n, pid if isinstance(pid, int) else 0, other))
    out["workers"] = lines
    counts = out.get("stats")
    if isinstance(counts, dict):
        counts["processes"] = len(lines)  # (those that reported lately)
    return out


def _line(n: int, pid: int, stats: Mapping[str, object]) -> dict[str, object]:
    counts = stats.get("stats")
    counts = counts if isinstance(counts, dict) else {}
    return {
        "worker": n,
        "pid": pid,
        "connections": counts.get("connections", 0),
        "sessions": counts.get("sessions", 0),
    }


# --- the socket pairs ---------------------------------------------------------------------


class Channel:
    """One end of a datagram socket pair on the event loop: each datagram that comes goes to
    `received`; `send` drops a datagram the other end has no room for (notices are hints,
    reports come again)."""

    def __init__(self, sock: socket.socket, received: Callable[[bytes], None]) -> None:
        self.sock = sock
        self.received = received
        self.dropped = 0
        sock.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError:  # full (BlockingIOError), or the other end is gone
            self.dropped += 1

    def _readable(self) -> None:
        for _ in range(64):  # then let the loop run other work
            try:
                data = self.sock.recv(MAX_DATAGRAM + 1024)
            except BlockingIOError:
                return
            except OSError:
                self.close()
                return
            self.received(data)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()


# --- the first process's side -------------------------------------------------------------

#: (worker number, its end of the socket pair, the shared ports) -> its argv
Command = Callable[[int, int, Mapping[str, int]], list[str]]


class _Worker:
    __slots__ = ("channel", "n", "proc", "ready", "report", "reported", "started")

    def __init__(self, n: int) -> None:
        self.n = n
        self.ready = asyncio.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.started = 0.0
        self.report: Mapping[str, object] | None = None
        self.reported = 0.0


class Workers:
    """The first process's workers: starts them, passes notices among all processes, keeps
    their latest reports, starts a dead one again, stops them."""

    def __init__(
        self,
        count: int,
        command: Command,
        ports: Mapping[str, int],
        here: Callable[[str, str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = command
        self.ports = dict(ports)
        self.here = here  # a notice from a worker, for this process's waiters
        self.clock = clock
        self.workers = [_Worker(n) for n in range(1, count)]
        self.restarts = 0
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start every worker and wait until each listens or exits (READY_WAIT at most: one
        that does not listen is logged, and started again if it exits; the others serve)."""
        for w in self.workers:
            self._spawn(w)
        self._watch = asyncio.ensure_future(self._watching())
        deadline = time.monotonic() + READY_WAIT
        while time.monotonic() < deadline and not all(
            w.ready.is_set() or (w.proc is not None and w.proc.poll() is not None)
            for w in self.workers
        ):
            await asyncio.sleep(0.02)
        late = [w.n for w in self.workers if not w.ready.is_set()]
        if late:
            log.error("workers %s did not start listening", late)

    def _spawn(self, w: _Worker) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            argv = self.command(w.n, theirs.fileno(), self.ports)
            w.proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(),))
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        w.channel = Channel(mine, functools.partial(self._received, w))
        w.started = self.clock()
        w.report = None
        w.ready.clear()
        log.info("worker %d started (pid %d)", w.n, w.proc.pid)

    def _received(self, w: _Worker, data: bytes) -> None:
        got = read(data)
        if isinstance(got, Notice):
            self.here(got.address, got.mailbox)
            self._send(data, but=w)
        elif isinstance(got, dict):
            w.report, w.reported = got, self.clock()
        elif got == READY:
            w.ready.set()
        else:
            log.warning("worker %d sent an unreadable datagram of %d octets", w.n, len(data))

    def notify(self, address: str, mailbox: str) -> None:
        """A change in this process: tell every worker."""
        self._send(notice(address, mailbox))

    def _send(self, data: bytes, but: _Worker | None = None) -> None:
        for w in self.workers:
            if w is not but and w.channel is not None:
                w.channel.send(data)

    def reports(self) -> dict[int, Mapping[str, object]]:
        """The latest report of each worker that reported lately, by its number."""
        now = self.clock()
        return {
            w.n: w.report
            for w in self.workers
            if w.report is not None and now - w.reported <= REPORT_STALE
        }

    async def _watching(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.5)
            for w in self.workers:
                if self._stopping or w.proc is None:
                    continue
                if w.proc.poll() is None:
                    silent = self.clock() - max(w.started, w.reported)
                    if silent > HANG_AFTER:  # stopped or stuck: it would keep its connections
                        log.error("worker %d (pid %d) has not reported for %.0f s: killed",
                                  w.n, w.proc.pid, silent)  # fmt: skip
                        w.proc.kill()
                    continue
                if self.clock() - w.started < RESTART_AFTER:
                    continue
                log.error("worker %d (pid %d) exited with status %s; starting it again",
                          w.n, w.proc.pid, w.proc.returncode)  # fmt: skip
                if w.channel is not None:
                    w.channel.close()
                self.restarts += 1
                try:
                    self._spawn(w)
                except OSError as e:
                    log.error("worker %d could not start again: %s", w.n, e)
                    w.started = self.clock()

    async def stop(self) -> None:
        """SIGTERM to every worker, SIGKILL to one not gone within STOP_WAIT seconds."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while any(p.poll() is None for p in running) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for proc in running:
            if proc.poll() is None:
                log.warning("worker pid %d did not stop in %.0f s: killed", proc.pid, STOP_WAIT)
                proc.kill()
                proc.wait()
        for w in self.workers:
            if w.channel is not None:
                w.channel.close()


# --- a worker's side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Role:
    """What a worker is told by the first process: its number, its end of the socket pair,
    the ports of the shared listeners, and the first process's pid."""

    n: int
    fd: int
    ports: Mapping[str, int]
    parent: int


def parse_ports(text: str) -> dict[str, int]:
    """'imap=10143,pop3=10110' (the --worker-ports option) -> {'imap': 10143, 'pop3': 10110}."""
    ports: dict[str, int] = {}
    for item in text.split(","):
        kind, sep, port = item.partition("=")
        if not sep or kind not in SHARED or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad --worker-ports item {item!r}")
        ports[kind] = int(port)
    return ports


def format_ports(ports: Mapping[str, int]) -> str:
    return ",".join(f"{kind}={port}" for kind, port in ports.items())


class Upstream:
    """A worker's link to the first process, made once the worker listens (it says READY):
    notices both ways, its report every second; it stops the worker (SIGTERM to itself) once
    the first process is gone."""

    def __init__(
        self,
        role: Role,
        here: Callable[[str, str], None],
        stats: Callable[[], dict[str, object]],
    ) -> None:
        self.here = here
        self.stats = stats
        self.parent = role.parent
        self.channel = Channel(socket.socket(fileno=role.fd), self._received)
        self.channel.send(READY)
        self._task = asyncio.ensure_future(self._reporting())

    def _received(self, data: bytes) -> None:
        got = read(data)
        if isinstance(got, Notice):
            self.here(got.address, got.mailbox)
        else:
            log.warning("unreadable datagram of %d octets from the first process", len(data))

    def notify(self, address: str, mailbox: str) -> None:
        self.channel.send(notice(address, mailbox))

    async def _reporting(self) -> None:
        while True:
            if os.getppid() != self.parent:
                log.error("the first process (pid %d) is gone: stopping", self.parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.channel.send(report({**self.stats(), "pid": os.getpid()}))
            await asyncio.sleep(REPORT_EVERY)

    def close(self) -> None:
        self._task.cancel()
        self.channel.close()
