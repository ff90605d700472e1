"""`minternet restart NAME`: stop a service if it runs, start its command again, record the pid."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minternet import cli, pointer, supervisor
from minternet.supervisor import SupervisorError, UnknownService

from .fakes import HOSTS, fake_command


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process `pid` has ended (reaped, or a zombie) within `timeout`.

    Only for a single-threaded process or one that is not our child: the leader of a thread
    group shows as a zombie while its other threads still exit, before waitpid can reap it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat[stat.rfind(")") + 2] == "Z":
            return True
        time.sleep(0.02)
    return False


def killed(s: supervisor.Service) -> None:
    """SIGKILL a service this process started, and wait until it has died (and is reaped)."""
    os.kill(s.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while supervisor.running(s):
        assert time.monotonic() < deadline, f"{s.name} survived SIGKILL"
        time.sleep(0.02)


def recorded(ctx) -> dict:
    return json.loads((ctx.state_dir / supervisor.STATE_FILE).read_text())


def test_restart_a_running_service(ctx):
    alpha, beta = supervisor.start(HOSTS, ctx, command=fake_command)
    (r,) = supervisor.restart(ctx.state_dir, ["alpha"])
    assert r.was_running and r.old_pid == alpha.pid and r.service.pid != alpha.pid
    assert gone(alpha.pid), "the old process still runs"
    ready = json.loads((ctx.state_dir / "alpha" / "ready.json").read_text())
    assert ready["pid"] == r.service.pid and ready["ports"] == r.service.ports
    state = recorded(ctx)
    assert "restarting" not in state
    assert [s["pid"] for s in state["services"]] == [r.service.pid, beta.pid]
    assert [alive for _, alive in supervisor.status(ctx.state_dir)] == [True, True]
    log = (ctx.state_dir / "logs" / "alpha.log").read_text()
    assert log.count(" ready (pid ") == 2 and " alpha INFO stopped\n" in log


def test_restart_a_dead_service_starts_it_again(ctx):
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    killed(alpha)  # leaves its ready file behind
    (r,) = supervisor.restart(ctx.state_dir, ["alpha"])
    assert not r.was_running and r.service.pid != alpha.pid
    # restart waited for the new process's own ready file, not the stale one
    ready = json.loads((ctx.state_dir / "alpha" / "ready.json").read_text())
    assert ready["pid"] == r.service.pid
    assert [alive for _, alive in supervisor.status(ctx.state_dir)] == [True, True]


def test_restart_of_an_unknown_name_names_the_services_and_changes_nothing(ctx):
    supervisor.start(HOSTS, ctx, command=fake_command)
    before = (ctx.state_dir / supervisor.STATE_FILE).read_text()
    with pytest.raises(UnknownService, match=r"no service 'gamma' in .* \(services: alpha, beta\)"):
        supervisor.restart(ctx.state_dir, ["alpha", "gamma"])
    assert (ctx.state_dir / supervisor.STATE_FILE).read_text() == before


def test_a_restart_that_fails_says_why_and_leaves_a_clean_state(ctx):
    alpha, beta = supervisor.start(HOSTS, ctx, command=fake_command)
    state = recorded(ctx)
    state["services"][0]["command"] = [sys.executable, "-c", "print('bad zone'); exit(3)"]
    (ctx.state_dir / supervisor.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(SupervisorError, match=r"alpha .* exited with status 3 before it was ready"):
        supervisor.restart(ctx.state_dir, ["alpha"])
    state = recorded(ctx)
    assert "restarting" not in state
    assert [s["pid"] for s in state["services"]] == [alpha.pid, beta.pid]
    assert [alive for _, alive in supervisor.status(ctx.state_dir)] == [False, True]


def test_cli_restart(ctx, capsys):
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    assert cli.main(["restart", "alpha", "--state-dir", str(ctx.state_dir)]) == 0
    new = supervisor.read_state(ctx.state_dir)[0]
    out = capsys.readouterr().out
    assert (
        out
        == f"alpha: restarted (pid {alpha.pid} -> {new.pid}), 127.0.0.1 echo {new.ports['echo']}\n"
    )
    killed(new)
    assert cli.main(["restart", "alpha", "--state-dir", str(ctx.state_dir)]) == 0
    newer = supervisor.read_state(ctx.state_dir)[0]
    assert capsys.readouterr().out.startswith(
        f"alpha: was not running; started again (pid {newer.pid}), 127.0.0.1 echo "
    )


def test_cli_restart_of_an_unknown_service_is_a_usage_error(ctx, capsys):
    supervisor.start(HOSTS, ctx, command=fake_command)
    assert cli.main(["restart", "gamma", "--state-dir", str(ctx.state_dir)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"minternet restart: no service 'gamma' in {ctx.state_dir} (services: alpha, beta)\n"
    )


def test_cli_restart_with_nothing_recorded(tmp_path, capsys):
    assert cli.main(["restart", "alpha", "--state-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"minternet restart: nothing is running from {tmp_path}\n"


def test_cli_restart_with_nothing_recorded_names_state_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(pointer.ENV, str(tmp_path / "pointer"))
    assert cli.main(["restart", "alpha"]) == 1
    err = capsys.readouterr().err
    assert f"nothing is running from {tmp_path / '.minternet'}" in err
    assert "--state-dir DIR" in err and str(tmp_path / "pointer") in err


def test_a_zombie_of_another_parent_counts_as_stopped():
    # `down` or `restart` beside a foreground `up`: a service they stop stays a zombie until
    # `up` reaps it. It used to count as running until the timeout, then got a useless SIGKILL.
    with subprocess.Popen(
        ["sh", "-c", "sleep 0.2 & echo $!; exec sleep 30"], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            zombie = int(parent.stdout.readline())
            assert gone(zombie)  # `sleep 0.2` ended; `sleep 30` never reaps it
            assert Path(f"/proc/{zombie}").exists()
            assert supervisor.stop_pids([zombie], timeout=5.0) == []
        finally:
            parent.kill()


def test_an_older_state_file_names_the_ready_file_in_the_command_line():
    s = supervisor.Service(
        "a", "r", "127.0.0.1", "a.", [], {}, 2, "a.log", ["x", "--ready-file", "/s/r.json"]
    )
    assert s.ready == "" and s.ready_file() == Path("/s/r.json")
    assert dataclasses.replace(s, command=["x"]).ready_file() is None


def test_a_service_that_cannot_be_restarted_is_not_stopped(ctx):
    alpha, _ = supervisor.start(HOSTS, ctx, command=fake_command)
    state = recorded(ctx)
    state["services"][0].update(command=[], ready="")
    (ctx.state_dir / supervisor.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(SupervisorError, match="alpha: the state file has no command line"):
        supervisor.restart(ctx.state_dir, ["alpha"])
    assert not gone(alpha.pid, timeout=0.2)
    assert "restarting" not in recorded(ctx)


@pytest.mark.parametrize("command", ["down", "restart"])
def test_a_state_dir_that_cannot_be_looked_at_is_one_line(tmp_path, capsys, command):
    # Path.exists() raises for a name too long (ENAMETOOLONG): it ended in a traceback.
    state = tmp_path / ("x" * 300)
    argv = [command, *(["alpha"] if command == "restart" else []), "--state-dir", str(state)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"minternet {command}: {state / 'state.json'}: unreadable state file: ")
    assert "File name too long" in err and err.count("\n") == 1
