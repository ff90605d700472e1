"""The command-line options every daemon shares: --name, --ready-file, --log-level, --control,
--config (each daemon adds its own --listen and the rest)."""

from __future__ import annotations

import argparse

from minternet import logs


def daemon_options(p: argparse.ArgumentParser, *, name: str, config: str | None) -> None:
    """Add the shared options to a daemon's subcommand; `config` says what the TOML file holds
    (None: the daemon takes no --config)."""
    p.add_argument(
        "--control",
        metavar="ADDR:PORT",
        help="control endpoint (stats and the daemon's own commands); bind it to loopback",
    )
    if config is not None:
        p.add_argument("--config", metavar="FILE", help=f"TOML configuration: {config}")
    p.add_argument("--name", default=name, help="service name in log lines (default: %(default)s)")
    p.add_argument(
        "--ready-file", metavar="PATH", help="write {pid, ports} as JSON here once serving"
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        type=logs.level_arg,
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO)",
    )
