"""Transmission downloads from our seed, across two network namespaces this test makes.

Transmission never connects to 127.0.0.0/8 peers it learns from a tracker (shared/anchors.md),
so the swarm runs on private addresses: namespace A holds our tracker and our seed at
10.77.0.1, namespace B holds transmission-cli at 10.77.0.2, joined by a veth pair, with no
other route anywhere. Root is needed (`ip netns`); elsewhere the test skips and says why.
Every process runs in a namespace and is killed at the end; the namespaces and the veth pair
are deleted whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

A, B = "mt-peer-a", "mt-peer-b"
ADDR_A, ADDR_B = "10.77.0.1", "10.77.0.2"


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[None]:
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2 (`ip netns`)")
    if not shutil.which("transmission-cli"):
        pytest.skip("transmission-cli not installed (Debian package: transmission-cli)")
    for ns in (A, B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    try:
        run("ip", "netns", "add", A)
        run("ip", "netns", "add", B)
        run("ip", "link", "add", "mt-va", "netns", A, "type", "veth", "peer", "name", "mt-vb",
            "netns", B)  # fmt: skip
        for ns, dev, addr in ((A, "mt-va", ADDR_A), (B, "mt-vb", ADDR_B)):
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as e:
        for ns in (A, B):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        pytest.skip(f"cannot make network namespaces here: {e.stderr.decode(errors='replace')}")
    try:
        yield
    finally:
        for ns in (A, B):  # deleting a namespace deletes its end of the veth pair, and the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@contextlib.contextmanager
def inside(ns: str, argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wait_for(condition: object, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s")


def test_transmission_downloads_from_our_seed(namespaces: None, tmp_path: Path) -> None:
    data = random.Random(4).randbytes(3 * 1024 * 1024 + 777)
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "data.bin").write_bytes(data)
    torrent = tmp_path / "data.torrent"
    subprocess.run(
        [sys.executable, "-m", "peer", "create", str(tmp_path / "seed" / "data.bin"),
         "--tracker", f"http://{ADDR_A}:6969/announce", "-o", str(torrent)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    config = tmp_path / "transmission"
    config.mkdir()
    (config / "settings.json").write_text(
        json.dumps(
            {
                "bind-address-ipv4": ADDR_B,
                "bind-address-ipv6": "::1",
                "dht-enabled": False,
                "lpd-enabled": False,
                "pex-enabled": False,
                "utp-enabled": False,
                "port-forwarding-enabled": False,
                "rpc-enabled": False,
                "encryption": 0,
                "speed-limit-down-enabled": False,
                "speed-limit-up-enabled": False,
            }
        )
    )
    done = tmp_path / "done"
    script = tmp_path / "done.sh"
    script.write_text(f"#!/bin/sh\ntouch {done}\n")
    script.chmod(0o755)
    (tmp_path / "dl").mkdir()
    tracker = [sys.executable, "-m", "tracker", "serve", "--listen", f"{ADDR_A}:6969"]
    seed = [sys.executable, "-m", "peer", "seed", str(torrent), str(tmp_path / "seed"),
            "--listen", f"{ADDR_A}:6881"]  # fmt: skip
    transmission = ["transmission-cli", "-g", str(config), "-w", str(tmp_path / "dl"),
                    "-p", "51413", "-f", str(script), str(torrent)]  # fmt: skip
    with (
        inside(A, tracker, tmp_path / "tracker.log"),
        inside(A, seed, tmp_path / "seed.log"),
    ):
        seed_log = tmp_path / "seed.log"
        wait_for(lambda: "event=started" in seed_log.read_text(), "our seed announced", 30)
        with inside(B, transmission, tmp_path / "transmission.log"):
            wait_for(done.exists, "transmission finished (see transmission.log)", 120)
    assert (tmp_path / "dl" / "data.bin").read_bytes() == data
    assert f"connected: peer={ADDR_B}:" in seed_log.read_text()
