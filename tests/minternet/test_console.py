"""How the programs print commands for people to type, and text a terminal cannot take."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from minternet import console, logs


@pytest.fixture
def venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake virtual environment: bin/python (what sys.executable names) and bin/dnsserver."""
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "python").symlink_to(sys.executable)
    script = bindir / "dnsserver"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    return bindir


def test_a_script_on_the_shells_path_is_typed_bare(venv: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", f"{venv}:/usr/bin:/bin")
    assert console.program("dnsserver") == "dnsserver"


def test_a_script_off_the_path_is_typed_as_a_path_from_the_working_directory(
    venv: Path, monkeypatch: pytest.MonkeyPatch
):
    # `make up` runs .venv/bin/minternet without activating .venv: a bare `dnsserver` in its
    # "Try:" block was "command not found".
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(venv.parent.parent)
    assert console.program("dnsserver") == "venv/bin/dnsserver"
    elsewhere = venv.parent.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not below the working directory: the whole path
    assert console.program("dnsserver") == str(venv / "dnsserver")


def test_another_program_of_the_same_name_on_the_path_does_not_count(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    other = tmp_path / "other"
    other.mkdir()
    (other / "dnsserver").write_text("#!/bin/sh\n")
    (other / "dnsserver").chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}:/usr/bin")
    monkeypatch.chdir(other)
    assert console.program("dnsserver") == str(venv / "dnsserver")


def test_without_an_installed_script_the_name_is_all_there_is(venv: Path):
    assert console.program("nosuchprogram") == "nosuchprogram"


def test_bytes_that_are_not_utf8_print_as_they_came(monkeypatch: pytest.MonkeyPatch):
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    console.setup()
    print("nothing is running from /tmp/\udcff")  # what argv gives for the byte 0xff
    out.flush()
    assert out.buffer.getvalue() == b"nothing is running from /tmp/\xff\n"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "minternet", "zones"],
        [sys.executable, "-m", "dnsserver", "checkzone", "--help"],
    ],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(command: list[str]) -> None:
    # `minternet zones | head` ended in a BrokenPipeError traceback.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # the reader leaves after ten bytes
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) in (0, 1)
    assert err == b"", err.decode(errors="replace")


def test_log_lines_name_the_service_once_and_no_module(monkeypatch: pytest.MonkeyPatch) -> None:
    for level, suffix in (("INFO", ""), ("DEBUG", "  [dnsserver.aio.server]")):
        out = io.StringIO()
        logs.setup("root", level, out)
        logging.getLogger("dnsserver.aio.server").warning("refusing to start: %s", "no SOA")
        line = out.getvalue().rstrip("\n")
        assert line.endswith(f" root WARNING refusing to start: no SOA{suffix}"), line
        assert line.count("root") == 1
        assert logs.last_error([line.replace("WARNING", "ERROR")]) == "refusing to start: no SOA"
    logging.getLogger().handlers.clear()
