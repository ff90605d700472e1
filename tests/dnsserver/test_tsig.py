"""Signed queries (RFC 8945) to a server that holds no TSIG keys: NOTAUTH with an unsigned
TSIG record saying BADKEY, as BIND and NSD answer; a misplaced TSIG record is FORMERR."""

from __future__ import annotations

import struct

import dns.message
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import pytest

from dnsserver.engine import Engine

RING = dns.tsigkeyring.from_text({"mykey.": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")})


def signed(name: str, rdtype: str, **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    q.use_tsig(RING, keyname="mykey.")
    return q


@pytest.mark.parametrize(("rdtype", "edns"), [("MX", 0), ("A", None), ("AXFR", None)])
def test_signed_query_gets_notauth_badkey_unsigned(
    engine: Engine, rdtype: str, edns: int | None
) -> None:
    q = signed("networkutopia.com", rdtype, use_edns=False if edns is None else edns)
    wire = q.to_wire()
    reply = engine.handle(wire, tcp=False)
    assert reply.wire is not None
    # dnspython, holding the key, sees the server's verdict on it (and no forged signature)
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(reply.wire, keyring=RING, request_mac=q.mac)
    r = dns.message.from_wire(reply.wire, keyring=False)  # read it without checking
    assert r.id == q.id and r.rcode() == dns.rcode.NOTAUTH and not r.answer
    assert r.question == q.question
    assert r.tsig is not None and r.tsig[0].error == dns.rcode.BADKEY and r.tsig[0].mac == b""
    assert r.tsig[0].original_id == q.id and r.keyname == q.keyname
    assert (r.edns == 0) == (edns == 0)


def test_tsig_that_is_not_the_last_record_is_formerr(engine: Engine) -> None:
    q = signed("networkutopia.com", "MX")
    wire = bytearray(q.to_wire())
    # append an OPT after the TSIG: ARCOUNT 2, TSIG no longer last (RFC 8945 §5.1)
    wire += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    wire[10:12] = struct.pack("!H", 2)
    reply = engine.handle(bytes(wire), tcp=False)
    assert reply.wire is not None
    assert dns.message.from_wire(reply.wire).rcode() == dns.rcode.FORMERR


def test_tsig_fields_overrunning_the_record_are_formerr(engine: Engine) -> None:
    wire = bytearray(signed("networkutopia.com", "MX").to_wire())
    # the last field, Other Len (no Other Data follows), now claims 5 octets
    wire[-2:] = struct.pack("!H", 5)
    reply = engine.handle(bytes(wire), tcp=False)
    assert reply.wire is not None
    assert dns.message.from_wire(reply.wire).rcode() == dns.rcode.FORMERR


def test_the_algorithm_name_is_echoed_label_by_label(engine: Engine) -> None:
    ring = dns.tsigkeyring.from_text({"k.": ("hmac-md5.sig-alg.reg.int.", "c2VjcmV0")})
    q = dns.message.make_query("networkutopia.com", "MX")
    q.use_tsig(ring, keyname="k.", algorithm=dns.tsig.HMAC_MD5)
    reply = engine.handle(q.to_wire(), tcp=False)
    r = dns.message.from_wire(reply.wire or b"", keyring=False)
    assert r.tsig is not None and r.rcode() == dns.rcode.NOTAUTH
    assert r.tsig[0].algorithm.to_text() == "hmac-md5.sig-alg.reg.int."
    assert r.tsig[0].error == dns.rcode.BADKEY and r.keyname.to_text() == "k."
