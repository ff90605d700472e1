"""The supervisor keeps track: `minternet restart` of a real service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .conftest import E2E_PORT_OFFSET
from .test_up_foreground import _processes_naming

pytestmark = pytest.mark.e2e
#: Ports of the topologies these tests start (the others use + 10000 and + 10100).
OFFSET = E2E_PORT_OFFSET + 10200


def minternet(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minternet", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env,
    )  # fmt: skip


def pid_of(state: Path, name: str) -> int:
    services = json.loads((state / "state.json").read_text())["services"]
    return next(s["pid"] for s in services if s["name"] == name)


@pytest.fixture
def env() -> dict[str, str]:
    """The environment of every `minternet` these tests run."""
    return dict(os.environ)


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
        restart = minternet("restart", "tracker", "--state-dir", str(state), env=env)
        assert restart.returncode == 0, restart.stderr
        second = pid_of(state, "tracker")
        assert second != first
        assert restart.stdout == (
            f"tracker: restarted (pid {first} -> {second}), 127.0.0.50 http {port} udp {port}\n"
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
