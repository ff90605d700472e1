"""A torrent's files on disk: reading blocks and writing verified pieces at torrent offsets.

Every method here blocks (the shell calls them in worker threads, off the event loop: hashlib
and file I/O release the GIL). `prepare` opens the files once: for a download it makes the
folders and the files, sized to the torrent (sparse: nothing is written until a piece is
verified), and for a seed it checks that each file is there with its length. A download never
writes outside its folder: names were checked when the torrent was read (peer/metainfo.py),
and here every file must resolve, symbolic links followed, to a place inside the folder (a
link planted in it that points elsewhere is refused, and the file itself is opened without
following one). A file that is longer than the torrent says is someone else's: refused.

`verify` reads a piece and compares its SHA-1: on start, for resume, each piece whose bytes
are there is checked before it counts as ours.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from peer.layout import Layout
from peer.metainfo import Metainfo

__all__ = ["MAX_OPEN", "Disk", "DiskError"]

# Files kept open at once (a torrent may hold 100,000 files; the process may open ~1,000):
# the least recently used one is closed to open another.
MAX_OPEN = 64


class DiskError(Exception):
    """The files cannot be used (missing, the wrong size, outside the folder, unreadable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Disk:
    """The files of `meta` under folder `root` (a single-file torrent's file is root/name, a
    multi-file torrent's are under root/name/)."""

    def __init__(self, root: str | Path, meta: Metainfo, layout: Layout) -> None:
        self.root = Path(root)
        self.meta = meta
        self.layout = layout
        self.paths = [self.root.joinpath(*entry.path) for entry in meta.files]
        self._open: OrderedDict[int, int] = OrderedDict()  # file index -> fd, oldest use first
        self._lock = threading.Lock()  # held around each use of a descriptor
        self._prepared = False

    def prepare(self, *, create: bool) -> set[int]:
        """Check (and for a download make) every file, as the module docstring says; DiskError
        saying which and why. Returns the files (by index) that held no byte before: none of
        their pieces needs verifying (a new download has nothing to check)."""
        empty: set[int] = set()
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        top = os.path.realpath(self.root)
        for i, (path, entry) in enumerate(zip(self.paths, self.meta.files, strict=True)):
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            where = os.path.realpath(path.parent)
            if where != top and not where.startswith(top + os.sep):
                raise DiskError(f"{path} is outside {self.root} (a symbolic link on the way)")
            fd = self._open_file(path, create)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    empty.add(i)
                if size > entry.length:
                    raise DiskError(
                        f"{path} is {size} bytes, more than the torrent's {entry.length}"
                    )
                if size < entry.length:
                    if not create:
                        raise DiskError(f"{path} is {size} bytes, not {entry.length}")
                    os.ftruncate(fd, entry.length)
            finally:
                os.close(fd)
        self._prepared = True
        return empty

    @staticmethod
    def _open_file(path: Path, create: bool = False) -> int:
        flags = os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
        try:
            return os.open(path, flags, 0o644)
        except FileNotFoundError:
            raise DiskError(f"{path} is missing") from None
        except OSError as e:
            raise DiskError(f"{path}: {e.strerror}") from None

    def read(self, index: int, begin: int = 0, length: int | None = None) -> bytes:
        """Bytes [begin, begin + length) of piece `index` (to its end when length is None)."""
        parts = []
        for span in self.layout.spans(index, begin, length):
            with self._lock:
                data = os.pread(self._fd(span.file_index), span.length, span.offset)
            if len(data) != span.length:
                raise DiskError(f"{self.paths[span.file_index]} is shorter than the torrent says")
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write(self, index: int, data: bytes | bytearray) -> None:
        """Write piece `index` (whole and verified) where its bytes belong."""
        view = memoryview(data)
        if len(view) != self.layout.piece_size(index):
            raise ValueError(f"piece {index} is {self.layout.piece_size(index)} bytes")
        at = 0
        for span in self.layout.spans(index):
            with self._lock:
                _write_all(self._fd(span.file_index), view[at : at + span.length], span.offset)
            at += span.length

    def verify(self, index: int) -> bool:
        """Whether piece `index` on disk has the torrent's SHA-1."""
        return hashlib.sha1(self.read(index)).digest() == self.meta.pieces[index]

    def verify_all(self, pieces: Iterable[int] | None = None) -> list[int]:
        """The pieces (all, or those given) whose bytes on disk are right, in order."""
        wanted = range(self.layout.num_pieces) if pieces is None else pieces
        return [i for i in wanted if self.verify(i)]

    def worth_verifying(self, empty: set[int]) -> list[int]:
        """The pieces with a byte in a file that is not in `empty` (what `prepare` returned):
        the only ones that may already be right."""
        pieces: set[int] = set()
        for i in range(len(self.paths)):
            if i not in empty:
                pieces.update(self.layout.piece_range_of_file(i))
        return sorted(pieces)

    def sync(self) -> None:
        """Flush every file written to the disk (at the end of a download)."""
        for path in self.paths:
            fd = self._open_file(path)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            while self._open:
                os.close(self._open.popitem()[1])

    def _fd(self, file_index: int) -> int:
        """The descriptor of a file (opened now if it is not; the lock is held)."""
        fd = self._open.get(file_index)
        if fd is not None:
            self._open.move_to_end(file_index)
            return fd
        if not self._prepared:
            raise DiskError("the files are not prepared")
        if len(self._open) >= MAX_OPEN:
            os.close(self._open.popitem(last=False)[1])
        fd = self._open[file_index] = self._open_file(self.paths[file_index])
        return fd


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data = data[n:]
        offset += n
