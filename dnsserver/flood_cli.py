"""`dnsserver flood`: a bounded random-subdomain flood at a DNS server on loopback.

The shell of dnsserver/flood.py: a UDP socket bound to `--source` when given, so that the
flood comes from an address of its own (`--sources N`: N sockets on consecutive addresses, a
distributed flood, sent from in turn), queries paced to `--qps` (0: as fast as it can send)
for `--seconds`, answers read as they come, a progress line a second on stderr, and then what
was sent and what came back. Targets and sources outside 127.0.0.0/8 are refused.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import itertools
import random
import select
import socket
import sys
import time
from collections.abc import Callable, Sequence

from dnsserver.flood import FloodError, Queries, Tally, due, loopback_only, zone_wire
from minternet.listen import parse_hostport

MAX_SECONDS = 600.0
MAX_QPS = 1_000_000.0
MAX_SOURCES = 256
GRACE = 2.0  # seconds to wait for late answers once sending stops


def add_flood(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "flood",
        help="send a bounded random-subdomain flood to a server on loopback",
        description="Ask a DNS server (on 127.0.0.0/8 only) for the A records of random names "
        "under ZONE at a fixed rate, for a bounded time, and print what came back: the "
        "water-torture attack of the notes' DNS security section, for watching the defences "
        "(`dnsserver stats`, `minternet status`) work.",
    )
    p.add_argument("--server", required=True, metavar="ADDR:PORT", help="the server to flood")
    p.add_argument("--zone", required=True, metavar="ZONE", help="random names go under ZONE")
    p.add_argument(
        "--qps",
        type=float,
        default=1000.0,
        metavar="N",
        help=f"queries per second (0: as fast as possible; at most {MAX_QPS:,.0f}; default 1000)",
    )
    p.add_argument(
        "--seconds", type=float, default=5.0, metavar="S", help="how long (default 5, at most 600)"
    )
    p.add_argument(
        "--source", metavar="ADDR", help="send from this address (in 127.0.0.0/8; default any)"
    )
    p.add_argument(
        "--sources",
        type=int,
        default=1,
        metavar="N",
        help="spread the flood over N addresses from --source up (a distributed flood; "
        f"at most {MAX_SOURCES}; default 1)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_flood)


def cmd_flood(args: argparse.Namespace) -> int:
    try:
        host, port = parse_hostport(args.server, 53)
        loopback_only(host, "server")
        if not 1 <= args.sources <= MAX_SOURCES:
            raise FloodError(f"--sources {args.sources}: from 1 to {MAX_SOURCES}")
        if args.sources > 1 and not args.source:
            raise FloodError("--sources needs --source, the first address")
        sources: list[str | None] = [*spread(args.source, args.sources)] if args.source else [None]
        for source in sources:
            if source is not None:
                loopback_only(source, "source")
        zone_wire(args.zone)
        if not 0 <= args.qps <= MAX_QPS:  # (nan fails both)
            raise FloodError(f"--qps {args.qps:g}: from 0 to {MAX_QPS:,.0f}")
        if not 0 < args.seconds <= MAX_SECONDS:
            raise FloodError(f"--seconds {args.seconds:g}: more than 0, at most {MAX_SECONDS:g}")
    except (FloodError, ValueError) as e:
        print(f"dnsserver flood: {e}", file=sys.stderr)
        return 2
    rate = f"{args.qps:,.0f}/s" if args.qps else "full rate"
    print(f"flooding {host}:{port} with random names under {args.zone} at {rate}", flush=True)
    progress = None if args.quiet else _progress
    try:
        tally, took = send_flood(
            (host, port), args.zone, args.qps, args.seconds, sources=sources, progress=progress
        )
    except OSError as e:
        print(f"dnsserver flood: {e}", file=sys.stderr)
        return 1
    print(tally.summary(took), flush=True)
    return 0


def _progress(second: int, tally: Tally) -> None:
    print(
        f"  {second:3d} s: sent {tally.sent:,}, answered {tally.answered:,}",
        file=sys.stderr,
        flush=True,
    )


def send_flood(
    target: tuple[str, int],
    zone: str,
    qps: float,
    seconds: float,
    *,
    sources: Sequence[str | None] = (None,),
    progress: Callable[[int, Tally], None] | None = None,
) -> tuple[Tally, float]:
    """Send the flood from each of `sources` in turn (None: 127.0.0.1); (what was sent and
    came back, seconds spent sending)."""
    queries = Queries(zone, random.Random())
    tally = Tally()
    with contextlib.ExitStack() as stack:
        socks = []
        for source in sources:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            sock.bind((source or "127.0.0.1", 0))
            sock.connect(target)
            sock.setblocking(False)
            socks.append(sock)
        turn = itertools.cycle(socks)
        t0 = time.monotonic()
        end = t0 + seconds
        shown = 0
        while (now := time.monotonic()) < end:
            wanted = due(now - t0, qps) if qps else tally.sent + 64
            while tally.sent < wanted:
                qid, wire = queries.query()
                try:
                    next(turn).send(wire)
                except (BlockingIOError, InterruptedError):
                    break  # the send buffer is full: on at the next turn
                except OSError:  # ICMP port unreachable, reported on a later send
                    pass
                tally.sending(qid)
            for sock in socks:
                _drain(sock, tally)
            if progress is not None and int(now - t0) > shown:
                shown = int(now - t0)
                progress(shown, tally)
            if qps:
                select.select(socks, [], [], 0.002)
        took = time.monotonic() - t0
        late = time.monotonic() + GRACE
        while tally.answered < tally.sent and (left := late - time.monotonic()) > 0:
            select.select(socks, [], [], min(left, 0.05))
            for sock in socks:
                _drain(sock, tally)
    return tally, took


def spread(first: str, n: int) -> list[str]:
    """`n` consecutive addresses from `first` (each checked to be in loopback by the caller)."""
    try:
        start = ipaddress.IPv4Address(first)
    except ValueError:
        raise FloodError(f"source {first!r} is not an IPv4 address") from None
    return [str(start + i) for i in range(n) if int(start) + i <= 0xFFFFFFFF]


def _drain(sock: socket.socket, tally: Tally) -> None:
    while True:
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue  # a reported ICMP error; the next read goes on
        tally.received(data)
