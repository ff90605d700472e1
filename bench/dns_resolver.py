"""Caching resolver: ours against Unbound, iterating the default topology's hierarchy on port 53.

Glue carries no port, so Unbound can only walk a hierarchy on port 53: the benchmark starts the
topology's authoritative servers itself (`python -m dnsserver serve`, one process per DNS
host, RRL off) on 127.0.0.10.. port 53, which needs root. Unbound runs with one thread, a
private config in a temp dir (no chroot, no user switch, `do-not-query-localhost: no`, the
same generated root hints, module-config "iterator"), with a private remote-control socket
used only to read its outgoing query counters (num.query.udpout/tcpout).

1. Cold resolution: 200 (name, type) questions across the topology, empty caches, asked one
   after the other: upstream queries and total time, ours vs Unbound's.
2. Cache hits: the same questions, warmed, then `dnsperf -l SECONDS -c 4 -q OUTSTANDING`
   against each resolver in turn, alternating for ROUNDS rounds: best queries per second of
   each and the ratio.
3. Memory: the RRset cache filled with 1,000,000 entries (RSS growth), and a cache capped
   at 100,000 entries under a flood of 1,000,000 unique names.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from bench.procs import dnsperf, free_port, stop, wait_answering
from minternet import topology, zonegen

TOPO = topology.DEFAULT
PY = sys.executable
OURS = "127.0.0.2"
UNBOUND = "127.0.0.3"


def questions() -> list[tuple[str, str]]:
    """200 distinct questions: every name of the topology in several types, plus wildcard
    names, non-existent names in every zone, and CNAMEs across zones."""
    names: list[str] = []
    for zone, recs in TOPO.records.items():
        for r in recs:
            owner = zone if r.owner == "@" else f"{r.owner}.{zone}"
            if "*" not in owner and owner not in names:
                names.append(owner)
    names += [h.fqdn for h in TOPO.hosts if h.fqdn not in names]
    out: list[tuple[str, str]] = []
    for t in ("A", "AAAA", "MX", "TXT"):
        out += [(n, t) for n in names]
    zones = [z for z in TOPO.zones() if z != "."]
    i = 0
    while len(out) < 200:
        if i % 2:
            out.append((f"u{i}.users.networkutopia.com.", "A"))
        else:
            out.append((f"nx{i}.{zones[i % len(zones)]}", "A"))
        i += 1
    return out[:200]


def wait_ready(path: Path, proc: subprocess.Popen[bytes], deadline: float) -> dict[str, int]:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        if path.exists():
            ports: dict[str, int] = json.loads(path.read_text())["ports"]
            return ports
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} not ready in time")


def start_hierarchy(
    tmp: Path, procs: list[subprocess.Popen[bytes]], rrl: Sequence[str] = ("--no-rrl",)
) -> Path:
    """The topology's authoritative servers on port 53; `rrl`: their RRL flags."""
    ports = dict(topology.port_scheme(True))
    paths = zonegen.write_zones(TOPO, tmp / "zones", ports)
    hints = tmp / "root.hints"
    hints.write_text(zonegen.render_root_hints(TOPO))
    deadline = time.monotonic() + 30
    for h in TOPO.hosts:
        if not h.zones:
            continue
        ready = tmp / f"{h.name}.ready"
        cmd = [PY, "-m", "dnsserver", "serve", "--listen", f"{h.address}:53", *rrl]
        for z in h.zones:
            cmd += ["--zone", str(paths[z])]
        cmd += ["--name", h.name, "--ready-file", str(ready), "--log-level", "WARNING"]
        procs.append(subprocess.Popen(cmd, start_new_session=True))
        wait_ready(ready, procs[-1], deadline)
    return hints


