"""Dynamic zones of the authoritative server: UPDATE in, journal on disk, zone swapped.

Updates are applied one at a time, in the order they arrive (RFC 2136 §3.7: an update is atomic,
and serialised with every other): by one task, or, when that task is idle and the disk fast, the
updates of a batch of datagrams right in the UDP reader's callback (`flush`). A batch of those
waiting is applied to the zones in memory, their journal entries are appended and fsynced
together (one fsync per batch: on the event loop while the disk answers in under 2 ms, else in a
worker thread, so a slow disk never holds the queries up), and only then is the new zone served
and NOERROR sent: an acknowledged update is on disk. A second after the last change the zone is
compacted: written to its file (temporary file, fsync, rename, fsync of the directory), so the
file is a valid zone at every instant.

At most MAX_QUEUED updates wait; more are REFUSED at once, with a log line (a flood of
updates costs a bounded queue and one fsync per batch, never memory without end).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.name
import dns.rcode
import dns.tsig

from dnsserver import dynamic, journal
from dnsserver.errors import NOERROR, REFUSED, SERVFAIL, ZoneError
from dnsserver.masterfile import name_text, read, record_text
from dnsserver.problems import Problems
from dnsserver.update import Content, apply_update, content
from dnsserver.wire import Name, header_only
from dnsserver.zone import Zone, zone_name
from dnsserver.zoneset import ZoneSet
from minternet.durable import fsync_dir, write_atomically
from minternet.logs import Throttle

log = logging.getLogger("dnsserver.update")

MAX_QUEUED = 512
BATCH = 64  # updates applied together, with one fsync
COMPACT_DELAY = 1.0  # seconds after the last change
INLINE_FSYNC = 0.002  # seconds: a journal fsync faster than this is done on the event loop


@dataclass(slots=True)
class DynamicZone:
    """One zone we update: its records, its files, and its journal's entries (IXFR)."""

    origin: Name
    path: Path
    allowed: frozenset[str]
    content: Content
    zone: Zone
    entries: list[journal.Entry] = field(default_factory=list)
    stamp: tuple[int, int] | None = None  # the zone file's (mtime_ns, size) as we last saw it
    dirty: bool = False  # changes not yet compacted into the zone file
    journal_fd: int | None = None  # the journal, open for appending (closed when replaced)

    def close_journal(self) -> None:
        if self.journal_fd is not None:
            os.close(self.journal_fd)
            self.journal_fd = None

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".jnl")

    @property
    def name(self) -> str:
        return zone_name(self.content.origin_labels)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def load_dynamic(path: Path, zone: Zone, allowed: frozenset[str]) -> DynamicZone:
    """A dynamic zone from its file (already loaded and checked as `zone`) and its journal:
    the entries that follow from the file's serial are replayed; a torn last entry is cut off
    the journal (it was never acknowledged)."""
    problems = Problems()
    stamp = _stamp(path)
    records = list(read(str(path), zone.origin, problems, origin=zone.origin_label.label))
    if problems.errors:
        raise ZoneError(str(problems.errors[0]), tuple(problems.items))
    data = content(zone.origin_label.label, records)
    dz = DynamicZone(zone.origin, path, allowed, data, zone, stamp=stamp)
    try:
        raw = dz.journal_path.read_bytes()
    except FileNotFoundError:
        return dz
    got = journal.read(raw, zone.origin)
    if got.problem is not None:
        log.warning("zone %s: journal %s: %s; cut off after %d good entries",
                    dz.name, dz.journal_path, got.problem, len(got.entries))  # fmt: skip
        with open(dz.journal_path, "r+b") as f:
            f.truncate(got.good_length)
            os.fsync(f.fileno())
    dz.entries = list(got.entries)
    replayed = journal.replay(data, got.entries)
    if replayed.warning is not None:
        log.warning("zone %s: %s", dz.name, replayed.warning)
    if replayed.applied:
        dz.content = replayed.content
        dz.zone = replayed.content.zone(str(path))
        dz.dirty = True
        log.info("zone %s: %d journal entries replayed: serial %d",
                 dz.name, replayed.applied, dz.content.serial)  # fmt: skip
    return dz


