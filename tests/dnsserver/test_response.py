"""Golden wire bytes of the authoritative server's responses, octet by octet: header flags,
compression, EDNS (RFC 6891), NSID (RFC 5001), truncation, BADVERS, REFUSED, CH TXT and BADKEY."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dnsserver.chaos import Identity
from dnsserver.engine import Engine
from dnsserver.zoneset import load_zones

WWW = b"\x03www\x0dnetworkutopia\x03com\x00"
A_IN = b"\x00\x01\x00\x01"
OPT = "00 0029 04d0"  # root owner, type OPT, our UDP size 1232


def query(flags: int = 0x0100, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, 1, 0, 0, ar)


def opt(payload: int = 1232, ttl: int = 0, rdata: bytes = b"") -> bytes:
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


def golden(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


@pytest.fixture(scope="module")
def server(zone_dir: Path) -> Engine:
    """networkutopia.com.'s server, which says who it is."""
    zones = load_zones([str(zone_dir / "networkutopia.com.zone")])
    return Engine(zones, identity=Identity(identity="ns1", version="v1"))


def answer(engine: Engine, data: bytes, *, tcp: bool = False) -> bytes:
    wire = engine.handle(data, tcp=tcp).wire
    assert wire is not None
    return wire


# The question section of a query for www.networkutopia.com. A IN, at offset 12.
Q_WWW = "03 777777 0d 6e6574776f726b75746f706961 03 636f6d 00 0001 0001"


def test_an_answer(server: Engine) -> None:
    expected = golden(
        "1234 8500 0001 0001 0000 0000"  # ID, QR AA RD, one question, one answer
        + Q_WWW
        + "c00c 0001 0001 00000e10 0004 7f000132"  # www (pointer) A IN 3600 127.0.1.50
    )
    assert answer(server, query() + WWW + A_IN) == expected
    assert answer(server, query() + WWW + A_IN, tcp=True) == expected


def test_an_answer_to_an_edns_query_with_do(server: Engine) -> None:
    data = query(ar=1) + WWW + A_IN + opt(4096, 0x8000)
    assert answer(server, data) == golden(
        "1234 8500 0001 0001 0000 0001"
        + Q_WWW
        + "c00c 0001 0001 00000e10 0004 7f000132"
        + OPT
        + "00 00 8000 0000"  # extended rcode 0, version 0, DO copied back, no options
    )


def test_an_answer_with_additional_data_and_cd_copied(server: Engine) -> None:
    data = query(flags=0x0010) + b"\x0dnetworkutopia\x03com\x00" + b"\x00\x0f\x00\x01"
    assert answer(server, data) == golden(
        "1234 8410 0001 0001 0000 0001"  # QR AA CD; RD was clear and stays clear
        "0d 6e6574776f726b75746f706961 03 636f6d 00 000f 0001"
        "c00c 000f 0001 00000e10 0009 000a 04 6d61696c c00c"  # MX 10 mail.(pointer)
        "c031 0001 0001 00000e10 0004 7f000133"  # mail.networkutopia.com. A 127.0.1.51
    )


def test_nxdomain_with_the_soa(server: Engine) -> None:
    data = query() + b"\x04nope\x0dnetworkutopia\x03com\x00" + A_IN
    assert answer(server, data) == golden(
        "1234 8503 0001 0000 0001 0000"  # QR AA RD, NXDOMAIN; the SOA in authority
        "04 6e6f7065 0d 6e6574776f726b75746f706961 03 636f6d 00 0001 0001"
        "c011 0006 0001 0000012c 0028"  # networkutopia.com. SOA, TTL 300 (MINIMUM)
        "04 646e7331 c011 0a 686f73746d6173746572 c011"  # dns1. hostmaster.
        "78c406bd 00001c20 00000e10 00127500 0000012c"  # serial, refresh ... minimum
    )


def test_the_truncated_response_rrl_slips(server: Engine) -> None:
    data = query(ar=1) + WWW + A_IN + opt(4096, 0x8000)
    expected = golden("1234 8300 0001 0000 0000 0001" + Q_WWW + OPT + "00 00 8000 0000")
    assert server.slip(data) == expected  # QR TC RD, no AA, the question and OPT only
    assert server.slip(query() + WWW + A_IN) == golden("1234 8300 0001 0000 0000 0000" + Q_WWW)
    assert server.slip(query(flags=0x8100) + WWW + A_IN) is None  # a response: nothing


