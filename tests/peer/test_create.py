"""Making torrents: the piece size, hashing across file boundaries, the exact bytes written,
and that every torrent we write reads back field for field."""

from __future__ import annotations

import array
import hashlib
import re
from typing import Any

import bencodepy
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from peer.create import (
    CREATED_BY,
    DEFAULT_PIECE_LENGTH,
    MAX_CHOSEN_PIECE_LENGTH,
    MAX_PIECES,
    PieceHasher,
    build,
    choose_piece_length,
)
from peer.metainfo import FileEntry, from_bytes

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def test_the_constants() -> None:
    assert (256 * KiB, 8192, 16 * MiB) == (
        DEFAULT_PIECE_LENGTH,
        MAX_PIECES,
        MAX_CHOSEN_PIECE_LENGTH,
    )
    assert CREATED_BY == "minternet peer"


@pytest.mark.parametrize(
    ("total", "length"),
    [
        (0, 256 * KiB),
        (1, 256 * KiB),
        (30 * MiB, 256 * KiB),
        (2 * GiB, 256 * KiB),  # exactly 8192 pieces
        (2 * GiB + 1, 512 * KiB),
        (4 * GiB, 512 * KiB),
        (4 * GiB + 1, 1 * MiB),
        (64 * GiB, 8 * MiB),
        (64 * GiB + 1, 16 * MiB),
        (128 * GiB, 16 * MiB),
        (128 * GiB + 1, 16 * MiB),  # the cap: past it, the piece count grows
        (1 << 50, 16 * MiB),
    ],
)
def test_choose_piece_length(total: int, length: int) -> None:
    assert choose_piece_length(total) == length


def test_choose_piece_length_refuses_a_negative_total() -> None:
    with pytest.raises(ValueError, match=r"^a content length cannot be negative: -1$"):
        choose_piece_length(-1)


def test_pieces_of_a_golden_stream() -> None:
    hasher = PieceHasher(16384)
    assert hasher.pieces() == b""
    hasher.feed(b"a" * 40000)
    expected = sha1(b"a" * 16384) * 2 + sha1(b"a" * 7232)
    assert hasher.pieces() == expected
    assert hasher.total == 40000
    assert hasher.pieces() == expected  # asking twice changes nothing


def test_hashing_crosses_file_boundaries_and_feeding_may_go_on() -> None:
    hasher = PieceHasher(16384)
    hasher.feed(b"x" * 10000)  # the end of one file...
    hasher.feed(bytearray(b"y" * 10000))  # ...and the start of the next
    assert hasher.pieces() == sha1(b"x" * 10000 + b"y" * 6384) + sha1(b"y" * 3616)
    hasher.feed(memoryview(b"z" * 12768))
    assert hasher.pieces() == sha1(b"x" * 10000 + b"y" * 6384) + sha1(b"y" * 3616 + b"z" * 12768)
    hasher.feed(b"")
    assert hasher.total == 32768
    hasher.feed(b"!")
    assert hasher.pieces()[40:] == sha1(b"!")


def test_a_view_of_wider_items_is_hashed_as_bytes() -> None:
    words = array.array("H", [0x4142] * 8)
    hasher = PieceHasher(16)
    hasher.feed(memoryview(words))
    assert hasher.total == 16
    assert hasher.pieces() == sha1(words.tobytes())


@pytest.mark.parametrize("n", [0, -1])
def test_the_piece_length_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError, match=rf"^a piece length must be positive: {n}$"):
        PieceHasher(n)


@given(
    st.binary(max_size=300),
    st.lists(st.integers(min_value=0, max_value=300)),
    st.integers(min_value=1, max_value=64),
)
def test_any_chunking_gives_the_same_pieces(data: bytes, cuts: list[int], length: int) -> None:
    hasher = PieceHasher(length)
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        hasher.feed(data[start:cut])
        start = cut
    assert hasher.total == len(data)
    assert hasher.pieces() == b"".join(
        sha1(data[i : i + length]) for i in range(0, len(data), length)
    )


P1 = sha1(b"a" * 40000)  # any 20 bytes: build does not hash


def test_golden_single_file_torrent() -> None:
    data = build("a.txt", 40000, 65536, P1, ["http://t.test/announce"], creation_date=1700000000)
    assert data == (
        b"d8:announce22:http://t.test/announce10:created by14:minternet peer"
        b"13:creation datei1700000000e4:infod6:lengthi40000e4:name5:a.txt"
        b"12:piece lengthi65536e6:pieces20:" + P1 + b"ee"
    )


def test_golden_multi_file_private_torrent_with_tiers() -> None:
    data = build(
        "d",
        [(["x", "1"], 3), (("y",), 0)],
        16384,
        P1,
        ["udp://u.test:1", "http://h.test/a"],
        private=True,
        comment="hi",
        created_by=None,
    )
    assert data == (
        b"d8:announce14:udp://u.test:113:announce-listll14:udp://u.test:1el15:http://h.test/aee"
        b"7:comment2:hi4:infod5:filesld6:lengthi3e4:pathl1:x1:1eed6:lengthi0e4:pathl1:yeee"
        b"4:name1:d12:piece lengthi16384e6:pieces20:" + P1 + b"7:privatei1eee"
    )


