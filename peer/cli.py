"""`peer`: make torrents, read them, seed and download them.

  peer create PATH --tracker URL [--tracker URL ...] [--piece-size 256KiB] [--private]
              [--comment TEXT] -o FILE.torrent
  peer info FILE.torrent
  peer seed FILE.torrent DIR --listen ADDR:PORT [--max-up RATE] [-v] [--json]
  peer download FILE.torrent -o DIR --listen ADDR:PORT [--seed] [--max-up RATE]
                [--max-down RATE] [--picker rarest|random] [--hold] [-v] [--json]

`seed` serves DIR/<name> once every piece checks out, until SIGINT or SIGTERM. `download`
fetches into DIR/<name> (what is there already is verified and kept) and exits 0 once every
piece is verified, or keeps seeding with --seed. Both listen, dial and announce from ADDR
only, and tell the tracker `stopped` on the way out. One line per event on standard output
(`-v`: also every piece, every rarest-first choice and every choking round; `--json`: each
event as a JSON object on a line of its own); on a terminal, below them, a progress line
(pieces, percent, rates, peers, ETA). RATE is bytes per second, e.g. 512KiB or 2MiB.

`create` hashes a file, or a directory walked in the order peer/create.py gives (the order
libtorrent uses, so both make the same info-hash for the same content and piece size), with
a progress line on a terminal. Exit status: 0 done, 2 for a bad argument, a torrent we refuse
or a file that cannot be read or written (one line saying which and why).

`--max-up 0` uploads nothing (no peer is ever unchoked: a free-rider). `--picker random`
draws every piece at random instead of rarest first. `--hold` gets ready (checks the data,
listens, writes --ready-file) and then waits for SIGUSR1 before it announces: the
file-distribution experiment starts N downloaders at one instant that way.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import random
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from minternet import __version__, console, logs, options, service
from minternet.control import ControlServer
from minternet.listen import AddressError, parse_hostport
from minternet.logs import Throttle
from peer.aio.disk import DiskError
from peer.aio.link import Link
from peer.aio.torrent import Torrent
from peer.choker import Choker, rate_text
from peer.create import PieceHasher, build, choose_piece_length
from peer.metainfo import Metainfo, MetainfoError, from_bytes
from peer.sizes import format_size, parse_size

log = logging.getLogger("peer")

READ = 1 << 20  # bytes read from a file at a time while hashing
SHOWN_FILES = 50  # files `info` lists by name before it only counts the rest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peer", description="Make and read torrent files.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="make a torrent of a file or a directory")
    create.add_argument("path", metavar="PATH", help="the file or directory to share")
    create.add_argument(
        "--tracker", action="append", required=True, metavar="URL", help="repeat for more tiers"
    )
    create.add_argument(
        "--piece-size", type=_size, metavar="SIZE", help="e.g. 256KiB (default: by content size)"
    )
    create.add_argument("--private", action="store_true", help="peers from trackers only")
    create.add_argument("--comment", metavar="TEXT")
    create.add_argument("-o", "--output", required=True, metavar="FILE", help="the .torrent")
    info = sub.add_parser("info", help="what a torrent file holds")
    info.add_argument("torrent", metavar="FILE.torrent")
    seed = sub.add_parser("seed", help="serve a torrent's data to other peers")
    seed.add_argument("torrent", metavar="FILE.torrent")
    seed.add_argument("dir", metavar="DIR", help="the folder that holds the torrent's name")
    download = sub.add_parser("download", help="fetch a torrent's data")
    download.add_argument("torrent", metavar="FILE.torrent")
    download.add_argument("-o", "--output", required=True, metavar="DIR")
    download.add_argument("--seed", action="store_true", help="keep seeding once complete")
    download.add_argument(
        "--max-down", type=_size, metavar="RATE", help="bytes/s received, e.g. 4MiB"
    )
    download.add_argument(
        "--picker", choices=("rarest", "random"), default="rarest", help="piece order (rarest)"
    )
    download.add_argument(
        "--hold", action="store_true", help="once ready, wait for SIGUSR1 before announcing"
    )
    for p in (seed, download):
        p.add_argument("--listen", required=True, metavar="ADDR:PORT", help="our one address")
        p.add_argument(
            "--announce-ip",
            type=_ipv4,
            metavar="ADDR",
            help="the IPv4 address other peers reach us at, told to the tracker (behind NAT, "
            "or a container's published port); the tracker must trust our address for it",
        )
        p.add_argument("-v", "--verbose", action="store_true", help="every piece and decision")
        p.add_argument("--json", action="store_true", help="events as JSON lines")
        p.add_argument(
            "--max-up", type=_rate, metavar="RATE", help="bytes/s sent, e.g. 1MiB; 0: none"
        )
        p.add_argument(
            "--unchoke-slots", type=int, default=4, metavar="N", help="tit-for-tat slots (4)"
        )
        p.add_argument(
            "--choke-interval", type=float, default=10.0, metavar="S", help="re-rank every S s (10)"
        )
        p.add_argument(
            "--optimistic-interval",
            type=float,
            default=30.0,
            metavar="S",
            help="a new optimistic unchoke every S s (30)",
        )
        options.daemon_options(p, name="peer", config=None)
    return parser


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def _rate(text: str) -> int:
    """A size, or 0 (--max-up 0: nothing at all)."""
    return 0 if text.strip() == "0" else _size(text)


def walk(root: Path) -> Iterator[tuple[list[str], Path]]:
    """The files of directory `root` in torrent order: depth first, each directory's entries
    as the operating system lists them (see peer/create.py), as (path segments, file)."""
    with os.scandir(root) as entries:
        listed = list(entries)
    for entry in listed:
        if entry.is_dir():
            for path, file in walk(Path(entry.path)):
                yield [entry.name, *path], file
        else:
            yield [entry.name], Path(entry.path)


class Progress:
    """A progress line on a terminal (nothing otherwise), redrawn at most every 0.2 s."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = total
        self.out = out if out.isatty() else None
        self.done = 0
        self.shown = 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.out is not None and now - self.shown >= 0.2:
            self.shown = now
            percent = 100 * self.done // self.total if self.total else 100
            self.out.write(
                f"\rhashing {format_size(self.done)} of {format_size(self.total)} ({percent}%)"
            )
            self.out.flush()

    def end(self) -> None:
        if self.out is not None:
            self.out.write("\r\x1b[K")
            self.out.flush()


