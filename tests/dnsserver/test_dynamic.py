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


# --- exact answers


def test_changes_carry_the_whole_owner_name() -> None:
    u = update()
    u.present("a.b")
    u.add("www.sub", 60, "A", "192.0.2.1")
    u.delete("networkutopia.com.", "MX")
    got = read(u)
    assert isinstance(got, Request)
    assert [c.name for c in got.prerequisites] == [(b"a", b"b", b"networkutopia", b"com")]
    assert [c.name for c in got.updates] == [(b"www", b"sub", b"networkutopia", b"com"), ZONE]
    rec = got.updates[0].record
    assert rec is not None and rec.labels == (b"www", b"sub", b"networkutopia", b"com")
    assert (rec.ttl, rec.rtype, rec.identity) == (60, 1, bytes([192, 0, 2, 1]))


def test_the_zone_name_is_lowercased() -> None:
    u = update("NetworkUtopia.COM")
    got = read(u)
    assert isinstance(got, Request) and got.zone == ZONE and got.prerequisites == got.updates == ()


def test_a_record_of_a_meta_type_is_formerr_signed() -> None:
    u = update()
    u.add("www", 300, "ANY", r"\# 0")
    got = read(u)
    assert isinstance(got, Reply)
    assert got.why == "bad record: ANY cannot be a record of a zone"
    assert got.key == "networkutopia.com."
    assert reply_of(got, u).rcode() == dns.rcode.FORMERR


def test_an_opt_record_in_the_update_section_is_malformed() -> None:
    u = update(key=None)
    u.add("www", 300, "OPT", r"\# 0")
    got = read(u)
    assert isinstance(got, Reply) and got.key is None
    assert got.why.startswith("malformed request: An OPT record occurred somewhere other than")
    assert got.wire == header(0xA801, u.id)


def test_replies_name_the_key_the_request_was_signed_with() -> None:
    u = dns.update.UpdateMessage("networkutopia.com", rdclass=dns.rdataclass.CH)
    u.use_tsig(RING, keyname=KEY.name)
    got = read(u)
    assert isinstance(got, Reply) and got.key == "networkutopia.com."
    u = update("hamburger.edu")
    got = read(u)
    assert isinstance(got, Reply) and got.key == "networkutopia.com."
    u = update("hamburger.edu", key=None)
    got = read(u)
    assert isinstance(got, Reply) and got.key is None
    assert got.why == "not a zone we update: hamburger.edu."
    assert dns.message.from_wire(got.wire or b"").rcode() == dns.rcode.NOTAUTH
    u = update(key=None)
    got = read(u)
    assert isinstance(got, Reply) and got.key is None


def test_reply_answers_a_parsed_request_signed_as_it_was() -> None:
    u = update()
    msg = dynamic.read_signed(u.to_wire(), RING)
    assert isinstance(msg, dns.message.Message)
    got = dynamic.reply(msg, dns.rcode.REFUSED, "why not")
    assert (got.why, got.key) == ("why not", "networkutopia.com.")
    r = reply_of(got, u)
    assert r.rcode() == dns.rcode.REFUSED and r.had_tsig and r.id == u.id
    assert r.opcode() == dns.opcode.UPDATE and r.answer == r.authority == []
    plain = dynamic.read_signed(update(key=None).to_wire(), RING)
    assert isinstance(plain, dns.message.Message)
    got = dynamic.reply(plain, dns.rcode.SERVFAIL, "")
    assert got.key is None and got.why == ""
    r = dns.message.from_wire(got.wire or b"")
    assert r.rcode() == dns.rcode.SERVFAIL and not r.had_tsig and r.id == plain.id


def test_answer_is_signed_with_the_requests_key_or_not_at_all() -> None:
    u = update(key=OTHER)
    got = dynamic.read_update(u.to_wire(), RING, lambda zone: frozenset({"registrar."}))
    assert isinstance(got, Request) and got.key == "registrar."
    wire = dynamic.answer(got, 0)
    r = dns.message.from_wire(wire, keyring=RING, request_mac=u.mac)
    assert r.rcode() == 0 and r.had_tsig and r.keyname == dns.name.from_text("registrar.")


