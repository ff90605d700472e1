"""`minternet up/status/down` mechanics with stand-in daemons that use the real service runtime."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from minternet import cli, supervisor, topology
from minternet.launch import LaunchContext
from minternet.supervisor import SupervisorError
from minternet.topology import Host

from .fakes import HOSTS, fake_command


def test_start_status_down(ctx):
    services = supervisor.start(HOSTS, ctx, command=fake_command)
    assert [s.name for s in services] == ["alpha", "beta"]
    assert all(s.ports["echo"] > 0 for s in services)
    rows = supervisor.status(ctx.state_dir)
    assert [alive for _, alive in rows] == [True, True]
    with pytest.raises(SupervisorError, match="already running"):
        supervisor.start(HOSTS, ctx, command=fake_command)
    stopped = supervisor.down(ctx.state_dir)
    assert len(stopped) == 2
    assert supervisor.status(ctx.state_dir) == []
    for s in services:  # the stand-ins logged their own readiness and graceful stop
        log = Path(s.log).read_text()
        assert "ready" in log and "stopped" in log


def test_a_service_that_dies_is_reported_with_its_log_and_the_rest_stopped(ctx):
    hosts = [*HOSTS, Host("broken", "fake", "127.0.0.1", "broken.test.")]
    with pytest.raises(SupervisorError, match=r"broken .* exited with status 3") as e:
        supervisor.start(hosts, ctx, command=fake_command)
    assert "zone error at line 3" in str(e.value)
    assert supervisor.status(ctx.state_dir) == []


def test_select_hosts_by_role_or_name():
    topo = topology.DEFAULT
    assert {h.role for h in supervisor.select_hosts(topo, ["dns-tld"])} == {"dns-tld"}
    assert [h.name for h in supervisor.select_hosts(topo, ["root"])] == ["root"]
    assert len(supervisor.select_hosts(topo, None)) == len(topo.hosts)
    with pytest.raises(SupervisorError, match="no such role"):
        supervisor.select_hosts(topo, ["dns-nope"])


def _state_naming(state_dir: Path, pid: object, command: list[str]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    entry = {
        "name": "tracker",
        "role": "tracker",
        "address": "127.0.0.50",
        "fqdn": "tracker.test.",
        "zones": [],
        "ports": {"http": 16969},
        "pid": pid,
        "log": str(state_dir / "tracker.log"),
        "command": command,
    }
    (state_dir / supervisor.STATE_FILE).write_text(json.dumps({"services": [entry]}))


def test_a_stale_state_file_whose_pid_was_reused_never_signals_that_process(tmp_path):
    # The state file outlived its tracker (reboot, kill -9) and the kernel gave the pid to an
    # unrelated program: status must not call it ours, up must not refuse, down must not kill it.
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        state = tmp_path / "state"
        command = [sys.executable, "-m", "tracker", "serve", "--ready-file", str(state / "r")]
        _state_naming(state, stranger.pid, command)
        assert [alive for _, alive in supervisor.status(state)] == [False]
        assert supervisor.down(state) == []
        assert stranger.poll() is None, "down killed a process that was not ours"
        ctx = LaunchContext(topology.DEFAULT, state, topology.port_scheme(False))
        try:
            assert len(supervisor.start(HOSTS[:1], ctx, command=fake_command)) == 1
        finally:
            supervisor.down(state)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        '{"services": 5}',
        '{"services": [17]}',
        '{"services": [{"name": "x"}]}',
        '{"services": [{"bogus": 1}]}',
    ],
)
def test_a_corrupt_state_file_is_a_clear_error(tmp_path, content, capsys):
    (tmp_path / supervisor.STATE_FILE).write_text(content)
    with pytest.raises(SupervisorError, match="unreadable state file"):
        supervisor.status(tmp_path)
    assert cli.main(["status", "--state-dir", str(tmp_path)]) == 1
    assert "unreadable state file" in capsys.readouterr().err


@pytest.mark.parametrize("pid", [-1, 0, 1, "1234", 12.5, True, None])
def test_a_state_file_with_a_pid_that_names_a_process_group_is_refused(tmp_path, pid):
    # kill(-1, SIGTERM) signals every process we may signal, kill(0, ...) our own group:
    # such a pid must never reach os.kill. (Only status here: it signals nothing.)
    _state_naming(tmp_path, pid, ["x"])
    with pytest.raises(SupervisorError, match="invalid pid"):
        supervisor.status(tmp_path)


def test_up_with_an_unknown_log_level_is_a_usage_error_and_starts_nothing(tmp_path, capsys):
    # Every daemon died in logs.setup with a traceback, shown as the tail of the first log.
    with pytest.raises(SystemExit) as e:
        cli.main(["up", "--only", "tracker", "--log-level", "loud", "--state-dir", str(tmp_path)])
    assert e.value.code == 2 and "invalid log level 'loud'" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


def _with_zone(host: Host, ctx: LaunchContext) -> list[str]:
    """fake_command, after writing a zone file as the DNS roles' command lines do."""
    (ctx.state_dir / "zones").mkdir(parents=True, exist_ok=True)
    (ctx.state_dir / "zones" / f"{host.name}.zone").write_text("; generated\n")
    return fake_command(host, ctx)


def test_a_failed_start_removes_the_folders_it_created_and_keeps_the_logs(ctx):
    # A failed `up` left a folder per service (and zones/) behind, all empty but for zones.
    hosts = [*HOSTS, Host("broken", "fake", "127.0.0.1", "broken.test.")]
    with pytest.raises(SupervisorError, match="broken"):
        supervisor.start(hosts, ctx, command=_with_zone)
    assert sorted(p.name for p in ctx.state_dir.iterdir()) == ["logs"]
    logs = sorted(p.name for p in (ctx.state_dir / "logs").iterdir())
    assert logs == ["alpha.log", "beta.log", "broken.log"]
    assert "zone error at line 3" in (ctx.state_dir / "logs" / "broken.log").read_text()


def test_a_failed_start_leaves_what_was_there_before(ctx):
    (ctx.state_dir / "alpha").mkdir(parents=True)
    (ctx.state_dir / "notes.txt").write_text("mine")
    hosts = [*HOSTS, Host("broken", "fake", "127.0.0.1", "broken.test.")]
    with pytest.raises(SupervisorError, match="broken"):
        supervisor.start(hosts, ctx, command=_with_zone)
    assert sorted(p.name for p in ctx.state_dir.iterdir()) == ["alpha", "logs", "notes.txt"]
    assert (ctx.state_dir / "notes.txt").read_text() == "mine"


def test_a_daemon_that_cannot_bind_says_which_address_in_the_first_line(ctx):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        def on_taken_port(host: Host, c: LaunchContext) -> list[str]:
            return [*fake_command(host, c), str(port)]

        with pytest.raises(SupervisorError) as e:
            supervisor.start(HOSTS[:1], ctx, command=on_taken_port)
    first, second, *rest = str(e.value).splitlines()
    assert first == (
        "alpha (fake at 127.0.0.1) exited with status 1 before it was ready: "
        f"cannot start: TCP 127.0.0.1:{port}: address already in use"
    )
    assert second == "  " + supervisor.IN_USE_HINT
    assert rest[0] == f"end of {ctx.log_file(HOSTS[0])}:"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "exited with status 0"),
        (3, "exited with status 3"),
        (-9, "was killed by signal SIGKILL"),
        (-15, "was killed by signal SIGTERM"),
        (-200, "was killed by signal 200"),
    ],
)
def test_describe_exit(code, text):
    assert supervisor.describe_exit(code) == text
