"""`minternet experiment p2p`: the course notes' file-distribution experiment, on real sockets.

For each swarm size N, twice (client-server, then P2P), it starts our tracker, one seeder
capped at --server-up, and N downloaders capped at --peer-up and --peer-down (0 up in the
client-server case: only the server uploads), each a `peer` process of its own on an address
of its own (127.77.0.1 the tracker, 127.77.0.2 the seeder, 127.77.1.k the downloaders). The
downloaders start with `--hold`: each checks its (empty) data, listens and writes its ready
file, and waits. Once all are ready they are released together (SIGUSR1) and the clock starts;
it stops when the last downloader has verified the whole file: its `piece` event for the last
piece, not its `complete` event, which comes after the disk has flushed the file (fsync: the
disk's time, not the network's; where 12 peers that finished together each flush 16 MiB, a
slow disk orders their finishes by its queue, not by what tit-for-tat gave them). Start-up
time of the processes is not counted: the notes' model has hosts that are there, not hosts
being installed. Downloaders keep seeding until the run ends (the notes' altruistic peers),
except in the churn run.

Time is compressed: the notes' peers download for minutes, and rank their neighbours every
10 s with an optimistic unchoke every 30 s; a 16 MiB run here lasts 4 to 20 s, so with those
intervals a run would see one or two rounds and tit-for-tat would be decided by the first
round's draw (a free-rider that happened to win a seed's slot at the start kept it for the
whole run, and finished first). The experiment's peers use the same rules on a time scale
divided by 5: a round every 2 s, an optimistic unchoke every 6 s (--choke-interval and
--optimistic-interval; a `peer` run by hand keeps the notes' 10 s and 30 s).

Then, at the largest N, the runs that show the mechanisms: --free-riders K (K downloaders
upload nothing; tit-for-tat leaves them the optimistic unchokes and the seeder), --picker
random (every piece drawn at random; compared with the sweep's rarest-first run, and the
availability of the rarest piece over time plotted for both) and --churn (peers leave after
finishing or mid-download, newcomers join; all that stay must finish).

The bounds, table, files and targets are peer/distribution.py's (sans-I/O); this module runs
the processes and writes DIR/results.csv, results.json, plot.png, plot.svg, and, for the
largest N, availability.png and .svg and mechanisms.json.

CPU must never be the bottleneck: each run reads the CPU time of every process of the swarm
(/proc/PID/stat) at the start and the end of the measured interval and prints it as a share
of the machine's cores; a run that used more than CPU_WARN of them says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from peer.create import PieceHasher, build
from peer.distribution import (
    CLIENT_SERVER,
    P2P,
    ChurnPlan,
    Finish,
    Result,
    Verdict,
    check,
    churn_plan,
    client_server_bound,
    csv_lines,
    free_rider_medians,
    free_rider_progress,
    free_rider_verdict,
    p2p_bound,
    parse_rate,
    parse_sizes,
    rarest_availability,
    spread,
    table,
)
from peer.sizes import format_size, parse_size

TRACKER, SEEDER = "127.77.0.1", "127.77.0.2"
PIECE = 256 << 10  # the notes' 256 KiB chunks
READY_WAIT = 90.0  # seconds for a swarm's processes to be ready (34 Pythons on 2 cores)
CPU_WARN = 0.8  # share of all cores above which a run's time may be the CPU's, not the caps'
STOP_WAIT = 5.0  # seconds a process gets to leave after SIGTERM

T = TypeVar("T")


def downloader_host(k: int) -> str:
    """Downloader k's address (k from 0): 127.77.1.1, 127.77.1.2, ..., 127.77.2.1 after 250."""
    return f"127.77.{1 + k // 250}.{1 + k % 250}"


@dataclass
class Settings:
    sizes: list[int]
    file_size: int
    server_up: int
    peer_up: int
    peer_down: int
    out: Path
    free_riders: int = 0
    picker: str = "rarest"
    churn: bool = False
    choke_interval: float = 2.0
    optimistic_interval: float = 6.0
    seed: int = 1


