"""`dnsserver resolve | trace | cache | stats`: the resolver daemon and the tools around it.

A shell module (it runs event loops and talks to daemons), kept out of the resolver's core
package dnsserver/resolver/.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
import time
from typing import Any

from dnslib import RCODE

from dnsserver.aio import identity
from dnsserver.resolver import control as control_core
from dnsserver.resolver import hints as hints_mod
from dnsserver.resolver.cache import Cache
from dnsserver.resolver.config import ResolverConfig
from dnsserver.resolver.drive import drive
from dnsserver.resolver.errors import ResolverError
from dnsserver.resolver.iterate import IterConfig, Resolver, Result
from dnsserver.resolver.rrset import Name, to_text, type_text
from dnsserver.text import TextError, parse_name, parse_type
from minternet import config as config_mod
from minternet import logs, options, service
from minternet.control import flat_stats
from minternet.control import request as control
from minternet.listen import AddressError, parse_hostport

#: Unbound's remote-control port 8953 under the topology's unprivileged scheme (+10000).
DEFAULT_CONTROL = "127.0.0.2:18953"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("resolve", help="run the caching resolver (iterates from root hints)")
    p.add_argument(
        "--listen", metavar="ADDR:PORT", help="stub-facing UDP and TCP (default 127.0.0.2:10053)"
    )
    p.add_argument("--root-hints", metavar="FILE", help="root hints (RFC 1035 master file)")
    p.add_argument(
        "--upstream-port", type=int, metavar="N", help="DNS port of every upstream server (53)"
    )
    p.add_argument(
        "--forward",
        action="append",
        metavar="ADDR:PORT",
        help="forwarding mode: send every query (RD=1) to this resolver (repeatable)",
    )
    p.add_argument(
        "--serve-stale",
        action="store_true",
        default=None,
        help="answer from expired data when every server of a zone fails (RFC 8767; off)",
    )
    p.add_argument(
        "--randomize-case",
        action="store_true",
        default=None,
        help="0x20: random letter case in upstream questions, checked in answers (off)",
    )
    identity.add_args(p)
    options.daemon_options(
        p, name="resolver", config="the keys of ResolverConfig; flags override it"
    )
    p.set_defaults(func=cmd_resolve)

    t = sub.add_parser(
        "trace",
        help="show each step of an iterative resolution from the root",
        description="Resolve NAME with an empty cache, asking the root, then each server it is "
        "referred to, and print every step: the notes' iterated query.",
    )
    t.add_argument("qname", metavar="NAME", help="the name to resolve, e.g. gaia.cs.umass.edu")
    t.add_argument(
        "qtype",
        metavar="TYPE",
        nargs="?",
        default="A",
        help="record type: A, AAAA, MX, TXT, ... or a number (default: A)",
    )
    g = t.add_mutually_exclusive_group()
    g.add_argument(
        "--root-hints", metavar="FILE", help="root hints file (default: the default topology's)"
    )
    g.add_argument("--server", metavar="ADDR", help="start at this server instead of the root")
    t.add_argument(
        "--port",
        type=_port,
        default=10053,
        metavar="N",
        help="DNS port of every server asked (default: 10053, the topology's)",
    )
    t.add_argument(
        "--timeout",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for each server's answer, in seconds (default: 2)",
    )
    t.set_defaults(func=cmd_trace)

    c = sub.add_parser(
        "cache",
        help="dump or flush a running resolver's cache",
        description="Show (dump) or drop (flush) what a running resolver has cached.",
    )
    c.add_argument(
        "action",
        choices=["dump", "flush"],
        help="dump: print the cached records; flush: drop them",
    )
    c.add_argument("name", metavar="NAME", nargs="?", help="only this owner name (default: all)")
    c.add_argument("--tree", action="store_true", help="flush: the whole subtree below NAME")
    c.add_argument(
        "--control",
        metavar="ADDR:PORT",
        default=DEFAULT_CONTROL,
        help=f"the resolver's control endpoint (default: {DEFAULT_CONTROL})",
    )
    c.set_defaults(func=cmd_cache)

    s = sub.add_parser("stats", help="a running resolver's counters")
    s.add_argument(
        "--control",
        metavar="ADDR:PORT",
        default=DEFAULT_CONTROL,
        help=f"the resolver's control endpoint (default: {DEFAULT_CONTROL})",
    )
    s.add_argument(
        "--json", action="store_true", help="the same counters as one JSON object, for scripts"
    )
    s.set_defaults(func=cmd_stats)


def _port(text: str) -> int:
    """argparse `type=` for a port number: a usage error, not a traceback, when it is not one."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (1 to 65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"invalid time {text!r} (seconds, more than 0)")
    return value


