"""`minternet up --standard-ports` (root only): every DNS server on port 53, and `dig +trace`.

dig +trace asks the system's resolver for the addresses of the name servers it is referred to,
so the test runs it in a private mount namespace whose /etc/resolv.conf names the local DNS
server -- what a user does by pointing their machine at it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from minternet import topology

from .conftest import minternet

pytestmark = [pytest.mark.e2e, pytest.mark.interop]
TOPO = topology.DEFAULT
HOSTS = [h for h in TOPO.hosts if "dns" in h.listeners]


def port_53_free() -> bool:
    for h in HOSTS:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((h.address, 53))
            except OSError:
                return False
    return True


def private_resolv_conf_works() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind /dev/null /etc/resolv.conf"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def standard_topology(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("--standard-ports binds port 53: needs root")
    if shutil.which("dig") is None:
        pytest.skip("dig not installed (Debian package bind9-dnsutils)")
    if shutil.which("unshare") is None or not private_resolv_conf_works():
        pytest.skip("needs unshare and mount (util-linux) to give dig a private resolv.conf")
    if not port_53_free():
        pytest.skip("port 53 is in use on a topology address")
    state = tmp_path_factory.mktemp("std") / "state"
    up = minternet(
        "up", "--detach", "--standard-ports", "--state-dir", str(state),
        "--only", "resolver", "dns-root", "dns-tld", "dns-auth",
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state
    finally:
        minternet("down", "--state-dir", str(state))


def test_dig_trace_walks_root_tld_authoritative(standard_topology, tmp_path):
    resolver = TOPO.host("local-dns").address
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {resolver}\n")
    script = f"mount --bind {conf} /etc/resolv.conf && exec dig +trace +time=3 gaia.cs.umass.edu"
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    steps = [
        f"from {resolver}#53",
        "from 127.0.0.10#53(a.root-servers.net)",
        "from 127.0.0.12#53(a.edu-servers.net)",
        "from 127.0.0.20#53(dns.umass.edu)",
    ]
    positions = [text.find(s) for s in steps]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), text
    assert "127.0.1.22" in text.split("a.edu-servers.net")[-1]


def test_dnsserver_trace_uses_port_53(standard_topology):
    out = subprocess.run(
        [sys.executable, "-m", "dnsserver", "trace", "www.enterprise.com", "--port", "53"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "127.0.0.10" in out and "127.0.1.60" in out