def test_key_of_is_for_verified_requests() -> None:
    u = update()
    msg = dynamic.read_signed(u.to_wire(), RING)
    assert isinstance(msg, dns.message.Message) and dynamic.key_of(msg) == "networkutopia.com."
    upper = tsigkeys.generate("NetworkUtopia.COM", bytes(range(32)))
    u = dns.update.UpdateMessage("networkutopia.com")
    u.use_tsig({dns.name.from_text("NetworkUtopia.COM"): upper.to_dnspython()})
    msg = dynamic.read_signed(u.to_wire(), RING)
    assert isinstance(msg, dns.message.Message) and dynamic.key_of(msg) == "networkutopia.com."
    plain = dynamic.read_signed(update(key=None).to_wire(), RING)
    assert isinstance(plain, dns.message.Message) and dynamic.key_of(plain) is None


def header(flags: int, qid: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("flags", "yes"),
    [
        (0x2800, True),  # UPDATE
        (0x2900, True),  # UPDATE with RD (meaningless there, but still an UPDATE)
        (0x2F00, True),
        (0x28FF, True),
        (0xA800, False),  # a response
        (0x2000, False),  # NOTIFY
        (0x3000, False),  # opcode 6
        (0x0000, False),  # QUERY
        (0x6800, False),  # opcode 13
    ],
)
def test_is_update_reads_the_opcode_and_qr(flags: int, yes: bool) -> None:
    assert dynamic.is_update(header(flags)) is yes  # a header alone, exactly 12 octets
    assert dynamic.is_update(header(flags) + b"\x00") is yes
    assert dynamic.is_update(header(flags)[:11]) is False


def test_a_bare_header_is_read_and_answered() -> None:
    msg = dynamic.read_signed(header(0x2800), RING)
    assert isinstance(msg, dns.message.Message) and msg.id == 0x1234
    got = dynamic.read_update(header(0x0100), RING, allowed)
    assert isinstance(got, Reply) and got.why == "not an update"
    assert got.wire == header(0x8100 | dynamic.NOTIMP)


def test_a_request_carrying_a_tsig_error_is_formerr() -> None:
    u = update()
    u.use_tsig(RING, keyname=KEY.name, tsig_error=BADSIG)
    u.add("www", 300, "A", "192.0.2.7")
    wire = u.to_wire()
    got = dynamic.read_update(wire, RING, allowed)
    assert isinstance(got, Reply) and got.why == "a TSIG error in a request" and got.key is None
    assert got.wire == header(0xA800 | dynamic.FORMERR, u.id)


def test_malformed_requests_say_what_dnspython_said() -> None:
    data = b"\xab\xcd\x28\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff"
    got = dynamic.read_update(data, RING, allowed)
    assert isinstance(got, Reply)
    assert got.why == "malformed request: DNS message is malformed."
    assert got.wire == header(0xA801, 0xABCD)


def test_the_tsig_answers_keep_the_original_id_and_carry_nothing_else() -> None:
    stranger = tsigkeys.generate("stranger", bytes(32))
    u = dns.update.UpdateMessage("networkutopia.com", id=0x1111)
    u.use_tsig(tsigkeys.keyring([stranger]), keyname=stranger.name, original_id=0x2222, fudge=77)
    u.add("www", 300, "A", "192.0.2.7")
    got = dynamic.read_update(u.to_wire(), RING, allowed)
    assert isinstance(got, Reply) and got.wire is not None and got.key is None
    r = dns.message.from_wire(got.wire, keyring=False)
    assert r.id == 0x1111 and r.rcode() == dns.rcode.NOTAUTH and r.opcode() == dns.opcode.UPDATE
    assert r.question == u.question and r.answer == r.authority == []
    assert r.tsig is not None and u.tsig is not None
    rd = r.tsig[0]
    assert (rd.original_id, rd.error, rd.mac, rd.other, rd.fudge) == (0x2222, BADKEY, b"", b"", 77)
    assert rd.algorithm == dns.tsig.HMAC_SHA256 and rd.time_signed == u.tsig[0].time_signed
    # the record itself: class ANY, TTL 0, the key's name, the last of the additional section
    rdata = rd.to_wire()
    record = (
        (dns.name.from_text("stranger.").to_wire() or b"")
        + struct.pack("!HHIH", 250, 255, 0, len(rdata))
        + rdata
    )
    assert got.wire.endswith(record)
    assert struct.unpack("!HHHH", got.wire[4:12]) == (1, 0, 0, 1)


