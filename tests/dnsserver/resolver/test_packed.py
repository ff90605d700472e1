"""Packed answers: the fast path's question key, TTL offsets and re-rendering, byte for byte."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import pytest
from dnslib import EDNS0, QTYPE, RR, TXT, A, DNSRecord

from dnsserver.resolver.packed import PackedAnswer, WireError, question_key, ttl_offsets


def header(flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


QUESTION = b"\x01x\x04test\x00" + b"\x00\x01\x00\x01"  # x.test. A IN


def opt(udp: int = 1232, flags: int = 0, version: int = 0, options: bytes = b"") -> bytes:
    """An OPT record: root owner, type 41, class = UDP size, TTL = ext-rcode, version, flags."""
    return b"\x00\x00\x29" + struct.pack("!HBBHH", udp, 0, version, flags, len(options)) + options


def key(data: bytes) -> bytes:
    qk = question_key(data)
    assert qk is not None
    return qk.key


# -- question_key --------------------------------------------------------------------------


def test_a_plain_query_is_keyed_with_its_spelling_rd_and_udp_size() -> None:
    data = header(flags=0x0100) + b"\x01X\x04Test\x00\x00\x01\x00\x01"
    qk = question_key(data)
    assert qk is not None and qk.rd and qk.udp_size == 512  # RFC 1035 §4.2.1 without EDNS
    assert qk.qname_wire == b"\x01X\x04Test\x00"
    assert qk.key == key(header(flags=0) + QUESTION)  # case and RD do not matter to the key
    assert not question_key(header(flags=0) + QUESTION).rd  # type: ignore[union-attr]


def test_the_smallest_query_is_keyed() -> None:
    data = header() + b"\x00\x00\x02\x00\x01"  # . NS IN: 17 octets
    assert len(data) == 17 and question_key(data) is not None
    assert question_key(data[:-1]) is None


def test_header_bits_outside_qr_and_opcode_do_not_matter() -> None:
    # AD, CD and even an rcode in a query: still a QUERY, keyed as any other
    for flags in (0x0100 | 0x0020, 0x0010, 0x0001, 0x0101):
        qk = question_key(header(flags=flags) + QUESTION)
        assert qk is not None and qk.key == key(header() + QUESTION)
        assert qk.rd is bool(flags & 0x0100)


@pytest.mark.parametrize(
    "data",
    [
        header(flags=0x8100) + QUESTION,  # a response
        header(flags=0x2100) + QUESTION,  # opcode NOTIFY
        header(qd=0) + QUESTION,
        header(qd=2) + QUESTION + QUESTION,
        header(an=1) + QUESTION,
        header(ns=1) + QUESTION,
        header(ar=2) + QUESTION + opt() + opt(),
        header(ar=2) + QUESTION + opt(),  # a count of two with one record: FORMERR there
        header() + b"\x07abcdefg",  # the name runs to the end
        header() + b"\xc0\x0c\x00\x01\x00\x01",  # a compressed question
        header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",  # a 64-octet label
        header() + QUESTION + b"\x00",  # something after the question
        header() + QUESTION[:-1],
    ],
)
def test_what_the_fast_path_leaves_to_the_slow_one(data: bytes) -> None:
    assert question_key(data) is None


def test_a_63_octet_label_is_keyed() -> None:
    qk = question_key(header() + b"\x3f" + b"a" * 63 + b"\x00\x00\x01\x00\x01")
    assert qk is not None and qk.qname_wire == b"\x3f" + b"a" * 63 + b"\x00"


@pytest.mark.parametrize(
    "extra",
    [
        b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00",  # a root A record, not an OPT
        b"\x01a\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",  # an OPT not at the root
        opt()[:-3],  # cut short
        opt(version=1),  # BADVERS, answered on the slow path
        opt(options=b"\x00\x03\x00\x05"),  # an option running past the end
        opt() + b"\x00",  # something after the OPT
    ],
)
def test_an_additional_record_other_than_a_good_opt_takes_the_slow_path(extra: bytes) -> None:
    assert question_key(header(ar=1) + QUESTION + extra) is None


@pytest.mark.parametrize(
    ("advertised", "used"), [(100, 512), (512, 512), (1232, 1232), (4096, 4096), (65535, 4096)]
)
def test_the_udp_size_is_the_clients_within_512_and_4096(advertised: int, used: int) -> None:
    qk = question_key(header(ar=1) + QUESTION + opt(udp=advertised))
    assert qk is not None and qk.udp_size == used


def test_keys_tell_apart_what_changes_the_answer() -> None:
    nsid = b"\x00\x03\x00\x00"
    keys = [
        key(header() + QUESTION),  # no EDNS: no OPT in the answer
        key(header(ar=1) + QUESTION + opt()),
        key(header(ar=1) + QUESTION + opt(flags=0x8000)),  # DO, echoed (RFC 3225)
        key(header(ar=1) + QUESTION + opt(options=nsid)),  # NSID asked for (RFC 5001)
        key(header(ar=1) + QUESTION + opt(flags=0x8000, options=nsid)),
        key(header() + QUESTION[:-4] + b"\x01\x01\x00\x01"),  # type 257 (CAA), not A
        key(header() + QUESTION[:-2] + b"\x00\x03"),  # class CH
    ]
    assert len(set(keys)) == len(keys)
    # but not the UDP size, other flags, or other options
    cookie = b"\x00\x0a\x00\x08" + b"c" * 8
    assert key(header(ar=1) + QUESTION + opt(udp=4096, flags=0x0100, options=cookie)) == keys[1]


# -- ttl_offsets -------------------------------------------------------------------------


def response() -> bytes:
    """x.test. A: an answer (two records), an authority NS, an additional A and an OPT."""
    r = DNSRecord.question("x.test", "A").reply()
    r.header.id = 0x4242
    r.add_answer(*RR.fromZone("x.test. 300 IN A 127.0.0.1\nx.test. 300 IN A 127.0.0.2"))
    r.add_auth(*RR.fromZone("test. 3600 IN NS ns.test."))
    r.add_ar(*RR.fromZone("ns.test. 7200 IN A 127.0.0.3"))
    r.add_ar(EDNS0(udp_len=1232))
    return bytes(r.pack())


def test_ttl_offsets_finds_every_ttl_but_the_opts() -> None:
    data = response()
    got = ttl_offsets(data)
    assert [ttl for _, ttl in got] == [300, 300, 3600, 7200]
    assert all(struct.unpack_from("!I", data, off)[0] == ttl for off, ttl in got)
    assert ttl_offsets(header(flags=0x8180, qd=0)) == []  # a header alone: nothing to count


def test_ttl_offsets_follows_compression_pointers_beyond_offset_255() -> None:
    r = DNSRecord.question("x.test", "A").reply()
    r.add_answer(RR("a.test", QTYPE.TXT, rdata=TXT(["x" * 250]), ttl=60))
    r.add_answer(RR("b.a.test", QTYPE.A, rdata=A("127.0.0.1"), ttl=70))
    r.add_answer(RR("b.a.test", QTYPE.A, rdata=A("127.0.0.2"), ttl=80))  # owner: pointer 0xC121
    data = bytes(r.pack())
    assert b"\xc1\x21" in data
    assert [ttl for _, ttl in ttl_offsets(data)] == [60, 70, 80]


def test_ttl_offsets_says_where_a_message_is_broken() -> None:
    data = response()
    no_opt = data[:-11]
    no_opt = no_opt[:10] + b"\x00\x01" + no_opt[12:]  # ARCOUNT 1: the A record alone
    assert ttl_offsets(no_opt)  # whole, it is fine
    for broken, message in [
        (data[:11], "short header"),
        (data[:15], "name runs past the end"),
        (data[:-20], "record runs past the end"),
        (no_opt[:-2], "rdata runs past the end"),
    ]:
        with pytest.raises(WireError, match=f"^{message}$"):
            ttl_offsets(broken)


def test_a_label_longer_than_63_octets_is_refused() -> None:
    bad = header(flags=0x8180) + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"
    with pytest.raises(WireError, match=r"^bad label length$"):
        ttl_offsets(bad)
    good = header(flags=0x8180) + b"\x3f" + b"a" * 63 + b"\x00\x00\x01\x00\x01"
    assert ttl_offsets(good) == []


# -- PackedAnswer --------------------------------------------------------------------------


def test_a_packed_answer_expires_with_its_smallest_ttl() -> None:
    p = PackedAnswer(response(), 100.0)
    assert p.expires == 400.0 and p.qname_len == len(b"\x01x\x04test\x00")
    no_records = header(flags=0x8180) + QUESTION
    assert PackedAnswer(no_records, 100.0).expires == 100.0  # no TTL at all: expired at once


def test_render_patches_id_rd_and_case_and_nothing_else() -> None:
    data = response()
    p = PackedAnswer(data, 100.0)
    out = p.render(0xBEEF, b"\x01X\x04TEST\x00", True, 100.9)
    assert out[:2] == b"\xbe\xef" and out[2] == data[2] | 0x01 and out[3:12] == data[3:12]
    assert out[12:20] == b"\x01X\x04TEST\x00" and out[20:] == data[20:]  # TTLs as they were
    norec = p.render(0xBEEF, b"\x01x\x04test\x00", False, 100.0)
    assert norec[2] == data[2] & 0xFE and norec[3] == data[3]
    msg = dns.message.from_wire(norec)
    assert msg.flags & dns.flags.QR and msg.flags & dns.flags.RA and not msg.flags & dns.flags.RD


def test_render_keeps_the_question_if_the_spelling_does_not_fit() -> None:
    p = PackedAnswer(response(), 100.0)
    assert p.render(1, b"\x02xx\x04test\x00", True, 100.0)[12:20] == b"\x01x\x04test\x00"


def test_render_counts_ttls_down_by_whole_seconds() -> None:
    p = PackedAnswer(response(), 100.0)
    for now, elapsed in ((100.0, 0), (101.0, 1), (101.9, 1), (399.0, 299)):
        out = DNSRecord.parse(p.render(1, b"\x01x\x04test\x00", True, now))
        ttls = [rr.ttl for rr in (*out.rr, *out.auth, *out.ar) if rr.rtype != QTYPE.OPT]
        assert ttls == [300 - elapsed, 300 - elapsed, 3600 - elapsed, 7200 - elapsed]
        assert [rr.ttl for rr in out.ar if rr.rtype == QTYPE.OPT] == [0]  # flags, not a TTL


def test_question_key_of_dnspython_queries() -> None:
    plain = dns.message.make_query("x.test", "A", use_edns=0, payload=1232).to_wire()
    asks = dns.message.make_query(
        "x.test", "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")]
    ).to_wire()
    assert key(plain) == key(header(ar=1) + QUESTION + opt())
    assert key(asks) == key(header(ar=1) + QUESTION + opt(options=b"\x00\x03\x00\x00"))
