"""Reading a .torrent file (BEP 3 v1 metainfo, BEP 12 announce-list), an untrusted input.

A torrent file is a bencoded dictionary: `announce` (the tracker URL), optionally
`announce-list` (BEP 12: tiers of tracker URLs), `comment`, `created by`, `creation date`, and
`info`. The info dictionary describes the content: `name`, `piece length`, `pieces` (the
SHA-1 of every piece, 20 bytes each, concatenated), `private` (BEP 27), and either `length`
(one file called `name`) or `files` (a directory called `name`, each file a `length` and a
`path`, a list of path segments). The content is the files concatenated in the order listed,
cut into pieces of `piece length` bytes, the last one shorter. The info-hash, which names the
torrent to trackers and peers, is the SHA-1 of the info value exactly as its bytes appear in
the file: never of a re-encoding, which could differ from the original.

Everything is checked, since a .torrent comes from anyone (MetainfoError says which field and
why); the bencoding is strict (peer/bencode.py says what it refuses and why). The rules:

- Names are paths on our disk. Every file lands at DIR/<name> (one file) or
  DIR/<name>/<path...> (a directory), so each segment, `name` included, must be a plain file
  name: valid UTF-8, not empty, not `.` or `..`, no `/`, `\\` or NUL, at most 255 bytes (the
  file name limit of Linux file systems), and not a name Windows reserves (CON, PRN, AUX, NUL,
  COM1-9, LPT1-9, in any case, with any extension, as Windows ignores trailing spaces before
  it). A file's `path` has at most MAX_PATH_DEPTH segments, and with the name in front at most
  MAX_PATH_BYTES bytes. Two files may not
  have the same path, and no file's path may be the directory of another ("a" and "a/b").
  With these rules no path can leave DIR: there is no absolute path (it would need an empty
  first segment or a `/`) and no way up. Nothing is sanitised: renaming a file would silently
  give a different download than the torrent describes, so a bad name refuses the torrent.
  Names are decoded as UTF-8 and nothing else: `name.utf-8` / `path.utf-8` (old non-standard
  keys) are ignored.
- `piece length` is positive, a multiple of 16 KiB (the block size peers request), at most
  MAX_PIECE_LENGTH; `pieces` is a whole number of 20-byte hashes, exactly one per piece of the
  content (ceil(total / piece length)); the total length is positive; every length is a
  non-negative integer; `private` is 0 or 1.
- Trackers are hints, so a bad one is dropped rather than fatal: a URL that is not
  http://, https:// or udp:// with a host, or not UTF-8, or seen before, is left out, and so are
  URLs past the first MAX_TRACKERS (a torrent must not make us announce to thousands of
  hosts). Tiers left empty are dropped. If announce-list gives no usable URL (absent, of the
  wrong shape, or all dropped), `announce` is the one tier; if neither does, there are no
  trackers (`peer info` still reads such a torrent; a download cannot start from it).
- `comment` and `created by` are informational: text that is not UTF-8 is shown with
  replacement characters, and a value of the wrong type is ignored, as is a `creation date`
  that is not an integer.

Bounds: a torrent file is at most MAX_TORRENT_SIZE bytes and lists at most MAX_FILES files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from peer.bencode import BencodeError, Value, decode_dict

__all__ = [
    "BLOCK",
    "MAX_FILES",
    "MAX_PATH_BYTES",
    "MAX_PATH_DEPTH",
    "MAX_PIECE_LENGTH",
    "MAX_TORRENT_SIZE",
    "MAX_TRACKERS",
    "FileEntry",
    "Metainfo",
    "MetainfoError",
    "from_bytes",
    "is_tracker_url",
]

# 16 MiB: the hashes dominate a torrent's size (20 bytes a piece), and 16 MiB holds 838,860
# of them, 13 TiB of content at the 16 MiB pieces that peer/create.py picks at most (or 200 GiB
# at 256 KiB pieces). libtorrent's own default limit is 10 MB; ours reads every torrent it does.
MAX_TORRENT_SIZE = 16 << 20
# Files in one torrent: large software and data-set torrents list tens of thousands; each
# costs about 8 bencoded values, so 100,000 stay inside bencode's MAX_VALUES.
MAX_FILES = 100_000
BLOCK = 16 << 10  # the unit of a request (BEP 3): a piece is a whole number of blocks
# A piece is held in memory until it is verified, once per piece in flight. 64 MiB is past
# what torrent creators offer (libtorrent and mktorrent stop at 16 or 32 MiB).
MAX_PIECE_LENGTH = 64 << 20
MAX_SEGMENT_BYTES = 255  # NAME_MAX of ext4, XFS, Btrfs, tmpfs
# A whole path under DIR, name included, segments joined by "/": 2 KiB leaves the other half
# of Linux's PATH_MAX (4096) to the download directory. 64 segments in a file's path (the
# name not counted) is deeper than any tree people share.
MAX_PATH_BYTES = 2048
MAX_PATH_DEPTH = 64
MAX_TRACKERS = 100  # public torrents list 10-30 trackers
_SCHEMES = ("http", "https", "udp")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


class MetainfoError(Exception):
    """A torrent file we refuse; `reason` names the field and what is wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file: its path under the download directory (name first: (name,) for a single-file
    torrent, (name, dir, ..., file) for a multi-file one), its length, and where its bytes
    start in the torrent's concatenated content."""

    path: tuple[str, ...]
    length: int
    offset: int


