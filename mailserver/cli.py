"""The `mailserver` command: `serve --config FILE` runs the mail server; `user add|passwd|del|list`
manage its users file (they work while the server runs: it reads the file again when it changes).

Exit status: 0 done; 1 it could not be done (the user exists or does not, a domain the server
does not serve, a configuration or users file that cannot be used, passwords that differ);
2 the command line is wrong (argparse's usage errors, an address that is not one).

Subcommands register through SUBCOMMANDS (one `add_parser` function each, which sets `func` on
its parser): `serve`, the daemon, joins them with the asyncio shells.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from mailserver import config as mailconfig
from mailserver.aio.server import add_serve
from mailserver.config import MailConfig
from mailserver.queuecli import QueueRefused, add_queue
from mailserver.users import UserDb, UserError, normalise
from minternet import __version__, console
from minternet import config as mconfig

PROG = "mailserver"


class Refused(Exception):
    """What the user asked cannot be done; exit status 1."""


class Usage(Exception):
    """The command line is wrong; exit status 2."""


def _config(args: argparse.Namespace) -> MailConfig:
    try:
        return mailconfig.load(args.config)
    except mconfig.ConfigError as e:
        raise Refused(f"bad configuration: {e}") from None


def _address(text: str) -> str:
    try:
        return normalise(text)
    except UserError as e:
        raise Usage(str(e)) from None


def read_password(address: str, stdin: TextIO, prompt: Callable[[str], str]) -> bytes:
    """The new password: typed twice at a terminal (not echoed), else the first line of
    standard input (for scripts: `echo secret | mailserver user add ...`)."""
    if stdin.isatty():
        first = prompt(f"New password for {address}: ")
        if prompt("Retype it: ") != first:
            raise Refused("the passwords differ; nothing changed")
    else:
        first = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not first:
        raise Refused("the password is empty; nothing changed")
    return first.encode("utf-8")


def _users(cfg: MailConfig) -> UserDb:
    return UserDb(cfg.paths().users)


def user_add(args: argparse.Namespace) -> int:
    address = _address(args.address)
    cfg = _config(args)
    domain = address.rpartition("@")[2]
    if not cfg.serves(domain):
        raise Refused(
            f"{cfg.hostname} does not serve {domain} (it serves {', '.join(cfg.domains)})"
        )
    db = _users(cfg)
    if db.exists(address):  # before asking for a password; add() checks again under the lock
        raise Refused(f"{address} already exists")
    db.add(address, read_password(address, args.stdin, args.prompt))
    print(f"added {address}")
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    address = _address(args.address)
    db = _users(_config(args))
    if not db.exists(address):
        raise Refused(f"no user {address}")
    db.set_password(address, read_password(address, args.stdin, args.prompt))
    print(f"changed the password of {address}")
    return 0


def user_del(args: argparse.Namespace) -> int:
    address = _address(args.address)
    cfg = _config(args)
    _users(cfg).delete(address)
    print(f"deleted {address} (their mail stays under {cfg.paths().mail})")
    return 0


def user_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    for address in _users(cfg).addresses():
        if args.domain is None or address.rpartition("@")[2] == args.domain:
            print(address)
    return 0


def add_user(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "user",
        help="add, change, delete or list the users of a mail server",
        description="Manage the users file of the server that --config describes. The running "
        "server sees the change at once. Passwords are read from the terminal (twice, not "
        "echoed), or as the first line of standard input when it is not a terminal.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, func: Callable[[argparse.Namespace], int], what: str) -> None:
        sp = actions.add_parser(name, help=what, description=what)
        if name == "list":
            sp.add_argument("domain", nargs="?", metavar="DOMAIN", type=_domain_arg)
        else:
            sp.add_argument("address", metavar="ADDRESS")
        sp.add_argument("--config", required=True, metavar="FILE", help="the server's TOML config")
        sp.set_defaults(func=func)

    action("add", user_add, "add a user of one of the server's domains")
    action("passwd", user_passwd, "change a user's password")
    action("del", user_del, "delete a user (their mail is kept)")
    action("list", user_list, "list the users, of one domain if given")


def _domain_arg(text: str) -> str:
    try:
        return normalise(f"x@{text}").rpartition("@")[2]
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


#: Subcommand registration: append an `add_parser(subparsers)` function to add a command.
#: `serve` is the daemon (mailserver/aio/server.py: SMTP, IMAP, POP3 and control).
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    add_serve,
    add_user,
    add_queue,
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return p


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
    args.stdin = stdin or sys.stdin
    args.prompt = prompt
    where = " ".join([PROG, args.command, *([args.action] if "action" in args else [])])
    try:
        code: int = args.func(args)
    except Usage as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 2
    except (Refused, QueueRefused, UserError, OSError) as e:
        print(f"{where}: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(f"\n{where}: interrupted; nothing changed", file=sys.stderr)
        return 1
    return code
