"""The `dnsserver` command. Subcommands register through SUBCOMMANDS (one `add_parser`
function each, which sets `func` on its parser); `serve` runs an authoritative server."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import sys
from collections.abc import Callable, Sequence

from dnsserver.aio.server import DnsServer, log_zone_error
from dnsserver.config import ServerConfig
from dnsserver.errors import ZoneError
from dnsserver.resolver.cli import add_parsers
from minternet import config as mconfig
from minternet import logs, service
from minternet.listen import AddressError, parse_hostport

log = logging.getLogger("dnsserver")


def _common(p: argparse.ArgumentParser, default_name: str) -> None:
    p.add_argument("--name", default=default_name, help="service name in log lines")
    p.add_argument("--ready-file", help="write {pid, ports} as JSON here once serving")
    p.add_argument(
        "--log-level", default="INFO", type=logs.level_arg, help="DEBUG, INFO, WARNING, ERROR"
    )


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
    p.add_argument("--config", metavar="FILE", help="TOML configuration (see dnsserver.config)")
    p.add_argument(
        "--rrl-rate",
        type=float,
        metavar="N",
        help="response rate limit per client /24 and response class (default 200/s)",
    )
    p.add_argument("--no-rrl", action="store_true", help="turn response rate limiting off")
    _common(p, "dnsserver")
    p.set_defaults(func=serve)


#: Subcommand registration: append an `add_parser(subparsers)` function to add a command.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_serve, add_parsers]  # type: ignore[type-arg]


def build_config(args: argparse.Namespace) -> ServerConfig:
    cfg = mconfig.load(args.config, ServerConfig) if args.config else ServerConfig()
    if args.zone:
        cfg = dataclasses.replace(cfg, zones=cfg.zones + tuple(args.zone))
    if args.listen:
        cfg = dataclasses.replace(cfg, listen=cfg.listen + tuple(args.listen))
    if args.rrl_rate is not None:
        cfg = dataclasses.replace(cfg, rrl=dataclasses.replace(cfg.rrl, rate=args.rrl_rate))
    if args.no_rrl:
        cfg = dataclasses.replace(cfg, rrl=dataclasses.replace(cfg.rrl, enabled=False))
    if not cfg.zones:
        raise mconfig.ConfigError("no zone: give --zone FILE or zones = [...] in --config")
    if not cfg.listen:
        raise mconfig.ConfigError("no listen address: give --listen ADDR:PORT")
    for text in cfg.listen:
        parse_hostport(text, 53)
    return cfg


def serve(args: argparse.Namespace) -> int:
    logs.setup(args.name, args.log_level)
    try:
        cfg = build_config(args)
        server = DnsServer(cfg, name=args.name)
    except (mconfig.ConfigError, AddressError, ValueError) as e:
        log.error("%s: bad configuration: %s", args.name, e)
        return 2
    except ZoneError as e:
        log_zone_error(args.name, e, "refusing to start")
        return 1
    # The zones are loaded: move them out of the cyclic collector's way, and collect the young
    # generation less often (every query allocates tuples the collector would scan).
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return service.run(server, ready_file=args.ready_file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnsserver", description="minternet DNS servers")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
