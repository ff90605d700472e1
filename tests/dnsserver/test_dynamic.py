"""UPDATE messages with TSIG (dnsserver/dynamic.py): parsed, verified, authorised, answered."""

from __future__ import annotations

import struct
import time
from unittest import mock

import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.tsig
import dns.update
import pytest

from dnsserver import dynamic, tsigkeys
from dnsserver.dynamic import BADKEY, BADSIG, BADTIME, Reply, Request
from dnsserver.update import CLASS_ANY, CLASS_IN, CLASS_NONE

KEY = tsigkeys.generate("networkutopia.com", bytes(range(32)))
OTHER = tsigkeys.generate("registrar", bytes(range(1, 33)))
RING = tsigkeys.keyring([KEY, OTHER])
ZONE = (b"networkutopia", b"com")


def allowed(zone: tuple[bytes, ...]) -> frozenset[str] | None:
    return frozenset({"networkutopia.com."}) if zone == ZONE else None


def update(
    zone: str = "networkutopia.com", key: tsigkeys.TsigKey | None = KEY
) -> dns.update.UpdateMessage:
    u = dns.update.UpdateMessage(zone)
    if key is not None:
        u.use_tsig(tsigkeys.keyring([key]), keyname=key.name)
    return u


def read(u: dns.message.Message) -> Request | Reply:
    return dynamic.read_update(u.to_wire(), RING, allowed)


def reply_of(got: Request | Reply, request: dns.message.Message) -> dns.message.Message:
    assert isinstance(got, Reply) and got.wire is not None
    return dns.message.from_wire(got.wire, keyring=RING, request_mac=request.mac)


def test_a_signed_update_becomes_changes_and_a_signed_answer() -> None:
    u = update()
    u.present("www")
    u.absent("new", "A")
    u.add("www", 300, "A", "192.0.2.7")
    u.delete("old", "A")
    u.delete("old2", "TXT", '"a b"')
    u.delete("gone")
    got = read(u)
    assert isinstance(got, Request)
    assert got.zone == ZONE and got.key == "networkutopia.com."
    assert [(c.name[0], c.rclass, c.rtype, c.ttl) for c in got.prerequisites] == [
        (b"www", CLASS_ANY, 255, 0),
        (b"new", CLASS_NONE, 1, 0),
    ]
    assert [(c.name[0], c.rclass, c.rtype, c.ttl) for c in got.updates] == [
        (b"www", CLASS_IN, 1, 300),
        (b"old", CLASS_ANY, 1, 0),
        (b"old2", CLASS_NONE, 16, 0),
        (b"gone", CLASS_ANY, 255, 0),
    ]
    assert got.updates[0].record is not None and got.updates[0].record.identity == bytes(
        [192, 0, 2, 7]
    )
    assert got.updates[2].record is not None and got.updates[2].record.identity == b"\x03a b"
    assert got.updates[1].record is None and got.prerequisites[0].record is None
    answer = dns.message.from_wire(dynamic.answer(got, 8), keyring=RING, request_mac=u.mac)
    assert answer.rcode() == dns.rcode.NXRRSET and answer.had_tsig
    assert answer.opcode() == dns.opcode.UPDATE and answer.id == u.id


def test_unsigned_updates_are_refused() -> None:
    u = update(key=None)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.why == "unsigned: updates need a TSIG key"
    r = dns.message.from_wire(got.wire or b"")
    assert r.rcode() == dns.rcode.REFUSED and not r.had_tsig and r.id == u.id


def test_a_key_not_allowed_for_the_zone_is_refused_with_a_signed_answer() -> None:
    u = update(key=OTHER)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.key == "registrar."
    assert got.why == "key registrar. may not update networkutopia.com."
    r = reply_of(got, u)
    assert r.rcode() == dns.rcode.REFUSED and r.had_tsig


def test_a_zone_we_do_not_update_is_notauth() -> None:
    u = update("hamburger.edu")
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.why == "not a zone we update: hamburger.edu."
    assert reply_of(got, u).rcode() == dns.rcode.NOTAUTH


def tsig_error(got: Request | Reply) -> tuple[int, int, bytes]:
    assert isinstance(got, Reply) and got.wire is not None
    r = dns.message.from_wire(got.wire, keyring=False)
    assert r.tsig is not None
    rd = r.tsig[0]
    return r.rcode(), rd.error, rd.mac