def build_config(args: argparse.Namespace) -> ResolverConfig:
    cfg = config_mod.load(args.config, ResolverConfig) if args.config else ResolverConfig()
    over: dict[str, Any] = {}
    for flag, key in (
        ("listen", "listen"),
        ("root_hints", "root_hints"),
        ("upstream_port", "upstream_port"),
        ("control", "control"),
        ("serve_stale", "serve_stale"),
        ("randomize_case", "randomize_case"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            over[key] = value
    if args.forward:
        over["forward"] = tuple(args.forward)
    over.update(identity.overrides(args))
    return dataclasses.replace(cfg, **over)


def cmd_resolve(args: argparse.Namespace) -> int:
    from dnsserver.aio.resolver import ResolverDaemon

    logs.setup(args.name, args.log_level)
    try:
        cfg = build_config(args)
        for text in (cfg.listen, *cfg.forward, *((cfg.control,) if cfg.control else ())):
            parse_hostport(text, cfg.upstream_port)
        daemon = ResolverDaemon(cfg, name=args.name)
    except (config_mod.ConfigError, ResolverError, AddressError, ValueError) as e:
        print(f"dnsserver resolve: {e}", file=sys.stderr)
        return 2
    # Startup objects leave the cyclic collector's view; young collections run less often
    # (every datagram allocates an address tuple the collector would otherwise scan).
    return service.run(daemon, ready_file=args.ready_file)


# -- trace ----------------------------------------------------------------------------------


def _default_hints() -> hints_mod.RootHints:
    from minternet import topology, zonegen

    return hints_mod.parse(zonegen.render_root_hints(topology.DEFAULT), "default topology")


async def trace(
    qname: Name, qtype: int, hints: hints_mod.RootHints, port: int, timeout: float
) -> Result:
    """Resolve with an empty cache, so that every step from the root is taken and recorded."""
    from dnsserver.aio.upstream import Upstream
    from dnsserver.resolver.servers import SelectionConfig, ServerSelector
    from dnsserver.resolver.stats import Stats

    rng = random.SystemRandom()
    stats = Stats()
    core = Resolver(
        hints,
        Cache(),
        rng=rng,
        stats=stats,
        config=IterConfig(max_time=max(6.0, timeout * 4)),
        selector=ServerSelector(rng, SelectionConfig(initial_rto=timeout, max_rto=timeout)),
    )
    up = Upstream(port=port, stats=stats)
    return await drive(core.resolve(qname, qtype, asyncio.get_running_loop().time()), up.exchange)


def format_trace(qname: str, qtype: int, res: Result) -> str:
    lines = [f";; trace of {qname} {type_text(qtype)}, iterating from the root"]
    for i, s in enumerate(res.steps, 1):
        lines.append(
            f"{i:>3}  ask {s.server:<15} (zone {to_text(s.zone)}) {to_text(s.qname)} "
            f"{type_text(s.qtype)}: {s.outcome.upper()} {s.detail}  [{s.elapsed * 1000:.1f} ms]"
        )
    lines.append(f";; status {RCODE.get(res.rcode, res.rcode)}, {res.upstream_queries} queries")
    for rrset in (*res.answer, *res.authority):
        for rr in rrset.to_rrs():
            lines.append(rr.toZone())
    return "\n".join(lines)


def cmd_trace(args: argparse.Namespace) -> int:
    try:
        qname = parse_name(args.qname)
        qtype = parse_type(args.qtype)
        if args.server:
            parse_hostport(args.server, args.port)
            hints = hints_mod.RootHints(((b"start",),), {(b"start",): (args.server,)})
        elif args.root_hints:
            hints = hints_mod.load(args.root_hints)
        else:
            hints = _default_hints()
    except (ResolverError, TextError, AddressError) as e:
        print(f"dnsserver trace: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    res = asyncio.run(trace(qname, qtype, hints, args.port, args.timeout))
    print(format_trace(to_text(qname), qtype, res))
    print(f";; {(time.monotonic() - t0) * 1000:.1f} ms in total")
    return 0 if res.rcode in (RCODE.NOERROR, RCODE.NXDOMAIN) else 1


# -- control client -------------------------------------------------------------------------


def cmd_cache(args: argparse.Namespace) -> int:
    cmd = args.action
    if args.name is not None:
        try:
            args.name = to_text(parse_name(args.name))
        except TextError as e:
            print(f"dnsserver cache: {e}", file=sys.stderr)
            return 2
    if cmd == "flush" and args.tree:
        if not args.name:
            print("dnsserver cache flush --tree needs a NAME", file=sys.stderr)
            return 2
        cmd = "flush-tree"
    try:
        reply = control(args.control, f"{cmd} {args.name or ''}".strip())
    except (OSError, ValueError) as e:
        print(f"dnsserver cache: cannot reach {args.control}: {e}", file=sys.stderr)
        return 1
    if "error" in reply:
        print(f"dnsserver cache: {reply['error']}", file=sys.stderr)
        return 1
    if args.action == "dump":
        for row in reply["entries"]:
            print(row)
        if not reply["entries"]:
            print(f"no cached entries for {args.name}" if args.name else "the cache is empty")
    else:
        print(f"flushed {control_core.entries(reply['flushed'])}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    try:
        reply = control(args.control, "stats")
    except (OSError, ValueError) as e:
        print(f"dnsserver stats: cannot reach {args.control}: {e}", file=sys.stderr)
        return 1
    if "error" in reply or not isinstance(reply.get("stats"), dict):
        print(f"dnsserver stats: {reply.get('error', 'unexpected reply')}", file=sys.stderr)
        return 1
    counters = flat_stats(reply)
    if args.json:  # the same keys, in the same order, as the text form
        print(json.dumps(counters, indent=2))
        return 0
    width = max(map(len, counters))
    for k, v in counters.items():
        if isinstance(v, dict):  # last_second: the rates
            shown = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in v.items())
            shown = shown or "(not yet: one second after the start)"
        else:
            shown = (" ".join(map(str, v)) or "(none)") if isinstance(v, list) else v
        print(f"{k:<{width}}  {shown}")
    return 0