@dataclass(frozen=True, slots=True)
class Metainfo:
    """A torrent file that passed every check (the module docstring lists them)."""

    info_hash: bytes  # SHA-1 of the info value's bytes as they are in the file
    name: str
    piece_length: int
    pieces: tuple[bytes, ...]  # one 20-byte SHA-1 per piece
    files: tuple[FileEntry, ...]
    total_length: int
    multi_file: bool
    private: bool
    trackers: tuple[tuple[str, ...], ...]  # tiers of tracker URLs, in the order to try them
    comment: str | None
    created_by: str | None
    creation_date: int | None  # seconds since 1970 (UTC), as written

    @property
    def num_pieces(self) -> int:
        return len(self.pieces)

    def piece_size(self, index: int) -> int:
        """Bytes in piece `index`: piece_length, but the last piece holds what is left."""
        if not 0 <= index < len(self.pieces):
            raise ValueError(f"no piece {index}: the torrent has {len(self.pieces)}")
        return min(self.piece_length, self.total_length - index * self.piece_length)


def from_bytes(data: bytes) -> Metainfo:
    """Read a torrent file; MetainfoError naming the field at fault when it is not one we take."""
    if len(data) > MAX_TORRENT_SIZE:
        raise MetainfoError(f"the file is {len(data)} bytes, more than {MAX_TORRENT_SIZE}")
    try:
        top, spans = decode_dict(data)
    except BencodeError as e:
        raise MetainfoError(f"not a torrent file: {e.reason}") from None
    info = top.get(b"info")
    if not isinstance(info, dict):
        raise MetainfoError("info is missing or not a dictionary")
    start, end = spans[b"info"]
    name = _segment(info.get(b"name"), "info.name")
    piece_length = _integer(info, b"piece length", "info.piece length")
    if not BLOCK <= piece_length <= MAX_PIECE_LENGTH or piece_length % BLOCK:
        raise MetainfoError(
            f"info.piece length {piece_length} is not a multiple of {BLOCK} "
            f"between {BLOCK} and {MAX_PIECE_LENGTH}"
        )
    raw_files = info.get(b"files")
    if raw_files is None:
        length = _integer(info, b"length", "info.length")
        _check_length(length, "info.length")
        files: tuple[FileEntry, ...] = (FileEntry((name,), length, 0),)
    elif b"length" in info:
        raise MetainfoError("info has both length and files")
    else:
        files = _files(name, raw_files)
    total = files[-1].offset + files[-1].length
    if total == 0:
        raise MetainfoError("the torrent's content is empty (total length 0)")
    pieces = info.get(b"pieces")
    if not isinstance(pieces, bytes) or len(pieces) % 20:
        raise MetainfoError("info.pieces is not a string of 20-byte SHA-1 hashes")
    expected = -(-total // piece_length)
    if len(pieces) // 20 != expected:
        raise MetainfoError(
            f"info.pieces holds {len(pieces) // 20} hashes, but {total} bytes in pieces "
            f"of {piece_length} make {expected}"
        )
    private = info.get(b"private", 0)
    if private not in (0, 1):
        raise MetainfoError("info.private is not 0 or 1")
    creation_date = top.get(b"creation date")
    return Metainfo(
        info_hash=hashlib.sha1(memoryview(data)[start:end]).digest(),
        name=name,
        piece_length=piece_length,
        pieces=tuple(pieces[i : i + 20] for i in range(0, len(pieces), 20)),
        files=files,
        total_length=total,
        multi_file=raw_files is not None,
        private=private == 1,
        trackers=_trackers(top),
        comment=_text(top.get(b"comment")),
        created_by=_text(top.get(b"created by")),
        creation_date=creation_date if isinstance(creation_date, int) else None,
    )


def _integer(d: dict[bytes, Value], key: bytes, where: str) -> int:
    value = d.get(key)
    if not isinstance(value, int):
        raise MetainfoError(f"{where} is missing or not an integer")
    return value


def _check_length(length: int, where: str) -> None:
    if length < 0:
        raise MetainfoError(f"{where} is negative ({length})")


def _files(name: str, raw: Value) -> tuple[FileEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise MetainfoError("info.files is not a non-empty list")
    if len(raw) > MAX_FILES:
        raise MetainfoError(f"info.files lists {len(raw)} files, more than {MAX_FILES}")
    files: list[FileEntry] = []
    offset = 0
    for i, entry in enumerate(raw):
        where = f"info.files[{i}]"
        if not isinstance(entry, dict):
            raise MetainfoError(f"{where} is not a dictionary")
        length = _integer(entry, b"length", f"{where}.length")
        _check_length(length, f"{where}.length")
        segments = entry.get(b"path")
        if not isinstance(segments, list) or not segments:
            raise MetainfoError(f"{where}.path is not a non-empty list")
        if len(segments) > MAX_PATH_DEPTH:
            raise MetainfoError(f"{where}.path has more than {MAX_PATH_DEPTH} segments")
        path = (name, *(_segment(s, f"{where}.path") for s in segments))
        _check_path(path, f"{where}.path")
        files.append(FileEntry(path, length, offset))
        offset += length
    _check_tree(files)
    return tuple(files)


def _segment(raw: Value | None, where: str) -> str:
    """One path segment (or the name) as text; MetainfoError unless it is a plain file name."""
    if not isinstance(raw, bytes):
        raise MetainfoError(f"{where} is missing or not a string")
    shown = raw.decode("utf-8", "backslashreplace")
    if len(raw) > MAX_SEGMENT_BYTES:
        raise MetainfoError(f"{where}: {shown!r} is longer than {MAX_SEGMENT_BYTES} bytes")
    problem = _problem(raw)
    if problem:
        raise MetainfoError(f"{where}: {shown!r} {problem}")
    return raw.decode()


def _problem(raw: bytes) -> str:
    """What makes `raw` unusable as a file name, or "" when it is fine."""
    if raw in (b"", b".", b".."):
        return "is not a file name"
    for char in (b"/", b"\\", b"\0"):
        if char in raw:
            return f"contains {char.decode()!r}"
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return "is not valid UTF-8"
    if text.split(".")[0].rstrip(" ").upper() in _RESERVED:
        return "is a name Windows reserves for a device"
    return ""


def _check_path(path: tuple[str, ...], where: str) -> None:
    size = len("/".join(path).encode())
    if size > MAX_PATH_BYTES:
        raise MetainfoError(f"{where}: the path is {size} bytes, more than {MAX_PATH_BYTES}")


def _check_tree(files: list[FileEntry]) -> None:
    """No two files at one path, and no file where another file needs a directory."""
    paths: set[tuple[str, ...]] = set()
    directories: set[tuple[str, ...]] = set()
    for entry in files:
        if entry.path in paths:
            raise MetainfoError(f"two files have the path {'/'.join(entry.path)!r}")
        paths.add(entry.path)
        directories.update(entry.path[:i] for i in range(1, len(entry.path)))
    clash = paths & directories
    if clash:
        shown = "/".join(min(clash))
        raise MetainfoError(f"{shown!r} is both a file and the directory of another file")


def _trackers(top: dict[bytes, Value]) -> tuple[tuple[str, ...], ...]:
    """Tiers of usable tracker URLs (BEP 12), or the lone `announce`; see the module docstring."""
    seen: set[str] = set()
    tiers: list[tuple[str, ...]] = []
    announce_list = top.get(b"announce-list")
    for tier in announce_list if isinstance(announce_list, list) else []:
        urls: list[str] = []
        for raw in tier if isinstance(tier, list) else []:
            url = _url(raw)
            if url is not None and url not in seen and len(seen) < MAX_TRACKERS:
                seen.add(url)
                urls.append(url)
        if urls:
            tiers.append(tuple(urls))
    if not tiers:
        url = _url(top.get(b"announce"))
        if url is not None:
            tiers.append((url,))
    return tuple(tiers)


def is_tracker_url(url: str) -> bool:
    """Whether we can announce to `url`: http://, https:// or udp:// with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:  # urlsplit's "Invalid IPv6 URL"
        return False
    return parts.scheme in _SCHEMES and bool(parts.hostname)


def _url(raw: Value | None) -> str | None:
    """`raw` as a tracker URL we can announce to, else None."""
    if not isinstance(raw, bytes):
        return None
    try:
        url = raw.decode()
    except UnicodeDecodeError:
        return None
    return url if is_tracker_url(url) else None


def _text(raw: Value | None) -> str | None:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None