def test_the_tsig_failure_answers_fall_back_to_formerr() -> None:
    plain = update(key=None).to_wire()
    assert dynamic._tsig_failure(plain, BADKEY, "why") == Reply(
        header(0xA801, plain_id(plain)), "why"
    )
    garbage = b"\xab\xcd\x28\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff"
    assert dynamic._tsig_failure(garbage, BADSIG, "w") == Reply(header(0xA801, 0xABCD), "w")
    assert dynamic._badtime(plain, RING) == Reply(header(0xA801, plain_id(plain)), "bad time")
    assert dynamic._badtime(garbage, RING) == Reply(header(0xA801, 0xABCD), "bad time")
    stranger = update(key=tsigkeys.generate("stranger", bytes(32))).to_wire()
    assert dynamic._badtime(stranger, RING) == Reply(header(0xA801, plain_id(stranger)), "bad time")


def plain_id(wire: bytes) -> int:
    return int(struct.unpack("!H", wire[:2])[0])


def verify_mac(wire: bytes, request_mac: bytes, key: dns.tsig.Key) -> None:
    """Check a response's TSIG MAC as RFC 8945 §4.3.3 computes it, whatever its error."""
    r = dns.message.from_wire(wire, keyring=False)
    assert r.tsig is not None
    rd = r.tsig[0]
    fixed = len(wire) - len(rd.to_wire() or b"") - 10  # the owner: a pointer or a whole name
    start = fixed - 2 if wire[fixed - 2] >= 0xC0 else fixed - len(r.tsig.name.to_wire() or b"")
    arcount = struct.unpack("!H", wire[10:12])[0] - 1
    unsigned = wire[:10] + struct.pack("!H", arcount) + wire[12:start]
    expected, _ = dns.tsig.sign(unsigned, key, rd, rd.time_signed, request_mac)
    assert expected.mac == rd.mac


def test_badtime_is_signed_over_the_requests_mac_with_its_fudge_and_original_id() -> None:
    u = dns.update.UpdateMessage("networkutopia.com", id=0x1111)
    u.use_tsig(RING, keyname=KEY.name, original_id=0x2222, fudge=100)
    u.add("www", 300, "A", "192.0.2.7")
    now = 2**33 + 2**31 + 12345  # far ahead: both halves of the 48-bit time matter
    with mock.patch("time.time", return_value=now - 1000):
        wire = u.to_wire()
    with mock.patch("time.time", return_value=now):
        got = dynamic.read_update(wire, RING, allowed)
    assert isinstance(got, Reply) and got.wire is not None
    assert got.why == "signed +1000 s from our clock (fudge 100 s)"
    r = dns.message.from_wire(got.wire, keyring=False)
    assert r.id == 0x1111 and r.rcode() == dns.rcode.NOTAUTH
    assert r.tsig is not None and u.mac is not None
    rd = r.tsig[0]
    assert (rd.error, rd.original_id, rd.fudge, rd.algorithm) == (
        BADTIME, 0x2222, 100, dns.tsig.HMAC_SHA256,
    )  # fmt: skip
    assert rd.other == struct.pack("!HI", 2, 2**31 + 12345)
    assert rd.time_signed == now
    verify_mac(got.wire, u.mac, RING[dns.name.from_text(KEY.name)])
    with pytest.raises(AssertionError):
        verify_mac(got.wire, b"\x00" * 32, RING[dns.name.from_text(KEY.name)])


