"""The supervisor keeps track: `up` after `down`, services that die, restart, port clashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from minternet import pointer

from .conftest import E2E_PORT_OFFSET
from .test_up_foreground import _processes_naming

pytestmark = pytest.mark.e2e
#: Ports of the topologies these tests start (the others use + 10000 and + 10100).
OFFSET = E2E_PORT_OFFSET + 10200
DNS_PORT = 53 + OFFSET


def minternet(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minternet", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env,
    )  # fmt: skip


@contextmanager
def foreground(state: Path, *only: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A foreground `minternet up`, once it says "Press Ctrl-C"; everything stopped after."""
    argv = [sys.executable, "-m", "minternet", "up", "--state-dir", str(state)]
    proc = subprocess.Popen(
        [*argv, "--port-offset", str(OFFSET), "--only", *only],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "Press Ctrl-C" not in "".join(lines[-1:]):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert "Press Ctrl-C to stop." in "".join(lines), "".join(lines) + proc.stderr.read()
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        minternet("down", "--state-dir", str(state), env=env)
        for pid in _processes_naming(str(state)):
            os.kill(pid, signal.SIGKILL)


def pid_of(state: Path, name: str) -> int:
    services = json.loads((state / "state.json").read_text())["services"]
    return next(s["pid"] for s in services if s["name"] == name)


def wait_for_text(path: Path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{path} never said {text!r}"
        time.sleep(0.05)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """This test's own state pointer."""
    return {**os.environ, pointer.ENV: str(tmp_path / "pointer" / "current")}


def test_foreground_up_exits_when_down_stops_everything_from_another_directory(tmp_path, env):
    # `down` stopped every service but the foreground `up` ran on with nothing until Ctrl-C;
    # and `down` from another directory said "nothing is running from <there>/.minternet".
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    state = project / ".minternet"
    with foreground(state, "dns-root", env=env) as up:
        assert Path(env[pointer.ENV]).read_text() == f"{state}\n"
        down = minternet("down", cwd=elsewhere, env=env)
        assert down.returncode == 0, down.stderr
        assert down.stdout == "stopped 1 service\n"
        assert down.stderr.startswith(f"minternet down: using {state} (recorded by")
        out, err = up.communicate(timeout=30)
        assert up.returncode == 0, err
        assert out.splitlines()[-1] == (
            "minternet: every service was stopped by `minternet down`; exiting"
        )
        assert err == ""  # no service reported as dead
    assert not Path(env[pointer.ENV]).exists()


def test_a_dead_service_is_reported_with_how_it_died_and_restart_brings_it_back(tmp_path, env):
    state = tmp_path / "state"
    root_log, tld_log = state / "logs" / "root.log", state / "logs" / "tld-com.log"
    with foreground(state, "root", "tld-com", env=env) as up:
        first = pid_of(state, "root")
        os.kill(first, signal.SIGKILL)
        wait_for_text(root_log, f"pid {first} was killed by signal SIGKILL (seen by minternet up)")
        status = minternet("status", "--state-dir", str(state), env=env)
        assert status.returncode == 3 and f"{first} (dead)" in status.stdout, status.stdout

        restart = minternet("restart", "root", "--state-dir", str(state), env=env)
        assert restart.returncode == 0, restart.stderr
        second = pid_of(state, "root")
        assert restart.stdout == (
            f"root: was not running; started again (pid {second}), 127.0.0.10 dns {DNS_PORT} "
            f"control {8953 + OFFSET}\n"
        )
        reply = dns.query.udp(dns.message.make_query(".", "NS"), "127.0.0.10", port=DNS_PORT)
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer
        assert minternet("status", "--state-dir", str(state), env=env).returncode == 0

        # the restarted root is not up's child: up watches it through the state file
        os.kill(second, signal.SIGKILL)
        wait_for_text(root_log, f"pid {second} is no longer running (seen by minternet up)")
        os.kill(pid_of(state, "tld-com"), signal.SIGTERM)
        _, err = up.communicate(timeout=30)
    assert up.returncode == 1, err
    assert err.splitlines() == [
        f"minternet: root was killed by signal SIGKILL; see {root_log} "
        "(`minternet restart root` starts it again)",
        f"minternet: root is no longer running; see {root_log} "
        "(`minternet restart root` starts it again)",
        f"minternet: tld-com exited with status 0; see {tld_log} "
        "(`minternet restart tld-com` starts it again)",
        "minternet: every service has exited; exiting",
    ]
    assert minternet("status", "--state-dir", str(state), env=env).returncode == 1


def test_restart_a_detached_tracker(tmp_path, env):
    state = tmp_path / "state"
    up = minternet(
        "up", "--detach", "--only", "tracker", "--state-dir", str(state),
        "--port-offset", str(OFFSET), env=env,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        first = pid_of(state, "tracker")
        port = 6969 + OFFSET
        restart = minternet("restart", "tracker", env=env, cwd=tmp_path)  # found by the pointer
        assert restart.returncode == 0, restart.stderr
        second = pid_of(state, "tracker")
        assert second != first
        assert restart.stdout == (
            f"tracker: restarted (pid {first} -> {second}), 127.0.0.50 http {port} udp {port} "
            f"control {8953 + OFFSET}\n"
        )
        with urllib.request.urlopen(f"http://127.0.0.50:{port}/stats.json", timeout=10) as r:
            assert r.status == 200 and "swarms" in json.loads(r.read())
        status = minternet("status", "--json", "--state-dir", str(state), env=env)
        assert status.returncode == 0
        assert [s["pid"] for s in json.loads(status.stdout)["services"]] == [second]
        unknown = minternet("restart", "nope", "--state-dir", str(state), env=env)
        assert unknown.returncode == 2
        assert unknown.stderr == (
            f"minternet restart: no service 'nope' in {state} (services: tracker)\n"
        )
    finally:
        minternet("down", "--state-dir", str(state), env=env)
        for pid in _processes_naming(str(state)):
            os.kill(pid, signal.SIGKILL)


def test_a_second_topology_on_taken_ports_names_the_address_and_leaves_only_logs(
    topology_up, tmp_path, env
):
    state = tmp_path / "second"
    up = minternet(
        "up", "--detach", "--only", "dns-root", "--state-dir", str(state),
        "--port-offset", str(E2E_PORT_OFFSET), env=env,
    )  # fmt: skip
    assert up.returncode == 1, up.stdout + up.stderr
    dns_port = 53 + E2E_PORT_OFFSET
    assert up.stderr.splitlines()[0] == (
        "minternet up: root (dns-root at 127.0.0.10) exited with status 1 before it was ready: "
        f"cannot start: UDP 127.0.0.10:{dns_port}: address already in use"
    )
    assert "--port-offset N" in up.stderr.splitlines()[1]
    assert sorted(p.name for p in state.iterdir()) == ["logs"]
    assert "address already in use" in (state / "logs" / "root.log").read_text()
    assert not Path(env[pointer.ENV]).exists()  # a failed up records nothing
    os.kill(topology_up["root"]["pid"], 0)  # the first topology's root was not disturbed
