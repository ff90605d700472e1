"""`peer`: make torrents and read them.

  peer create PATH --tracker URL [--tracker URL ...] [--piece-size 256KiB] [--private]
              [--comment TEXT] -o FILE.torrent
  peer info FILE.torrent

`create` hashes a file, or a directory walked in the order peer/create.py gives (the order
libtorrent uses, so both make the same info-hash for the same content and piece size), with
a progress line on a terminal. Exit status: 0 done, 2 for a bad argument, a torrent we refuse
or a file that cannot be read or written (one line saying which and why).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from minternet import __version__, console
from peer.create import PieceHasher, build, choose_piece_length
from peer.metainfo import Metainfo, MetainfoError, from_bytes
from peer.sizes import format_size, parse_size

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
    return parser


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def main(argv: list[str] | None = None) -> int:
    console.setup()
    args = build_parser().parse_args(argv)
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
    try:
        meta = from_bytes(Path(args.torrent).read_bytes())
    except OSError as e:
        print(f"peer info: {e}", file=sys.stderr)
        return 2
    except MetainfoError as e:
        print(f"peer info: {args.torrent}: {e.reason}", file=sys.stderr)
        return 2
    print("\n".join(describe(meta)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
