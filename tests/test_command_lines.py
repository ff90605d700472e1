"""Every command and option of `minternet`, `dnsserver`, `tracker`, `mailserver`, `peer`: exit
0 to 3, no traceback.

Hypothesis draws a subcommand of each program's argument parser, some of its options and
positionals, and values for them from a pool of what people type by mistake (an empty label, a
70-octet label, an unknown type, a port out of range, a missing file, bytes that are not UTF-8
on a terminal). What would leave the process is replaced by fakes that answer at once: the
daemons' event loop (`service.run`), the network walk of `trace`, the control endpoint, and
starting processes. Everything before that — parsing, validation, loading files, building the
daemon, printing — runs for real.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dnsserver.cli
import mailserver.cli
import minternet.cli
import peer.cli
import tracker.cli
from dnsserver.resolver.iterate import Result
from minternet.experiment import RunError
from minternet.supervisor import SupervisorError
from peer.create import build

PROGRAMS: dict[str, Callable[[list[str]], int]] = {
    "minternet": minternet.cli.main,
    "dnsserver": dnsserver.cli.main,
    "tracker": tracker.cli.main,
    "mailserver": mailserver.cli.main,
    "peer": peer.cli.main,
}
PARSERS: dict[str, argparse.ArgumentParser] = {
    "minternet": minternet.cli.build_parser(),
    "dnsserver": dnsserver.cli.build_parser(),
    "tracker": tracker.cli.build_parser(),
    "mailserver": mailserver.cli.build_parser(),
    "peer": peer.cli.build_parser(),
}

#: Values people type; {tmp} is a fresh directory of this test, holding the files made below.
VALUES = [
    "gaia.cs.umass.edu",
    "gaia.cs.umass.edu.",
    ".",
    "a..b",
    "x" * 70 + ".example",
    ".".join(["abcdefghij"] * 26),  # a name over 255 octets
    "ü.example",
    "-bad",
    "A",
    "aaaa",
    "28",
    "TYPE28",
    "BOGUS",
    "AXFR",
    "65536",
    "-1",
    "0",
    "1e9",
    "nan",
    "",
    "\udcff",  # a byte that is not UTF-8, as Python receives it in argv
    "127.0.0.1",
    "127.0.0.1:1",
    "127.0.0.1:99999",
    "[::1]:53",
    "[::1",
    "localhost:53",
    "dns-root",
    "tracker",
    "nosuchrole",
    "DEBUG",
    "verbose",
    "{tmp}",
    "{tmp}/missing",
    "{tmp}/garbage.txt",
    "{tmp}/unknown-key.toml",
    "{tmp}/good.zone",
    "{tmp}/hints",
    "{tmp}/good.torrent",
    "http://127.0.0.3:6969/announce",
    "/dev/null",
    "/proc/nonexistent/dir",
]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Any]:
    subs = _subcommands(parser)
    if not subs:
        yield path, parser
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


LEAVES = [
    (program, path, parser) for program, top in PARSERS.items() for path, parser in _leaves(top)
]


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str]]:
    program, path, parser = draw(st.sampled_from(LEAVES))
    argv = list(path)
    value = st.sampled_from(VALUES)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            if not draw(st.booleans()):
                continue
            argv.append(draw(st.sampled_from(action.option_strings)))
            if action.nargs == 0:
                continue
            count = draw(st.integers(1, 2)) if action.nargs in ("+", "*") else 1
            argv += [draw(value) for _ in range(count)]
        else:
            if action.nargs == "?" and not draw(st.booleans()):
                continue
            count = draw(st.integers(0, 2)) if action.nargs in ("*",) else 1
            if action.choices and draw(st.integers(0, 3)):
                argv += [draw(st.sampled_from(list(action.choices))) for _ in range(count)]
            else:
                argv += [draw(value) for _ in range(count)]
    return program, argv


def _fake_control(address: str, command: str, timeout: float = 10.0) -> dict[str, Any]:
    if address.endswith(":1"):
        raise ConnectionRefusedError(111, "Connection refused")
    if command.startswith("dump"):
        return {"entries": []}
    if command.startswith("flush"):
        return {"flushed": 1}
    if command == "stats":
        return {"stats": {"queries": 1}, "cache_entries": 0, "cache_evictions": 0,
                "answer_cache_entries": 0, "upstream_ports_in_use": []}  # fmt: skip
    return {"error": f"unknown command {command!r}"}


async def _fake_trace(*args: object, **kwargs: object) -> Result:
    return Result(rcode=2, reason="no server answered (fake)")


def _no_processes(*args: object, **kwargs: object) -> list[object]:
    raise SupervisorError("starting processes is faked in this test")


async def _no_swarm(self: object) -> object:
    raise RunError("the experiment's processes are faked in this test")


class _NoTorrent:
    """peer seed/download: everything up to the torrent's start runs; the start fails at once
    (a real one would listen, announce and wait for peers)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.have = mock.Mock(count=0)

    async def start(self, *, join: bool = True) -> None:
        raise OSError(98, "listening is faked in this test")

    async def stop(self) -> None:
        return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "garbage.txt").write_bytes(b"\xff\xfe not a zone, not TOML [[[\n")
    (tmp / "unknown-key.toml").write_text("no_such_key = 1\n")
    (tmp / "good.zone").write_text(
        "$ORIGIN example.\n$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n"
    )
    (tmp / "hints").write_text(". 3600000 NS a.root.\na.root. 3600000 A 127.0.0.1\n")
    pieces = hashlib.sha1(b"hello").digest()
    (tmp / "good.torrent").write_bytes(build("hello.txt", 5, 16384, pieces, ["http://t/a"]))
    return tmp


