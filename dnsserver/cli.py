"""The `dnsserver` command. Subcommands register through SUBCOMMANDS (one `add_parser`
function each, which sets `func` on its parser); `serve` runs an authoritative server,
`checkzone` checks a zone file as `named-checkzone` does, `flood` sends a bounded
random-subdomain flood to a server on loopback (dnsserver/flood_cli.py)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence

import dns.exception
import dns.name

from dnsserver.aio import identity
from dnsserver.aio.server import DnsServer, log_zone_error
from dnsserver.config import AuthConfig
from dnsserver.errors import ZoneError
from dnsserver.flood_cli import add_flood
from dnsserver.masterfile import origin_of
from dnsserver.resolver_cli import add_parsers
from dnsserver.wire import Name
from dnsserver.zone import load_zone, zone_name
from minternet import __version__, console, logs, options, service
from minternet import config as mconfig
from minternet.listen import AddressError, parse_hostport

log = logging.getLogger("dnsserver")


def add_serve(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="run an authoritative server on zone files",
        description="Serve RFC 1035 master files authoritatively over UDP and TCP.",
    )
    p.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="FILE",
        help="a master file with an $ORIGIN (repeatable)",
    )
    p.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="ADDR:PORT",
        help="address to serve on, UDP and TCP (repeatable; default port 53)",
    )
    p.add_argument(
        "--rrl-rate",
        type=float,
        metavar="N",
        help="response rate limit per client /24 and response class (default 200/s)",
    )
    p.add_argument(
        "--rrl-ipv4-prefix",
        type=int,
        metavar="N",
        help="IPv4 clients share a rate-limit budget per /N (default 24)",
    )
    p.add_argument(
        "--rrl-exempt",
        action="append",
        default=[],
        metavar="ADDR",
        help="an address or network RRL never limits, e.g. a known resolver (repeatable)",
    )
    p.add_argument("--no-rrl", action="store_true", help="turn response rate limiting off")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="FILE",
        help="TSIG keys in BIND's key-file form, as nsupdate -k reads them (repeatable)",
    )
    p.add_argument(
        "--allow-update",
        action="append",
        default=[],
        metavar="ZONE=KEY[,KEY]",
        help="accept dynamic updates (RFC 2136) to ZONE signed with these keys (repeatable)",
    )
    p.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="ZONE=ADDR[:PORT]",
        help="a secondary of ZONE: sent NOTIFY on every change, allowed to transfer (repeatable)",
    )
    p.add_argument(
        "--allow-transfer",
        action="append",
        default=[],
        metavar="ZONE=WHO[,WHO]",
        help="who may AXFR/IXFR ZONE: addresses, networks or `key NAME` (repeatable; default: "
        "the zone's --notify secondaries and its --allow-update keys)",
    )
    p.add_argument(
        "--secondary",
        action="append",
        default=[],
        metavar="ZONE=PRIMARY[:PORT]",
        help="serve ZONE as a secondary of PRIMARY: SOA checks, NOTIFY, IXFR/AXFR (repeatable)",
    )
    p.add_argument(
        "--secondary-dir",
        metavar="DIR",
        help="where the secondary zones' copies are kept (default: ./secondary)",
    )
    identity.add_args(p)
    options.daemon_options(p, name="dnsserver", config="the keys of dnsserver.config.AuthConfig")
    p.set_defaults(func=serve)


def add_checkzone(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "checkzone",
        help="check a zone file as named-checkzone does",
        description="Load a master file and check it as `dnsserver serve` does: print every "
        "error and warning as file:line, then `zone NAME/IN: loaded serial N` and OK (exit 0) or "
        "`not loaded due to errors.` (exit 1). ORIGIN defaults to the file's first $ORIGIN; "
        "BIND's order (ORIGIN first) is accepted too when only the second argument is a file.",
    )
    p.add_argument("zonefile", metavar="ZONEFILE")
    p.add_argument("origin", metavar="ORIGIN", nargs="?", help="the zone's name")
    p.set_defaults(func=checkzone)


#: Subcommand registration: append an `add_parser(subparsers)` function to add a command.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    add_serve,
    add_checkzone,
    add_parsers,
    add_flood,
]


def build_config(args: argparse.Namespace) -> AuthConfig:
    cfg = mconfig.load(args.config, AuthConfig) if args.config else AuthConfig()
    if args.zone:
        cfg = dataclasses.replace(cfg, zones=cfg.zones + tuple(args.zone))
    if args.listen:
        cfg = dataclasses.replace(cfg, listen=cfg.listen + tuple(args.listen))
    if args.control:
        cfg = dataclasses.replace(cfg, control=args.control)
    if args.rrl_rate is not None:
        cfg = dataclasses.replace(cfg, rrl=dataclasses.replace(cfg.rrl, rate=args.rrl_rate))
    if args.rrl_ipv4_prefix is not None:
        rrl = dataclasses.replace(cfg.rrl, ipv4_prefix=args.rrl_ipv4_prefix)
        cfg = dataclasses.replace(cfg, rrl=rrl)
    if args.rrl_exempt:
        rrl = dataclasses.replace(cfg.rrl, exempt=cfg.rrl.exempt + tuple(args.rrl_exempt))
        cfg = dataclasses.replace(cfg, rrl=rrl)
    if args.no_rrl:
        cfg = dataclasses.replace(cfg, rrl=dataclasses.replace(cfg.rrl, enabled=False))
    if args.key:
        cfg = dataclasses.replace(cfg, keys=cfg.keys + tuple(args.key))
    if args.allow_update:
        allow = _per_zone("allow_update", "KEY", args.allow_update, cfg.allow_update)
        cfg = dataclasses.replace(cfg, allow_update=allow)
    if args.allow_transfer:
        acl = _per_zone("allow_transfer", "WHO", args.allow_transfer, cfg.allow_transfer)
        cfg = dataclasses.replace(cfg, allow_transfer=acl)
    if args.notify:
        cfg = dataclasses.replace(cfg, notify=_per_zone("notify", "ADDR", args.notify, cfg.notify))
    for text in args.secondary:
        zone, sep, primary = text.partition("=")
        if not sep or not zone.strip() or not primary.strip():
            raise mconfig.ConfigError(f"--secondary {text!r}: expected ZONE=PRIMARY[:PORT]")
        cfg = dataclasses.replace(cfg, secondary={**cfg.secondary, zone.strip(): primary.strip()})
    if args.secondary_dir:
        cfg = dataclasses.replace(cfg, secondary_dir=args.secondary_dir)
    cfg = dataclasses.replace(cfg, **identity.overrides(args))
    if not cfg.zones and not cfg.secondary:
        raise mconfig.ConfigError(
            "no zone: give --zone FILE, --secondary ZONE=PRIMARY or zones = [...] in --config"
        )
    for primary in cfg.secondary.values():
        parse_hostport(primary, 53)
    for targets in cfg.notify.values():
        for target in targets:
            parse_hostport(target, 53)
    if not cfg.listen:
        raise mconfig.ConfigError("no listen address: give --listen ADDR:PORT")
    if cfg.control:
        parse_hostport(cfg.control)
    for text in cfg.listen:
        parse_hostport(text, 53)
    return cfg


def _per_zone(
    option: str, item: str, texts: list[str], given: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """`ZONE=A[,B]` options (repeatable) added to the configuration's table of the same name."""
    out = dict(given)
    for text in texts:
        zone, sep, rest = text.partition("=")
        items = tuple(n.strip() for n in rest.split(",") if n.strip())
        if not sep or not zone.strip() or not items:
            flag = "--" + option.replace("_", "-")
            raise mconfig.ConfigError(f"{flag} {text!r}: expected ZONE={item}[,{item}]")
        out[zone.strip()] = out.get(zone.strip(), ()) + items
    return out


