"""`peer create` and `peer info`: what they write and print, and one line and exit status 2 for
every mistake."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from peer.cli import SHOWN_FILES, Reporter, build_parser, main, progress_line, walk
from peer.create import build
from peer.metainfo import from_bytes

TRACKER = "http://127.0.0.3:6969/announce"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_a_single_file_torrent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: four 256 KiB pieces
    (tmp_path / "sample.bin").write_bytes(data)
    out_file = tmp_path / "sample.torrent"
    before = int(time.time())
    code, out, err = run(
        capsys, "create", str(tmp_path / "sample.bin"), "--tracker", TRACKER, "-o", str(out_file)
    )
    assert (code, err) == (0, "")
    meta = from_bytes(out_file.read_bytes())
    assert out == (
        f"{out_file}: sample.bin, 1MiB, 4 pieces of 256KiB, info-hash {meta.info_hash.hex()}\n"
    )
    assert meta.pieces == tuple(
        hashlib.sha1(data[i : i + 262144]).digest() for i in range(0, len(data), 262144)
    )
    assert not meta.multi_file and meta.trackers == ((TRACKER,),)
    assert meta.created_by == "minternet peer" and not meta.private and meta.comment is None
    assert meta.creation_date is not None and before <= meta.creation_date <= time.time()


def test_create_with_every_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_bytes(b"x" * 100_000)
    out_file = tmp_path / "a.torrent"
    code, _, _ = run(
        capsys,
        "create",
        str(tmp_path / "a.txt"),
        "--tracker",
        TRACKER,
        "--tracker",
        "udp://127.0.0.3:6969",
        "--piece-size",
        "64KiB",
        "--private",
        "--comment",
        "crêpes",
        "-o",
        str(out_file),
    )
    assert code == 0
    meta = from_bytes(out_file.read_bytes())
    assert meta.piece_length == 65536 and meta.num_pieces == 2
    assert meta.private and meta.comment == "crêpes"
    assert meta.trackers == ((TRACKER,), ("udp://127.0.0.3:6969",))


def test_create_a_directory_in_walk_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = tmp_path / "album"
    (top / "disc 1").mkdir(parents=True)
    (top / "disc 1" / "01.flac").write_bytes(b"a" * 40_000)
    (top / "cover.jpg").write_bytes(b"b" * 30_000)
    (top / ".hidden").write_bytes(b"")
    out_file = tmp_path / "album.torrent"
    assert run(capsys, "create", str(top), "--tracker", TRACKER, "-o", str(out_file))[0] == 0
    meta = from_bytes(out_file.read_bytes())
    order = [["album", *path] for path, _ in walk(top)]
    assert [list(f.path) for f in meta.files] == order
    assert sorted(map(tuple, order)) == [
        ("album", ".hidden"),
        ("album", "cover.jpg"),
        ("album", "disc 1", "01.flac"),
    ]
    content = b"".join(file.read_bytes() for _, file in walk(top))
    assert meta.total_length == 70_000 and meta.multi_file
    assert meta.pieces == (hashlib.sha1(content).digest(),)


def test_walk_goes_depth_first_where_a_directory_is_met(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_bytes(b"")
    (tmp_path / "d" / "g").write_bytes(b"")
    found = [path for path, _ in walk(tmp_path)]
    assert sorted(found) == [["d", "e", "f"], ["d", "g"]]
    files = {tuple(path): file for path, file in walk(tmp_path)}
    assert files[("d", "e", "f")] == tmp_path / "d" / "e" / "f"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "{tmp}/missing", "--tracker", TRACKER, "-o", "{tmp}/x"], "No such file"),
        (["create", "{tmp}/empty", "--tracker", TRACKER, "-o", "{tmp}/x"], "refuse"),
        (
            ["create", "{tmp}/f", "--tracker", TRACKER, "--piece-size", "20000", "-o", "{tmp}/x"],
            "we would refuse this torrent: .*piece length",
        ),
        (["create", "{tmp}/f", "--tracker", "ftp://x/", "-o", "{tmp}/x"], "is not an http://"),
        (["create", "{tmp}/f", "--tracker", TRACKER, "-o", "{tmp}"], "Is a directory"),
    ],
)
def test_create_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "f").write_bytes(b"data")
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2 and out == ""
    assert err.startswith("peer create: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("size", ["256kb", "0", "1.5MiB", "-1"])
def test_a_piece_size_that_is_not_a_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["create", str(tmp_path), "--tracker", TRACKER, "--piece-size", size, "-o", "x"])
    assert exited.value.code == 2
    assert "argument --piece-size" in capsys.readouterr().err


def torrent(tmp_path: Path, **kw: object) -> Path:
    data = b"crepes" * 1000
    pieces = hashlib.sha1(data[:16384]).digest()
    values: dict[str, object] = {"comment": "lunch", "creation_date": 1_700_000_000}
    values.update(kw)
    path = tmp_path / "t.torrent"
    path.write_bytes(build("menu.txt", len(data), 16384, pieces, [TRACKER], **values))  # type: ignore[arg-type]
    return path


def test_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = torrent(tmp_path)
    code, out, err = run(capsys, "info", str(path))
    meta = from_bytes(path.read_bytes())
    assert (code, err) == (0, "")
    assert out == (
        "name:       menu.txt\n"
        "size:       6000 (6000 bytes)\n"
        "pieces:     1 of 16KiB\n"
        f"info-hash:  {meta.info_hash.hex()}\n"
        "private:    no\n"
        f"tracker:    tier 1: {TRACKER}\n"
        "comment:    lunch\n"
        "created by: minternet peer\n"
        "created:    2023-11-14 22:13:20 UTC\n"
        "files:      1\n"
        "  menu.txt  6000 bytes\n"
    )


def test_info_of_a_private_torrent_without_extras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = torrent(tmp_path, comment=None, creation_date=None, created_by=None, private=True)
    out = run(capsys, "info", str(path))[1]
    assert "private:    yes\n" in out
    assert "comment" not in out and "created" not in out


def test_info_of_a_date_no_calendar_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "info", str(torrent(tmp_path, creation_date=10**18)))[1]
    assert "created:    1000000000000000000 (not a date)\n" in out


def test_info_of_many_files_and_no_usable_tracker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [([f"f{n:03d}"], 1) for n in range(SHOWN_FILES + 2)]
    data = build("d", files, 16384, hashlib.sha1(b"x" * len(files)).digest(), [TRACKER])
    data = data.replace(TRACKER.encode(), b"gopher://127.0.0.3:6969/announ")  # same length
    (tmp_path / "d.torrent").write_bytes(data)
    out = run(capsys, "info", str(tmp_path / "d.torrent"))[1]
    assert "tracker:    none usable\n" in out
    assert f"files:      {SHOWN_FILES + 2}\n" in out
    assert f"  d/f{SHOWN_FILES - 1:03d}  1 bytes\n" in out
    assert f"  d/f{SHOWN_FILES:03d}" not in out
    assert out.endswith("  ... and 2 more\n")


def test_info_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.torrent").write_bytes(b"d4:infoi1ee")
    code, out, err = run(capsys, "info", str(tmp_path / "bad.torrent"))
    assert (code, out) == (2, "")
    assert err.startswith(f"peer info: {tmp_path / 'bad.torrent'}: ") and "info" in err[11:]
    code, out, err = run(capsys, "info", str(tmp_path / "missing.torrent"))
    assert (code, out) == (2, "")
    assert err.startswith("peer info: ") and "No such file" in err


def test_the_console_entry_point(tmp_path: Path) -> None:
    path = torrent(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "peer", "info", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("name:       menu.txt\n")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_lines() -> None:
    half = {"have": 128, "of": 256, "left": 12_000_000, "down": 1_500_000, "up": 40_000, "peers": 3}
    assert progress_line(half, width=10) == (
        "[#####.....]  50%  128/256 pieces  down 1.5 MB/s  up 40 KB/s  3 peers  ETA 0:00:08"
    )
    stalled = {**half, "down": 0.0, "have": 1}
    assert progress_line(stalled, width=10).endswith(
        "  1/256 pieces  down 0 KB/s  up 40 KB/s  3 peers  ETA -"
    )
    assert progress_line(stalled, width=10).startswith("[..........]   0%")
    done = {**half, "have": 256, "left": 0}
    assert progress_line(done, width=10).startswith("[##########] 100%  256/256")
    assert progress_line(done, width=10).endswith(" done")
    hours = {**half, "left": 2 * 3600 * 1_500_000 + 61 * 1_500_000}
    assert progress_line(hours).endswith("ETA 2:01:01")


def test_events_print_above_the_progress_line_on_a_terminal() -> None:
    out = Tty()
    report = Reporter(verbose=False, as_json=False, out=out)
    state = {"have": 0, "of": 4, "left": 4, "down": 0.0, "up": 0.0, "peers": 0}
    report("verified", {"pieces": 0, "of": 4})
    report.progress(state)
    report("connected", {"peer": "127.0.0.60:6881"})
    report("piece", {"piece": 1})  # only with -v
    report.end()
    bar = progress_line(state)
    assert out.getvalue() == (
        f"verified: pieces=0 of=4\n\r\x1b[K{bar}\r\x1b[Kconnected: peer=127.0.0.60:6881\n{bar}\n"
    )


def test_no_progress_line_off_a_terminal_or_in_json() -> None:
    plain = io.StringIO()
    report = Reporter(verbose=True, as_json=False, out=plain)
    report.progress({"have": 0, "of": 4, "left": 4, "down": 0.0, "up": 0.0, "peers": 0})
    report("piece", {"piece": 1})
    report.end()
    assert plain.getvalue() == "piece: piece=1\n"
    tty = Tty()
    as_json = Reporter(verbose=False, as_json=True, out=tty)
    as_json.progress({"have": 0, "of": 4, "left": 4, "down": 0.0, "up": 0.0, "peers": 0})
    as_json("complete", {"bytes": 5})
    line = json.loads(tty.getvalue())
    assert line["event"] == "complete" and line["bytes"] == 5 and line["time"] > 0


def test_a_json_field_named_like_a_key_of_the_record_keeps_both() -> None:
    out = io.StringIO()
    Reporter(verbose=False, as_json=True, out=out)("announce", {"event": "started", "peers": 2})
    line = json.loads(out.getvalue())
    assert line["event"] == "announce" and line["announce_event"] == "started"
    assert line["peers"] == 2 and set(line) == {"event", "time", "announce_event", "peers"}


def test_max_up_0_means_no_uploads_and_a_picker_and_hold_are_options() -> None:
    args = build_parser().parse_args(
        ["download", "t", "-o", "d", "--listen", "a:1", "--max-up", "0", "--picker", "random",
         "--hold"]
    )  # fmt: skip
    assert args.max_up == 0 and args.picker == "random" and args.hold
    args = build_parser().parse_args(["download", "t", "-o", "d", "--listen", "a:1"])
    assert args.max_up is None and args.picker == "rarest" and not args.hold
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["download", "t", "-o", "d", "--listen", "a:1", "--max-down", "0"]
        )


@pytest.mark.parametrize("option", ["--max-up", "--max-down"])
def test_rate_limits_are_sizes(capsys: pytest.CaptureFixture[str], option: str) -> None:
    args = build_parser().parse_args(
        ["download", "t", "-o", "d", "--listen", "a:1", option, "2MiB"]
    )
    assert getattr(args, option[2:].replace("-", "_")) == 2 << 20
    with pytest.raises(SystemExit):
        main(["download", "t", "-o", "d", "--listen", "a:1", option, "fast"])
    assert f"argument {option}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--unchoke-slots", "-1", "choker slots must be 0 or more, not -1"),
        ("--choke-interval", "0", "the choking interval must be more than 0 s, not 0.0"),
        ("--optimistic-interval", "-5", "must be more than 0 s, not -5.0"),
        ("--listen", "nowhere", "nowhere"),
    ],
)
def test_transfer_settings_that_cannot_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    path = torrent(tmp_path)
    argv = ["seed", str(path), str(tmp_path), "--listen", "127.0.0.1:1", option, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("peer seed: ") and message in err and err.count("\n") == 1


def test_the_announced_address_is_an_ipv4_address(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["seed", "t", "d", "--listen", "10.53.0.60:6881", "--announce-ip", "127.0.0.60"]
    )
    assert args.announce_ip == "127.0.0.60"
    assert build_parser().parse_args(["seed", "t", "d", "--listen", "a:1"]).announce_ip is None
    with pytest.raises(SystemExit):
        main(["download", "t", "-o", "d", "--listen", "a:1", "--announce-ip", "::1"])
    assert "argument --announce-ip: '::1' is not an IPv4 address" in capsys.readouterr().err
