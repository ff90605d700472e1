"""Shared fixtures: the default topology's zones, an engine over them, and a query helper."""

from __future__ import annotations

from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from dnsserver.engine import Engine
from dnsserver.zoneset import ZoneSet, load_zones
from minternet import topology, zonegen


@pytest.fixture(scope="session")
def zone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("zones")
    zonegen.write_zones(topology.DEFAULT, d, topology.port_scheme(False))
    return d


@pytest.fixture(scope="session")
def all_zones(zone_dir: Path) -> ZoneSet:
    return load_zones(sorted(str(p) for p in zone_dir.glob("*.zone")))


@pytest.fixture
def engine(all_zones: ZoneSet) -> Engine:
    return Engine(all_zones)


def ask(
    engine: Engine,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    edns: int | None = 0,
    payload: int = 1232,
    want_dnssec: bool = False,
) -> dns.message.Message:
    """Send one query through the engine; return the parsed response."""
    q = dns.message.make_query(
        name,
        rdtype,
        use_edns=False if edns is None else edns,
        payload=payload,
        want_dnssec=want_dnssec,
    )
    reply = engine.handle(q.to_wire(), tcp=tcp)
    assert reply.wire is not None
    r = dns.message.from_wire(reply.wire)
    assert r.id == q.id
    return r


def rrs(section: list[object]) -> list[str]:
    """Each RRset of a section as its master-file text, one line per record."""
    lines: list[str] = []
    for rrset in section:
        lines.extend(rrset.to_text().splitlines())  # type: ignore[attr-defined]
    return lines


def has(r: dns.message.Message, flag: int) -> bool:
    return bool(r.flags & flag)


__all__ = ["ask", "dns", "has", "rrs"]
