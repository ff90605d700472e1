"""Reading torrent files: every field, every check at its edge, names that could escape the
download directory, and garbage that must only ever raise MetainfoError."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import bencodepy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.metainfo import (
    MAX_FILES,
    MAX_PATH_BYTES,
    MAX_PATH_DEPTH,
    MAX_PIECE_LENGTH,
    MAX_TORRENT_SIZE,
    MAX_TRACKERS,
    FileEntry,
    Metainfo,
    MetainfoError,
    from_bytes,
    is_tracker_url,
)

H = [bytes([i]) * 20 for i in range(1, 9)]  # stand-in piece hashes


def info(**fields: Any) -> dict[bytes, Any]:
    """A single-file info dictionary of 40000 bytes in 16 KiB pieces, with changes."""
    d: dict[bytes, Any] = {
        b"name": b"a.txt",
        b"piece length": 16384,
        b"pieces": b"".join(H[:3]),
        b"length": 40000,
    }
    for key, value in fields.items():
        k = key.replace("_", " ").encode()
        if value is None:
            d.pop(k, None)
        else:
            d[k] = value
    return d


def multi(*files: tuple[list[bytes], int], **fields: Any) -> dict[bytes, Any]:
    total = sum(length for _, length in files)
    pieces = b"".join(H[: -(-total // 16384)])
    listed = [{b"length": length, b"path": path} for path, length in files]
    fields = {"name": b"dir", "length": None, "files": listed, "pieces": pieces, **fields}
    return info(**fields)


def torrent(info_dict: Any, **top: Any) -> bytes:
    d: dict[bytes, Any] = {b"announce": b"http://tracker.test/announce", b"info": info_dict}
    for key, value in top.items():
        k = b"announce-list" if key == "announce_list" else key.replace("_", " ").encode()
        if value is None:
            d.pop(k, None)
        else:
            d[k] = value
    return bencodepy.encode(d)


def refused(data: bytes, reason: str) -> None:
    with pytest.raises(MetainfoError, match=f"^{re.escape(reason)}$") as caught:
        from_bytes(data)
    assert caught.value.reason == reason


GOLDEN = (
    b"d8:announce17:http://t.test/ann7:comment5:hello10:created by4:me 113:creation date"
    b"i1700000000e4:infod6:lengthi20000e4:name5:a.txt12:piece lengthi16384e6:pieces40:"
    + H[0]
    + H[1]
    + b"7:privatei1eee"
)


def test_a_golden_single_file_torrent() -> None:
    start = GOLDEN.index(b"4:infod") + 6
    assert from_bytes(GOLDEN) == Metainfo(
        info_hash=hashlib.sha1(GOLDEN[start:-1]).digest(),
        name="a.txt",
        piece_length=16384,
        pieces=(H[0], H[1]),
        files=(FileEntry(("a.txt",), 20000, 0),),
        total_length=20000,
        multi_file=False,
        private=True,
        trackers=(("http://t.test/ann",),),
        comment="hello",
        created_by="me 1",
        creation_date=1700000000,
    )


def test_the_info_hash_covers_the_bytes_as_written_unknown_keys_included() -> None:
    with_source = info(source=b"TRACKER-X", x_unknown=[1, {b"k": b"v"}])
    m = from_bytes(torrent(with_source))
    assert m.info_hash == hashlib.sha1(bencodepy.encode(with_source)).digest()
    assert m.info_hash != from_bytes(torrent(info())).info_hash
    assert m.info_hash.hex() == hashlib.sha1(bencodepy.encode(with_source)).hexdigest()


def test_a_multi_file_torrent_places_files_one_after_the_other() -> None:
    m = from_bytes(
        torrent(multi(([b"x", b"one"], 20000), ([b"empty"], 0), ([b"x", b"two"], 30000)))
    )
    assert m.name == "dir"
    assert m.multi_file is True
    assert m.files == (
        FileEntry(("dir", "x", "one"), 20000, 0),
        FileEntry(("dir", "empty"), 0, 20000),
        FileEntry(("dir", "x", "two"), 30000, 20000),
    )
    assert m.total_length == 50000
    assert m.num_pieces == 4
    assert [m.piece_size(i) for i in range(4)] == [16384, 16384, 16384, 848]


def test_a_directory_of_one_file_is_still_multi_file() -> None:
    m = from_bytes(torrent(multi(([b"only"], 5))))
    assert m.multi_file is True
    assert m.files == (FileEntry(("dir", "only"), 5, 0),)
    single = from_bytes(torrent(info()))
    assert single.multi_file is False
    assert single.private is False
    assert single.files == (FileEntry(("a.txt",), 40000, 0),)


def test_piece_sizes_and_the_last_piece() -> None:
    m = from_bytes(torrent(info()))
    assert (m.num_pieces, m.total_length) == (3, 40000)
    assert [m.piece_size(i) for i in range(3)] == [16384, 16384, 7232]
    exact = from_bytes(torrent(info(length=32768, pieces=H[0] + H[1])))
    assert [exact.piece_size(0), exact.piece_size(1)] == [16384, 16384]
    for index in (-1, 3):
        with pytest.raises(ValueError, match=rf"^no piece {index}: the torrent has 3$"):
            m.piece_size(index)


def test_the_file_size_limit() -> None:
    assert MAX_TORRENT_SIZE == 16 * 1024 * 1024
    base = len(torrent(info(), comment=b""))
    # The comment's length prefix grows from 1 to 8 digits: 7 more bytes.
    data = torrent(info(), comment=b"c" * (MAX_TORRENT_SIZE - base - 7))
    assert len(data) == MAX_TORRENT_SIZE
    assert from_bytes(data).comment == "c" * (MAX_TORRENT_SIZE - base - 7)
    too_big = torrent(info(), comment=b"c" * (MAX_TORRENT_SIZE - base - 6))
    refused(too_big, f"the file is {MAX_TORRENT_SIZE + 1} bytes, more than {MAX_TORRENT_SIZE}")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a torrent file: not a dictionary"),
        (b"le", "not a torrent file: not a dictionary"),
        (b"<html>", "not a torrent file: not a dictionary"),
        (b"d8:announce", "not a torrent file: truncated at byte 11"),
        (b"d1:bi1e1:ai1ee", "not a torrent file: unsorted dictionary key b'a' at byte 7"),
        (b"de", "info is missing or not a dictionary"),
        (b"d4:infoi1ee", "info is missing or not a dictionary"),
        (b"d4:infol0:ee", "info is missing or not a dictionary"),
    ],
)
def test_what_is_not_a_torrent(data: bytes, reason: str) -> None:
    refused(data, reason)


def test_trailing_bytes_after_the_torrent_are_refused() -> None:
    data = torrent(info())
    refused(
        data + b"\n", f"not a torrent file: data after the end of the value at byte {len(data)}"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": None}, "info.name is missing or not a string"),
        ({"name": 5}, "info.name is missing or not a string"),
        ({"piece_length": None}, "info.piece length is missing or not an integer"),
        ({"piece_length": b"16384"}, "info.piece length is missing or not an integer"),
        ({"length": None}, "info.length is missing or not an integer"),
        ({"length": b"40000"}, "info.length is missing or not an integer"),
        ({"length": -1}, "info.length is negative (-1)"),
        ({"length": 0, "pieces": b""}, "the torrent's content is empty (total length 0)"),
        ({"files": []}, "info has both length and files"),
        ({"pieces": None}, "info.pieces is not a string of 20-byte SHA-1 hashes"),
        ({"pieces": [H[0]]}, "info.pieces is not a string of 20-byte SHA-1 hashes"),
        ({"pieces": b"".join(H[:3]) + b"x"}, "info.pieces is not a string of 20-byte SHA-1 hashes"),
        (
            {"pieces": b"".join(H[:3])[:-1]},
            "info.pieces is not a string of 20-byte SHA-1 hashes",
        ),
        (
            {"pieces": b"".join(H[:2])},
            "info.pieces holds 2 hashes, but 40000 bytes in pieces of 16384 make 3",
        ),
        (
            {"pieces": b"".join(H[:4])},
            "info.pieces holds 4 hashes, but 40000 bytes in pieces of 16384 make 3",
        ),
        ({"pieces": b""}, "info.pieces holds 0 hashes, but 40000 bytes in pieces of 16384 make 3"),
        ({"private": 2}, "info.private is not 0 or 1"),
        ({"private": -1}, "info.private is not 0 or 1"),
        ({"private": b"1"}, "info.private is not 0 or 1"),
        ({"private": [1]}, "info.private is not 0 or 1"),
    ],
)
def test_bad_info_fields(fields: dict[str, Any], reason: str) -> None:
    refused(torrent(info(**fields)), reason)


def test_private_is_read() -> None:
    assert from_bytes(torrent(info(private=1))).private is True
    assert from_bytes(torrent(info(private=0))).private is False


def _piece_length_reason(n: int) -> str:
    return f"info.piece length {n} is not a multiple of 16384 between 16384 and {64 << 20}"


@pytest.mark.parametrize("n", [0, -16384, 16383, 16385, 24576, MAX_PIECE_LENGTH + 16384])
def test_bad_piece_lengths(n: int) -> None:
    refused(torrent(info(piece_length=n, pieces=H[0])), _piece_length_reason(n))


@pytest.mark.parametrize("n", [16384, 32768, 49152, MAX_PIECE_LENGTH])
def test_good_piece_lengths(n: int) -> None:
    pieces = b"".join(H[: -(-40000 // n)])
    assert from_bytes(torrent(info(piece_length=n, pieces=pieces))).piece_length == n


def test_the_limits_are_as_documented() -> None:
    assert (MAX_PIECE_LENGTH, MAX_FILES, MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_TRACKERS) == (
        64 << 20,
        100_000,
        2048,
        64,
        100,
    )


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (b"x", "info.files is not a non-empty list"),
        ([], "info.files is not a non-empty list"),
        ([b"x"], "info.files[0] is not a dictionary"),
        ([{b"path": [b"a"]}], "info.files[0].length is missing or not an integer"),
        ([{b"length": -5, b"path": [b"a"]}], "info.files[0].length is negative (-5)"),
        ([{b"length": 1}], "info.files[0].path is not a non-empty list"),
        ([{b"length": 1, b"path": b"a"}], "info.files[0].path is not a non-empty list"),
        ([{b"length": 1, b"path": []}], "info.files[0].path is not a non-empty list"),
        ([{b"length": 1, b"path": [1]}], "info.files[0].path is missing or not a string"),
        (
            [{b"length": 1, b"path": [b"a"]}, {b"length": 1, b"path": [b"b", b".."]}],
            "info.files[1].path: '..' is not a file name",
        ),
    ],
)
def test_bad_files(files: Any, reason: str) -> None:
    refused(torrent(info(name=b"dir", length=None, files=files)), reason)


def test_at_most_max_files() -> None:
    # The count is checked before any entry: MAX_FILES entries get as far as the first one.
    refused(
        torrent(info(length=None, files=[b"x"] * MAX_FILES)), "info.files[0] is not a dictionary"
    )
    refused(
        torrent(info(length=None, files=[b"x"] * (MAX_FILES + 1))),
        f"info.files lists {MAX_FILES + 1} files, more than {MAX_FILES}",
    )


def test_empty_files_only_is_an_empty_torrent() -> None:
    refused(
        torrent(multi(([b"a"], 0), ([b"b"], 0))),
        "the torrent's content is empty (total length 0)",
    )


def test_path_depth_limit() -> None:
    deepest = [b"d"] * (MAX_PATH_DEPTH - 1) + [b"f"]
    m = from_bytes(torrent(multi((deepest, 1))))
    assert len(m.files[0].path) == MAX_PATH_DEPTH + 1  # the name, then the path
    refused(
        torrent(multi(([b"d", *deepest], 1))),
        f"info.files[0].path has more than {MAX_PATH_DEPTH} segments",
    )


def test_path_length_limit() -> None:
    # "dir/" then segments of 255 bytes joined by "/": 4 + 7 * 256 - 1 = 1795 bytes.
    segs = [bytes([97 + i]) * 255 for i in range(7)]
    fill = MAX_PATH_BYTES - 1795 - 1  # one more segment, after its "/"
    m = from_bytes(torrent(multi(([*segs, b"z" * fill], 1))))
    assert len("/".join(m.files[0].path).encode()) == MAX_PATH_BYTES
    refused(
        torrent(multi(([*segs, b"z" * (fill + 1)], 1))),
        f"info.files[0].path: the path is {MAX_PATH_BYTES + 1} bytes, more than {MAX_PATH_BYTES}",
    )
    multibyte = [*segs, "é".encode() * 127]  # 254 bytes but 127 characters: bytes count
    refused(
        torrent(multi((multibyte, 1))),
        f"info.files[0].path: the path is 2050 bytes, more than {MAX_PATH_BYTES}",
    )


# Names that must never be used: each could write outside DIR, clobber a device on Windows,
# or is not a file name at all. (segment, the reason's tail)
BAD_NAMES = [
    (b"", "'' is not a file name"),
    (b".", "'.' is not a file name"),
    (b"..", "'..' is not a file name"),
    (b"/etc", "'/etc' contains '/'"),
    (b"a/b", "'a/b' contains '/'"),
    (b"../x", "'../x' contains '/'"),
    (b"/", "'/' contains '/'"),
    (b"a\\b", "'a\\\\b' contains '\\\\'"),
    (b"..\\..\\x", "'..\\\\..\\\\x' contains '\\\\'"),
    (b"C:\\Windows", "'C:\\\\Windows' contains '\\\\'"),
    (b"a\x00b", "'a\\x00b' contains '\\x00'"),
    (b"\xff\xfe", "'\\\\xff\\\\xfe' is not valid UTF-8"),
    (b"caf\xe9", "'caf\\\\xe9' is not valid UTF-8"),
    (b"\xed\xa0\x80", "'\\\\xed\\\\xa0\\\\x80' is not valid UTF-8"),  # a UTF-8 surrogate
    (b"CON", "'CON' is a name Windows reserves for a device"),
    (b"con", "'con' is a name Windows reserves for a device"),
    (b"Con.txt", "'Con.txt' is a name Windows reserves for a device"),
    (b"PRN", "'PRN' is a name Windows reserves for a device"),
    (b"aux.tar.gz", "'aux.tar.gz' is a name Windows reserves for a device"),
    (b"NUL", "'NUL' is a name Windows reserves for a device"),
    (b"nul.", "'nul.' is a name Windows reserves for a device"),
    (b"NUL .txt", "'NUL .txt' is a name Windows reserves for a device"),
    (b"COM1", "'COM1' is a name Windows reserves for a device"),
    (b"com9.log", "'com9.log' is a name Windows reserves for a device"),
    (b"LPT1", "'LPT1' is a name Windows reserves for a device"),
    (b"lpt9", "'lpt9' is a name Windows reserves for a device"),
    (b"x" * 256, f"'{'x' * 256}' is longer than 255 bytes"),
    ("é".encode() * 128, f"'{'é' * 128}' is longer than 255 bytes"),
]
GOOD_NAMES = [
    b"a",
    b"...",
    b".hidden",
    b"a..b",
    b"CONSOLE",
    b"COM0",
    b"COM10",
    b"LPT",
    b"xCON",
    b"CON_",
    b"CONX",
    b"NULL",
    b"CON\t",  # Windows ignores trailing spaces and dots, not tabs
    b"CON\t.txt",
    b"e\xcc\x81t\xc3\xa9",  # UTF-8 with a combining accent
    b"x" * 255,
    "é".encode() * 127 + b"x",  # 255 bytes
    b"12:30 notes.txt",
    b" lead",
]


@pytest.mark.parametrize(("segment", "tail"), BAD_NAMES)
def test_bad_names_are_refused_everywhere(segment: bytes, tail: str) -> None:
    refused(torrent(info(name=segment)), f"info.name: {tail}")
    refused(torrent(multi(([segment], 1), name=b"d")), f"info.files[0].path: {tail}")
    refused(torrent(multi(([b"ok", segment], 1), name=b"d")), f"info.files[0].path: {tail}")
    refused(
        torrent(multi(([b"ok"], 1), ([segment, b"x"], 1), name=b"d")), f"info.files[1].path: {tail}"
    )
    refused(torrent(multi(([b"ok"], 1), name=segment)), f"info.name: {tail}")


@pytest.mark.parametrize("segment", GOOD_NAMES)
def test_good_names_are_taken(segment: bytes) -> None:
    assert from_bytes(torrent(info(name=segment))).name == segment.decode()
    m = from_bytes(torrent(multi(([segment, segment], 1))))
    assert m.files[0].path == ("dir", segment.decode(), segment.decode())


@pytest.mark.parametrize(
    ("paths", "reason"),
    [
        ([[b"a"], [b"a"]], "two files have the path 'dir/a'"),
        ([[b"x", b"a"], [b"y"], [b"x", b"a"]], "two files have the path 'dir/x/a'"),
        ([[b"a"], [b"a", b"b"]], "'dir/a' is both a file and the directory of another file"),
        ([[b"a", b"b"], [b"a"]], "'dir/a' is both a file and the directory of another file"),
        (
            [[b"a", b"b", b"c"], [b"a", b"b"]],
            "'dir/a/b' is both a file and the directory of another file",
        ),
        (
            [[b"q", b"r"], [b"q"], [b"b", b"c"], [b"b"]],
            "'dir/b' is both a file and the directory of another file",  # the least
        ),
    ],
)
def test_files_may_not_collide(paths: list[list[bytes]], reason: str) -> None:
    refused(torrent(multi(*[(p, 1) for p in paths])), reason)


def test_siblings_and_shared_directories_are_fine() -> None:
    m = from_bytes(
        torrent(multi(([b"a", b"b"], 1), ([b"a", b"c"], 1), ([b"ab"], 1), ([b"a", b"d", b"e"], 1)))
    )
    assert [f.path for f in m.files] == [
        ("dir", "a", "b"),
        ("dir", "a", "c"),
        ("dir", "ab"),
        ("dir", "a", "d", "e"),
    ]


SEGMENT = st.binary(max_size=6) | st.sampled_from(
    [b"..", b".", b"", b"/", b"\\", b"\x00", b"CON", b"a", b"b", b"c:", b"..\\", b"/.."]
)


@given(name=SEGMENT, paths=st.lists(st.lists(SEGMENT, min_size=1, max_size=3), max_size=4))
def test_nothing_accepted_can_be_written_outside_the_download_directory(
    tmp_path_factory: pytest.TempPathFactory, name: bytes, paths: list[list[bytes]]
) -> None:
    data = (
        torrent(multi(*[(p, 1) for p in paths], name=name)) if paths else torrent(info(name=name))
    )
    try:
        m = from_bytes(data)
    except MetainfoError:
        return
    root = tmp_path_factory.mktemp("download").resolve()
    for entry in m.files:  # what a storage layer does: DIR joined with the path, then write
        target = root.joinpath(*entry.path)
        assert target.resolve().is_relative_to(root)
        assert target.resolve() != root
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x" * entry.length)
    written = sorted(p.relative_to(root).parts for p in root.rglob("*") if p.is_file())
    assert written == sorted(entry.path for entry in m.files)


def test_a_table_of_crafted_torrents_writes_nothing(tmp_path: Path) -> None:
    crafted = [torrent(info(name=seg)) for seg, _ in BAD_NAMES]
    crafted += [torrent(multi(([seg], 1), name=b"d")) for seg, _ in BAD_NAMES]
    crafted += [torrent(multi(([b"..", b"..", b"etc", b"passwd"], 1)))]
    crafted += [torrent(multi(([b"a"], 1), ([b"a", b"b"], 1)))]
    for data in crafted:
        with pytest.raises(MetainfoError):
            from_bytes(data)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("top", "tiers"),
    [
        ({}, (("http://tracker.test/announce",),)),
        ({"announce": None}, ()),
        ({"announce": b"ftp://x/"}, ()),
        ({"announce": 7}, ()),
        ({"announce": b"HTTP://Upper.test/a"}, (("HTTP://Upper.test/a",),)),
        (
            {"announce_list": [[b"udp://u.test:80"], [b"https://s.test/a", b"http://h.test/a"]]},
            (("udp://u.test:80",), ("https://s.test/a", "http://h.test/a")),
        ),
        ({"announce_list": b"http://x.test/"}, (("http://tracker.test/announce",),)),
        ({"announce_list": []}, (("http://tracker.test/announce",),)),
        ({"announce_list": [[]]}, (("http://tracker.test/announce",),)),
        ({"announce_list": [b"http://x.test/"]}, (("http://tracker.test/announce",),)),
        # a tier that is a dictionary: its keys are not a tier's URLs
        ({"announce_list": [{b"http://k.test/": 1}]}, (("http://tracker.test/announce",),)),
        ({"announce_list": [[b"wss://w.test/"]]}, (("http://tracker.test/announce",),)),
        (
            {
                "announce_list": [
                    [b"ftp://f.test/", b"http://a.test/", 5, b"http://", b"http:///x"],
                    [b"http://[::1/", b"\xff://x", b"http://\xff.test/", b"magnet:?x"],
                    [b"udp://a.test:1", b"http://a.test/"],
                ],
                "announce": None,
            },
            (("http://a.test/",), ("udp://a.test:1",)),
        ),
        ({"announce_list": [[b"http://a.test/"], [b"http://a.test/"]]}, (("http://a.test/",),)),
    ],
)
def test_trackers(top: dict[str, Any], tiers: tuple[tuple[str, ...], ...]) -> None:
    assert from_bytes(torrent(info(), **top)).trackers == tiers


def test_at_most_max_trackers_are_kept() -> None:
    urls = [b"http://t%d.test/" % i for i in range(MAX_TRACKERS + 1)]
    m = from_bytes(torrent(info(), announce_list=[urls[:50], urls[50:]]))
    assert m.trackers == (
        tuple(u.decode() for u in urls[:50]),
        tuple(u.decode() for u in urls[50:MAX_TRACKERS]),
    )
    m = from_bytes(torrent(info(), announce_list=[[u] for u in urls]))
    assert len(m.trackers) == MAX_TRACKERS


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("http://a.test/announce", True),
        ("https://a.test/announce", True),
        ("udp://a.test:6969", True),
        ("http://127.0.0.1:8000/announce", True),
        ("http://[::1]:8000/announce", True),
        ("ftp://a.test/", False),
        ("ws://a.test/", False),
        ("http://", False),
        ("http:///announce", False),
        ("http://[::1/", False),
        ("a.test/announce", False),
        ("", False),
    ],
)
def test_is_tracker_url(url: str, usable: bool) -> None:
    assert is_tracker_url(url) is usable


@pytest.mark.parametrize(
    ("top", "comment", "created_by", "date"),
    [
        ({}, None, None, None),
        ({"comment": b"hi \xc3\xa9", "created_by": b"x/1"}, "hi é", "x/1", None),
        ({"comment": b"bad \xff", "created_by": b"\xfe"}, "bad \ufffd", "\ufffd", None),
        ({"comment": 5, "created_by": [b"x"]}, None, None, None),
        ({"creation_date": 0}, None, None, 0),
        ({"creation_date": -5}, None, None, -5),
        ({"creation_date": b"1700000000"}, None, None, None),
    ],
)
def test_informational_fields(
    top: dict[str, Any], comment: str | None, created_by: str | None, date: int | None
) -> None:
    m = from_bytes(torrent(info(), **top))
    assert (m.comment, m.created_by, m.creation_date) == (comment, created_by, date)


@given(st.binary(max_size=200))
def test_garbage_raises_only_metainfo_error(data: bytes) -> None:
    with pytest.raises(MetainfoError):
        from_bytes(data)


_SAMPLE = torrent(
    multi(([b"x", b"one"], 20000), ([b"two"], 3000)),
    announce_list=[[b"udp://u.test:1"]],
    comment=b"c",
)


@given(st.data())
def test_a_damaged_torrent_raises_only_metainfo_error(data: st.DataObject) -> None:
    raw = bytearray(_SAMPLE)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    try:
        m = from_bytes(bytes(raw))
    except MetainfoError:
        return
    assert m.total_length == sum(f.length for f in m.files)
    assert m.num_pieces == -(-m.total_length // m.piece_length)
