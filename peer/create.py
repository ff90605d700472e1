"""Making a torrent file (BEP 3 v1, BEP 12 announce-list), without I/O: the shell walks the
directory and reads the files; this module picks the piece size, hashes what it is fed and
writes the bencoded torrent.

- The piece size is 256 KiB, the chunk size of the course notes, until the content would need
  more than MAX_PIECES pieces; then it doubles until it fits, up to MAX_CHOSEN_PIECE_LENGTH.
  8,192 pieces keep a torrent's hashes at 160 KiB and a peer's bitfield at 1 KiB, and leave
  256 KiB for everything up to 2 GiB (the demo's tens of MiB have a few hundred pieces). The
  16 MiB cap bounds what a peer buffers per piece in flight; past 128 GiB the count grows
  instead (1 TiB makes 65,536 pieces, a torrent file of 1.3 MB).
- A multi-file torrent's content is its files concatenated in the order listed, so the
  hasher runs across file boundaries: feed it each file's bytes in that order.
- The info dictionary holds exactly `name`, `piece length`, `pieces`, and `length` (one
  file) or `files` (each `length` and `path`), plus `private: 1` only when asked: no `attr`,
  no pad files, no v2 keys. The top level has `announce` (the first tracker), `announce-list`
  (each tracker its own tier, in the order given) when there are several, and `comment`,
  `created by`, `creation date` when given. Keys are sorted (bencode.py encodes them so).
- Everything we write must be a torrent we would read: `build` reads its own output back with
  peer.metainfo.from_bytes and raises ValueError with that reason if it would be refused (a
  bad file name, a piece count that does not match), so the two sets of rules cannot drift.
  Tracker URLs, which a reader merely drops when unusable, must be usable and distinct.

File order, for the shell: to give the info-hash libtorrent gives the same directory (its
add_files, checked with libtorrent 2.0.8 in tests/peer/test_metainfo_libtorrent.py), walk it
depth first, listing each directory's entries in the order the operating system returns them
(os.scandir, unsorted: that is readdir's order, libtorrent's too), descending into a
subdirectory where it is met; include hidden files and empty files; follow symbolic links.
libtorrent also writes `attr: x` for an executable file (and for a symbolic link, which it
examines without following for that), which changes its info-hash; we never write `attr`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import bencodepy

from peer.metainfo import MetainfoError, from_bytes, is_tracker_url

__all__ = [
    "CREATED_BY",
    "DEFAULT_PIECE_LENGTH",
    "MAX_CHOSEN_PIECE_LENGTH",
    "MAX_PIECES",
    "PieceHasher",
    "build",
    "choose_piece_length",
]

DEFAULT_PIECE_LENGTH = 256 << 10
MAX_PIECES = 8192
MAX_CHOSEN_PIECE_LENGTH = 16 << 20
CREATED_BY = "minternet peer"


def choose_piece_length(total: int) -> int:
    """The piece size for `total` bytes of content (see the module docstring)."""
    if total < 0:
        raise ValueError(f"a content length cannot be negative: {total}")
    length = DEFAULT_PIECE_LENGTH
    while total > length * MAX_PIECES and length < MAX_CHOSEN_PIECE_LENGTH:
        length *= 2
    return length


class PieceHasher:
    """SHA-1 of every `piece_length` bytes of a stream fed in chunks of any size.

    Chunks are hashed in place through memoryview slices, never copied or joined, and hashlib
    releases the GIL on large updates, so the shell may run feed() in a thread.
    """

    __slots__ = ("_digests", "_filled", "_hash", "piece_length", "total")

    def __init__(self, piece_length: int) -> None:
        if piece_length <= 0:
            raise ValueError(f"a piece length must be positive: {piece_length}")
        self.piece_length = piece_length
        self.total = 0  # bytes fed so far
        self._digests: list[bytes] = []
        self._hash = hashlib.sha1()
        self._filled = 0  # bytes of the current piece hashed so far

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Hash the next bytes of the content."""
        view = memoryview(data).cast("B")
        pos = 0
        while pos < len(view):
            take = min(self.piece_length - self._filled, len(view) - pos)
            self._hash.update(view[pos : pos + take])
            self._filled += take
            pos += take
            if self._filled == self.piece_length:
                self._digests.append(self._hash.digest())
                self._hash = hashlib.sha1()
                self._filled = 0
        self.total += pos

    def pieces(self) -> bytes:
        """The hashes of the pieces fed so far, the last (shorter) piece included: the `pieces`
        value of the torrent once every byte has been fed. Feeding may go on afterwards."""
        last = [self._hash.digest()] if self._filled else []
        return b"".join(self._digests + last)


def build(
    name: str,
    files: int | Sequence[tuple[Sequence[str], int]],
    piece_length: int,
    pieces: bytes,
    trackers: Sequence[str],
    *,
    private: bool = False,
    comment: str | None = None,
    created_by: str | None = CREATED_BY,
    creation_date: int | None = None,
) -> bytes:
    """The bencoded torrent file. `files` is either an int, the length of the one file called
    `name`, or a list of (path segments, length) for a directory called `name`, in content
    order, paths relative to that directory (a multi-file torrent even with one entry).
    `pieces` is PieceHasher.pieces(). ValueError saying what when the torrent would be refused.
    """
    if not trackers:
        raise ValueError("a torrent needs at least one tracker")
    for i, url in enumerate(trackers):
        if not is_tracker_url(url):
            raise ValueError(f"tracker {url!r} is not an http://, https:// or udp:// URL")
        if url in trackers[:i]:
            raise ValueError(f"tracker {url!r} is given twice")
    info: dict[bytes, object] = {
        b"name": _utf8(name, "name"),
        b"piece length": piece_length,
        b"pieces": pieces,
    }
    if isinstance(files, int):
        info[b"length"] = files
    else:
        info[b"files"] = [
            {b"length": length, b"path": [_utf8(s, f"file {'/'.join(path)!r}:") for s in path]}
            for path, length in files
        ]
    if private:
        info[b"private"] = 1
    urls = [_utf8(url, "tracker") for url in trackers]
    top: dict[bytes, object] = {b"announce": urls[0], b"info": info}
    if len(urls) > 1:
        top[b"announce-list"] = [[url] for url in urls]
    if comment is not None:
        top[b"comment"] = _utf8(comment, "comment")
    if created_by is not None:
        top[b"created by"] = _utf8(created_by, "created by")
    if creation_date is not None:
        top[b"creation date"] = creation_date
    data: bytes = bencodepy.encode(top)
    try:
        from_bytes(data)
    except MetainfoError as e:
        raise ValueError(f"we would refuse this torrent: {e.reason}") from None
    return data


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: os.fsdecode of a name that is not UTF-8
        raise ValueError(f"{what} {text!r} cannot be written in UTF-8") from None
