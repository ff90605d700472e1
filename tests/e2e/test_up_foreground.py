"""`minternet up` in the foreground: prints the table, and Ctrl-C stops every daemon it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import E2E_PORT_OFFSET, minternet

pytestmark = pytest.mark.e2e


def test_ctrl_c_stops_everything(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minternet",
            "up",
            "--state-dir",
            str(state),
            "--port-offset",
            str(E2E_PORT_OFFSET + 10000),
            "--only",
            "dns-root",
            "dns-tld",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C to stop." in line:
                break
        out = "".join(lines)
        assert "Press Ctrl-C to stop." in out, out
        assert f"dig @127.0.0.10 -p {E2E_PORT_OFFSET + 10053} . NS" in out
        status = minternet("status", "--json", "--state-dir", str(state))
        services = json.loads(status.stdout)["services"]
        assert sorted(s["name"] for s in services) == ["root", "tld-com", "tld-edu", "tld-fr"]
        pids = [s["pid"] for s in services]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "stopped." in rest
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert minternet("status", "--state-dir", str(state)).returncode == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        minternet("down", "--state-dir", str(state))


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_startup_stops_the_daemons_already_started(tmp_path, sig):
    # SIGTERM used to end `up` at once, leaving its daemons running with no state file, so
    # `down` could not find them and the next `up` found the ports taken; Ctrl-C printed a
    # traceback.
    state = tmp_path / "state"
    argv = [sys.executable, "-m", "minternet", "up", "--state-dir", str(state)]
    proc = subprocess.Popen(
        [*argv, "--port-offset", str(E2E_PORT_OFFSET + 10100), "--only", "dns-root", "tracker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "tracker").exists():  # both daemons spawned, not yet ready
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        assert _processes_naming(str(state)) == [], err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _processes_naming(str(state)):
            os.kill(pid, signal.SIGKILL)
