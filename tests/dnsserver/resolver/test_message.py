"""The upstream response reader: the same RRsets as dnslib's parse gives, and what it refuses."""

from __future__ import annotations

import struct

import pytest
from dnslib import (
    AAAA,
    CLASS,
    CNAME,
    MX,
    NS,
    PTR,
    QTYPE,
    RD,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSHeader,
    DNSLabel,
    DNSQuestion,
    DNSRecord,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.errors import FormatError
from dnsserver.resolver.message import Record, read_message
from dnsserver.resolver.rrset import group, group_records

# few labels, so that names share suffixes and dnslib compresses them against each other
_NAME = st.lists(st.sampled_from([b"a", b"B", b"ns", b"Mail", b"x-y", b"com"]), max_size=4)


def _label(labels: list[bytes]) -> DNSLabel:
    return DNSLabel(labels)


_TEXTS = st.lists(st.binary(max_size=9), min_size=1, max_size=3)
_RDATA = st.one_of(
    st.builds(lambda b: (QTYPE.A, A(".".join(map(str, b)))), st.binary(min_size=4, max_size=4)),
    st.builds(lambda b: (QTYPE.AAAA, AAAA(tuple(b))), st.binary(min_size=16, max_size=16)),
    st.builds(lambda n: (QTYPE.NS, NS(_label(n))), _NAME),
    st.builds(lambda n: (QTYPE.CNAME, CNAME(_label(n))), _NAME),
    st.builds(lambda n: (QTYPE.PTR, PTR(_label(n))), _NAME),
    st.builds(lambda n, p: (QTYPE.MX, MX(_label(n), p)), _NAME, st.integers(0, 65535)),
    st.builds(
        lambda m, r, t: (QTYPE.SOA, SOA(_label(m), _label(r), t)),
        _NAME,
        _NAME,
        st.tuples(*[st.integers(0, 2**32 - 1)] * 5),
    ),
    st.builds(lambda n: (QTYPE.SRV, SRV(1, 2, 3, _label(n))), _NAME),
    st.builds(lambda t: (QTYPE.TXT, TXT(t)), _TEXTS),
    st.builds(lambda d: (65280, RD(d)), st.binary(min_size=1, max_size=8)),
)  # fmt: skip

_RECORD = st.builds(
    lambda owner, rd, ttl, rclass: RR(_label(owner), rd[0], rclass, ttl, rd[1]),
    _NAME,
    _RDATA,
    st.integers(0, 2**32 - 1),
    st.sampled_from([CLASS.IN, CLASS.IN, CLASS.CH]),
)


@settings(max_examples=300, deadline=None)
@given(
    qname=_NAME,
    flags=st.integers(0, 0xFFFF),
    sections=st.tuples(*[st.lists(_RECORD, max_size=5)] * 3),
    edns=st.booleans(),
)
def test_the_rrsets_are_those_dnslib_reads(
    qname: list[bytes], flags: int, sections: tuple[list[RR], ...], edns: bool
) -> None:
    msg = DNSRecord(DNSHeader(id=4321), q=DNSQuestion(_label(qname), QTYPE.MX))
    for rr in sections[0]:
        msg.add_answer(rr)
    for rr in sections[1]:
        msg.add_auth(rr)
    for rr in sections[2]:
        msg.add_ar(rr)
    if edns:
        msg.add_ar(RR(".", QTYPE.OPT, 1232, 0, []))
    wire = bytearray(msg.pack())
    wire[2:4] = struct.pack("!H", flags)
    ours = read_message(bytes(wire))
    theirs = DNSRecord.parse(bytes(wire))
    assert (ours.id, ours.flags) == (4321, flags)
    assert (ours.qr, ours.aa, ours.tc) == (
        bool(theirs.header.qr), bool(theirs.header.aa), bool(theirs.header.tc)
    )  # fmt: skip
    assert (ours.opcode, ours.rcode) == (theirs.header.opcode, theirs.header.rcode)
    assert ours.questions == ((tuple(qname), QTYPE.MX, CLASS.IN),)
    assert group_records(ours.answer) == group(theirs.rr)
    assert group_records(ours.authority) == group(theirs.auth)
    assert group_records(ours.additional) == group(theirs.ar)
    assert all(r.rtype != QTYPE.OPT for r in ours.additional)  # EDNS is not a record here
    assert len(ours.answer) == len(sections[0])


def _message(*records: bytes, qd: bytes = b"", counts: tuple[int, ...] | None = None) -> bytes:
    an = counts if counts is not None else (len(records), 0, 0)
    return struct.pack("!HHHHHH", 7, 0x8400, 1 if qd else 0, *an) + qd + b"".join(records)


def _rr(rtype: int, rdata: bytes, owner: bytes = b"\x01x\x00", rclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, 300, len(rdata)) + rdata


def test_a_plain_answer_read_field_by_field() -> None:
    qd = b"\x03WWW\x01x\x00" + struct.pack("!HH", 1, 1)
    answer = _rr(1, bytes([10, 0, 0, 1]), owner=b"\xc0\x0c")  # a pointer to the question
    cname = _rr(5, b"\x01Y\xc0\x10")  # its target compressed against "x."
    m = read_message(_message(answer, cname, qd=qd))
    assert m.questions == (((b"WWW", b"x"), 1, 1),)
    assert m.answer == (
        Record((b"WWW", b"x"), 1, 1, 300, bytes([10, 0, 0, 1])),
        Record((b"x",), 5, 1, 300, b"\x01Y\x01x\x00"),  # written out whole
    )
    assert (m.qr, m.aa, m.tc, m.opcode, m.rcode) == (True, True, False, 0, 0)
    assert (m.authority, m.additional) == ((), ())


def test_soa_names_are_compressed_as_dnslib_packs_them() -> None:
    owner = b"\x01x\x00"
    soa = owner + struct.pack("!HHIH", 6, 1, 60, 0)
    mname_at = 12 + len(soa)
    rdata = b"\x02ns\x01x\x00\x05admin" + struct.pack("!H", 0xC000 | (mname_at + 3)) + bytes(20)
    wire = _message(_rr(6, rdata))
    (rec,) = read_message(wire).answer
    # mname ns.x., rname admin.x.: "x." is a suffix of the mname, at offset 3 of the rdata
    assert rec.rdata == b"\x02ns\x01x\x00\x05admin\xc0\x03" + bytes(20)
    assert group_records([rec]) == group(DNSRecord.parse(wire).rr)


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"\x00" * 11, "shorter than a header"),
        (_message(qd=b"\x01x\x00\x00"), "question runs past the end"),
        (_message(b"\x01x\x00\x00\x01\x00\x01"), "record runs past the end"),
        (_message(_rr(1, b"\x01\x02\x03\x04")[:-1]), "rdata runs past the end"),
        (_message(_rr(1, b"")), "a record with empty rdata"),
        (_message(_rr(1, b"\x01\x02\x03")), "A rdata of 3 octets"),
        (_message(_rr(28, bytes(4))), "AAAA rdata of 4 octets"),
        (_message(_rr(15, b"\x00\x01")), "MX rdata too short"),
        (_message(_rr(2, b"\x02ns\x00\x00")), "NS name does not fill its rdata"),
        (_message(_rr(6, b"\x00\x00" + bytes(19))), "SOA rdata of the wrong length"),
        (_message(_rr(1, bytes(4), owner=b"\x01\xff\x00")), "a label that is not UTF-8"),
        (_message(_rr(16, b"\x05ab")), "unreadable TXT rdata"),
        (_message(_rr(2, b"\xc0\x30")), "compression pointer loop or forward pointer"),
        (_message(counts=(1, 0, 0)), "name runs past the end of the message"),
    ],
)
def test_what_it_refuses(wire: bytes, why: str) -> None:
    with pytest.raises(FormatError, match=f"^{why}$"):
        read_message(wire)


def test_utf8_labels_and_the_opt_record_are_read() -> None:
    name = "é".encode()
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    m = read_message(
        _message(_rr(1, bytes(4), owner=bytes([len(name)]) + name + b"\x00"), opt, counts=(1, 0, 1))
    )
    assert m.answer[0].name == (name,) and m.additional == ()