def test_a_request_from_the_future_is_badtime_too() -> None:
    u = update()
    now = 1_700_000_000
    with mock.patch("time.time", return_value=now + 301):
        wire = u.to_wire()
    with mock.patch("time.time", return_value=now):
        got = dynamic.read_update(wire, RING, allowed)
    assert isinstance(got, Reply) and got.why == "signed -301 s from our clock (fudge 300 s)"
    with mock.patch("time.time", return_value=now + 1):
        assert isinstance(dynamic.read_update(wire, RING, allowed), Request)


def test_the_answer_is_signed_at_the_time_now_gives() -> None:
    u = update()
    got = read(u)
    assert isinstance(got, Request)
    now = int(time.time()) - 100
    wire = dynamic.answer(got, 8, now=lambda: now + 0.75)
    r = dns.message.from_wire(wire, keyring=RING, request_mac=u.mac)
    assert r.tsig is not None and r.tsig[0].time_signed == now
    assert r.tsig[0].fudge == 300 and r.tsig[0].original_id == u.id
    # the header, the zone section as asked, the TSIG record with its owner written whole
    zone = dns.name.from_text("networkutopia.com.").to_wire() or b""
    head = struct.pack("!HHHHHH", u.id, 0xA808, 1, 0, 0, 1) + zone + b"\x00\x06\x00\x01"
    assert wire.startswith(head)
    assert wire[len(head) :].startswith(zone + struct.pack("!HHI", 250, 255, 0))


def test_an_answer_to_an_edns_request_carries_edns_and_is_signed() -> None:
    u = update()
    u.use_edns(0, payload=1232)
    u.add("www", 300, "A", "192.0.2.7")
    got = read(u)
    assert isinstance(got, Request)
    for rcode in (0, 8, 5):
        r = dns.message.from_wire(dynamic.answer(got, rcode), keyring=RING, request_mac=u.mac)
        assert r.edns == 0 and r.had_tsig and r.keyname == dns.name.from_text(KEY.name)
        assert r.rcode() == rcode and r.id == u.id and r.opcode() == dns.opcode.UPDATE
        assert r.question == u.question and r.answer == r.authority == []


def test_an_unsigned_request_gets_an_unsigned_answer() -> None:
    u = update(key=None)
    msg = dynamic.read_signed(u.to_wire(), RING)
    assert isinstance(msg, dns.message.Message)
    got = Request(msg, ZONE, None, (), ())
    wire = dynamic.answer(got, 2)
    r = dns.message.from_wire(wire)
    assert r.rcode() == 2 and not r.had_tsig and r.id == u.id
    assert r.opcode() == dns.opcode.UPDATE and r.question == u.question
    assert (
        wire
        == struct.pack("!HHHHHH", u.id, 0xA802, 1, 0, 0, 0)
        + u.question[0].name.to_wire()
        + b"\x00\x06\x00\x01"
    )


def test_an_exception_without_words_is_named_by_its_class() -> None:
    with mock.patch("dns.message.from_wire", side_effect=ValueError()):
        got = dynamic.read_signed(header(0x2800), RING)
    assert isinstance(got, Reply) and got.why == "malformed request: ValueError"
    assert got.wire == header(0xA801)


def test_a_request_whose_tsig_was_not_verified_gets_an_unsigned_answer() -> None:
    u = update()
    msg = dns.message.from_wire(u.to_wire(), keyring=False)  # read, not verified: no key
    assert msg.tsig is not None and msg.keyring is None
    wire = dynamic.answer(Request(msg, ZONE, None, (), ()), 0)
    r = dns.message.from_wire(wire)
    assert not r.had_tsig and r.id == u.id and r.rcode() == 0
