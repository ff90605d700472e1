"""The course notes' file-distribution bounds, and what the experiment makes of its runs.

A file of F bytes goes from one server (the seeder, upload u_s) to N hosts (download d_i,
upload u_i). The notes derive two lower bounds on the time until every host has it:

- client-server, where only the server uploads: D_cs >= max(N*F/u_s, F/d_min). The server
  must send N copies; the slowest host must receive one.
- P2P, where every host also uploads what it has: D_p2p >= max(F/u_s, F/d_min,
  N*F/(u_s + sum u_i)). The server must send at least one copy; the slowest host must receive
  one; and the N copies, N*F bytes in all, arrive no faster than everyone can send.

`minternet experiment p2p` measures both on real sockets (minternet/experiment.py) and this
module, sans-I/O, turns its runs into the report: the bounds, the table, the files, the
targets the issue sets (`check`), the free-riders' and contributors' completion times, and the
availability of the rarest piece over time (from each peer's `piece` events). Rates are bytes
per second, sizes bytes, times seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from peer.sizes import parse_size

CLIENT_SERVER, P2P = "client-server", "p2p"
MAX_HOSTS = 250  # downloaders in one run: each has its own 127.x.y.N address
SMALL_FILE = 8 << 20  # files this small may take 1.25x their client-server bound (start-up)


def client_server_bound(n: int, size: int, server_up: float, d_min: float) -> float:
    """max(N*F/u_s, F/d_min)."""
    return max(n * size / server_up, size / d_min)


def p2p_bound(n: int, size: int, server_up: float, d_min: float, uploads: Iterable[float]) -> float:
    """max(F/u_s, F/d_min, N*F/(u_s + sum u_i)): `uploads` are the N hosts' upload rates (0
    for a free-rider)."""
    return max(size / server_up, size / d_min, n * size / (server_up + sum(uploads)))


def parse_rate(text: str) -> int:
    """`4MiB/s` (or `4MiB`): bytes per second, more than 0."""
    body = text.strip()
    return parse_size(body[:-2] if body.endswith("/s") else body)


def parse_sizes(text: str) -> list[int]:
    """`1,2,4,8`: the swarm sizes, each 1..MAX_HOSTS, in increasing order without repeats."""
    sizes: set[int] = set()
    for part in text.split(","):
        if not part.strip().isdigit():
            raise ValueError(f"{text!r}: swarm sizes are whole numbers separated by commas")
        n = int(part)
        if not 1 <= n <= MAX_HOSTS:
            raise ValueError(f"a swarm of {n} downloaders: sizes run from 1 to {MAX_HOSTS}")
        sizes.add(n)
    return sorted(sizes)


@dataclass(frozen=True, slots=True)
class Result:
    """One run of the sweep: N downloaders, in one mode, its measured time and its bound."""

    n: int
    mode: str  # CLIENT_SERVER or P2P
    measured_s: float
    bound_s: float

    @property
    def ratio(self) -> float:
        return self.measured_s / self.bound_s

    def as_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "mode": self.mode,
            "measured_s": round(self.measured_s, 3),
            "bound_s": round(self.bound_s, 3),
        }


def table(results: Sequence[Result]) -> list[str]:
    """The printed table, one line per N: each mode's measured time, bound and ratio."""
    by = {(r.n, r.mode): r for r in results}
    lines = [
        f"{'N':>4}  {'client-server':>13}  {'bound':>7}  {'ratio':>5}"
        f"  {'P2P':>8}  {'bound':>7}  {'ratio':>5}"
    ]
    for n in sorted({r.n for r in results}):
        cells = [f"{n:>4}"]
        for mode, width in ((CLIENT_SERVER, 13), (P2P, 8)):
            r = by.get((n, mode))
            if r is None:
                cells.append(f"{'-':>{width}}  {'-':>7}  {'-':>5}")
            else:
                cells.append(
                    f"{r.measured_s:>{width - 2}.2f} s  {r.bound_s:>5.2f} s  {r.ratio:>5.2f}"
                )
        lines.append("  ".join(cells))
    return lines