def run(program: str, argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run one command in-process with the fakes; returns its exit status and its output."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")  # as a terminal
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    threshold = gc.get_threshold()
    fakes = [
        mock.patch("minternet.service.run", return_value=0),
        mock.patch("minternet.compose.os.execv"),  # `minternet container NAME` becoming it
        mock.patch("minternet.compose.STATE_DIR", cwd / "container-state"),  # not /var/lib
        mock.patch("gc.freeze"),
        mock.patch("minternet.control.request", _fake_control),
        mock.patch("dnsserver.resolver_cli.control", _fake_control),
        mock.patch("dnsserver.resolver_cli.trace", _fake_trace),
        mock.patch("minternet.supervisor.start", _no_processes),
        mock.patch("minternet.supervisor.stop_pids", return_value=[]),
        mock.patch("minternet.experiment.Experiment.run", _no_swarm),
        mock.patch("peer.cli.Torrent", _NoTorrent),
    ]
    try:
        with contextlib.ExitStack() as stack:
            for fake in fakes:
                stack.enter_context(fake)
            stack.enter_context(contextlib.chdir(cwd))
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
            try:
                status = PROGRAMS[program](argv)
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 1
            out.flush()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
        gc.set_threshold(*threshold)
    return status, out.buffer.getvalue().decode(errors="replace")  # type: ignore[attr-defined]


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command_lines())
def test_no_command_line_ends_in_a_traceback(workdir: Path, line: tuple[str, list[str]]) -> None:
    program, argv = line
    argv = [a.replace("{tmp}", str(workdir)) for a in argv]
    status, output = run(program, argv, workdir)
    assert "Traceback" not in output, (program, argv, output)
    assert status in (0, 1, 2, 3), (program, argv, status, output)


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_program_prints_its_version(program: str, tmp_path: Path) -> None:
    status, output = run(program, ["--version"], tmp_path)
    assert status == 0
    assert output.strip() == f"{program} {minternet.__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trace", "gaia.cs.umass.edu", "BOGUS"], "unknown record type 'BOGUS'"),
        (["trace", "gaia.cs.umass.edu", "AXFR"], "cannot trace AXFR"),
        (["trace", "a..b"], "bad name 'a..b': empty label"),
        (["trace", "x" * 70 + ".example"], "label longer than 63 octets"),
        (["cache", "dump", "a..b"], "bad name 'a..b': empty label"),
        (["cache", "flush", "x" * 70], "label longer than 63 octets"),
    ],
)
def test_bad_names_and_types_are_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    status, output = run("dnsserver", argv, tmp_path)
    assert status == 2, output
    assert message in output and len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize(("qtype", "shown"), [("28", "AAAA"), ("TYPE28", "AAAA"), ("mx", "MX")])
def test_trace_takes_a_type_as_dig_does_or_by_number(
    qtype: str, shown: str, tmp_path: Path
) -> None:
    status, output = run("dnsserver", ["trace", "gaia.cs.umass.edu", qtype], tmp_path)
    assert status == 1, output  # the fake walk SERVFAILs
    assert output.startswith(f";; trace of gaia.cs.umass.edu. {shown}, iterating"), output
