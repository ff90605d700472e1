"""Our torrents have the info-hash libtorrent gives the same content and piece size.

libtorrent (the system python3's, Debian python3-libtorrent; the project venv has none) makes
v1-only torrents (flag v1_only: libtorrent 2.x otherwise makes hybrid v1+v2 torrents with pad
files) of a single file and of a directory tree; we walk the same tree as `peer create` does
(peer.cli.walk, the order peer/create.py states), hash it, build, and compare info-hashes and
info bytes.
Files are mode 0644: libtorrent writes `attr: x` for executable files, which we never do.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from peer.bencode import decode_dict
from peer.cli import walk
from peer.create import PieceHasher, build
from peer.metainfo import from_bytes

pytestmark = pytest.mark.interop

SYSTEM_PYTHON = "/usr/bin/python3"
# Runs under the system python3: a v1-only torrent of argv[1] in pieces of argv[2] bytes.
MAKE = """
import json, os, sys, libtorrent as lt
path, piece = sys.argv[1], int(sys.argv[2])
fs = lt.file_storage()
lt.add_files(fs, path)
t = lt.create_torrent(fs, piece, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(t, os.path.dirname(path))
data = lt.bencode(t.generate())
print(json.dumps({"hash": str(lt.torrent_info(data).info_hash()), "torrent": data.hex()}))
"""


def need_libtorrent() -> None:
    found = os.path.exists(SYSTEM_PYTHON) and (
        subprocess.run([SYSTEM_PYTHON, "-c", "import libtorrent"], capture_output=True).returncode
        == 0
    )
    if not found:
        pytest.skip(
            f"{SYSTEM_PYTHON} cannot import libtorrent (Debian package: python3-libtorrent)"
        )


def libtorrent_torrent(path: Path, piece: int) -> tuple[str, bytes]:
    out = subprocess.run(
        [SYSTEM_PYTHON, "-c", MAKE, str(path), str(piece)],
        capture_output=True,
        check=True,
        timeout=60,
        text=True,
    ).stdout
    reply = json.loads(out)
    return reply["hash"], bytes.fromhex(reply["torrent"])


def ours(root: Path, piece: int) -> bytes:
    hasher = PieceHasher(piece)
    if root.is_file():
        hasher.feed(root.read_bytes())
        return build(root.name, hasher.total, piece, hasher.pieces(), ["http://t.test/a"])
    files = []
    for path, file in walk(root):
        data = file.read_bytes()
        hasher.feed(data)
        files.append((path, len(data)))
    return build(root.name, files, piece, hasher.pieces(), ["http://t.test/a"])


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def info_bytes(torrent: bytes) -> bytes:
    start, end = decode_dict(torrent)[1][b"info"]
    return torrent[start:end]


@pytest.mark.parametrize(("size", "piece"), [(40000, 16384), (300000, 262144), (32768, 16384)])
def test_single_file(tmp_path: Path, size: int, piece: int) -> None:
    need_libtorrent()
    target = tmp_path / "sample.bin"
    write(target, bytes(i * 7 % 251 for i in range(size)))
    expected, theirs = libtorrent_torrent(target, piece)
    mine = ours(target, piece)
    assert from_bytes(mine).info_hash.hex() == expected
    assert info_bytes(mine) == info_bytes(theirs)
    assert from_bytes(theirs).info_hash.hex() == expected  # and we read theirs


@pytest.mark.parametrize("piece", [16384, 65536])
def test_directory_tree(tmp_path: Path, piece: int) -> None:
    need_libtorrent()
    root = tmp_path / "tree"
    contents = {
        "z.txt": 40000,
        "A.txt": 1000,
        "b.txt": 1,
        "empty": 0,
        ".hidden": 5,
        "sub/inner.bin": 70000,
        "sub/deeper/x": 3,
        "B/k": 17000,
        "a/m": 1,
        "a.b": 2,
        "é/ü.txt": 9,
    }
    for i, (name, size) in enumerate(contents.items()):
        write(root / name, bytes((i + j) % 256 for j in range(size)))
    expected, theirs = libtorrent_torrent(root, piece)
    mine = ours(root, piece)
    assert info_bytes(mine) == info_bytes(theirs)
    m = from_bytes(mine)
    assert m.info_hash.hex() == expected
    assert m.total_length == sum(contents.values())
    assert sorted("/".join(f.path[1:]) for f in m.files) == sorted(contents)
