"""Interop: the real `dig` against `python -m dnsserver serve` processes on the default zones."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dnsserver.test_protocol import BIG_ZONE

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("dig") is None, reason="dig missing: apt-get install bind9-dnsutils"
    ),
]


def start(tmp: Path, name: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    ready = tmp / f"{name}.ready"
    with open(tmp / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dnsserver",
                "serve",
                "--name",
                name,
                "--ready-file",
                str(ready),
                *args,
            ],
            start_new_session=True,
            stderr=log,
        )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError((tmp / f"{name}.log").read_text())
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["ports"]["dns"]


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, zone_dir: Path) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dig")
    (tmp / "big.zone").write_text(BIG_ZONE)
    cfg = tmp / "auth.toml"
    cfg.write_text(
        f'zones = ["{zone_dir / "networkutopia.com.zone"}", "{zone_dir / "enterprise.com.zone"}",'
        f' "{tmp / "big.zone"}"]\nlisten = ["127.0.0.1:0"]\n'
    )
    procs = []
    try:
        root, root_port = start(tmp, "root", "--zone", str(zone_dir / "root.zone"), "--listen",
                                "127.0.0.1:0")  # fmt: skip
        procs.append(root)
        auth, auth_port = start(tmp, "auth", "--config", str(cfg))
        procs.append(auth)
        yield {"root": root_port, "auth": auth_port, "auth_pid": auth.pid, "dir": tmp}
    finally:
        for p in procs:
            stop(p)


def dig(port: int, *args: str) -> str:
    p = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def flags(out: str) -> set[str]:
    m = re.search(r";; flags: ([a-z ]+);", out)
    assert m, out
    return set(m.group(1).split())


def section(out: str, name: str) -> list[str]:
    m = re.search(rf";; {name} SECTION:\n(.*?)(?:\n\n|\Z)", out, re.S)
    return [" ".join(line.split()) for line in m.group(1).splitlines()] if m else []


def test_root_ns_with_glue(servers: dict[str, Any]) -> None:
    out = dig(servers["root"], ".", "NS", "+norec")
    assert flags(out) == {"qr", "aa"}
    assert section(out, "ANSWER") == [". 3600 IN NS a.root-servers.net."]
    assert section(out, "ADDITIONAL") == ["a.root-servers.net. 3600 IN A 127.0.0.10"]


def test_root_refers_to_com(servers: dict[str, Any]) -> None:
    out = dig(servers["root"], "www.networkutopia.com", "+norec")
    assert "status: NOERROR" in out and "aa" not in flags(out)
    assert section(out, "AUTHORITY") == ["com. 3600 IN NS a.gtld-servers.net."]
    assert section(out, "ADDITIONAL") == ["a.gtld-servers.net. 3600 IN A 127.0.0.11"]


def test_authoritative_answer_over_udp_and_tcp(servers: dict[str, Any]) -> None:
    for extra in ([], ["+tcp"]):
        out = dig(servers["auth"], "www.networkutopia.com", *extra)
        assert flags(out) == {"qr", "aa", "rd"}  # rd copied, ra never set
        assert "recursion requested but not available" in out
        assert section(out, "ANSWER") == ["www.networkutopia.com. 3600 IN A 127.0.1.50"]
    assert "(TCP)" in dig(servers["auth"], "www.networkutopia.com", "+tcp")


def test_cname_and_nxdomain(servers: dict[str, Any]) -> None:
    out = dig(servers["auth"], "www.enterprise.com", "+norec")
    assert section(out, "ANSWER") == [
        "www.enterprise.com. 3600 IN CNAME relay1.west-coast.enterprise.com.",
        "relay1.west-coast.enterprise.com. 3600 IN A 127.0.1.60",
    ]
    out = dig(servers["auth"], "nope.networkutopia.com", "+norec")
    assert "status: NXDOMAIN" in out
    assert section(out, "AUTHORITY")[0].startswith("networkutopia.com. 300 IN SOA")


def test_bufsize_512_forces_truncation_and_dig_retries_over_tcp(servers: dict[str, Any]) -> None:
    out = dig(servers["auth"], "many.big.test", "TXT", "+bufsize=512", "+ignore")
    assert "tc" in flags(out) and "QUERY: 1," in out  # the question is kept
    out = dig(servers["auth"], "many.big.test", "TXT", "+bufsize=512")
    assert "Truncated, retrying in TCP mode" in out
    assert len(section(out, "ANSWER")) == 60


def test_dnssec_do_bit_is_echoed(servers: dict[str, Any]) -> None:
    out = dig(servers["auth"], "www.networkutopia.com", "+dnssec")
    assert re.search(r"; EDNS: version: 0, flags: do; udp: 1232", out), out


def test_refused_outside_served_zones(servers: dict[str, Any]) -> None:
    assert "status: REFUSED" in dig(servers["auth"], "www.example.org", "+norec")


def test_sighup_reloads_and_a_bad_zone_keeps_the_old_one(servers: dict[str, Any]) -> None:
    big: Path = servers["dir"] / "big.zone"
    original = big.read_text()
    try:
        big.write_text(original + 'added TXT "after sighup"\n')
        os.kill(servers["auth_pid"], signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "after sighup" not in dig(servers["auth"], "added.big.test", "TXT", "+short"):
            assert time.monotonic() < deadline, "the reload never showed"
            time.sleep(0.1)
        log = servers["dir"] / "auth.log"
        # Each zone is logged with its serial and size on start and on every reload, as BIND does.
        loaded = re.findall(r" auth INFO zone big\.test/IN: loaded serial 1, (\d+) records$",
                            log.read_text(), re.M)  # fmt: skip
        assert len(loaded) == 2 and int(loaded[1]) == int(loaded[0]) + 1, loaded
        big.write_text("$ORIGIN big.test.\n@ SOA broken\n")
        os.kill(servers["auth_pid"], signal.SIGHUP)
        while "reload failed" not in log.read_text():
            assert time.monotonic() < deadline, "the failed reload was never logged"
            time.sleep(0.1)
        assert "big.zone:2:" in log.read_text()
        assert "after sighup" in dig(servers["auth"], "added.big.test", "TXT", "+short")
    finally:
        big.write_text(original)
