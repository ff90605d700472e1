"""`minternet status/down` find the topology from any directory, and status's exit statuses."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from minternet import cli, pointer, supervisor

from .fakes import HOSTS, fake_command


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The current directory is one without a .minternet; the pointer is this test's own."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(pointer.ENV, str(tmp_path / "pointer" / "current"))
    return cwd


def test_pointer_location(monkeypatch, tmp_path):
    monkeypatch.setenv(pointer.ENV, str(tmp_path / "p"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert pointer.location() == tmp_path / "p"
    monkeypatch.delenv(pointer.ENV)
    assert pointer.location() == Path("/run/user/1000/minternet/current")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pointer.location() == tmp_path / "home" / ".local/state/minternet/current"


def test_pointer_is_cleared_only_for_its_own_topology(elsewhere, tmp_path):
    assert pointer.read() is None
    path = pointer.record(tmp_path / "a")
    assert path is not None and path.read_text() == f"{tmp_path / 'a'}\n"
    assert pointer.read() == tmp_path / "a"
    pointer.clear(tmp_path / "b")
    assert pointer.read() == tmp_path / "a"
    pointer.clear(tmp_path / "a")
    assert pointer.read() is None and not path.exists()


def test_status_and_down_follow_the_pointer_from_another_directory(ctx, elsewhere, capsys):
    supervisor.start(HOSTS, ctx, command=fake_command)
    pointer.record(ctx.state_dir)
    assert cli.main(["status"]) == cli.STATUS_RUNNING
    out, err = capsys.readouterr()
    assert "alpha" in out and "beta" in out
    assert err == (
        f"minternet status: using {ctx.state_dir} (recorded by `minternet up` in "
        f"{pointer.location()})\n"
    )
    assert cli.main(["down"]) == 0
    out, err = capsys.readouterr()
    assert out == "stopped 2 services\n" and err.startswith(
        f"minternet down: using {ctx.state_dir}"
    )
    assert pointer.read() is None  # down cleared the pointer to what it stopped


def test_a_local_minternet_dir_wins_over_the_pointer(ctx, elsewhere, capsys):
    supervisor.start(HOSTS, ctx, command=fake_command)
    pointer.record(ctx.state_dir)
    local = elsewhere / ".minternet"
    local.mkdir()
    (local / supervisor.STATE_FILE).write_text(json.dumps({"services": []}))
    assert cli.main(["status"]) == cli.STATUS_NOTHING
    out, err = capsys.readouterr()
    assert out.startswith(f"nothing is running from {local} ") and err == ""
    assert cli.main(["down"]) == 0
    assert pointer.read() == ctx.state_dir  # it pointed at another topology: left alone


def test_nothing_found_names_state_dir(elsewhere, capsys):
    assert cli.main(["status"]) == cli.STATUS_NOTHING == 1
    out = capsys.readouterr().out
    assert out == (
        f"nothing is running from {elsewhere / '.minternet'} (and no running topology is "
        f"recorded in {pointer.location()}); name the state directory of `minternet up` "
        "with --state-dir DIR\n"
    )
    assert cli.main(["status", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"ca": None, "services": [], "registered": []}


def test_a_pointer_to_a_path_that_cannot_be_looked_at_is_ignored(elsewhere, capsys):
    location = pointer.location()
    assert location is not None
    location.parent.mkdir(parents=True)
    location.write_text("/" + "x" * 300 + "\n")  # Path.exists() raises ENAMETOOLONG on it
    assert cli.main(["status"]) == cli.STATUS_NOTHING
    out, err = capsys.readouterr()
    assert out.startswith(f"nothing is running from {elsewhere / '.minternet'} ") and err == ""


def test_an_empty_pointer_variable_turns_the_pointer_off(ctx, elsewhere, monkeypatch, capsys):
    supervisor.start(HOSTS, ctx, command=fake_command)
    pointer.record(ctx.state_dir)
    monkeypatch.setenv(pointer.ENV, "")
    assert pointer.location() is None and pointer.read() is None
    assert pointer.record(ctx.state_dir) is None
    assert cli.main(["down"]) == 0
    assert capsys.readouterr().out == (
        f"nothing was running from {elsewhere / '.minternet'} (and no running topology is "
        "recorded); name the state directory of `minternet up` with --state-dir DIR\n"
    )
    assert [alive for _, alive in supervisor.status(ctx.state_dir)] == [True, True]


def test_status_exits_1_when_nothing_is_recorded(tmp_path, capsys):
    argv = ["status", "--state-dir", str(tmp_path)]
    assert cli.main(argv) == cli.STATUS_NOTHING == 1
    assert capsys.readouterr().out == f"nothing is running from {tmp_path}\n"
    assert cli.main([*argv, "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"ca": None, "services": [], "registered": []}


def test_status_exits_3_when_a_service_is_not_running(ctx, capsys):
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    argv = ["status", "--state-dir", str(ctx.state_dir)]
    assert cli.main(argv) == cli.STATUS_RUNNING == 0
    capsys.readouterr()
    os.kill(alpha.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while supervisor.running(alpha) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cli.main(argv) == cli.STATUS_NOT_RUNNING == 3
    out = capsys.readouterr().out
    assert f"{alpha.pid} (dead)" in out
    assert out.splitlines()[-1] == (
        f"not running: alpha (see their logs in {ctx.state_dir / 'logs'}; "
        "`minternet restart NAME` starts one again)"
    )
    assert cli.main([*argv, "--json"]) == 3
    running = {s["name"]: s["running"] for s in json.loads(capsys.readouterr().out)["services"]}
    assert running == {"alpha": False, "beta": True}