def _option(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` as an argparse type: its ValueError's words reach the user."""

    def option(text: str) -> T:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    option.__name__ = parse.__name__
    return option


def add_arguments(p: argparse.ArgumentParser) -> None:
    sizes, rate = _option(parse_sizes), _option(parse_rate)
    p.add_argument(
        "--sizes",
        type=sizes,
        default=[1, 2, 4, 8, 16, 32],
        metavar="N,N,...",
        help="the numbers of downloaders (default 1,2,4,8,16,32)",
    )
    p.add_argument(
        "--file-size",
        type=_option(parse_size),
        default=16 << 20,
        metavar="SIZE",
        help="F, the file (default 16MiB)",
    )
    p.add_argument(
        "--server-up", type=rate, default=4 << 20, metavar="RATE", help="u_s (default 4MiB/s)"
    )
    p.add_argument(
        "--peer-up", type=rate, default=1 << 20, metavar="RATE", help="u_i (default 1MiB/s)"
    )
    p.add_argument(
        "--peer-down", type=rate, default=8 << 20, metavar="RATE", help="d_i (default 8MiB/s)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("p2p-results"),
        metavar="DIR",
        help="where the table and plots go (default ./p2p-results)",
    )
    p.add_argument(
        "--free-riders", type=int, default=0, metavar="K", help="a run with K that upload nothing"
    )
    p.add_argument(
        "--picker",
        choices=("rarest", "random"),
        default="rarest",
        help="random: also a run that picks pieces at random, compared with rarest first",
    )
    p.add_argument("--churn", action="store_true", help="also a run where peers come and go")
    p.add_argument(
        "--choke-interval",
        type=float,
        default=2.0,
        metavar="S",
        help="the peers' tit-for-tat rounds (default 2: the notes' 10 s, time scaled by 1/5)",
    )
    p.add_argument(
        "--optimistic-interval",
        type=float,
        default=6.0,
        metavar="S",
        help="the peers' optimistic unchokes (default 6: the notes' 30 s, scaled by 1/5)",
    )
    p.add_argument("--seed", type=int, default=1, help="of the file's bytes and the churn plan")


def settings(args: argparse.Namespace) -> Settings:
    biggest = max(args.sizes)
    if not 0 <= args.free_riders < biggest:
        raise ValueError(f"--free-riders must be 0 to {biggest - 1}: the run needs contributors")
    return Settings(
        sizes=args.sizes,
        file_size=args.file_size,
        server_up=args.server_up,
        peer_up=args.peer_up,
        peer_down=args.peer_down,
        out=args.out,
        free_riders=args.free_riders,
        picker=args.picker,
        churn=args.churn,
        choke_interval=args.choke_interval,
        optimistic_interval=args.optimistic_interval,
        seed=args.seed,
    )


class RunError(Exception):
    """A run that could not be carried out (a process that would not start, a swarm stuck)."""


@dataclass
class Member:
    """One process of a swarm and what its `--json` events told us."""

    name: str
    host: str
    free_rider: bool = False
    proc: asyncio.subprocess.Process | None = None
    ready_file: Path | None = None
    log: Path | None = None
    done_at: float | None = None  # wall time it had verified every piece (its last `piece`)
    gains: list[tuple[float, int]] = field(default_factory=list)  # (wall time, piece)
    left_at: float | None = None  # wall time it was made to leave
    reader: asyncio.Task[None] | None = None
    announced: asyncio.Event = field(default_factory=asyncio.Event)  # the tracker answered it

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


@dataclass
class Outcome:
    measured_s: float
    finishes: list[Finish]
    gains: list[tuple[float, str, int]]  # (seconds from the start, peer, piece)
    losses: list[tuple[float, str]]
    cpu: float | None  # share of all cores the swarm used while measured


class Line:
    """Progress on a terminal: one line redrawn in place; elsewhere, nothing."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out if out.isatty() else None

    def show(self, text: str) -> None:
        if self.out is not None:
            self.out.write("\r\x1b[K" + text)
            self.out.flush()

    def clear(self) -> None:
        self.show("")


def cpu_ticks(pids: Sequence[int]) -> dict[int, int]:
    """User and system CPU time of each of these processes still there, in clock ticks."""
    ticks = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after the command, which may hold spaces
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks


class Experiment:
    def __init__(self, s: Settings, work: Path, out: IO[str] = sys.stdout) -> None:
        self.s = s
        self.work = work
        self.out = out
        self.line = Line(out)
        self.data = work / "seed" / "experiment.bin"
        self.pieces = b""
        self.rng = random.Random(s.seed)
        self.runs = self.done_runs = 0  # how many runs the experiment makes, how many started

    def say(self, text: str) -> None:
        self.line.clear()
        print(text, file=self.out, flush=True)

    def prepare(self) -> None:
        """The file to distribute: F random bytes (from --seed), hashed once for every run."""
        self.data.parent.mkdir(parents=True)
        rng = random.Random(self.s.seed)
        hasher = PieceHasher(PIECE)
        with self.data.open("wb") as f:
            left = self.s.file_size
            while left:
                chunk = rng.randbytes(min(left, 1 << 20))
                f.write(chunk)
                hasher.feed(chunk)
                left -= len(chunk)
        self.pieces = hasher.pieces()

    # -- one swarm --------------------------------------------------------------------------

    async def _spawn(self, m: Member, args: list[str], run_dir: Path) -> None:
        m.ready_file = run_dir / f"{m.name}.ready"
        m.log = run_dir / f"{m.name}.log"
        with m.log.open("wb") as log:
            m.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                "--ready-file",
                str(m.ready_file),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        m.reader = asyncio.ensure_future(self._read(m))

    async def _read(self, m: Member) -> None:
        assert m.proc is not None and m.proc.stdout is not None
        async for raw in m.proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # (not one of its --json lines)
            if not isinstance(event, dict):
                continue
            if event.get("event") == "announce":
                m.announced.set()
            if event.get("event") == "piece":
                m.gains.append((float(event["time"]), int(event["piece"])))
                if event.get("have") == event.get("of") and m.done_at is None:
                    m.done_at = float(event["time"])  # (`complete` follows, after the fsync)

    async def _ready(self, members: Sequence[Member]) -> None:
        deadline = time.monotonic() + READY_WAIT
        for m in members:
            assert m.ready_file is not None and m.proc is not None
            while not m.ready_file.exists():
                if m.proc.returncode is not None:
                    raise RunError(f"{m.name} exited ({m.proc.returncode}): {self._tail(m)}")
                if time.monotonic() > deadline:
                    raise RunError(f"{m.name} not ready in {READY_WAIT:.0f} s: {self._tail(m)}")
                await asyncio.sleep(0.02)

    @staticmethod
    def _tail(m: Member, n: int = 1) -> str:
        """The last `n` lines `m` logged (each cut to 300 characters), joined by " | "."""
        try:
            lines = m.log.read_text(errors="replace").splitlines() if m.log else []
        except OSError:
            lines = []
        return " | ".join(line[:300] for line in lines[-n:]) or "(nothing logged)"

    @staticmethod
    def _stuck(
        label: str,
        limit: float,
        stuck: Sequence[Member],
        everyone: Sequence[Member],
        pieces: int,
    ) -> str:
        """Why a run stopped: who is not done, how far each got, and what every process of the
        run logged last (the run's directory is removed once it stops)."""
        lines = [f"{label}: {', '.join(m.name for m in stuck)} not finished after {limit:.0f} s"]
        for m in stuck:
            lines.append(f"  {m.name}: {len(m.gains)}/{pieces} pieces, alive: {m.alive}")
        for m in everyone:
            lines.append(f"  {m.name} last logged: {Experiment._tail(m, 3)}")
        return "\n".join(lines)

    async def _stop(self, members: Sequence[Member]) -> None:
        for m in members:
            if m.alive:
                assert m.proc is not None
                with contextlib.suppress(ProcessLookupError):
                    m.proc.terminate()
        for m in members:
            if m.proc is None:
                continue
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await m.proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    m.proc.kill()
                await m.proc.wait()
            if m.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await m.reader

    async def swarm(
        self,
        n: int,
        label: str,
        *,
        uploads: Sequence[int],
        rarest: bool = True,
        plan: ChurnPlan | None = None,
        expect: float,
    ) -> Outcome:
        """One run: tracker, seeder, n downloaders (with these upload caps, 0 for none), plus a
        churn plan's joiners; the time until every downloader that stays has the file."""
        s = self.s
        run_dir = self.work / "run"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir()
        tracker = Member("tracker", TRACKER)
        seeder = Member("seeder", SEEDER)
        joiners = sorted(plan.join_at) if plan else []
        downloaders = [
            Member(f"d{k + 1}", downloader_host(k), free_rider=k < n and uploads[k] == 0)
            for k in range(n + len(joiners))
        ]
        everyone = [tracker, seeder, *downloaders]
        try:
            await self._spawn(
                tracker, ["-m", "tracker", "serve", "--listen", f"{TRACKER}:0"], run_dir
            )
            await self._ready([tracker])
            assert tracker.ready_file is not None
            port = json.loads(tracker.ready_file.read_text())["ports"]["http"]
            torrent = run_dir / "experiment.torrent"
            torrent.write_bytes(
                build(
                    self.data.name,
                    s.file_size,
                    PIECE,
                    self.pieces,
                    [f"http://{TRACKER}:{port}/announce"],
                )
            )
            common = [
                "--json",
                "--choke-interval",
                str(s.choke_interval),
                "--optimistic-interval",
                str(s.optimistic_interval),
            ]
            await self._spawn(
                seeder,
                ["-m", "peer", "seed", str(torrent), str(self.data.parent), "--listen",
                 f"{SEEDER}:0", "--max-up", str(s.server_up), *common],
                run_dir,
            )  # fmt: skip
            for k, m in enumerate(downloaders):
                up = uploads[k] if k < n else s.peer_up
                selfish = plan is not None and k in plan.selfish
                await self._spawn(
                    m,
                    ["-m", "peer", "download", str(torrent), "-o", str(run_dir / m.name),
                     "--listen", f"{m.host}:0", "--max-up", str(up), "--max-down",
                     str(s.peer_down), "--picker", "rarest" if rarest else "random", "--hold",
                     *([] if selfish else ["--seed"]), *common],
                    run_dir,
                )  # fmt: skip
            await self._ready([seeder, *downloaders])
            # A seed does not dial (it waits for downloaders to come): released before the
            # tracker knows the seeder, every downloader could be told of no one who has a
            # piece, and wait for its next announce, minutes away (seen once in CI)
            try:
                await asyncio.wait_for(seeder.announced.wait(), READY_WAIT)
            except TimeoutError:
                why = f"seeder not announced in {READY_WAIT:.0f} s: {self._tail(seeder)}"
                raise RunError(why) from None
            return await self._measure(n, label, everyone, downloaders, plan, expect)
        finally:
            await self._stop(everyone)
            shutil.rmtree(run_dir, ignore_errors=True)

    async def _measure(
        self,
        n: int,
        label: str,
        everyone: Sequence[Member],
        downloaders: Sequence[Member],
        plan: ChurnPlan | None,
        expect: float,
    ) -> Outcome:
        pids = [m.proc.pid for m in everyone if m.proc is not None]
        ticks = cpu_ticks(pids)
        latest = dict(ticks)  # read every turn below: a process that leaves keeps its count
        t0 = time.time()
        released: set[int] = set()
        for k in range(n):
            self._release(downloaders[k])
            released.add(k)
        stayers = plan.stayers if plan else list(range(n))
        limit = max(60.0, 10 * expect)
        pieces = len(self.pieces) // 20
        while True:
            now = time.time() - t0
            if plan is not None:
                for k, at in plan.join_at.items():
                    if k not in released and now >= at:
                        self._release(downloaders[k])
                        released.add(k)
                for k, at in plan.leave_at.items():
                    m = downloaders[k]
                    if m.left_at is None and now >= at and m.done_at is None:
                        m.left_at = time.time()
                        assert m.proc is not None
                        with contextlib.suppress(ProcessLookupError):
                            m.proc.terminate()
            if all(downloaders[k].done_at is not None for k in stayers):
                break
            for k in stayers:
                m = downloaders[k]
                if k in released and m.done_at is None and not m.alive:
                    raise RunError(f"{label}: {m.name} exited before it finished: {self._tail(m)}")
            if now > limit:
                stuck = [downloaders[k] for k in stayers if downloaders[k].done_at is None]
                raise RunError(self._stuck(label, limit, stuck, everyone, pieces))
            have = sum(len(m.gains) for m in downloaders)
            self.line.show(
                f"{label}: {have}/{pieces * len(downloaders)} pieces, "
                f"{sum(m.done_at is not None for m in downloaders)}/{len(downloaders)} done, "
                f"{now:.1f} s (bound {expect:.1f} s)"
            )
            latest.update(cpu_ticks(pids))
            await asyncio.sleep(0.1)
        wall = time.time() - t0
        latest.update(cpu_ticks(pids))
        used = sum(t - ticks.get(pid, t) for pid, t in latest.items()) / os.sysconf("SC_CLK_TCK")
        cpu = used / (wall * (os.cpu_count() or 1)) if wall > 0 else None
        done = {m.name: m.done_at - t0 for m in downloaders if m.done_at is not None}
        finishes = [Finish(m.name, m.free_rider, done.get(m.name)) for m in downloaders]
        gains = [(t - t0, m.name, i) for m in downloaders for t, i in m.gains]
        losses = [(m.left_at - t0, m.name) for m in downloaders if m.left_at is not None]
        if plan is not None:  # the selfish ones leave as soon as they finish
            selfish = (downloaders[k].name for k in plan.selfish)
            losses += [(done[name], name) for name in selfish if name in done]
        measured = max(done[downloaders[k].name] for k in stayers)
        return Outcome(measured, finishes, gains, losses, cpu)

    @staticmethod
    def _release(m: Member) -> None:
        assert m.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(m.proc.pid, signal.SIGUSR1)

    # -- the whole experiment ---------------------------------------------------------------

    async def _timed(
        self,
        what: str,
        n: int,
        uploads: Sequence[int],
        bound: float,
        *,
        rarest: bool = True,
        plan: ChurnPlan | None = None,
    ) -> Outcome:
        """One run, numbered among the experiment's `runs`, and its line."""
        self.done_runs += 1
        label = f"run {self.done_runs}/{self.runs}: N={n} {what}"
        outcome = await self.swarm(
            n, label, uploads=uploads, rarest=rarest, plan=plan, expect=bound
        )
        self._done(label, outcome, bound)
        return outcome

    def _done(self, label: str, outcome: Outcome, bound: float) -> None:
        cpu = "" if outcome.cpu is None else f", cpu {outcome.cpu:.0%} of {os.cpu_count()} cores"
        warn = " (CPU-bound: the time may be the machine's, not the caps')"
        self.say(
            f"{label}: {outcome.measured_s:.2f} s, bound {bound:.2f} s, "
            f"{outcome.measured_s / bound:.2f}x{cpu}"
            + (warn if outcome.cpu is not None and outcome.cpu > CPU_WARN else "")
        )

    async def run(
        self,
    ) -> tuple[list[Result], dict[str, object], dict[str, list[tuple[float, int]]]]:
        s = self.s
        self.prepare()
        results: list[Result] = []
        mechanisms: dict[str, object] = {}
        curves: dict[str, list[tuple[float, int]]] = {}
        biggest = max(s.sizes)
        self.runs = 2 * len(s.sizes) + (s.free_riders > 0) + (s.picker == "random") + s.churn
        pieces = len(self.pieces) // 20
        baseline: Outcome | None = None
        for n in s.sizes:
            for mode in (CLIENT_SERVER, P2P):
                if mode == CLIENT_SERVER:
                    uploads = [0] * n
                    bound = client_server_bound(n, s.file_size, s.server_up, s.peer_down)
                else:
                    uploads = [s.peer_up] * n
                    bound = p2p_bound(n, s.file_size, s.server_up, s.peer_down, uploads)
                outcome = await self._timed(mode, n, uploads, bound)
                results.append(Result(n, mode, outcome.measured_s, bound))
                if mode == P2P and n == biggest:
                    baseline, full_bound = outcome, bound
                    curves["rarest first"] = rarest_availability(pieces, outcome.gains)
        assert baseline is not None
        full = [s.peer_up] * biggest  # the baseline's uploads, for the picker and churn runs
        if s.free_riders:
            mechanisms["free_riders"] = (await self.free_riders(biggest, s.free_riders))[1]
        if s.picker == "random":
            what = "p2p, random piece order"
            outcome = await self._timed(what, biggest, full, full_bound, rarest=False)
            curves["random"] = rarest_availability(pieces, outcome.gains)
            mechanisms["picker"] = {
                "n": biggest,
                "rarest_s": round(baseline.measured_s, 3),
                "random_s": round(outcome.measured_s, 3),
                "rarest_availability": curves["rarest first"],
                "random_availability": curves["random"],
            }
            self.say(
                f"  rarest first {baseline.measured_s:.2f} s, random {outcome.measured_s:.2f} s; "
                f"rarest piece held by 1 copy until {_last_at(curves['rarest first'], 1):.2f} s "
                f"(rarest first), {_last_at(curves['random'], 1):.2f} s (random)"
            )
        if s.churn:
            plan = churn_plan(biggest, full_bound, self.rng)
            outcome = await self._timed("p2p, churn", biggest, full, full_bound, plan=plan)
            stayed = [outcome.finishes[k] for k in plan.stayers]
            mechanisms["churn"] = {
                "n": biggest,
                "left_mid_download": len(plan.leave_at),
                "left_when_done": len(plan.selfish),
                "joined": len(plan.join_at),
                "stayers_finished": sum(f.done_s is not None for f in stayed),
                "stayers": len(stayed),
                "measured_s": round(outcome.measured_s, 3),
            }
            self.say(
                f"  {len(plan.leave_at)} left mid-download, {len(plan.selfish)} left as soon as "
                f"they finished, {len(plan.join_at)} joined; of the {len(stayed)} that stayed, "
                + spread([f.done_s for f in stayed if f.done_s is not None])
            )
        return results, mechanisms, curves

    async def free_riders(self, n: int, k: int) -> tuple[Outcome, dict[str, object]]:
        """The free-rider run: N downloaders, K of them (drawn from the experiment's rng)
        uploading nothing; its report printed, and its entry of mechanisms.json."""
        s = self.s
        riders = set(self.rng.sample(range(n), k))
        uploads = [0 if i in riders else s.peer_up for i in range(n)]
        bound = p2p_bound(n, s.file_size, s.server_up, s.peer_down, uploads)
        outcome = await self._timed(f"p2p, {k} free-riders", n, uploads, bound)
        verdict = free_rider_verdict(outcome.finishes)
        medians = free_rider_medians(outcome.finishes)
        progress = free_rider_progress(outcome.finishes, outcome.gains)
        self._report_riders(outcome.finishes, [verdict, medians, progress])
        return outcome, {
            "n": n,
            "free_riders": k,
            "bound_s": round(bound, 3),
            "finishes": [
                {"peer": f.name, "free_rider": f.free_rider, "done_s": f.done_s}
                for f in outcome.finishes
            ],
            "met": verdict.met,
            "median_met": medians.met,
            "progress_met": progress.met,
        }

    def _report_riders(self, finishes: Sequence[Finish], verdicts: Sequence[Verdict]) -> None:
        riders = [f.done_s for f in finishes if f.free_rider and f.done_s is not None]
        others = [f.done_s for f in finishes if not f.free_rider and f.done_s is not None]
        self.say(f"  contributors: {spread(others)}")
        self.say(f"  free-riders:  {spread(riders)}")
        for verdict in verdicts:
            self.say(f"  {'met' if verdict.met else 'MISSED'}: {verdict.text}")


def _last_at(points: Sequence[tuple[float, int]], copies: int) -> float:
    """When the rarest piece last stopped having `copies` or fewer copies (0 if never)."""
    after = [t for t, c in points if c > copies]
    return after[0] if after else points[-1][0] if points else 0.0


def write(
    out: Path,
    results: Sequence[Result],
    mechanisms: dict[str, object],
    curves: dict[str, list[tuple[float, int]]],
    s: Settings,
    draw: Callable[..., None] | None = None,
) -> list[Path]:
    """results.csv, results.json, the plots, mechanisms.json: the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.csv", out / "results.json"]
    written[0].write_text("\n".join(csv_lines(results)) + "\n")
    written[1].write_text(json.dumps([r.as_json() for r in results], indent=1) + "\n")
    if mechanisms:
        path = out / "mechanisms.json"
        path.write_text(json.dumps(mechanisms, indent=1) + "\n")
        written.append(path)
    from minternet import plot  # (matplotlib is slow to import: only when there is a plot)

    title = (
        f"F = {format_size(s.file_size)}, u_s = {format_size(s.server_up)}/s, "
        f"u_i = {format_size(s.peer_up)}/s, d_i = {format_size(s.peer_down)}/s"
    )
    written += plot.distribution(results, out / "plot", title)
    if curves:
        written += plot.availability(curves, out / "availability", title)
    return written


def main(args: argparse.Namespace) -> int:
    try:
        s = settings(args)
    except ValueError as e:
        print(f"minternet experiment p2p: {e}", file=sys.stderr)
        return 2
    print(
        f"distributing {format_size(s.file_size)} in {PIECE >> 10} KiB pieces to N = "
        f"{', '.join(map(str, s.sizes))}: server up {format_size(s.server_up)}/s, peers up "
        f"{format_size(s.peer_up)}/s and down {format_size(s.peer_down)}/s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="minternet-p2p-") as tmp:
        experiment = Experiment(s, Path(tmp))
        try:
            results, mechanisms, curves = asyncio.run(experiment.run())
        except RunError as e:
            experiment.line.clear()
            print(f"minternet experiment p2p: {e}", file=sys.stderr)
            return 1
    print()
    print("\n".join(table(results)))
    print()
    verdicts = check(results, s.file_size)
    for v in verdicts:
        print(f"{'met' if v.met else 'MISSED'}: {v.text}")
    for path in write(s.out, results, mechanisms, curves, s):
        print(f"wrote {path}")
    return 0