def serve(args: argparse.Namespace) -> int:
    logs.setup(args.name, args.log_level)
    try:
        cfg = build_config(args)
        server = DnsServer(cfg, name=args.name)
    except (mconfig.ConfigError, AddressError, ValueError) as e:
        log.error("bad configuration: %s", e)
        return 2
    except ZoneError as e:
        log_zone_error(e, "refusing to start")
        return 1
    # The zones are loaded: move them out of the cyclic collector's way, and collect the young
    # generation less often (every query allocates tuples the collector would scan).
    return service.run(server, ready_file=args.ready_file)


def checkzone(args: argparse.Namespace) -> int:
    path, text = args.zonefile, args.origin
    if text is not None and not os.path.isfile(path) and os.path.isfile(text):
        path, text = text, path  # `named-checkzone example.com example.com.zone`
    origin: Name | None = None
    if text is not None:
        try:
            origin = tuple(dns.name.from_text(text).labels[:-1])
        except dns.exception.DNSException as e:
            print(f"dnsserver checkzone: bad zone name {text!r}: {e}", file=sys.stderr)
            return 2
    try:
        zone = load_zone(path, origin, pause_gc=True)
    except ZoneError as e:
        for problem in e.problems:
            print(problem.to_text())
        if not e.problems:
            print(f"{e}")
        name = origin if origin is not None else origin_of(path)
        label = f"zone {zone_name(name)}/IN" if name is not None else path
        print(f"{label}: not loaded due to errors.")
        return 1
    for problem in zone.warnings:
        print(problem.to_text())
    print(zone.loaded_text())
    print("OK")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnsserver", description="minternet DNS servers")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return console.piped(lambda: func(args))


if __name__ == "__main__":
    sys.exit(main())
