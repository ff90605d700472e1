"""Authoritative DNS throughput: NSD and our dnsserver on the same zone, measured by dnsperf.

Zone example.test: SOA, NS, apex MX and host0..host999 A records. Query file (20,000 lines):
80% existing A, 10% apex MX, 10% random non-existent names (NXDOMAIN). NSD runs with one
server process and RRL off (Debian builds it with RRL on at 200 qps, which would block the
benchmark); ours runs with RRL off on uvloop. Both servers are started once and stay up;
each gets one untimed 1-second dnsperf warm-up run, then `--rounds` alternating runs of
`dnsperf -l SECONDS -c 4 -q OUTSTANDING` (NSD, ours, NSD, ours, ...). Every run is printed,
then the median and the best of each side and the ratios (medians and bests): the same
treatment for both, and a slow stretch of the shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.procs import dnsperf, free_port, stop, wait_answering
from bench.rounds import alternate, summary

HOSTS = 1000
QUERIES = 20_000


def write_zone(directory: Path) -> Path:
    lines = [
        "$ORIGIN example.test.",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster ( 2026112701 7200 3600 1209600 300 )",
        "@ IN NS ns1",
        "@ IN MX 10 mail",
        "ns1 IN A 127.0.0.1",
        "mail IN A 127.0.0.2",
    ]
    lines += [f"host{i} IN A 10.0.{i // 256}.{i % 256}" for i in range(HOSTS)]
    path = directory / "example.test.zone"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_queries(directory: Path, rng: random.Random) -> Path:
    out = []
    for _ in range(QUERIES):
        r = rng.random()
        if r < 0.8:
            out.append(f"host{rng.randrange(HOSTS)}.example.test A")
        elif r < 0.9:
            out.append("example.test MX")
        else:
            out.append(f"nx{rng.randrange(10**9)}.example.test A")
    path = directory / "queries.txt"
    path.write_text("\n".join(out) + "\n")
    return path


def nsd_conf(tmp: Path, host: str, port: int, zone_name: str, zone: Path, extra: str = "") -> str:
    """An nsd.conf for one zone, NSD run as the current user with every file in `tmp`, no RRL
    (`extra`: more lines of the zone's clause)."""
    return f"""server:
    server-count: 1
    ip-address: {host}@{port}
    username: ""
    chroot: ""
    zonesdir: "{tmp}"
    database: ""
    zonelistfile: "{tmp}/zone.list"
    xfrdfile: "{tmp}/xfrd.state"
    xfrdir: "{tmp}"
    pidfile: "{tmp}/nsd.pid"
    logfile: "{tmp}/nsd.log"
    verbosity: 0
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {zone_name}
    zonefile: "{zone}"
{extra}"""


@contextlib.contextmanager
def nsd(tmp: Path, zone: Path) -> Iterator[tuple[str, int]]:
    """NSD running on a free port; yields (host, port)."""
    host = "127.0.0.201"
    port = free_port(host)
    conf = tmp / "nsd.conf"
    conf.write_text(nsd_conf(tmp, host, port, "example.test", zone))
    proc = subprocess.Popen(["nsd", "-d", "-c", str(conf)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_answering(host, port, "example.test.", time.monotonic() + 15)
        version = subprocess.run(["nsd", "-v"], capture_output=True, text=True).stderr
        print(f"NSD ({version.splitlines()[0]}), server-count 1, rrl-ratelimit 0", flush=True)
        yield host, port
    finally:
        stop(proc)


@contextlib.contextmanager
def ours(tmp: Path, zone: Path, *, rrl: bool = False) -> Iterator[tuple[str, int]]:
    """Our dnsserver (uvloop) on a free port; yields (host, port)."""
    host = "127.0.0.203" if rrl else "127.0.0.202"
    ready = tmp / f"ours-{rrl}.ready"
    cmd = [sys.executable, "-m", "dnsserver", "serve", "--zone", str(zone),
           "--listen", f"{host}:0", "--ready-file", str(ready),
           "--log-level", "WARNING"]  # fmt: skip
    # RRL accounting on but never limiting (a rate no client reaches) shows what it costs.
    cmd += ["--rrl-rate", "1e9"] if rrl else ["--no-rrl"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dnsserver did not start")
            time.sleep(0.05)
        port = json.loads(ready.read_text())["ports"]["dns"]
        what = "--rrl-rate 1e9: RRL accounting, never limiting" if rrl else "--no-rrl"
        print(f"ours (dnsserver serve {what}, uvloop)", flush=True)
        yield host, port
    finally:
        stop(proc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dns_auth", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="dnsperf -l (default 5)")
    parser.add_argument("--outstanding", type=int, default=500, help="dnsperf -q (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each server (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--with-rrl", action="store_true", help="also measure ours with RRL accounting on"
    )
    args = parser.parse_args(argv)
    for prog in ("nsd", "dnsperf"):
        if shutil.which(prog) is None:
            print(f"{prog} is missing: apt-get install {prog}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        zone = write_zone(tmp)
        queries = write_queries(tmp, random.Random(args.seed))
        servers = [("NSD", stack.enter_context(nsd(tmp, zone))),
                   ("ours", stack.enter_context(ours(tmp, zone)))]  # fmt: skip
        if args.with_rrl:
            servers.append(
                ("ours with RRL accounting", stack.enter_context(ours(tmp, zone, rrl=True)))
            )
        for label, (host, port) in servers:
            print(f"warm-up (not counted): {label}", flush=True)
            dnsperf(host, port, queries, 1, args.outstanding)

        def measure(host: str, port: int) -> Callable[[], float]:
            return lambda: dnsperf(host, port, queries, args.seconds, args.outstanding)

        runs = alternate(args.rounds, [(label, measure(*hp)) for label, hp in servers])
    print()
    print(summary(runs, "NSD", "qps", ">= 60%"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
