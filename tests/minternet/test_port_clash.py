"""A daemon whose --listen address is taken says which one: protocol, address and port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ZONE = "$ORIGIN clash.test.\n@ 3600 IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 127.0.0.1\n"


@pytest.fixture
def taken_udp():
    """A UDP port held by this test on 127.0.0.1 (the daemons bind UDP first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def taken_tcp():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, timeout=60, check=False
    )


def assert_names(p: subprocess.CompletedProcess[str], name: str, what: str) -> None:
    assert p.returncode == 1, p.stderr
    assert f" {name} ERROR cannot start: {what}: address already in use\n" in p.stderr, p.stderr
    assert "Errno" not in p.stderr and "Traceback" not in p.stderr


def test_dnsserver_serve(taken_udp, tmp_path: Path):
    zone = tmp_path / "clash.zone"
    zone.write_text(ZONE)
    p = run("dnsserver", "serve", "--zone", str(zone), "--listen", f"127.0.0.1:{taken_udp}")
    assert_names(p, "dnsserver", f"UDP 127.0.0.1:{taken_udp}")


def test_dnsserver_resolve(taken_udp):
    p = run(
        "dnsserver", "resolve", "--listen", f"127.0.0.1:{taken_udp}",
        "--forward", "127.0.0.1:9", "--name", "local-dns",
    )  # fmt: skip
    assert_names(p, "local-dns", f"UDP 127.0.0.1:{taken_udp}")


def test_dnsserver_resolve_control(taken_tcp):
    p = run(
        "dnsserver", "resolve", "--listen", "127.0.0.1:0", "--forward", "127.0.0.1:9",
        "--control", f"127.0.0.1:{taken_tcp}", "--name", "local-dns",
    )  # fmt: skip
    assert_names(p, "local-dns", f"TCP 127.0.0.1:{taken_tcp}")


@pytest.mark.parametrize("http_server", ["builtin", "aiohttp"])
def test_tracker_http(taken_tcp, tmp_path: Path, http_server: str):
    cfg = tmp_path / "tracker.toml"
    cfg.write_text(f'http_server = "{http_server}"\n')
    p = run("tracker", "serve", "--listen", f"127.0.0.1:{taken_tcp}", "--config", str(cfg))
    assert_names(p, "tracker", f"TCP 127.0.0.1:{taken_tcp}")


def test_tracker_udp(taken_udp):
    p = run("tracker", "serve", "--listen", "127.0.0.1:0", "--udp", f"127.0.0.1:{taken_udp}")
    assert_names(p, "tracker", f"UDP 127.0.0.1:{taken_udp}")