def csv_lines(results: Sequence[Result]) -> list[str]:
    """results.csv: a header, then n,mode,measured_s,bound_s,ratio per run."""
    rows = ["n,mode,measured_s,bound_s,ratio"]
    for r in results:
        rows.append(f"{r.n},{r.mode},{r.measured_s:.3f},{r.bound_s:.3f},{r.ratio:.3f}")
    return rows


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target: whether it was met, and a line that says so with the figures."""

    met: bool
    text: str


def check(results: Sequence[Result], size: int) -> list[Verdict]:
    """The issue's targets for a sweep: P2P within 1.5x of its bound at every N, client-server
    within 1.2x (1.25x for files of 8 MiB or less), nothing under 0.9x (a cap that leaks),
    and, with N=4 and N=32 both measured, P2P at 32 under 3x its time at 4 while client-server
    grows about 8x (6x to 10x)."""
    verdicts = []
    limits = ((P2P, 1.5), (CLIENT_SERVER, 1.25 if size <= SMALL_FILE else 1.2))
    for mode, limit in limits:
        runs = [r for r in results if r.mode == mode]
        if runs:
            worst = max(runs, key=lambda r: r.ratio)
            verdicts.append(
                Verdict(
                    worst.ratio <= limit,
                    f"{mode} within {limit}x of its bound at every N: worst {worst.ratio:.2f}x "
                    f"at N={worst.n}",
                )
            )
    if results:
        low = min(results, key=lambda r: r.ratio)
        verdicts.append(
            Verdict(
                low.ratio >= 0.9,
                f"no time under 0.9x its bound: lowest {low.ratio:.2f}x ({low.mode}, N={low.n})",
            )
        )
    by = {(r.n, r.mode): r.measured_s for r in results}
    if all((n, m) in by for n in (4, 32) for m in (P2P, CLIENT_SERVER)):
        p2p = by[(32, P2P)] / by[(4, P2P)]
        cs = by[(32, CLIENT_SERVER)] / by[(4, CLIENT_SERVER)]
        verdicts.append(
            Verdict(
                p2p < 3 and 6 <= cs <= 10,
                f"P2P flattens: N=32 takes {p2p:.1f}x N=4's time (under 3x), "
                f"client-server {cs:.1f}x (about 8x)",
            )
        )
    return verdicts


@dataclass(frozen=True, slots=True)
class Finish:
    """One downloader of a run: whether it uploads, and when it had the whole file (seconds
    from the start; None if it never did)."""

    name: str
    free_rider: bool
    done_s: float | None


def free_rider_verdict(finishes: Sequence[Finish]) -> Verdict:
    """Tit-for-tat: every free-rider finishes after every contributor of the same run."""
    riders = [f for f in finishes if f.free_rider]
    others = [f for f in finishes if not f.free_rider]
    if not riders or not others:
        return Verdict(False, "free-riders: the run needs both free-riders and contributors")
    if any(f.done_s is None for f in finishes):
        missing = sum(f.done_s is None for f in finishes)
        return Verdict(False, f"free-riders: {missing} downloaders never finished")
    first_rider = min(f.done_s for f in riders if f.done_s is not None)
    last_other = max(f.done_s for f in others if f.done_s is not None)
    return Verdict(
        first_rider > last_other,
        f"free-riders finish last: the first at {first_rider:.2f} s, "
        f"the last contributor at {last_other:.2f} s",
    )


def free_rider_medians(finishes: Sequence[Finish]) -> Verdict:
    """The weaker, steadier sign of tit-for-tat: the free-riders' median finish comes after
    the contributors' (the strict order can hinge on one contributor that found few trading
    partners and finished as late as a free-rider)."""
    riders = [f.done_s for f in finishes if f.free_rider and f.done_s is not None]
    others = [f.done_s for f in finishes if not f.free_rider and f.done_s is not None]
    if not riders or not others:
        return Verdict(False, "free-riders: no finish to compare")
    r, c = median(riders), median(others)
    return Verdict(r > c, f"free-riders' median finish {r:.2f} s, contributors' {c:.2f} s")


@dataclass(frozen=True, slots=True)
class Held:
    """The pieces each group held when the first contributor had the whole file (medians)."""

    at: float  # seconds from the start
    riders: float
    contributors: float


def held_at_first_finish(
    finishes: Sequence[Finish], gains: Iterable[tuple[float, str, int]]
) -> Held | None:
    """The median count of pieces of the free-riders and of the contributors when the first
    contributor finished; None without free-riders, contributors, or a contributor that
    finished."""
    riders = {f.name for f in finishes if f.free_rider}
    done = [f.done_s for f in finishes if not f.free_rider and f.done_s is not None]
    if not riders or not done or len(riders) == len(finishes):
        return None
    at = min(done)
    held = dict.fromkeys((f.name for f in finishes), 0)
    for t, name, _piece in gains:
        if t <= at and name in held:
            held[name] += 1
    return Held(
        at,
        median([held[name] for name in riders]),
        median([n for name, n in held.items() if name not in riders]),
    )


def free_rider_progress(
    finishes: Sequence[Finish], gains: Iterable[tuple[float, str, int]]
) -> Verdict:
    """Tit-for-tat while everyone still trades: when the first contributor has the whole file,
    the free-riders' median count of pieces is below the contributors'. From then on the
    finished contributors seed everyone in turn, free-riders included, and the finish times
    close up: in a short run a free-rider that won the seeder's slots early can finish with
    the contributors, but what it got from the other downloaders until then shows."""
    held = held_at_first_finish(finishes, gains)
    if held is None:
        return Verdict(False, "free-riders: no contributor finished to compare at")
    return Verdict(
        held.riders < held.contributors,
        f"when the first contributor finished ({held.at:.2f} s), the free-riders held a median "
        f"of {held.riders:g} pieces, the contributors {held.contributors:g}",
    )


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2


def spread(times: Sequence[float]) -> str:
    """`3 finished: 4.10 / 4.52 / 5.03 s (first / median / last)`."""
    if not times:
        return "none finished"
    ordered = sorted(times)
    return (
        f"{len(ordered)} finished: {ordered[0]:.2f} / {median(ordered):.2f} / "
        f"{ordered[-1]:.2f} s (first / median / last)"
    )


def rarest_availability(
    pieces: int,
    gains: Iterable[tuple[float, str, int]],
    losses: Iterable[tuple[float, str]] = (),
    seeds: int = 1,
) -> list[tuple[float, int]]:
    """How many copies of the rarest piece the swarm holds over time: a step function, as the
    (time, copies) points where it changes, starting at (0, seeds).

    `gains` are (time, peer, piece): the peer verified the piece (its `piece` event); `losses`
    are (time, peer): the peer left and took its pieces with it. The `seeds` hold every piece
    throughout. At equal times gains count before losses (a stable sort by time alone keeps
    the gains, listed first, ahead)."""
    counts = [seeds] * pieces
    held: dict[str, set[int]] = {}
    events: list[tuple[float, str, int | None]] = list(gains)
    events += [(t, p, None) for t, p in losses]  # (None: a loss)
    events.sort(key=lambda e: e[0])
    points = [(0.0, min(counts, default=seeds))]
    for k, (t, peer, index) in enumerate(events):
        mine = held.setdefault(peer, set())
        if index is None:
            for i in mine:
                counts[i] -= 1
            mine.clear()
        elif index not in mine and 0 <= index < pieces:
            mine.add(index)
            counts[index] += 1
        if k + 1 < len(events) and events[k + 1][0] == t:
            continue  # one point per instant: after all that happened at it
        low = min(counts, default=seeds)
        if low != points[-1][1]:
            points.append((t, low))
    return points


@dataclass(frozen=True, slots=True)
class ChurnPlan:
    """Who does what in a churn run of `n` downloaders (numbered 0..n-1) and `joiners` more
    (numbered n.. on): the selfish ones exit as soon as they have the file; `leave_at` maps a
    downloader to the second it quits, mid-download; `join_at` maps each joiner to the second
    it starts."""

    n: int
    selfish: frozenset[int]
    leave_at: Mapping[int, float] = field(default_factory=dict)
    join_at: Mapping[int, float] = field(default_factory=dict)

    @property
    def stayers(self) -> list[int]:
        """Every downloader that should end with the whole file: all but the mid-download
        leavers."""
        return [i for i in range(self.n + len(self.join_at)) if i not in self.leave_at]


def churn_plan(n: int, horizon: float, rng: random.Random) -> ChurnPlan:
    """A quarter of the downloaders (at least one, chosen at random) quit at a random time in
    the first 60% of `horizon` (the run's expected length, e.g. its P2P bound), as many
    newcomers join at random times in its first half, and half of the others (rounded down,
    at random) leave as soon as they finish."""
    movers = max(1, n // 4)
    order = list(range(n))
    rng.shuffle(order)
    leavers, others = order[:movers], order[movers:]
    selfish = frozenset(others[: len(others) // 2])
    leave_at = {i: rng.uniform(0.1, 0.6) * horizon for i in leavers}
    join_at = {n + k: rng.uniform(0.05, 0.5) * horizon for k in range(movers)}
    return ChurnPlan(n, selfish, leave_at, join_at)
