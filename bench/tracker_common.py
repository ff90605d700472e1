"""Shared set-up for the tracker benchmarks: free ports, our daemon and opentracker as processes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.procs import stop


def hashes(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(20) for _ in range(n)]


@contextlib.contextmanager
def ours(
    host: str, http_port: int, udp_port: int | None, config: str, workdir: Path
) -> Iterator[dict[str, int]]:
    """Our tracker as a subprocess (uvloop, as `minternet up` runs it); yields its ports."""
    cfg = workdir / f"tracker-{http_port}.toml"
    cfg.write_text(config)
    ready = workdir / f"ready-{http_port}.json"
    cmd = [
        sys.executable,
        "-m",
        "tracker",
        "serve",
        "--listen",
        f"{host}:{http_port}",
        "--config",
        str(cfg),
        "--ready-file",
        str(ready),
        "--log-level",
        "ERROR",
    ]
    if udp_port is not None:
        cmd += ["--udp", f"{host}:{udp_port}"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("our tracker did not start")
            time.sleep(0.05)
        yield json.loads(ready.read_text())["ports"]
    finally:
        stop(proc)


@contextlib.contextmanager
def opentracker(
    host: str, http_port: int | None, udp_port: int | None, whitelist: list[bytes]
) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's opentracker (a whitelist build): chrooted to a temp dir holding the whitelist."""
    with tempfile.TemporaryDirectory(prefix="otbench-") as d:
        os.chmod(d, 0o755)
        Path(d, "whitelist.txt").write_text("".join(h.hex() + "\n" for h in whitelist))
        cmd = ["opentracker", "-i", host, "-d", d, "-w", "/whitelist.txt"]
        if http_port is not None:
            cmd += ["-p", str(http_port)]
        if udp_port is not None:
            cmd += ["-P", str(udp_port)]
        proc = subprocess.Popen(
            cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("opentracker did not start")
                if http_port is not None:
                    with socket.socket() as s:
                        if s.connect_ex((host, http_port)) == 0:
                            break
                else:
                    time.sleep(0.5)
                    break
                time.sleep(0.05)
            time.sleep(0.3)  # it loads the whitelist after binding
            yield proc
        finally:
            stop(proc)
