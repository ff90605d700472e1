"""`mailserver queue`: the outbound queue of a running server, as Postfix's postqueue and
postsuper show and change theirs, through the server's control endpoint (loopback only).

    mailserver queue --config mail.toml list          # id, age, sender, recipients, error
    mailserver queue --config mail.toml show ID       # every recipient's last error
    mailserver queue --config mail.toml retry [ID]    # try now (one, or all)
    mailserver queue --config mail.toml delete ID     # drop it (no notice is sent)

The server is found at its config's `[listen] control` (minternet up writes it:
`.minternet/mail-crepes/mail.toml`), or given as `--control ADDR:PORT`.
"""

from __future__ import annotations

import argparse
from typing import Any

from mailserver import config as mailconfig
from minternet import config as mconfig
from minternet import control


class QueueRefused(Exception):
    """The server said no (no such message, no queue): exit status 1."""


def _where(args: argparse.Namespace) -> str:
    if args.control:
        return str(args.control)
    if not args.config:
        raise QueueRefused("give --config FILE (the server's) or --control ADDR:PORT")
    try:
        endpoint = mailconfig.load(args.config).endpoints().get("control")
    except mconfig.ConfigError as e:
        raise QueueRefused(f"bad configuration: {e}") from None
    if endpoint is None:
        raise QueueRefused(f"{args.config} has no [listen] control: give --control ADDR:PORT")
    return f"{endpoint[0]}:{endpoint[1]}"


def _ask(args: argparse.Namespace, *words: str) -> dict[str, Any]:
    reply = control.request(_where(args), " ".join(("queue", *words)))
    if "error" in reply:
        raise QueueRefused(str(reply["error"]))
    return reply


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def queue_list(args: argparse.Namespace) -> int:
    rows = _ask(args, "list")["queue"]
    if not rows:
        print("the queue is empty")
        return 0
    for row in rows:
        rcpts = ", ".join(f"<{r}>" for r in row["recipients"])
        print(f"{row['id']}  {_age(row['age']):>4} old  <{row['sender']}> -> {rcpts}")
        nxt = f"attempt {row['attempts']}, next in {_age(row['next_attempt_in'])}"
        print(f"    {nxt}: {row['last_error'] or 'not tried yet'}")
    print(f"{len(rows)} message(s)")
    return 0


def queue_show(args: argparse.Namespace) -> int:
    e = _ask(args, "show", args.id)["entry"]
    print(f"{e['id']}: from <{e['sender']}>, {_age(e['age'])} old, {e['attempts']} attempt(s), "
          f"next in {_age(e['next_attempt_in'])}")  # fmt: skip
    for r in e["recipients"]:
        said = f"{r['status']} {r['error']}" + (f" ({r['remote']})" if r["remote"] else "")
        print(f"  <{r['address']}>: {said if r['error'] else 'not tried yet'}")
    return 0


def queue_retry(args: argparse.Namespace) -> int:
    n = _ask(args, "retry", *([args.id] if args.id else []))["retried"]
    print(f"{n} message(s) will be tried now")
    return 0


def queue_delete(args: argparse.Namespace) -> int:
    _ask(args, "delete", args.id)
    print(f"deleted {args.id}")
    return 0


def add_queue(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "queue",
        help="list, show, retry or delete the outbound mail of a running server",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--config", metavar="FILE", help="the server's config (its [listen] control)")
    p.add_argument("--control", metavar="ADDR:PORT",
                   help="the server's control endpoint (minternet status --json)")  # fmt: skip
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every queued message").set_defaults(func=queue_list)
    show = actions.add_parser("show", help="one message, every recipient's last error")
    show.add_argument("id", metavar="ID")
    show.set_defaults(func=queue_show)
    retry = actions.add_parser("retry", help="try one message (or all) now")
    retry.add_argument("id", metavar="ID", nargs="?")
    retry.set_defaults(func=queue_retry)
    delete = actions.add_parser("delete", help="drop a message (its sender is not told)")
    delete.add_argument("id", metavar="ID")
    delete.set_defaults(func=queue_delete)
