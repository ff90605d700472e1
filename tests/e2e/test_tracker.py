"""The tracker of `minternet up`: found by name through the local DNS server, announce works."""

from __future__ import annotations

import json
import socket
import struct
import urllib.parse
import urllib.request

import bencodepy
import dns.message
import dns.query
import pytest

from minternet import topology

from .conftest import E2E_PORT_OFFSET

pytestmark = pytest.mark.e2e
TRACKER = topology.DEFAULT.host("tracker")
RESOLVER = topology.DEFAULT.host("local-dns").address


def tracker_address() -> str:
    """Find the tracker as a peer would: its name, through the local DNS server."""
    q = dns.message.make_query(TRACKER.fqdn, "A")
    resp = dns.query.udp(q, RESOLVER, port=53 + E2E_PORT_OFFSET, timeout=5)
    return resp.answer[0][0].address


def announce(address: str, info_hash: bytes, peer_id: bytes, port: int, left: int) -> dict:
    query = urllib.parse.urlencode(
        {
            "info_hash": info_hash,
            "peer_id": peer_id,
            "port": port,
            "uploaded": 0,
            "downloaded": 0,
            "left": left,
            "compact": 1,
            "event": "started",
        }
    )
    url = f"http://{address}:{6969 + E2E_PORT_OFFSET}/announce?{query}"
    with urllib.request.urlopen(url, timeout=5) as r:
        return bencodepy.decode(r.read())


def test_status_lists_the_tracker_ports(topology_up):
    ports = topology_up["tracker"]["ports"]
    assert ports == {
        "http": 6969 + E2E_PORT_OFFSET,
        "udp": 6969 + E2E_PORT_OFFSET,
        "control": 8953 + E2E_PORT_OFFSET,
    }


def test_two_peers_find_each_other_through_the_tracker_found_by_name(topology_up):
    address = tracker_address()
    assert address == TRACKER.address
    info_hash = bytes(range(20))
    seeder = announce(address, info_hash, b"-MI0001-seeder000001", 6881, left=0)
    assert seeder[b"peers"] == b""  # alone in the swarm, never given itself
    leecher = announce(address, info_hash, b"-MI0001-leecher00001", 6882, left=1000)
    assert leecher[b"complete"] == 1 and leecher[b"incomplete"] == 1
    assert leecher[b"peers"] == socket.inet_aton("127.0.0.1") + struct.pack(">H", 6881)
    with urllib.request.urlopen(f"http://{address}:{6969 + E2E_PORT_OFFSET}/stats.json") as r:
        stats = json.load(r)
    assert info_hash.hex() in json.dumps(stats)