def test_an_unknown_key_is_notauth_badkey_unsigned() -> None:
    stranger = tsigkeys.generate("stranger", bytes(32))
    u = update(key=stranger)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.why == "signed with a key we do not have"
    rcode, error, mac = tsig_error(got)
    assert (rcode, error, mac) == (dns.rcode.NOTAUTH, BADKEY, b"")
    r = dns.message.from_wire(got.wire or b"", keyring=False)
    assert r.id == u.id and r.tsig is not None and r.tsig.name == dns.name.from_text("stranger")
    assert r.tsig[0].original_id == u.id and r.tsig[0].time_signed == u.tsig[0].time_signed


def test_a_bad_signature_is_notauth_badsig_unsigned() -> None:
    forged = tsigkeys.generate("networkutopia.com", bytes(32))  # right name, wrong secret
    u = update(key=forged)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.why == "bad TSIG signature"
    assert tsig_error(got) == (dns.rcode.NOTAUTH, BADSIG, b"")


def test_a_wrong_algorithm_is_badkey() -> None:
    other = tsigkeys.generate("networkutopia.com", bytes(range(32)), "hmac-sha512")
    u = update(key=other)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Reply) and got.why == "the key's algorithm does not match"
    assert tsig_error(got)[:2] == (dns.rcode.NOTAUTH, BADKEY)


def test_a_bad_time_is_notauth_badtime_signed_with_our_clock() -> None:
    u = update()
    u.add("www", 300, "A", "192.0.2.7")
    then = time.time() - 1000
    with mock.patch("time.time", return_value=then):
        wire = u.to_wire()
    got = dynamic.read_update(wire, RING, allowed)
    assert isinstance(got, Reply) and got.why.startswith("signed +1000 s from our clock")
    assert got.wire is not None
    with pytest.raises(dns.tsig.PeerBadTime):  # signed: the client can verify it, then sees
        dns.message.from_wire(got.wire, keyring=RING, request_mac=u.mac)
    r = dns.message.from_wire(got.wire, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig is not None
    rd = r.tsig[0]
    assert rd.error == BADTIME and len(rd.mac) == 32
    hi, lo = struct.unpack("!HI", rd.other)
    assert abs((hi << 32 | lo) - time.time()) < 5


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 11, b"\x12\x34\xa8\x00" + b"\x00" * 8],  # short; a response (QR=1)
)
def test_no_answer_to_what_is_not_a_request(data: bytes) -> None:
    got = dynamic.read_update(data, RING, allowed)
    assert isinstance(got, Reply) and got.wire is None and got.why == "not a request"


def test_garbage_is_formerr_with_the_id() -> None:
    data = b"\xab\xcd\x28\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff"
    got = dynamic.read_update(data, RING, allowed)
    assert (
        isinstance(got, Reply) and got.wire is not None and got.why.startswith("malformed request")
    )
    assert got.wire[:2] == b"\xab\xcd" and got.wire[3] & 0xF == 1  # FORMERR


def test_a_zone_section_that_is_not_one_soa_is_formerr() -> None:
    u = update()
    u.question[0].rdtype = dns.rdatatype.A  # type: ignore[misc]
    got = read(u)
    assert isinstance(got, Reply) and got.why.startswith("malformed request")
    assert got.wire is not None and got.wire[:2] == u.to_wire()[:2]
    assert dns.message.from_wire(got.wire).rcode() == dns.rcode.FORMERR


def test_a_zone_section_of_another_class_is_notauth() -> None:
    u = dns.update.UpdateMessage("networkutopia.com", rdclass=dns.rdataclass.CH)
    u.use_tsig(RING, keyname=KEY.name)
    got = read(u)
    assert isinstance(got, Reply) and got.why == "only class IN is served"
    assert reply_of(got, u).rcode() == dns.rcode.NOTAUTH


def test_a_query_opcode_is_not_an_update() -> None:
    q = dns.message.make_query("networkutopia.com", "A")
    assert not dynamic.is_update(q.to_wire())
    got = dynamic.read_update(q.to_wire(), RING, allowed)
    assert isinstance(got, Reply) and got.why == "not an update"
    assert dns.message.from_wire(got.wire or b"").rcode() == dns.rcode.NOTIMP
    assert dynamic.is_update(update().to_wire())
    assert not dynamic.is_update(update().to_wire()[:11])


def test_records_that_cannot_be_zone_data_are_formerr() -> None:
    u = update()
    u.add("www", 300, "ANY", r"\# 0")
    got = read(u)
    assert isinstance(got, Reply) and got.why.startswith("bad record")
    assert reply_of(got, u).rcode() == dns.rcode.FORMERR