def test_the_info_dictionary_holds_exactly_what_bep_3_lists() -> None:
    single = bencodepy.decode(build("a", 5, 16384, P1, ["http://t.test/"]))
    assert sorted(single) == [b"announce", b"created by", b"info"]
    assert sorted(single[b"info"]) == [b"length", b"name", b"piece length", b"pieces"]
    many = bencodepy.decode(build("a", [(["b"], 5)], 16384, P1, ["http://t.test/"], private=True))
    assert sorted(many[b"info"]) == [b"files", b"name", b"piece length", b"pieces", b"private"]
    assert many[b"info"][b"files"] == [{b"length": 5, b"path": [b"b"]}]


@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        (("a", 5, 16384, P1, []), {}, "a torrent needs at least one tracker"),
        (
            ("a", 5, 16384, P1, ["ftp://t.test/"]),
            {},
            "tracker 'ftp://t.test/' is not an http://, https:// or udp:// URL",
        ),
        (
            ("a", 5, 16384, P1, ["http://t.test/", "udp://u.test:1", "http://t.test/"]),
            {},
            "tracker 'http://t.test/' is given twice",
        ),
        (
            ("a", 5, 16384, P1, ["http://t.test/\udcff"]),
            {},
            "tracker 'http://t.test/\\udcff' cannot be written in UTF-8",
        ),
        (("\udcff", 5, 16384, P1, ["http://t/"]), {}, "name '\\udcff' cannot be written in UTF-8"),
        (
            ("d", [(["ok"], 1), (["x", "b\udcff"], 4)], 16384, P1, ["http://t/"]),
            {},
            "file 'x/b\\udcff': 'b\\udcff' cannot be written in UTF-8",
        ),
        (
            ("a", 5, 16384, P1, ["http://t/"]),
            {"comment": "\udcff"},
            "comment '\\udcff' cannot be written in UTF-8",
        ),
        (
            ("a", 5, 16384, P1, ["http://t/"]),
            {"created_by": "\udcff"},
            "created by '\\udcff' cannot be written in UTF-8",
        ),
        (
            ("..", 5, 16384, P1, ["http://t/"]),
            {},
            "we would refuse this torrent: info.name: '..' is not a file name",
        ),
        (
            ("d", [(["a", "CON"], 5)], 16384, P1, ["http://t/"]),
            {},
            "we would refuse this torrent: info.files[0].path: "
            "'CON' is a name Windows reserves for a device",
        ),
        (
            ("d", [(["a"], 5), (["a", "b"], 5)], 16384, P1, ["http://t/"]),
            {},
            "we would refuse this torrent: 'd/a' is both a file and the directory of another file",
        ),
        (
            ("a", 5, 16384, P1 * 2, ["http://t/"]),
            {},
            "we would refuse this torrent: info.pieces holds 2 hashes, "
            "but 5 bytes in pieces of 16384 make 1",
        ),
        (
            ("a", 0, 16384, b"", ["http://t/"]),
            {},
            "we would refuse this torrent: the torrent's content is empty (total length 0)",
        ),
    ],
)
def test_build_refuses_what_we_would_not_read(
    args: tuple[Any, ...], kwargs: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(reason)}$"):
        build(*args, **kwargs)


# File names with no "." (so none is "." or ".."); Windows' device names are left out below.
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="/\\\x00."), min_size=1, max_size=8)
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10))}


@given(
    name=NAMES,
    lengths=st.lists(st.integers(0, 40000), min_size=1, max_size=4),
    multi_file=st.booleans(),
    trackers=st.lists(
        st.sampled_from(["http://a.test/", "udp://b.test:1", "https://c/"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    private=st.booleans(),
    comment=st.none() | st.text(max_size=10),
    created_by=st.none() | st.just("x 1.0"),
    creation_date=st.none() | st.integers(0, 2**40),
)
def test_what_we_build_reads_back_field_for_field(
    name: str,
    lengths: list[int],
    multi_file: bool,
    trackers: list[str],
    private: bool,
    comment: str | None,
    created_by: str | None,
    creation_date: int | None,
) -> None:
    assume(name.rstrip(" ").upper() not in RESERVED)
    total = sum(lengths) if multi_file else lengths[0]
    assume(total > 0)
    hasher = PieceHasher(16384)
    hasher.feed(b"\x5a" * total)
    files: Any = [((f"f{i}",), n) for i, n in enumerate(lengths)] if multi_file else total
    data = build(
        name,
        files,
        16384,
        hasher.pieces(),
        trackers,
        private=private,
        comment=comment,
        created_by=created_by,
        creation_date=creation_date,
    )
    m = from_bytes(data)
    assert m.name == name
    assert m.piece_length == 16384
    assert b"".join(m.pieces) == hasher.pieces()
    assert m.total_length == total
    assert m.multi_file is multi_file
    if multi_file:
        offsets = [sum(lengths[:i]) for i in range(len(lengths))]
        assert m.files == tuple(
            FileEntry((name, f"f{i}"), n, offsets[i]) for i, n in enumerate(lengths)
        )
    else:
        assert m.files == (FileEntry((name,), total, 0),)
    assert m.private is private
    assert m.trackers == tuple((url,) for url in trackers)
    assert (m.comment, m.created_by, m.creation_date) == (comment, created_by, creation_date)
    start = data.index(b"4:infod") + 6
    assert m.info_hash == sha1(data[start:-1])
