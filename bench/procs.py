"""Around the programs a benchmark measures: free ports, readiness, stopping, dnsperf."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query


def free_port(host: str) -> int:
    """A port free for both UDP and TCP on `host` (servers here bind both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
            return port
    raise OSError(f"no port free for UDP and TCP on {host}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group of `proc` (started with start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_answering(host: str, port: int, qname: str, deadline: float) -> None:
    """Wait until a DNS server at host:port answers a query for `qname` (any rcode)."""
    q = dns.message.make_query(qname, "A")
    while time.monotonic() < deadline:
        try:
            dns.query.udp(q, host, port=port, timeout=0.3)
            return
        except (OSError, dns.exception.Timeout):
            time.sleep(0.1)
    raise TimeoutError(f"nothing answers DNS on {host}:{port}")


def dnsperf(
    host: str, port: int, queries: Path, seconds: int, outstanding: int, *, show: bool = True
) -> float:
    """Queries per second that `dnsperf -c 4 -q OUTSTANDING` measures against host:port."""
    cmd = ["dnsperf", "-s", host, "-p", str(port), "-d", str(queries), "-l", str(seconds),
           "-c", "4", "-q", str(outstanding)]  # fmt: skip
    if show:
        print("  $", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError(f"dnsperf printed no figure:\n{out}")
    if show:
        lost = re.search(r"Queries lost:\s+(\d+)", out)
        print(f"  {float(m.group(1)):,.0f} qps, lost {lost.group(1) if lost else '?'}", flush=True)
    return float(m.group(1))
