"""The commands: `resolve` as a real process, `stats`, `cache dump|flush`, `trace`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest

from dnsserver.cli import main

from .conftest import Hierarchy


async def _wait_file(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"resolver exited with {proc.returncode}")
        if path.exists():
            ports: dict[str, int] = json.loads(path.read_text())["ports"]
            return ports
        await asyncio.sleep(0.05)
    raise AssertionError("resolver not ready")


async def test_resolver_process_and_control_commands(
    hierarchy: Hierarchy, hints_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = tmp_path / "ready.json"
    cmd = [
        sys.executable, "-m", "dnsserver", "resolve", "--listen", "127.0.0.1:0",
        "--root-hints", str(hints_file), "--upstream-port", str(hierarchy.port),
        "--control", "127.0.0.1:0", "--name", "local-dns", "--ready-file", str(ready),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE)
    try:
        ports = await _wait_file(ready, proc)
        q = dns.message.make_query("alias.example.test.", "A")
        resp = await dns.asyncquery.udp(q, "127.0.0.1", port=ports["dns"], timeout=5)
        assert [rd.address for rr in resp.answer if rr.rdtype == 1 for rd in rr] == ["127.1.0.1"]
        ctl = ["--control", f"127.0.0.1:{ports['control']}"]
        assert await asyncio.to_thread(main, ["stats", *ctl]) == 0
        out = capsys.readouterr().out
        text = dict(line.split(None, 1) for line in out.splitlines())
        assert text["upstream_queries"] == "3"
        assert text["answers"] == "1" and text["shed_client"] == "0"
        assert text["last_second"] in (
            "(not yet: one second after the start)",
            "queries 0, answers 0, cache hits 0, upstream queries 0, upstream tcp 0, "
            "shed client 0, shed zone 0, shed capacity 0, jostled 0, resolutions 0",
        ) or text["last_second"].startswith(
            "queries 1, answers 1, cache hits 0, upstream queries 3"
        )
        assert await asyncio.to_thread(main, ["stats", "--json", *ctl]) == 0
        as_json = json.loads(capsys.readouterr().out)
        # one shape: the same keys in the same order, whichever form is asked for
        assert list(as_json) == list(text) and as_json["upstream_queries"] == 3
        assert "cache_entries" in as_json and "upstream_ports_in_use" in as_json
        assert await asyncio.to_thread(main, ["cache", "dump", *ctl]) == 0
        out = capsys.readouterr().out
        assert "alias.example.test." in out and "CNAME" in out
        assert (
            await asyncio.to_thread(main, ["cache", "flush", "example.test", "--tree", *ctl]) == 0
        )
        assert re.fullmatch(r"flushed [2-9] entries\n", capsys.readouterr().out)
        assert await asyncio.to_thread(main, ["cache", "dump", "www.example.test", *ctl]) == 0
        assert capsys.readouterr().out == "no cached entries for www.example.test.\n"
        assert await asyncio.to_thread(main, ["cache", "flush", *ctl]) == 0
        assert re.fullmatch(r"flushed \d+ (entry|entries)\n", capsys.readouterr().out)
        assert await asyncio.to_thread(main, ["cache", "dump", *ctl]) == 0
        assert capsys.readouterr().out == "the cache is empty\n"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, timeout=10)
    assert proc.returncode == 0
    assert not ready.exists()
    assert b"local-dns" in err and b"Traceback" not in err


async def test_control_client_reports_an_unreachable_resolver(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await asyncio.to_thread(main, ["stats", "--control", "127.0.0.1:1"]) == 1
    assert "cannot reach" in capsys.readouterr().err


async def test_trace_prints_every_step(
    hierarchy: Hierarchy, hints_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["trace", "far.example.test", "A", "--root-hints", str(hints_file)]
    status = await asyncio.to_thread(main, [*args, "--port", str(hierarchy.port)])
    out = capsys.readouterr().out
    assert status == 0
    lines = [line for line in out.splitlines() if "ask " in line]
    assert "REFERRAL test." in lines[0] and "127.0.0.10" in lines[0]
    assert "CNAME host.glueless.test." in out
    assert "ANSWER A 127.1.0.4" in lines[-1]
    status = await asyncio.to_thread(
        main,
        ["trace", "nope.example.test", "--server", "127.0.0.12", "--port", str(hierarchy.port)],
    )
    assert status == 0 and "NXDOMAIN" in capsys.readouterr().out


@pytest.fixture
def keep_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("keep_logging")
def test_bad_configuration_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text('listen = "127.0.0.1:0"\nbogus = 1\n')
    assert main(["resolve", "--config", str(cfg), "--root-hints", "/nonexistent"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["resolve", "--listen", "127.0.0.1:0", "--root-hints", "/nonexistent"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_resolver_started_by_hand_logs_as_resolver() -> None:
    # It logged as "local-dns", the name of the topology's service, when started by hand.
    from dnsserver.cli import build_parser

    args = build_parser().parse_args(["resolve", "--listen", "127.0.0.1:0"])
    assert args.name == "resolver"


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["trace", "--help"], ["NAME ", "the name to resolve", "TYPE ", "record type", "seconds"]),
        (["cache", "--help"], ["dump: print the cached records", "only this owner name"]),
        (["stats", "--help"], ["the same counters as one JSON object"]),
    ],
)
def test_every_argument_has_help(
    argv: list[str], shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in shown:
        assert text in out, out
