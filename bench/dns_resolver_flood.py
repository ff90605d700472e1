"""The local DNS server under a random-subdomain flood, beside Unbound (one thread).

Both resolvers iterate the same hierarchy: the topology's authoritative servers on port 53
(root needed, as for bench.dns_resolver), with RRL on as `minternet up` runs them (per
address, the resolvers' own addresses exempt; `--rrl off|on` to change it). Ours listens on
127.0.0.2, Unbound on 127.0.0.3; they run one after the other, never together.

For each resolver, with a fresh cache:

1. Cold latency: fresh names (wildcard names under users.networkutopia.com, each new), asked
   one after the other: p50 and p99.
2. The fixed-rate flood: `dnsserver flood` at --qps (10,000/s) for --seconds (20) from
   127.0.0.200, random names under hamburger.edu. Meanwhile a legitimate client on 127.0.0.201
   asks 20 questions a second, alternately a cached name (warmed before the flood) and an
   uncached existing one (a fresh wildcard name), each once, waiting up to 2 s: its success
   rate and p50/p99 latency per kind, and the resolver's RSS before and after.
3. The spread flood: the same rate for --spread-seconds (10) from --spread (50) addresses,
   127.0.2.1 up, so that no client's own budget stops it: the zone's budget must.
4. The full-rate flood: the same at the sender's full rate for --full-seconds (10), the
   legitimate client going on for 5 s after it: the same figures, and how long after the
   flood's end the first question asked after it was answered.

The figures are printed, with ours against Unbound's; nothing is asserted (timings vary).
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.dns_resolver import (
    OURS,
    PY,
    UNBOUND,
    start_hierarchy,
    start_ours,
    start_unbound,
)
from bench.procs import free_port, stop

FLOODER = "127.0.0.200"
SPREAD_FROM = "127.0.2.1"  # a distributed flood: --spread addresses from here up
CLIENT = "127.0.0.201"
CACHED = [
    "www.hamburger.edu.",
    "mail.hamburger.edu.",
    "dns.hamburger.edu.",
    "www.crepes.fr.",
    "mail.crepes.fr.",
    "www.networkutopia.com.",
    "gaia.cs.umass.edu.",
    "www.umass.edu.",
]


def wire(qid: int, name: str, qtype: int = 1) -> bytes:
    out = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\x00" + struct.pack("!HH", qtype, 1)


@dataclass
class Kind:
    asked: int = 0
    answered: int = 0  # NOERROR with an answer, or NXDOMAIN: not SERVFAIL, not a timeout
    latencies: list[float] = field(default_factory=list)

    def line(self, label: str) -> str:
        lat = sorted(self.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        share = self.answered / self.asked if self.asked else 0.0
        return (
            f"{label}: {self.answered}/{self.asked} answered ({share:.1%}), "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )

    @property
    def rate(self) -> float:
        return self.answered / self.asked if self.asked else 0.0


@dataclass
class Legit:
    cached: Kind = field(default_factory=Kind)
    uncached: Kind = field(default_factory=Kind)
    first_after: float | None = None  # answer time of the first question asked after `mark`


class Client:
    """A legitimate client: 20 questions a second, each asked once, answered within 2 s."""

    def __init__(self, server: tuple[str, int], prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.fresh = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((CLIENT, 0))
        self.sock.setblocking(False)
        self.qid = 0

    def close(self) -> None:
        self.sock.close()

    def ask(self, name: str) -> bool:
        """One question, waited for (the warm-up): True if answered."""
        self.qid = (self.qid + 1) & 0xFFFF
        self.sock.sendto(wire(self.qid, name), self.server)
        end = time.monotonic() + 3
        while (left := end - time.monotonic()) > 0:
            select.select([self.sock], [], [], left)
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                continue
            if data[:2] == struct.pack("!H", self.qid):
                return data[3] & 0x0F in (0, 3)
        return False

    def run(self, seconds: float, mark: float | None = None, rate: float = 20.0) -> Legit:
        """Ask for `seconds`; `mark`: a monotonic time (the flood's end) to time recovery from."""
        out = Legit()
        pending: dict[int, tuple[float, Kind, bool]] = {}
        t0 = time.monotonic()
        n = 0
        while True:
            now = time.monotonic()
            if now - t0 < seconds and n <= (now - t0) * rate:
                self.qid = (self.qid + 1) & 0xFFFF
                if n % 2:
                    self.fresh += 1
                    name, kind = f"{self.prefix}{self.fresh}.users.networkutopia.com.", out.uncached
                else:
                    name, kind = CACHED[(n // 2) % len(CACHED)], out.cached
                self.sock.sendto(wire(self.qid, name), self.server)
                kind.asked += 1
                pending[self.qid] = (now, kind, mark is not None and now >= mark)
                n += 1
            for qid in [q for q, (sent, _, _) in pending.items() if now - sent > 2.0]:
                del pending[qid]  # unanswered
            if now - t0 >= seconds and not pending:
                return out
            select.select([self.sock], [], [], 0.005)
            while True:
                try:
                    data = self.sock.recv(4096)
                except BlockingIOError:
                    break
                got = pending.pop(struct.unpack("!H", data[:2])[0], None)
                if got is None:
                    continue
                sent, kind, after = got
                took = time.monotonic() - sent
                if data[3] & 0x0F in (0, 3):
                    kind.answered += 1
                    kind.latencies.append(took)
                    if after and mark is not None and out.first_after is None:
                        out.first_after = time.monotonic() - mark


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def flood(
    server: tuple[str, int], qps: float, seconds: float, sources: int = 1
) -> subprocess.Popen[str]:
    cmd = [PY, "-m", "dnsserver", "flood", "--server", f"{server[0]}:{server[1]}"]
    cmd += ["--zone", "hamburger.edu", "--qps", str(qps), "--seconds", str(seconds)]
    cmd += ["--source", SPREAD_FROM if sources > 1 else FLOODER, "--sources", str(sources)]
    cmd += ["--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def cold(client: Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        client.fresh += 1
        t0 = time.monotonic()
        if client.ask(f"{client.prefix}{client.fresh}.users.networkutopia.com."):
            out.append(time.monotonic() - t0)
    return sorted(out)


def scenario(
    label: str, server: tuple[str, int], pid: int, args: argparse.Namespace
) -> dict[str, object]:
    client = Client(server, f"legit-{label}-")
    res: dict[str, object] = {}
    try:
        lat = cold(client, args.cold)
        res["cold_p50"] = lat[len(lat) // 2] if lat else float("nan")
        print(f"  cold: {len(lat)}/{args.cold} fresh names, p50 {res['cold_p50'] * 1000:.2f} ms")
        for name in CACHED:
            client.ask(name)
        rss0 = rss_mib(pid)
        proc = flood(server, args.qps, args.seconds)
        legit = client.run(args.seconds)
        sent = proc.communicate(timeout=60)[0]
        rss1 = rss_mib(pid)
        print(f"  flood at {args.qps:,.0f}/s for {args.seconds:g} s: " + _flood_line(sent))
        print("    " + legit.cached.line("cached  "))
        print("    " + legit.uncached.line("uncached"))
        print(f"    RSS {rss0:.0f} MiB -> {rss1:.0f} MiB")
        res["fixed"] = legit
        res["rss_growth"] = rss1 - rss0
        proc = flood(server, args.qps, args.spread_seconds, args.spread)
        legit = client.run(args.spread_seconds)
        sent = proc.communicate(timeout=60)[0]
        print(
            f"  flood at {args.qps:,.0f}/s for {args.spread_seconds:g} s from {args.spread} "
            "addresses: " + _flood_line(sent)
        )
        print("    " + legit.cached.line("cached  "))
        print("    " + legit.uncached.line("uncached"))
        res["spread"] = legit
        proc = flood(server, 0, args.full_seconds)
        end = time.monotonic() + args.full_seconds
        legit = client.run(args.full_seconds + 5, mark=end)
        sent = proc.communicate(timeout=60)[0]
        print(f"  flood at full rate for {args.full_seconds:g} s: " + _flood_line(sent))
        print("    " + legit.cached.line("cached  "))
        print("    " + legit.uncached.line("uncached"))
        rec = legit.first_after
        print(f"    first answer after the flood: {'never' if rec is None else f'{rec:.2f} s'}")
        res["full"] = legit
    finally:
        client.close()
    return res


def _flood_line(out: str) -> str:
    lines = out.strip().splitlines()
    return "; ".join(lines[1:3]) if len(lines) >= 3 else out.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dns_resolver_flood", description=__doc__)
    parser.add_argument("--qps", type=float, default=10_000, help="flood rate (default 10000)")
    parser.add_argument("--seconds", type=float, default=20, help="fixed-rate flood (default 20)")
    parser.add_argument("--full-seconds", type=float, default=10, help="full-rate flood (10)")
    parser.add_argument("--spread", type=int, default=50, help="addresses of the spread flood")
    parser.add_argument("--spread-seconds", type=float, default=10, help="spread flood (10)")
    parser.add_argument("--cold", type=int, default=100, help="fresh names for cold latency")
    parser.add_argument("--rrl", choices=["exempt", "on", "off"], default="exempt")
    parser.add_argument("--only", choices=["ours", "unbound"], help="run one resolver only")
    args = parser.parse_args(argv)
    if shutil.which("unbound") is None and args.only != "ours":
        print("unbound is missing: apt-get install -y unbound", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("the hierarchy must listen on port 53 (Unbound cannot use another): run as root")
        return 2
    rrl = {
        "exempt": ["--rrl-ipv4-prefix", "32", "--rrl-exempt", OURS, "--rrl-exempt", UNBOUND],
        "on": ["--rrl-ipv4-prefix", "32"],
        "off": ["--no-rrl"],
    }[args.rrl]
    print(f"hierarchy on port 53, RRL {args.rrl}; the flood from {FLOODER}, the client {CLIENT}")
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            hints = start_hierarchy(tmp, procs, rrl)
            starts = (("ours", OURS, start_ours), ("unbound", UNBOUND, start_unbound))
            for label, addr, start in starts:
                if args.only not in (None, label):
                    continue
                port = free_port(addr)
                proc, _ = start(tmp, hints, port)
                title = "unbound, one thread" if label == "unbound" else label
                print(f"{title} ({addr}:{port}):", flush=True)
                try:
                    results[label] = scenario(label, (addr, port), proc.pid, args)
                finally:
                    stop(proc)
        finally:
            for p in reversed(procs):
                stop(p)
    if len(results) == 2:
        o, u = results["ours"], results["unbound"]
        print("ours against unbound:")
        print(f"  cold p50: {o['cold_p50'] / u['cold_p50']:.2f}x")  # type: ignore[operator]
        phases = {"fixed": "fixed-rate", "spread": "spread", "full": "full-rate"}
        for phase, title in phases.items():
            lo, lu = o[phase], u[phase]
            assert isinstance(lo, Legit) and isinstance(lu, Legit)
            print(
                f"  {title} flood: cached {lo.cached.rate:.1%} vs {lu.cached.rate:.1%}, "
                f"uncached {lo.uncached.rate:.1%} vs {lu.uncached.rate:.1%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