def start_ours(tmp: Path, hints: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    ready = tmp / "ours.ready"
    ready.unlink(missing_ok=True)
    cmd = [
        PY, "-m", "dnsserver", "resolve", "--listen", f"{OURS}:{port}",
        "--root-hints", str(hints), "--upstream-port", "53", "--control", f"{OURS}:0",
        "--ready-file", str(ready), "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True)
    ports = wait_ready(ready, proc, time.monotonic() + 20)
    return proc, ports["control"]


def ours_upstream(control_port: int) -> int:
    from dnsserver.resolver_cli import control

    return int(control(f"{OURS}:{control_port}", "stats")["stats"]["upstream_queries"])


UNBOUND_CONF = """server:
    num-threads: 1
    interface: {addr}@{port}
    outgoing-interface: {addr}
    port: {port}
    do-not-query-localhost: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    root-hints: "{hints}"
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    extended-statistics: yes
    statistics-cumulative: yes
remote-control:
    control-enable: yes
    control-interface: "{dir}/control.sock"
    control-use-cert: no
"""


def start_unbound(tmp: Path, hints: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    d = tmp / "unbound"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    conf = d / "unbound.conf"
    conf.write_text(UNBOUND_CONF.format(addr=UNBOUND, port=port, dir=d, hints=hints))
    proc = subprocess.Popen(["unbound", "-d", "-c", str(conf)], start_new_session=True)
    wait_answering(UNBOUND, port, "a.root-servers.net.", time.monotonic() + 20)
    return proc, conf


def unbound_upstream(conf: Path) -> int:
    out = subprocess.run(
        ["unbound-control", "-c", str(conf), "stats_noreset"],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    stats = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(stats.get("num.query.udpout", 0)) + int(stats.get("num.query.tcpout", 0))


def ask_all(host: str, port: int, qs: list[tuple[str, str]]) -> tuple[float, dict[str, int]]:
    rcodes: dict[str, int] = {}
    t0 = time.monotonic()
    for name, rdtype in qs:
        q = dns.message.make_query(name, rdtype)
        try:
            r = dns.query.udp(q, host, port=port, timeout=5)
            key = dns.rcode.to_text(r.rcode())
        except dns.exception.Timeout:
            key = "timeout"
        rcodes[key] = rcodes.get(key, 0) + 1
    return time.monotonic() - t0, rcodes


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def memory() -> None:
    from dnsserver.resolver.cache import Cache, CacheConfig, Rank
    from dnsserver.resolver.rrset import RRset

    rdata = socket.inet_aton("127.0.1.1")
    before = rss_kb()
    t0 = time.monotonic()
    c = Cache(CacheConfig(max_entries=1_000_000))
    for i in range(1_000_000):
        name = (f"h{i}".encode(), b"bench", b"test")
        c.put_rrset(RRset(name, 1, 3600, (rdata,)), Rank.ANSWER, 0.0)
    grown = rss_kb() - before
    took = time.monotonic() - t0
    per = grown * 1024 / 1_000_000
    print(f"memory: 1,000,000 cached A RRsets: +{grown / 1024:.0f} MiB RSS ({per:.0f} bytes/entry)")
    print(f"  filled in {took:.1f} s")
    del c
    capped = Cache(CacheConfig(max_entries=100_000))
    before = rss_kb()
    for i in range(1_000_000):
        name = (f"flood{i}".encode(), b"bench", b"test")
        capped.put_rrset(RRset(name, 1, 3600, (rdata,)), Rank.ANSWER, 0.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: cap 100,000 under a flood of 1,000,000 unique names: {len(capped):,} entries")
    print(f"  {capped.evictions:,} evicted, +{(rss_kb() - before) / 1024:.0f} MiB RSS")
    print(f"  peak RSS of the benchmark process {peak:.0f} MiB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dns_resolver", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="dnsperf -l (default 5)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q (default 200)")
    parser.add_argument("--rounds", type=int, default=2, help="dnsperf rounds each (default 2)")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    for prog in ("unbound", "unbound-control", "dnsperf"):
        if shutil.which(prog) is None:
            print(f"{prog} is missing: apt-get install -y unbound dnsperf", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("the hierarchy must listen on port 53 (Unbound cannot use another): run as root")
        return 2
    qs = questions()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-resolver-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            hints = start_hierarchy(tmp, procs)
            qfile = tmp / "queries.txt"
            qfile.write_text("".join(f"{n} {t}\n" for n, t in qs))
            port_o, port_u = free_port(OURS), free_port(UNBOUND)

            ours, control_port = start_ours(tmp, hints, port_o)
            procs.append(ours)
            t_o, rc_o = ask_all(OURS, port_o, qs)
            up_o = ours_upstream(control_port)
            unb, conf = start_unbound(tmp, hints, port_u)
            procs.append(unb)
            t_u, rc_u = ask_all(UNBOUND, port_u, qs)
            up_u = unbound_upstream(conf)
            print(f"cold: {len(qs)} questions, empty caches (answers: ours {rc_o}, unbound {rc_u})")
            print(f"  ours:    {up_o} upstream queries, {t_o * 1000:.0f} ms total")
            print(f"  unbound: {up_u} upstream queries, {t_u * 1000:.0f} ms total")
            print(f"  ratio (ours/unbound): queries {up_o / max(1, up_u):.2f}, "
                  f"time {t_o / max(t_u, 1e-9):.2f}")  # fmt: skip

            ask_all(OURS, port_o, qs)  # warm (a second pass) before measuring
            ask_all(UNBOUND, port_u, qs)
            runs_o, runs_u = [], []
            for _ in range(args.rounds):  # alternate, so that load from elsewhere hits both
                runs_o.append(
                    dnsperf(OURS, port_o, qfile, args.seconds, args.outstanding, show=False)
                )
                runs_u.append(
                    dnsperf(UNBOUND, port_u, qfile, args.seconds, args.outstanding, show=False)
                )
            q_o, q_u = max(runs_o), max(runs_u)
            print(
                f"cache hits (dnsperf -l {args.seconds} -c 4 -q {args.outstanding}, "
                f"{len(qs)} warmed questions, best of {args.rounds} alternating rounds):"
            )
            print(
                f"  runs: ours {[round(x) for x in runs_o]}, unbound {[round(x) for x in runs_u]}"
            )
            print(f"  ours:    {q_o:,.0f} qps")
            print(f"  unbound: {q_u:,.0f} qps")
            print(f"  ratio:   {q_o / q_u:.0%} of Unbound")
        finally:
            for p in reversed(procs):
                stop(p)
    if not args.skip_memory:
        memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