def create(args: argparse.Namespace, err: TextIO) -> bytes:
    root = Path(args.path)
    files: int | list[tuple[list[str], int]]
    if root.is_dir():
        found = [(path, f, f.stat().st_size) for path, f in walk(root)]
        files = [(path, size) for path, _, size in found]
        sources = [f for _, f, _ in found]
        total = sum(size for _, _, size in found)
    else:
        total = files = root.stat().st_size
        sources = [root]
    piece = args.piece_size or choose_piece_length(total)
    hasher = PieceHasher(piece)
    progress = Progress(total, err)
    for source in sources:
        with open(source, "rb") as f:
            while chunk := f.read(READ):
                hasher.feed(chunk)
                progress.add(len(chunk))
    progress.end()
    if hasher.total != total:
        raise ValueError(f"{root} changed while it was read ({hasher.total} bytes, not {total})")
    name = root.resolve().name
    return build(
        name,
        files,
        piece,
        hasher.pieces(),
        args.tracker,
        private=args.private,
        comment=args.comment,
        creation_date=int(time.time()),
    )


def describe(meta: Metainfo) -> list[str]:
    """`peer info`'s lines."""
    lines = [
        f"name:       {meta.name}",
        f"size:       {format_size(meta.total_length)} ({meta.total_length} bytes)",
        f"pieces:     {meta.num_pieces} of {format_size(meta.piece_length)}",
        f"info-hash:  {meta.info_hash.hex()}",
        f"private:    {'yes' if meta.private else 'no'}",
    ]
    for n, tier in enumerate(meta.trackers, 1):
        lines.append(f"tracker:    tier {n}: {' '.join(tier)}")
    if not meta.trackers:
        lines.append("tracker:    none usable")
    if meta.comment is not None:
        lines.append(f"comment:    {meta.comment}")
    if meta.created_by is not None:
        lines.append(f"created by: {meta.created_by}")
    if meta.creation_date is not None:
        lines.append(f"created:    {_date(meta.creation_date)}")
    lines.append(f"files:      {len(meta.files)}")
    for entry in meta.files[:SHOWN_FILES]:
        lines.append(f"  {'/'.join(entry.path)}  {entry.length} bytes")
    if len(meta.files) > SHOWN_FILES:
        lines.append(f"  ... and {len(meta.files) - SHOWN_FILES} more")
    return lines


