"""A whole topology brought up with `minternet up --detach` once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Beside a user's own `make up` (offset 10000): DNS on 20053, tracker on 26969, ... Two
#: checkouts can run their suites at once with different MINTERNET_TEST_PORT_OFFSETs (multiples
#: of 1000 between 20000 and 25000); the foreground tests use this offset + 10000 and + 10100,
#: test_supervise.py + 10200.
E2E_PORT_OFFSET = int(os.environ.get("MINTERNET_TEST_PORT_OFFSET", "20000"))


def minternet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minternet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Running(dict[str, dict]):
    """{service name: its `minternet status --json` entry}, and what `up` printed."""

    up_output: str = ""
    state_dir: str = ""


@pytest.fixture(scope="session")
def topology_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The running test topology, brought up once per session and always brought down."""
    state = tmp_path_factory.mktemp("minternet") / "state"
    up = minternet(
        "up", "--detach", "--state-dir", str(state), "--port-offset", str(E2E_PORT_OFFSET)
    )
    try:
        assert up.returncode == 0, f"minternet up failed:\n{up.stdout}\n{up.stderr}"
        status = minternet("status", "--json", "--state-dir", str(state))
        assert status.returncode == 0, status.stderr
        services = Running((s["name"], s) for s in json.loads(status.stdout)["services"])
        services.up_output = up.stdout
        services.state_dir = str(state)
        yield services
    finally:
        down = minternet("down", "--state-dir", str(state))
        assert down.returncode == 0, down.stderr
        for log in sorted((state / "logs").glob("*.log")):
            # Every daemon must have stopped gracefully: the runtime logs "stopped" last.
            text = Path(log).read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"
