"""`tracker serve` as a process: ready file, config file, whitelist reload on SIGHUP, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import bencodepy
import pytest

from minternet import config as mconfig
from minternet.config import ConfigError
from tests.tracker.conftest import IH, announce_query
from tracker.config import TrackerConfig

OTHER = b"\x07" * 20


def wait_ready(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, int]:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "tracker never became ready"
        time.sleep(0.05)
    return json.loads(path.read_text())["ports"]  # type: ignore[no-any-return]


def announce(port: int, info_hash: bytes) -> dict[bytes, object]:
    url = f"http://127.0.0.1:{port}/announce?" + announce_query(info_hash=info_hash)
    with urllib.request.urlopen(url, timeout=5) as r:
        return bencodepy.decode(r.read())  # type: ignore[no-any-return]


def test_serve_with_config_whitelist_and_reload(tmp_path: Path) -> None:
    wl = tmp_path / "whitelist.txt"
    wl.write_text(f"# course torrents\n{IH.hex()}\n")
    cfg = tmp_path / "tracker.toml"
    cfg.write_text(f'interval = 120\nmin_interval = 30\nwhitelist_file = "{wl}"\n')
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--config",
            str(cfg),
            "--name",
            "t1",
            "--ready-file",
            str(ready),
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        ports = wait_ready(ready, proc)
        assert set(ports) == {"http", "udp"}
        assert announce(ports["http"], IH)[b"interval"] == 120
        assert b"failure reason" in announce(ports["http"], OTHER)
        wl.write_text(f"{IH.hex()}\n{OTHER.hex()}\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while b"failure reason" in announce(ports["http"], OTHER):
            assert time.monotonic() < deadline, "whitelist not reloaded"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not ready.exists()
        log = proc.stderr.read().decode() if proc.stderr else ""
        assert "t1 INFO" in log and "whitelist reloaded" in log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_bad_config_is_reported_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "tracker.toml"
    cfg.write_text("intervall = 5\n")
    out = subprocess.run(
        [sys.executable, "-m", "tracker", "serve", "--listen", "127.0.0.1:0", "--config", str(cfg)],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 2 and b"intervall" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "tracker", "serve", "--listen", "nowhere:1"],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 2 and b"nowhere" in out.stderr


def test_config_values_the_daemon_cannot_run_with_are_refused_at_start(tmp_path: Path) -> None:
    # Each was accepted before: an interval past 32 bits raised struct.error (a traceback)
    # on every UDP announce, http_max_pipeline = 0 spun the event loop on the first request,
    # http_max_connections = 0 refused every client, a NaN timeout never timed anyone out.
    cfg = tmp_path / "tracker.toml"
    for line, key in [
        ("interval = 5000000000", "interval"),
        ("http_max_pipeline = 0", "http_max_pipeline"),
        ("http_max_connections = 0", "http_max_connections"),
        ("http_max_head = -1", "http_max_head"),
        ("http_max_body = -1", "http_max_body"),
        ("http_request_timeout = nan", "http_request_timeout"),
        ("http_keepalive_timeout = 0", "http_keepalive_timeout"),
        ("expiry_multiple = nan", "expiry_multiple"),
        ("rate_tracked_ips = 0", "rate_tracked_ips"),
    ]:
        cfg.write_text(line + "\n")
        with pytest.raises(ConfigError, match=key):
            mconfig.load(cfg, TrackerConfig)


def test_an_unknown_log_level_is_a_usage_error_not_a_traceback() -> None:
    serve = [sys.executable, "-m", "tracker", "serve", "--listen", "127.0.0.1:0"]
    out = subprocess.run(
        [*serve, "--log-level", "loud"],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 2 and b"invalid log level 'loud'" in out.stderr
    assert b"Traceback" not in out.stderr
