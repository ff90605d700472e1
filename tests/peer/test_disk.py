"""The torrent's files on disk: made and sized for a download, checked for a seed, pieces written
and read across file boundaries, verification for resume, and no way out of the folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from peer.aio import disk as disk_module
from peer.aio.disk import Disk, DiskError
from peer.create import PieceHasher, build
from peer.layout import Layout
from peer.metainfo import Metainfo, from_bytes

PIECE = 16384
FILES = [(["a.txt"], 10_000), (["empty"], 0), (["sub", "b.bin"], 30_000), (["c"], 5)]
CONTENT = bytes(i * 7 % 251 for i in range(40_005))


def torrent(files: list[tuple[list[str], int]] = FILES, content: bytes = CONTENT) -> Metainfo:
    hasher = PieceHasher(PIECE)
    hasher.feed(content)
    return from_bytes(build("album", files, PIECE, hasher.pieces(), ["http://t/announce"]))


def disk(root: Path, meta: Metainfo) -> Disk:
    return Disk(root, meta, Layout([(f.path, f.length) for f in meta.files], meta.piece_length))


def pieces(content: bytes = CONTENT) -> list[bytes]:
    return [content[i : i + PIECE] for i in range(0, len(content), PIECE)]


def test_a_download_makes_every_file_at_its_size(tmp_path: Path) -> None:
    d = disk(tmp_path / "dl", torrent())
    d.prepare(create=True)
    sizes = {p.relative_to(tmp_path / "dl").as_posix(): p.stat().st_size for p in d.paths}
    assert sizes == {
        "album/a.txt": 10_000,
        "album/empty": 0,
        "album/sub/b.bin": 30_000,
        "album/c": 5,
    }
    assert d.verify_all() == []  # nothing written yet: every piece is still wanted


def test_pieces_written_across_files_read_back_and_verify(tmp_path: Path) -> None:
    meta = torrent()
    d = disk(tmp_path, meta)
    d.prepare(create=True)
    for index, data in enumerate(pieces()):
        d.write(index, data)
    assert (tmp_path / "album" / "a.txt").read_bytes() == CONTENT[:10_000]
    assert (tmp_path / "album" / "sub" / "b.bin").read_bytes() == CONTENT[10_000:40_000]
    assert (tmp_path / "album" / "c").read_bytes() == CONTENT[40_000:]
    assert d.verify_all() == [0, 1, 2]
    assert d.read(0, 9_990, 20) == CONTENT[9_990:10_010]  # a block over a file boundary
    assert d.read(2) == CONTENT[2 * PIECE :]
    d.sync()
    d.close()


def test_resume_finds_the_pieces_that_are_right(tmp_path: Path) -> None:
    meta = torrent()
    first = disk(tmp_path, meta)
    first.prepare(create=True)
    first.write(1, pieces()[1])
    first.close()
    again = disk(tmp_path, meta)
    again.prepare(create=True)  # a restart over partly downloaded data
    assert again.verify_all() == [1]
    assert again.verify_all([0, 1]) == [1]
    with open(tmp_path / "album" / "sub" / "b.bin", "r+b") as f:  # a bit flips in piece 1
        f.seek(PIECE - 10_000 + 5)
        f.write(b"\xff")
    assert again.verify_all() == []


def test_a_seed_needs_every_file_at_its_size(tmp_path: Path) -> None:
    meta = torrent()
    with pytest.raises(DiskError, match=r"album/a.txt is missing$"):
        disk(tmp_path, meta).prepare(create=False)
    maker = disk(tmp_path, meta)
    maker.prepare(create=True)
    for index, data in enumerate(pieces()):
        maker.write(index, data)
    maker.close()
    seed = disk(tmp_path, meta)
    seed.prepare(create=False)
    assert seed.verify_all() == [0, 1, 2]
    os.truncate(tmp_path / "album" / "c", 4)
    with pytest.raises(DiskError, match=r"album/c is 4 bytes, not 5$"):
        disk(tmp_path, meta).prepare(create=False)


def test_a_file_longer_than_the_torrent_says_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "c").write_bytes(b"123456")
    with pytest.raises(DiskError, match=r"album/c is 6 bytes, more than the torrent's 5$"):
        disk(tmp_path, torrent()).prepare(create=True)
    assert (tmp_path / "album" / "c").read_bytes() == b"123456"


def test_a_symbolic_link_never_leads_out_of_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "dl"
    (root / "album").mkdir(parents=True)
    (root / "album" / "sub").symlink_to(outside)  # a folder on the way
    with pytest.raises(DiskError, match=r"is outside .* \(a symbolic link on the way\)"):
        disk(root, torrent()).prepare(create=True)
    assert list(outside.iterdir()) == []
    (root / "album" / "sub").unlink()
    (root / "album" / "a.txt").unlink()  # made before the link on the way was met
    (root / "album" / "a.txt").symlink_to(outside / "victim")  # the file itself
    with pytest.raises(DiskError, match=r"album/a\.txt: Too many levels of symbolic links"):
        disk(root, torrent()).prepare(create=True)
    assert list(outside.iterdir()) == []


def test_a_folder_that_is_a_link_inside_the_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "sub").symlink_to(tmp_path / "real")
    d = disk(tmp_path, torrent())
    d.prepare(create=True)
    assert (tmp_path / "real" / "b.bin").stat().st_size == 30_000


def test_the_files_must_be_prepared_and_pieces_whole(tmp_path: Path) -> None:
    d = disk(tmp_path, torrent())
    with pytest.raises(DiskError, match="the files are not prepared"):
        d.read(0)
    d.prepare(create=True)
    with pytest.raises(ValueError, match="piece 0 is 16384 bytes"):
        d.write(0, b"short")
    os.truncate(tmp_path / "album" / "c", 0)  # shrunk behind our back
    with pytest.raises(DiskError, match="album/c is shorter than the torrent says"):
        d.read(2)


def test_at_most_max_open_files_are_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk_module, "MAX_OPEN", 2)
    files = [([f"f{n}"], 1000) for n in range(40)]
    content = bytes(range(200)) * 200
    d = disk(tmp_path, torrent(files, content))
    d.prepare(create=True)
    for index, data in enumerate(pieces(content)):
        d.write(index, data)
        assert len(d._open) <= 2
    assert d.verify_all() == [0, 1, 2]
    assert hashlib.sha1(d.read(0)).digest() == torrent(files, content).pieces[0]
    d.close()
    assert d._open == {}


def test_a_single_file_torrent_is_root_slash_name(tmp_path: Path) -> None:
    data = b"x" * 20_000
    hasher = PieceHasher(PIECE)
    hasher.feed(data)
    meta = from_bytes(build("one.iso", len(data), PIECE, hasher.pieces(), ["http://t/a"]))
    d = disk(tmp_path, meta)
    d.prepare(create=True)
    d.write(1, data[PIECE:])
    assert (tmp_path / "one.iso").read_bytes()[PIECE:] == data[PIECE:]
    assert d.verify_all() == [1]


def test_only_pieces_of_files_that_held_bytes_are_worth_verifying(tmp_path: Path) -> None:
    meta = torrent()  # a.txt 10,000 | empty 0 | sub/b.bin 30,000 | c 5; pieces of 16 KiB
    fresh = disk(tmp_path / "new", meta)
    assert fresh.prepare(create=True) == {0, 1, 2, 3}  # a new download
    assert fresh.worth_verifying({0, 1, 2, 3}) == []
    again = disk(tmp_path / "new", meta)  # a restart: sized files may hold anything
    assert again.prepare(create=True) == {1}
    assert again.worth_verifying({1}) == [0, 1, 2]
    (tmp_path / "part" / "album").mkdir(parents=True)
    (tmp_path / "part" / "album" / "c").write_bytes(b"12345")  # only the last file is there
    part = disk(tmp_path / "part", meta)
    assert part.prepare(create=True) == {0, 1, 2}
    assert part.worth_verifying({0, 1, 2}) == [2]
    assert part.worth_verifying({1, 3}) == [0, 1, 2]  # a.txt and b.bin span pieces 0-2
    assert part.worth_verifying({0, 2, 3}) == []  # the empty file touches no piece
