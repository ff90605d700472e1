"""`tracker serve`: run one BitTorrent tracker (HTTP and optionally UDP) by hand."""

from __future__ import annotations

import argparse
import logging
import sys

from minternet import __version__, console, logs, options, service
from minternet import config as mconfig
from minternet.listen import AddressError, parse_hostport
from tracker.aio.server import TrackerDaemon
from tracker.config import TrackerConfig
from tracker.errors import TrackerError

log = logging.getLogger("tracker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the tracker")
    serve.add_argument("--listen", required=True, metavar="ADDR:PORT", help="HTTP address")
    serve.add_argument("--udp", metavar="ADDR:PORT", help="also serve BEP 15 UDP here")
    options.daemon_options(serve, name="tracker", config="the keys of tracker.config")
    return parser


def main(argv: list[str] | None = None) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
    logs.setup(args.name, args.log_level)
    try:
        http = parse_hostport(args.listen)
        udp = parse_hostport(args.udp) if args.udp else None
        control = parse_hostport(args.control) if args.control else None
        cfg = mconfig.load(args.config, TrackerConfig) if args.config else TrackerConfig()
        daemon = TrackerDaemon(cfg, http=http, udp=udp, control=control, name=args.name)
    except (AddressError, mconfig.ConfigError, TrackerError) as e:
        log.error("%s", e)
        return 2
    return service.run(daemon, ready_file=args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
