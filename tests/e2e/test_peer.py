"""The seeder of `minternet up`: the download line `up` prints fetches the sample file from it,
through the topology's tracker, byte for byte."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from minternet import topology

pytestmark = pytest.mark.e2e
SEEDER = topology.DEFAULT.host("seeder")


def test_the_printed_download_line_fetches_the_sample(topology_up, tmp_path: Path) -> None:
    seeder = topology_up["seeder"]
    assert seeder["running"] and seeder["role"] == "peer"
    (torrent,) = seeder["torrents"]
    port = seeder["ports"]["bittorrent"]
    line = next(x for x in topology_up.up_output.splitlines() if " download " in x)
    argv = shlex.split(line)
    assert argv[1:] == ["download", torrent, "-o", "downloads", "--listen", f"127.0.0.70:{port}"]
    done = subprocess.run(
        [sys.executable, "-m", "peer", *argv[1:4], str(tmp_path / "downloads"), *argv[5:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"connected: peer={SEEDER.address}:{port}" in done.stdout
    assert "event=completed" in done.stdout and "event=stopped" in done.stdout
    ours = Path(topology_up.state_dir, "seeder", "data", "sample.bin").read_bytes()
    got = (tmp_path / "downloads" / "sample.bin").read_bytes()
    assert len(got) == 32 << 20 and hashlib.sha256(got).digest() == hashlib.sha256(ours).digest()