def test_an_unknown_edns_version_is_badvers(server: Engine) -> None:
    data = query(ar=1) + WWW + A_IN + opt(1232, 0x00010000)  # version 1
    assert answer(server, data) == golden(
        "1234 8100 0001 0000 0000 0001"  # header rcode 0 ...
        + Q_WWW
        + OPT
        + "01 00 0000 0000"  # ... extended rcode 1: 16, BADVERS; our version, 0
    )


def test_a_name_we_do_not_serve_is_refused(server: Engine) -> None:
    data = query() + b"\x03www\x07example\x03org\x00" + A_IN
    assert answer(server, data) == golden(
        "1234 8105 0001 0000 0000 0000"  # QR RD REFUSED, no AA
        "03 777777 07 6578616d706c65 03 6f7267 00 0001 0001"
    )


def test_version_bind_with_nsid(server: Engine) -> None:
    data = query(ar=1) + b"\x07version\x04bind\x00\x00\x10\x00\x03" + opt(rdata=b"\x00\x03\x00\x00")
    assert answer(server, data) == golden(
        "1234 8100 0001 0001 0000 0001"
        "07 76657273696f6e 04 62696e64 00 0010 0003"
        "c00c 0010 0003 00000000 0003 02 7631"  # CH TXT "v1", TTL 0
        + OPT
        + "00 00 0000 0007 0003 0003 6e7331"  # NSID "ns1"
    )


def test_a_signed_query_gets_badkey(server: Engine) -> None:
    tsig_rdata = (
        b"\x0bhmac-sha256\x00"
        + b"\x00\x00\x65\x00\x00\x01\x01\x2c"  # time signed, fudge
        + b"\x00\x04abcd"  # MAC
        + b"\xbe\xef\x00\x00\x00\x00"  # original ID, error, other length
    )
    tsig = b"\x05MyKey\x00" + struct.pack("!HHIH", 250, 255, 0, len(tsig_rdata)) + tsig_rdata
    unsigned = (
        "05 4d794b6579 00 00fa 00ff 00000000 001d"  # MyKey. TSIG ANY TTL 0
        "0b 686d61632d736861323536 00"  # hmac-sha256., never compressed
        "000065000001 012c 0000 beef 0011 0000"  # the query's time, MAC size 0, BADKEY
    )
    assert answer(server, query(ar=1) + WWW + A_IN + tsig) == golden(
        "1234 8109 0001 0000 0000 0001" + Q_WWW + unsigned  # NOTAUTH
    )
    assert answer(server, query(ar=2) + WWW + A_IN + opt() + tsig) == golden(
        "1234 8109 0001 0000 0000 0002" + Q_WWW + OPT + "00 00 0000 0000" + unsigned
    )


def test_nsid_is_in_every_response_to_a_query_asking_for_it(server: Engine) -> None:
    asks = opt(rdata=b"\x00\x03\x00\x00")
    bad_version = b"\x00" + struct.pack("!HHIH", 41, 1232, 0x00010000, 4) + b"\x00\x03\x00\x00"
    tsig = (
        b"\x05MyKey\x00"
        + struct.pack("!HHIH", 250, 255, 0, 29)
        + golden("0b 686d61632d736861323536 00 000065000001 012c 0000 beef 0000 0000")
    )
    nsid = "0007 0003 0003 6e7331"  # RDATA length 7: option 3, length 3, "ns1"
    for data, tail in (
        (query(ar=1) + WWW + A_IN + asks, "c00c 0001 0001 00000e10 0004 7f000132" + OPT + "0000"),
        (query(ar=1) + WWW + A_IN + bad_version, OPT + "0100"),
        (query(ar=2) + WWW + A_IN + asks + tsig, OPT + "0000"),
    ):
        wire = answer(server, data)
        assert golden(tail + "0000" + nsid) in wire, wire.hex()
    slipped = server.slip(query(ar=1) + WWW + A_IN + asks)
    assert slipped == golden("1234 8300 0001 0000 0000 0001" + Q_WWW + OPT + "00000000" + nsid)
