"""A server's identity (CH TXT, NSID): its command-line flags, and the `Identity` built from its
configuration with the machine's hostname and our version."""

from __future__ import annotations

import argparse
import importlib.metadata
import socket
from typing import Any

from dnsserver.chaos import Identity


def package_version() -> str:
    try:
        return "minternet " + importlib.metadata.version("minternet")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "minternet"


def from_config(
    *, identity: str, hide_identity: bool, version: str, hide_version: bool
) -> Identity:
    """Raises ValueError for a text longer than one TXT string (255 octets)."""
    return Identity.from_settings(
        identity=identity,
        hide_identity=hide_identity,
        version=version,
        hide_version=hide_version,
        hostname=socket.gethostname(),
        default_version=package_version(),
    )


def add_args(p: argparse.ArgumentParser) -> None:
    """--identity, --hide-identity, --hide-version: what CH TXT queries and NSID are told."""
    p.add_argument(
        "--identity",
        metavar="TEXT",
        help="answer to id.server / hostname.bind CH TXT and NSID (default: the hostname)",
    )
    p.add_argument(
        "--hide-identity",
        action="store_true",
        default=None,
        help="REFUSE id.server / hostname.bind and send no NSID",
    )
    p.add_argument(
        "--hide-version",
        action="store_true",
        default=None,
        help="REFUSE version.bind / version.server",
    )


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys that the identity flags set."""
    keys = ("identity", "hide_identity", "hide_version")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
