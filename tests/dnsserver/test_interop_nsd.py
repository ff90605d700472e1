"""Interop with NSD (Debian `nsd`): NSD as a secondary of our primary, and our secondary of an
NSD primary, each converging after a change (NOTIFY, then a transfer)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import dns.update
import pytest

from dnsserver import tsigkeys
from dnsserver.aio.server import DnsServer
from dnsserver.config import AuthConfig

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("nsd") is None, reason="nsd missing: apt-get install nsd"),
]

OURS, THEIRS = "127.0.0.215", "127.0.0.216"
ZONE = "interop.test."
KEY = tsigkeys.generate("interop.test", bytes(range(32)))
T = 3.0


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def zone_text(serial: int, extra: str = "") -> str:
    return (
        f"$ORIGIN {ZONE}\n$TTL 60\n@ SOA ns1 hostmaster {serial} 60 10 3600 30\n"
        f"@ NS ns1\nns1 A {OURS}\nwww A 192.0.2.1\n{extra}"
    )


@contextlib.asynccontextmanager
async def nsd(tmp: Path, port: int, zone_conf: str) -> AsyncIterator[asyncio.subprocess.Process]:
    conf = tmp / "nsd.conf"
    conf.write_text(f"""server:
    server-count: 1
    ip-address: {THEIRS}@{port}
    username: ""
    chroot: ""
    zonesdir: "{tmp}"
    database: ""
    zonelistfile: "{tmp}/zone.list"
    xfrdfile: "{tmp}/xfrd.state"
    xfrdir: "{tmp}"
    pidfile: "{tmp}/nsd.pid"
    logfile: "{tmp}/nsd.log"
    verbosity: 2
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {ZONE}
    outgoing-interface: {THEIRS}
{zone_conf}""")
    proc = await asyncio.create_subprocess_exec(
        "nsd", "-d", "-c", str(conf), start_new_session=True,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def answer(host: str, port: int, name: str, rdtype: str) -> dns.message.Message | None:
    try:
        q = dns.message.make_query(name, rdtype)
        return await dns.asyncquery.udp(q, host, port=port, timeout=1)
    except (TimeoutError, OSError, dns.exception.DNSException):
        return None


async def converge(host: str, port: int, name: str, rdtype: str, want: str, log: Path) -> None:
    """Wait (up to 20 s) until `host` answers `want` among the records of `name`."""
    try:
        async with asyncio.timeout(20):
            while True:
                r = await answer(host, port, name, rdtype)
                ok = r is not None and r.rcode() == dns.rcode.NOERROR
                if ok and any(want in rd.to_text() for rrset in r.answer for rd in rrset):  # type: ignore[union-attr]
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        raise AssertionError(f"{host} never answered {want} for {name}; log:\n{text}") from None


async def test_nsd_is_a_secondary_of_our_primary(tmp_path: Path) -> None:
    nsd_port = free_port(THEIRS)
    (tmp_path / "ours").mkdir()
    (tmp_path / "nsd").mkdir()
    (tmp_path / "ours" / "z.zone").write_text(zone_text(1))
    (tmp_path / "ours" / "k.key").write_text(KEY.text())
    cfg = AuthConfig(
        zones=(str(tmp_path / "ours" / "z.zone"),),
        listen=(f"{OURS}:0",),
        keys=(str(tmp_path / "ours" / "k.key"),),
        allow_update={ZONE: (KEY.name,)},
        notify={ZONE: (f"{THEIRS}:{nsd_port}",)},  # also allows THEIRS to transfer it
    )
    primary = DnsServer(cfg, name="primary")
    await primary.start()
    our_port = primary.addresses[0][1]
    try:
        zone_conf = (f"    zonefile: \"{tmp_path}/nsd/secondary.zone\"\n"
                     f"    request-xfr: {OURS}@{our_port} NOKEY\n"
                     f"    allow-notify: {OURS} NOKEY\n")  # fmt: skip
        async with nsd(tmp_path / "nsd", nsd_port, zone_conf):
            log = tmp_path / "nsd" / "nsd.log"
            await converge(THEIRS, nsd_port, "www." + ZONE, "A", "192.0.2.1", log)
            u = dns.update.UpdateMessage(ZONE, keyring=tsigkeys.keyring([KEY]), keyname=KEY.name)
            u.add("new", 60, "A", "192.0.2.99")
            r = await dns.asyncquery.tcp(u, OURS, port=our_port, timeout=T)
            assert r.rcode() == dns.rcode.NOERROR
            # our NOTIFY, then NSD's IXFR (or AXFR) of serial 2
            await converge(THEIRS, nsd_port, "new." + ZONE, "A", "192.0.2.99", log)
            await converge(THEIRS, nsd_port, ZONE, "SOA", " 2 60 10 ", log)
    finally:
        await primary.stop()
    assert primary.transfers.served >= 2


async def test_our_secondary_follows_an_nsd_primary(tmp_path: Path) -> None:
    nsd_port = free_port(THEIRS)
    our_port = free_port(OURS)
    zone = tmp_path / "primary.zone"
    zone.write_text(zone_text(1))
    zone_conf = (f"    zonefile: \"{zone}\"\n"
                 f"    provide-xfr: {OURS} NOKEY\n"
                 f"    notify: {OURS}@{our_port} NOKEY\n")  # fmt: skip
    async with nsd(tmp_path, nsd_port, zone_conf) as proc:
        log = tmp_path / "nsd.log"
        await converge(THEIRS, nsd_port, "www." + ZONE, "A", "192.0.2.1", log)
        cfg = AuthConfig(
            listen=(f"{OURS}:{our_port}",),
            secondary={ZONE: f"{THEIRS}:{nsd_port}"},
            secondary_dir=str(tmp_path / "copies"),
        )
        secondary = DnsServer(cfg, name="secondary")
        await secondary.start()
        try:
            await converge(OURS, our_port, "www." + ZONE, "A", "192.0.2.1", log)
            zone.write_text(zone_text(2, "later A 192.0.2.42\n"))
            proc.send_signal(signal.SIGHUP)  # NSD reads the zone file again, and NOTIFYs us
            await converge(OURS, our_port, "later." + ZONE, "A", "192.0.2.42", log)
            r = await answer(OURS, our_port, ZONE, "SOA")
            assert r is not None and r.answer[0][0].serial == 2
        finally:
            await secondary.stop()
    assert "192.0.2.42" in (tmp_path / "copies" / "interop.test.zone").read_text()