@dataclass(slots=True)
class _Applied:
    """A batch applied in memory: the zones before it, its journal entries by zone, its
    answers and its log lines."""

    before: dict[Name, tuple[Content, Zone]]
    staged: dict[Name, list[journal.Entry]] = field(default_factory=dict)
    answers: list[tuple[_Job, bytes]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    data: bytes
    peer: str
    reply: Callable[[bytes], None]


class Updater:
    """Every dynamic zone of one server. `policy`: zone name -> key names allowed to update."""

    def __init__(
        self,
        keyring: Mapping[dns.name.Name, dns.tsig.Key],
        policy: Mapping[str, Iterable[str]],
        swap: Callable[[Iterable[Zone]], None],
        throttle: Throttle,
    ) -> None:
        self.keyring = dict(keyring)
        self.policy = {
            tuple(dns.name.from_text(z).canonicalize().labels[:-1]): frozenset(
                dns.name.from_text(k).to_text().lower() for k in keys
            )
            for z, keys in policy.items()
        }
        self.swap = swap  # serve these zones in place of the ones of the same origin
        self.throttle = throttle
        self.zones: dict[Name, DynamicZone] = {}
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(MAX_QUEUED)
        self.lock = asyncio.Lock()  # held while zones change (updates, reload, compaction)
        self.updates = 0  # applied, for the stats
        self.last_fsync = 0.0  # seconds the last batch's write and fsync took
        self._worker: asyncio.Task[None] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._kick: asyncio.Future[None] | None = None  # the idle worker waits on it

    def load(self, zones: ZoneSet) -> list[Zone]:
        """Take up the dynamic zones of a freshly loaded zone set (start, reload). A zone whose
        file has not changed since we last saw it keeps its state, journal included; one whose
        file changed (a hand edit) is read again, with the journal entries that follow from
        its serial. The zones to serve in place of the loaded ones."""
        out: list[Zone] = []
        for origin, allowed in self.policy.items():
            zone = zones.by_origin.get(origin)
            if zone is None:
                raise ZoneError(f"allow_update names {name_text(origin)}, which is not served")
            path = Path(zone.path)
            known = self.zones.get(origin)
            if known is not None and known.path == path and known.stamp == _stamp(path):
                known.allowed = allowed
                out.append(known.zone)
                continue
            dz = load_dynamic(path, zone, allowed)
            if known is not None:
                known.close_journal()  # (replaced: the file was edited by hand)
            self.zones[origin] = dz
            out.append(dz.zone)
        return out

    def allowed(self, zone: Name) -> frozenset[str] | None:
        dz = self.zones.get(zone)
        return None if dz is None else dz.allowed

    def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="updates")
        self._compactor = asyncio.create_task(self._compacting(), name="compaction")

    def submit(
        self, data: bytes, peer: str, reply: Callable[[bytes], None], *, later: bool = False
    ) -> None:
        """An UPDATE arrived: queue it, or refuse it when the queue is full. With `later`, the
        caller calls `flush` once it has handed over every update of its batch (UDP)."""
        try:
            self.queue.put_nowait(_Job(data, peer, reply))
        except asyncio.QueueFull:
            self.throttle(log, "update-flood", "update from %s refused: %d updates waiting",
                          peer, self.queue.maxsize)  # fmt: skip
            reply(header_only(data, REFUSED))
            return
        if not later:
            self._wake_worker()

    def flush(self) -> None:
        """The end of a batch of datagrams: the updates in it are applied here and now when the
        worker is idle, nothing holds the zones and the disk is fast (handing them to the
        worker cost a task switch and a turn of the loop, a tenth of an update's time);
        else the worker takes them."""
        if self.queue.empty():
            return
        if self._kick is not None and not self.lock.locked() and self.last_fsync < INLINE_FSYNC:
            jobs = self._take()
            try:
                self._batch_now(jobs)
            except Exception:  # a bug costs this batch's answers, never the server
                self._failed(jobs)
        if not self.queue.empty():
            self._wake_worker()

    def _wake_worker(self) -> None:
        if self._kick is not None and not self._kick.done():
            self._kick.set_result(None)

    def _take(self) -> list[_Job]:
        jobs: list[_Job] = []
        while not self.queue.empty() and len(jobs) < BATCH:
            jobs.append(self.queue.get_nowait())
        return jobs

    def _failed(self, jobs: list[_Job]) -> None:
        log.exception("internal error applying %d updates", len(jobs))
        for job in jobs:
            job.reply(header_only(job.data, SERVFAIL))

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self.queue.empty():  # idle: wait for a submit or a flush to kick us
                self._kick = loop.create_future()
                try:
                    await self._kick
                finally:
                    self._kick = None
                continue
            jobs = self._take()
            try:
                async with self.lock:
                    await self._batch(jobs)
            except Exception:  # a bug costs this batch's answers, never the server
                self._failed(jobs)

    async def _batch(self, jobs: list[_Job]) -> None:
        done = self._apply(jobs)
        error = None
        if done.staged:
            try:
                await self._durable(done.staged)
            except OSError as e:
                error = e
        self._settle(done, error)

    def _batch_now(self, jobs: list[_Job]) -> None:
        """`_batch` without leaving the caller's callback: the journal written here."""
        done = self._apply(jobs)
        error = None
        if done.staged:
            try:
                self._append_timed(done.staged)
            except OSError as e:
                error = e
        self._settle(done, error)

    def _apply(self, jobs: list[_Job]) -> _Applied:
        """Read and apply each update to the zones in memory; the answers wait for `_settle`."""
        done = _Applied({origin: (dz.content, dz.zone) for origin, dz in self.zones.items()})
        for job in jobs:
            got = dynamic.read_update(job.data, self.keyring, self.allowed)
            if isinstance(got, dynamic.Reply):
                self.throttle(log, "update-refused", "update from %s%s: %s", job.peer,
                              f" (key {got.key})" if got.key else "", got.why)  # fmt: skip
                if got.wire is not None:
                    done.answers.append((job, got.wire))
                continue
            dz = self.zones[got.zone]
            outcome = apply_update(
                dz.content, got.prerequisites, got.updates, str(dz.path), dz.zone
            )
            who = f"update from {job.peer} (key {got.key}) to {dz.name}"
            for note in outcome.notes:
                done.lines.append(f"{who}: {note}")
            if outcome.rcode != NOERROR:
                done.lines.append(f"{who}: {_rcode(outcome.rcode)}: {outcome.why}")
            elif outcome.content is not None and outcome.zone is not None:
                entry = journal.entry_of(outcome.removed, outcome.added)
                done.staged.setdefault(got.zone, []).append(entry)
                dz.content, dz.zone = outcome.content, outcome.zone
                if log.isEnabledFor(logging.INFO):  # (the summary writes records as text)
                    done.lines.append(
                        f"{who}: serial {entry.start} -> {entry.end}: {_summary(entry)}"
                    )
            else:
                done.lines.append(f"{who}: nothing to change")
            done.answers.append((job, dynamic.answer(got, outcome.rcode)))
        return done

    def _settle(self, done: _Applied, error: OSError | None) -> None:
        """The journal is written (or `error` said why not): serve the new zones and answer,
        or put the old zones back and answer SERVFAIL."""
        if error is not None:
            log.error("cannot write the journal: %s; %d updates not applied", error,
                      sum(len(v) for v in done.staged.values()))  # fmt: skip
            for origin, (old_content, old_zone) in done.before.items():
                self.zones[origin].content, self.zones[origin].zone = old_content, old_zone
            for job, _ in done.answers:
                job.reply(header_only(job.data, SERVFAIL))
            return
        if done.staged:
            for origin, entries in done.staged.items():
                dz = self.zones[origin]
                dz.entries.extend(entries)
                dz.dirty = True
                self.updates += len(entries)
            self.swap([self.zones[origin].zone for origin in done.staged])
            self._wake.set()
        for line in done.lines:
            log.info("%s", line)
        for job, wire in done.answers:
            job.reply(wire)

    async def _durable(self, staged: Mapping[Name, list[journal.Entry]]) -> None:
        """Append the batch's entries and fsync them: here, at once, while the disk is fast
        (the last fsync took under INLINE_FSYNC: the loop waits less than a handoff to a worker
        thread and back would cost, which was a third of an update's time), else in a worker
        thread, so that a slow disk never stalls the queries."""
        if self.last_fsync < INLINE_FSYNC:
            self._append_timed(staged)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        await loop.run_in_executor(None, self._append, staged)
        self.last_fsync = loop.time() - started

    def _append_timed(self, staged: Mapping[Name, list[journal.Entry]]) -> None:
        started = time.perf_counter()
        self._append(staged)
        self.last_fsync = time.perf_counter() - started

    def _append(self, staged: Mapping[Name, list[journal.Entry]]) -> None:
        """Append and fsync every zone's new entries (on the loop, or in a worker thread)."""
        for origin, entries in staged.items():
            dz = self.zones[origin]
            if dz.journal_fd is None:  # opened once: an open and a close cost a third of an fsync
                created = not dz.journal_path.exists()
                dz.journal_fd = os.open(
                    dz.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
                if created:  # the new file's name must be durable too, once
                    fsync_dir(dz.journal_path.parent)
            data = b"".join(journal.encode(e) for e in entries)
            written = 0
            while written < len(data):
                written += os.write(dz.journal_fd, data[written:])
            os.fsync(dz.journal_fd)

    async def _compacting(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(COMPACT_DELAY)
            if self._wake.is_set():
                continue  # more changes came: wait for a quiet second
            await self.compact()

    async def compact(self) -> None:
        """Write every changed zone to its file (and trim long journals)."""
        async with self.lock:
            loop = asyncio.get_running_loop()
            for dz in self.zones.values():
                if not dz.dirty:
                    continue
                try:
                    await loop.run_in_executor(None, _write_zone, dz)
                except OSError as e:
                    log.error("zone %s: cannot write %s: %s (the journal keeps the updates)",
                              dz.name, dz.path, e)  # fmt: skip
                    continue
                dz.dirty = False
                dz.stamp = _stamp(dz.path)
                log.info("zone %s: written to %s at serial %d", dz.name, dz.path,
                         dz.content.serial)  # fmt: skip

    async def stop(self) -> None:
        for task in (self._worker, self._compactor):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._compactor = None
        await self.compact()
        for dz in self.zones.values():
            dz.close_journal()


def _write_zone(dz: DynamicZone) -> None:
    text = journal.zone_text(dz.content, "written by dnsserver from its dynamic updates")
    write_atomically(dz.path, text.encode(), 0o644)
    if len(dz.entries) > 2 * journal.KEEP:
        dz.entries = dz.entries[-journal.KEEP :]
        dz.close_journal()  # the next update appends to the new file
        data = b"".join(journal.encode(e) for e in dz.entries)
        write_atomically(dz.journal_path, data, 0o644)


def _rcode(rcode: int) -> str:
    return dns.rcode.to_text(dns.rcode.Rcode.make(rcode))


def _summary(entry: journal.Entry, most: int = 4) -> str:
    parts = [f"-{record_text(t)}" for t in entry.removed[1:]] + [
        f"+{record_text(t)}" for t in entry.added[1:]
    ]
    if not parts:
        return "SOA only"
    more = f" (and {len(parts) - most} more)" if len(parts) > most else ""
    return ", ".join(parts[:most]) + more
