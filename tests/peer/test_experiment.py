"""`minternet experiment p2p` end to end, with small sizes: real processes on real sockets,
the issue's targets checked against the notes' bounds, and the files it writes."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minternet.cli import main
from peer.distribution import (
    CLIENT_SERVER,
    P2P,
    Finish,
    Result,
    check,
    free_rider_medians,
    free_rider_verdict,
)

pytestmark = pytest.mark.timeout(600)

MiB = 1 << 20


def run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minternet.cli", "experiment", "p2p", "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=500,
    )


def test_a_small_sweep_meets_its_bounds(tmp_path: Path) -> None:
    # 8 MiB to N = 1, 2, 4, 8: client-server 2 to 16 s, P2P 2 to 5.3 s (with 4 MiB, 16 pieces,
    # P2P at N=8 came to 1.4x its bound: too few pieces to trade; 32 do better)
    size = 8 * MiB
    proc = run(tmp_path, "--sizes", "8,1,2,4", "--file-size", "8MiB")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["n"], r["mode"]) for r in rows] == [
        (n, m) for n in (1, 2, 4, 8) for m in (CLIENT_SERVER, P2P)
    ]
    assert all(set(r) == {"n", "mode", "measured_s", "bound_s"} for r in rows)
    results = [Result(r["n"], r["mode"], r["measured_s"], r["bound_s"]) for r in rows]
    by = {(r.n, r.mode): r for r in results}
    assert by[(8, CLIENT_SERVER)].bound_s == 16.0  # 8 copies of 8 MiB at 4 MiB/s
    assert by[(8, P2P)].bound_s == pytest.approx(64 / 12, abs=0.001)  # 8 x 8 MiB / 12 MiB/s
    for verdict in check(results, size):
        assert verdict.met, verdict.text
    # (printed from unrounded times: the figures may differ from these in the last digit)
    assert out.count("\nmet: ") == 3 and "MISSED" not in out
    assert "met: p2p within 1.5x of its bound at every N: worst " in out
    with (tmp_path / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 8 and float(table[-1]["bound_s"]) == pytest.approx(64 / 12, abs=0.001)
    for name in ("plot.png", "plot.svg", "availability.png", "availability.svg"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "plot.svg").read_bytes()[:1000]
    assert not (tmp_path / "mechanisms.json").exists()  # no mechanism asked for
    assert "N=8 p2p" in out and "cpu " in out


def test_the_free_rider_run_is_recorded_and_reported(tmp_path: Path) -> None:
    # (small: what the run writes and prints; what tit-for-tat does is the test below)
    proc = run(tmp_path, "--sizes", "4", "--file-size", "2MiB", "--free-riders", "1")
    assert proc.returncode == 0, proc.stderr
    riders = json.loads((tmp_path / "mechanisms.json").read_text())["free_riders"]
    assert (riders["n"], riders["free_riders"]) == (4, 1)
    finishes = [Finish(f["peer"], f["free_rider"], f["done_s"]) for f in riders["finishes"]]
    assert sum(f.free_rider for f in finishes) == 1 and len(finishes) == 4
    assert all(f.done_s is not None and f.done_s > 0 for f in finishes)
    medians, order = free_rider_medians(finishes), free_rider_verdict(finishes)
    assert (riders["median_met"], riders["met"]) == (medians.met, order.met)
    for verdict in (medians, order):
        assert f"{'met' if verdict.met else 'MISSED'}: {verdict.text}" in proc.stdout
    assert isinstance(riders["progress_met"], bool)
    assert "when the first contributor finished (" in proc.stdout
    assert riders["bound_s"] == pytest.approx(8 / 7, abs=0.001)  # 4 x 2 MiB / (4 + 3) MiB/s
    assert "N=4 p2p, 1 free-riders" in proc.stdout
    assert "  contributors: 3 finished: " in proc.stdout
    assert "  free-riders:  1 finished: " in proc.stdout


async def test_free_riders_hold_fewer_pieces_while_everyone_trades(tmp_path: Path) -> None:
    # 16 downloaders, 4 of them free-riders, 16 MiB, three swarms: tit-for-tat leaves the
    # free-riders the optimistic unchokes and the seeder's round robin, so when the first
    # contributor has the file they hold fewer pieces. One swarm is not enough to show it
    # every time: in 9 swarms here the free-riders' median was 0.44 to 0.88 of the
    # contributors' (0.95 in one of 5 more with a variant of the seeds' policy, since
    # reverted): the contributors, alike, sometimes have little to trade with each other,
    # and a free-rider, wanting every piece, takes all an optimistic unchoke gives. The mean
    # of three is asserted under 0.95; with no tit-for-tat it would be about 1.
    # The finish order (the target: every free-rider after every contributor) is
    # printed, not asserted: once the contributors finish they seed everyone in turn, and the
    # free-riders, downloading at up to 8x their peers' upload, close the gap (CI once saw
    # their median finish 0.36 s ahead). `make bench` prints it at full size.
    import io

    from minternet.experiment import Experiment, Settings
    from peer.distribution import held_at_first_finish

    out = io.StringIO()
    s = Settings(
        sizes=[16], file_size=16 * MiB, server_up=4 * MiB, peer_up=MiB, peer_down=8 * MiB,
        out=tmp_path / "out", free_riders=4,
    )  # fmt: skip
    experiment = Experiment(s, tmp_path / "work", out)
    experiment.prepare()
    experiment.runs = 3
    ratios = []
    for _ in range(3):
        outcome, entry = await experiment.free_riders(16, 4)
        assert all(f.done_s is not None for f in outcome.finishes), out.getvalue()
        assert sum(f.free_rider for f in outcome.finishes) == 4
        held = held_at_first_finish(outcome.finishes, outcome.gains)
        assert held is not None and entry["progress_met"] == (held.riders < held.contributors)
        ratios.append(held.riders / held.contributors)
    assert sum(ratios) / 3 < 0.95, (ratios, out.getvalue())
    assert out.getvalue().count("when the first contributor finished (") == 3


def test_the_random_picker_and_churn_runs(tmp_path: Path) -> None:
    proc = run(
        tmp_path, "--sizes", "6", "--file-size", "2MiB", "--picker", "random", "--churn",
        "--seed", "4",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mech = json.loads((tmp_path / "mechanisms.json").read_text())
    picker = mech["picker"]
    assert picker["n"] == 6 and picker["rarest_s"] > 0 and picker["random_s"] > 0
    for key in ("rarest_availability", "random_availability"):
        points = picker[key]
        assert points[0] == [0.0, 1]  # the seeder's copy
        assert points[-1][1] == 7  # in the end every downloader holds every piece
        assert [t for t, _ in points] == sorted(t for t, _ in points)
    churn = mech["churn"]
    assert churn["left_mid_download"] == 1 and churn["joined"] == 1
    assert churn["stayers_finished"] == churn["stayers"] == 6
    assert "left mid-download" in proc.stdout
    assert (tmp_path / "availability.svg").exists()
    # every run says the CPU its swarm used, counting processes that left before the end
    # (the churn run's share came out negative when those were dropped)
    shares = re.findall(r", cpu (-?\d+)% of \d+ cores", proc.stdout)
    assert len(shares) == 4 and all(int(x) > 0 for x in shares), proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "0"], "sizes run from 1"),
        (["--sizes", "4", "--free-riders", "4"], "--free-riders must be 0 to 3"),
        (["--server-up", "fast"], "argument --server-up"),
    ],
)
def test_bad_options_say_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        status = main(["experiment", "p2p", "--out", str(tmp_path), *args])
    except SystemExit as e:  # (argparse's own refusals)
        status = int(str(e.code))
    assert status == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_stuck_run_says_how_far_each_peer_got_and_what_each_process_logged_last(tmp_path):
    from minternet.experiment import Experiment, Member

    logs = {}
    for name, text in [
        ("seeder", "started\nunchoked d1\nunchoked d2\nsent piece 7\n"),
        ("d1", "x" * 400 + "\nhave 3 of 64\n"),
        ("d2", ""),
    ]:
        logs[name] = tmp_path / f"{name}.log"
        logs[name].write_text(text)
    seeder = Member("seeder", "127.0.0.50", log=logs["seeder"])
    d1 = Member("d1", "127.0.0.51", log=logs["d1"], gains=[(0.0, 1), (0.5, 2), (1.0, 3)])
    d2 = Member("d2", "127.0.0.52", log=logs["d2"])
    d3 = Member("d3", "127.0.0.53", log=tmp_path / "missing.log", done_at=5.0)
    text = Experiment._stuck("run 4/8: N=2 p2p", 60.0, [d1, d2], [seeder, d1, d2, d3], 64)
    assert text.splitlines() == [
        "run 4/8: N=2 p2p: d1, d2 not finished after 60 s",
        "  d1: 3/64 pieces, alive: False",
        "  d2: 0/64 pieces, alive: False",
        "  seeder last logged: unchoked d1 | unchoked d2 | sent piece 7",
        "  d1 last logged: " + "x" * 300 + " | have 3 of 64",
        "  d2 last logged: (nothing logged)",
        "  d3 last logged: (nothing logged)",
    ]


async def test_a_peer_is_done_when_its_last_piece_is_verified_not_when_the_disk_has_flushed():
    # the clock stops at the `piece` event that completes the file: `complete` comes after the
    # fsync, and on a slow disk 12 peers that finished together flushed one after the other
    from types import SimpleNamespace

    from minternet.experiment import Experiment, Member

    stdout = asyncio.StreamReader()
    for line in [
        '{"event": "piece", "time": 10.0, "piece": 3, "have": 1, "of": 2}',
        "not json",
        "[1, 2]",
        '{"event": "piece", "time": 12.5, "piece": 0, "have": 2, "of": 2}',
        '{"event": "complete", "time": 14.0, "bytes": 524288}',
        '{"event": "piece", "time": 15.0, "piece": 1, "have": 2, "of": 2}',
    ]:
        stdout.feed_data(line.encode() + b"\n")
    stdout.feed_eof()
    m = Member("d1", "127.0.0.51")
    m.proc = SimpleNamespace(stdout=stdout)  # type: ignore[assignment]
    await Experiment._read(None, m)  # type: ignore[arg-type]
    assert m.done_at == 12.5
    assert m.gains == [(10.0, 3), (12.5, 0), (15.0, 1)]


async def test_a_peer_that_never_verified_every_piece_is_not_done():
    from types import SimpleNamespace

    from minternet.experiment import Experiment, Member

    stdout = asyncio.StreamReader()
    stdout.feed_data(b'{"event": "piece", "time": 1.0, "piece": 0, "have": 1, "of": 2}\n')
    stdout.feed_data(b'{"event": "complete", "time": 2.0}\n')
    stdout.feed_eof()
    m = Member("d1", "127.0.0.51")
    m.proc = SimpleNamespace(stdout=stdout)  # type: ignore[assignment]
    await Experiment._read(None, m)  # type: ignore[arg-type]
    assert m.done_at is None and m.gains == [(1.0, 0)]
    assert not m.announced.is_set()


async def test_the_seeder_counts_as_announced_once_the_tracker_answered_it():
    # downloaders are released only then: a seed does not dial, and downloaders told of no one
    # with a piece would wait minutes for their next announce
    from types import SimpleNamespace

    from minternet.experiment import Experiment, Member

    stdout = asyncio.StreamReader()
    stdout.feed_data(b'{"event": "tracker-error", "time": 1.0, "reason": "refused"}\n')
    m = Member("seeder", "127.77.0.2")
    m.proc = SimpleNamespace(stdout=stdout)  # type: ignore[assignment]
    reading = asyncio.ensure_future(Experiment._read(None, m))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert not m.announced.is_set()
    stdout.feed_data(
        b'{"event": "announce", "time": 2.0, "tracker": "http://127.77.0.1:1/announce", '
        b'"announce_event": "started", "peers": 0}\n'
    )
    await asyncio.wait_for(m.announced.wait(), 5)
    stdout.feed_eof()
    await reading
    assert m.gains == [] and m.done_at is None