def _date(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a number no calendar holds
        return f"{seconds} (not a date)"


# Events printed without -v (the rest: every piece, pick and choking round, with -v).
QUIET = frozenset(
    (
        "verified",
        "announce",
        "tracker-error",
        "connected",
        "disconnected",
        "hash-failed",
        "complete",
    )
)


class Reporter:
    """Prints the torrent's events: one line each, or a JSON object each; on a terminal (and
    not --json) a progress line stays below them, redrawn by `progress`."""

    def __init__(self, *, verbose: bool, as_json: bool, out: TextIO = sys.stdout) -> None:
        self.verbose = verbose
        self.as_json = as_json
        self.out = out
        self.bar = out.isatty() and not as_json
        self.shown = ""  # the progress line on screen

    def __call__(self, kind: str, fields: dict[str, object]) -> None:
        if self.as_json:
            record: dict[str, object] = {"event": kind, "time": round(time.time(), 3)}
            for key, value in fields.items():  # (an announce's own `event` is announce_event)
                record[f"{kind}_{key}" if key in record else key] = value
            line = json.dumps(record)
        elif self.verbose or kind in QUIET:
            text = fields.get("text") or " ".join(f"{k}={v}" for k, v in fields.items())
            line = f"{kind}: {text}"
        else:
            return
        self.out.write(("\r\x1b[K" if self.shown else "") + line + "\n" + self.shown)
        self.out.flush()

    def progress(self, state: dict[str, float]) -> None:
        if self.bar:
            self.shown = progress_line(state)
            self.out.write("\r\x1b[K" + self.shown)
            self.out.flush()

    def end(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()
            self.shown = ""


def progress_line(state: dict[str, float], width: int = 30) -> str:
    """`[#########.....]  45%  115/256 pieces  down 12.3 MB/s  up 1.0 MB/s  3 peers  ETA 0:12`"""
    have, of = int(state["have"]), int(state["of"])
    done = width * have // of if of else width
    percent = 100 * have // of if of else 100
    down = state["down"]
    if have == of:
        eta = "done"
    elif down > 0:
        seconds = int(state["left"] / down)
        eta = f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    else:
        eta = "ETA -"
    return (
        f"[{'#' * done}{'.' * (width - done)}] {percent:3d}%  {have}/{of} pieces  "
        f"down {rate_text(down)}  up {rate_text(state['up'])}  {int(state['peers'])} peers  {eta}"
    )


def transfer(args: argparse.Namespace, meta: Metainfo) -> int:
    """`seed` and `download`: run the torrent until done (download) or until a signal."""
    try:
        host, port = parse_hostport(args.listen)
        control_at = parse_hostport(args.control) if args.control else None
        choker: Choker[Link] = Choker(
            slots=args.unchoke_slots,
            interval=args.choke_interval,
            optimistic_interval=args.optimistic_interval,
            rng=random.Random(),
        )
    except (AddressError, ValueError) as e:
        print(f"peer {args.command}: {e}", file=sys.stderr)
        return 2
    seeding = args.command == "seed"
    root = Path(args.dir if seeding else args.output)
    keep = seeding or args.seed
    peer_id = b"-MN0100-" + secrets.token_hex(6).encode()
    report = Reporter(verbose=args.verbose, as_json=args.json)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        torrent = Torrent(
            meta,
            root,
            host=host,
            port=port,
            peer_id=peer_id,
            seed_only=seeding,
            on_event=report,
            max_up=args.max_up,
            max_down=getattr(args, "max_down", None),
            choker=choker,
            rarest_first=getattr(args, "picker", "rarest") == "rarest",
            announce_ip=args.announce_ip,
        )
        hold = getattr(args, "hold", False)
        go = asyncio.Event()
        if hold:
            loop.add_signal_handler(signal.SIGUSR1, go.set)
        control_server = None
        try:
            await torrent.start(join=not hold)
            ports = {"bittorrent": torrent.port}
            if control_at is not None:
                control_server = ControlServer({"stats": torrent.stats}, throttle=Throttle())
                ports["control"] = await control_server.start(*control_at)
        except (DiskError, ValueError, OSError) as e:
            print(f"peer {args.command}: {getattr(e, 'reason', None) or e}", file=sys.stderr)
            if control_server is not None:
                control_server.close()
            await torrent.stop()
            return 2
        log.info(
            "ready (pid %d, %s)", os.getpid(), ", ".join(f"{k} port {v}" for k, v in ports.items())
        )
        if args.ready_file:
            service.write_ready_file(args.ready_file, {"pid": os.getpid(), "ports": ports})
        if hold:
            held: list[asyncio.Future[object]] = [
                asyncio.ensure_future(go.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            await asyncio.wait(held, return_when=asyncio.FIRST_COMPLETED)
            for w in held:
                w.cancel()
            if go.is_set():
                log.info("released: joining the swarm")
                torrent.join()
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
        if not keep:
            waits.append(asyncio.ensure_future(torrent.done.wait()))
        if report.bar:
            waits.append(asyncio.ensure_future(drawing(report, torrent)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        report.end()
        log.info("stopping")
        if control_server is not None:
            control_server.close()
        await torrent.stop()
        if args.ready_file:
            Path(args.ready_file).unlink(missing_ok=True)
        log.info("stopped")
        if not seeding and not torrent.done.is_set():
            print(
                f"peer download: stopped with {torrent.have.count} of {meta.num_pieces} pieces",
                file=sys.stderr,
            )
            return 1
        return 0

    return asyncio.run(run())


async def drawing(report: Reporter, torrent: Torrent) -> None:
    """Redraw the progress line twice a second (until cancelled)."""
    while True:
        report.progress(torrent.progress())
        await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
    if args.command in ("seed", "download"):
        logs.setup(args.name, logging.DEBUG if args.verbose else args.log_level)
        meta = read_torrent(args.command, args.torrent)
        return 2 if meta is None else transfer(args, meta)
    if args.command == "create":
        try:
            data = create(args, sys.stderr)
            Path(args.output).write_bytes(data)
        except (OSError, ValueError) as e:
            print(f"peer create: {e}", file=sys.stderr)
            return 2
        meta = from_bytes(data)
        print(
            f"{args.output}: {meta.name}, {format_size(meta.total_length)}, "
            f"{meta.num_pieces} pieces of {format_size(meta.piece_length)}, "
            f"info-hash {meta.info_hash.hex()}"
        )
        return 0
    meta = read_torrent("info", args.torrent)
    if meta is None:
        return 2
    print("\n".join(describe(meta)))
    return 0


def read_torrent(command: str, path: str) -> Metainfo | None:
    """The torrent at `path`, or None once one line has said why it cannot be used."""
    try:
        return from_bytes(Path(path).read_bytes())
    except OSError as e:
        print(f"peer {command}: {e}", file=sys.stderr)
    except MetainfoError as e:
        print(f"peer {command}: {path}: {e.reason}", file=sys.stderr)
    return None


if __name__ == "__main__":
    sys.exit(main())
