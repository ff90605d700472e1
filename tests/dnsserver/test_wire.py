"""Queries from wire bytes, built octet by octet: what each field parses to, each malformation's
FORMERR reason (the line the server logs), and header-only error responses."""

from __future__ import annotations

import struct

import dns.edns
import dns.message
import pytest

from dnsserver.errors import FormatError, NotImplementedOpcode, Unanswerable
from dnsserver.wire import (
    Edns,
    Query,
    Tsig,
    header_only,
    parse_query,
    read_name,
    requests_nsid,
    write_name,
)

WWW = b"\x03www\x0dnetworkutopia\x03com\x00"
A_IN = b"\x00\x01\x00\x01"


def header(qid: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:  # fmt: skip
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def opt(payload: int = 1232, ttl: int = 0, rdata: bytes = b"") -> bytes:
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


def option(code: int, value: bytes = b"") -> bytes:
    return struct.pack("!HH", code, len(value)) + value


def test_a_plain_query() -> None:
    q = parse_query(header(flags=0x0110) + b"\x03WwW\x0dnetworkutopia\x03com\x00" + A_IN)
    assert q == Query(
        id=0x1234,
        flags=0x0110,
        labels=(b"WwW", b"networkutopia", b"com"),
        key=(b"www", b"networkutopia", b"com"),
        qtype=1,
        qclass=1,
        edns=None,
        tsig=None,
    )


def test_the_opt_record_fields() -> None:
    # extended rcode 0x7f (ignored in a query), version 2, DO and another Z bit, an NSID option
    ttl = 0x7F020000 | 0x8000 | 0x0001
    q = parse_query(header(ar=1) + WWW + A_IN + opt(4096, ttl, option(3)))
    assert q.edns == Edns(payload=4096, version=2, do=True, nsid=True)
    q = parse_query(header(ar=1) + WWW + A_IN + opt(512, 0x7FFF, option(10, b"12345678")))
    assert q.edns == Edns(payload=512, version=0, do=False, nsid=False)  # a cookie is no NSID
    q = parse_query(header(ar=1) + WWW + A_IN + opt(512, 0, option(10, b"x" * 8) + option(3)))
    assert q.edns is not None and q.edns.nsid  # NSID after another option
    q = parse_query(header(ar=1) + WWW + A_IN + opt())  # no options at all
    assert q.edns == Edns(payload=1232, version=0, do=False, nsid=False)


def test_records_before_the_additional_section_are_skipped() -> None:
    # an answer-section record in a query (as some clients send for NOTIFY-like uses): skipped
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\xc0\x00\x02\x01"
    q = parse_query(header(an=1, ar=1) + WWW + A_IN + rr + opt(1400))
    assert q.key == (b"www", b"networkutopia", b"com") and q.edns is not None
    assert q.edns.payload == 1400


def test_a_signed_query_s_tsig_fields() -> None:
    rdata = (
        b"\x0bhmac-sha256\x00"
        + b"\x00\x00\x65\x00\x00\x01"  # time signed
        + b"\x01\x2c"  # fudge
        + b"\x00\x04abcd"  # MAC
        + b"\xbe\xef"  # original ID
        + b"\x00\x00"  # error
        + b"\x00\x00"  # other length
    )
    tsig = b"\x05MyKey\x00" + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    q = parse_query(header(ar=2) + WWW + A_IN + opt() + tsig)
    assert q.tsig == Tsig(
        key=(b"MyKey",),
        algorithm=(b"hmac-sha256",),
        time_fudge=b"\x00\x00\x65\x00\x00\x01\x01\x2c",
        original_id=0xBEEF,
    )
    assert q.edns is not None
    with pytest.raises(FormatError, match=r"^TSIG record length mismatch$"):
        parse_query(header(ar=1) + WWW + A_IN + tsig[:-2] + b"\x00\x01" + b"\x00\x01")
    short = b"\x00" + struct.pack("!HHIH", 250, 255, 0, 10) + b"\x00" + b"\x00" * 9
    with pytest.raises(FormatError, match=r"^truncated TSIG record$"):  # no room for MAC size
        parse_query(header(ar=1) + WWW + A_IN + short)
    no_tail = b"\x00" + b"\x00" * 8 + b"\x00\x00" + b"\x00\x00\x00\x00"  # 5 octets of 6
    rr = b"\x00" + struct.pack("!HHIH", 250, 255, 0, len(no_tail) + 1) + no_tail + b"\x00"
    with pytest.raises(FormatError, match=r"^truncated TSIG record$"):
        parse_query(header(ar=1) + WWW + A_IN + rr)
    exact = b"\x00" + b"\x00" * 8 + b"\x00\x00" + b"\x00\x07\x00\x00\x00\x00"  # MAC size 0
    rr = b"\x00" + struct.pack("!HHIH", 250, 255, 0, len(exact)) + exact
    assert parse_query(header(ar=1) + WWW + A_IN + rr).tsig == Tsig(
        key=(), algorithm=(), time_fudge=b"\x00" * 8, original_id=7
    )


def tsig_record(
    mac: bytes = b"", other: bytes = b"", *, mac_size: int | None = None, extra: bytes = b""
) -> bytes:
    size = len(mac) if mac_size is None else mac_size
    rdata = (
        b"\x00" + b"\x00" * 8 + struct.pack("!H", size) + mac + b"\x12\x34\x00\x12"
        + struct.pack("!H", len(other)) + other + extra
    )  # fmt: skip
    return b"\x00" + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata


def test_tsig_other_data_and_mac_sizes() -> None:
    # BADTIME's Other Data is the server's time: 6 octets within the record
    q = parse_query(header(ar=1) + WWW + A_IN + tsig_record(b"m" * 32, b"\x00" * 6))
    assert q.tsig is not None and q.tsig.original_id == 0x1234
    with pytest.raises(FormatError, match=r"^TSIG record length mismatch$"):
        parse_query(header(ar=1) + WWW + A_IN + tsig_record(b"m" * 32, b"\x00" * 6, extra=b"\x00"))
    # a MAC size that is no size (0x8000 octets in a 20-octet record) is no negative size
    with pytest.raises(FormatError, match=r"^truncated TSIG record$"):
        parse_query(header(ar=1) + WWW + A_IN + tsig_record(b"m" * 8, mac_size=0x8000))


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\x12\x34" + b"\x00" * 9, Unanswerable, "shorter than a DNS header"),
        (header(flags=0x8100) + WWW + A_IN, Unanswerable, "a response, not a query"),
        (header(flags=0x2100) + WWW + A_IN, NotImplementedOpcode, "opcode 4"),
        (header(flags=0x7900) + WWW + A_IN, NotImplementedOpcode, "opcode 15"),
        (header(qd=0), FormatError, r"QDCOUNT 0 \(must be 1\)"),
        (header(qd=2) + WWW + A_IN * 2, FormatError, r"QDCOUNT 2 \(must be 1\)"),
        (header(), FormatError, "name runs past the end of the message"),
        (header() + WWW + b"\x00\x01\x00", FormatError, "truncated question"),
        (header(ar=1) + WWW + A_IN, FormatError, "name runs past the end of the message"),
        (header(ar=1) + WWW + A_IN + opt()[:10], FormatError, "truncated resource record"),
        (
            header(ar=1) + WWW + A_IN + opt(rdata=b"\x00\x03\x00\x00")[:-1],
            FormatError,
            "RDATA runs past the end of the message",
        ),
        (header(ar=2) + WWW + A_IN + opt() * 2, FormatError, "misplaced or duplicate OPT record"),
        (header(ns=1) + WWW + A_IN + opt(), FormatError, "misplaced or duplicate OPT record"),
        (header(an=1) + WWW + A_IN + opt(), FormatError, "misplaced or duplicate OPT record"),
        (
            header(ar=1) + WWW + A_IN + b"\x01a\x00" + opt()[1:],  # not owned by the root
            FormatError,
            "misplaced or duplicate OPT record",
        ),
        (
            header(ar=1) + WWW + A_IN + opt(rdata=b"\x00\x03\x00"),
            FormatError,
            "truncated EDNS option",
        ),
        (
            header(ar=1) + WWW + A_IN + opt(rdata=b"\x00\x03\x00\x02\x00"),
            FormatError,
            "EDNS option runs past its record",
        ),
        (  # lengths are unsigned: 0x8000 is no step back
            header(ar=1) + WWW + A_IN + opt(rdata=b"\x00\x0a\x80\x00" + b"\x00" * 8),
            FormatError,
            "EDNS option runs past its record",
        ),
    ],
)
def test_each_malformation_and_its_reason(
    data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        parse_query(data)


def test_a_tsig_record_must_be_the_last_of_the_additional_section() -> None:
    tsig = b"\x00" + struct.pack("!HHIH", 250, 255, 0, 0)
    with pytest.raises(FormatError, match=r"^TSIG record not last in the additional section$"):
        parse_query(header(ar=2) + WWW + A_IN + tsig + opt())
    with pytest.raises(FormatError, match=r"^TSIG record not last in the additional section$"):
        parse_query(header(ns=1) + WWW + A_IN + tsig)  # the last record, in authority


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x03www", "name runs past the end of the message"),  # no root label
        (b"\x03ww", "label runs past the end of the message"),
        (b"\xc0", "truncated compression pointer"),
        (b"\x01a\xc0", "truncated compression pointer"),
        (b"\x40abc\x00", "unsupported label type 0x1"),
        (b"\x80abc\x00", "unsupported label type 0x2"),
        (b"\xc0\x00", "compression pointer loop or forward pointer"),  # to itself
        (b"\xc0\x02\x00", "compression pointer loop or forward pointer"),  # forward
        (b"", "name runs past the end of the message"),
        ((b"\x3f" + b"a" * 63) * 4 + b"\x00", "name longer than 255 octets"),
    ],
)
def test_malformed_names(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=f"^{message}$"):
        read_name(data, 0)


def test_names_at_their_limits() -> None:
    # 255 octets on the wire: three 63-octet labels and one of 61, and the root
    name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"a" * 61 + b"\x00"
    assert len(name) == 255
    labels, end = read_name(name, 0)
    assert [len(label) for label in labels] == [63, 63, 63, 61] and end == 255
    assert read_name(b"\x00", 0) == ((), 1)  # the root
    with pytest.raises(FormatError, match="name runs past the end of the message"):
        read_name(b"\x01a", 0)  # a label that ends exactly at the end: no root label follows
    assert read_name(b"\x01a\x00", 0) == ((b"a",), 3)


def test_compression_pointers() -> None:
    data = b"\x03com\x00" + b"\x03www\xc0\x00" + b"\x04mail\xc0\x05"
    assert read_name(data, 5) == ((b"www", b"com"), 11)  # the offset after the pointer
    assert read_name(data, 11) == ((b"mail", b"www", b"com"), 18)  # a pointer to a pointer
    # a pointer must go strictly below every octet read for this name, not just below itself
    loop = b"\x01a\x01b\xc0\x02"  # at 4: back to "b" at 2, which leads to the pointer again
    with pytest.raises(FormatError, match="compression pointer loop or forward pointer"):
        read_name(loop, 0)
    assert read_name(b"\x00" + b"\x01a\xc0\x00", 1) == ((b"a",), 5)  # to offset 0: the root
    # 14 bits of offset: the six low bits of the first octet are its high bits
    far = b"\x00" * 0x123 + b"\x03far\x00" + b"\x04near\xc1\x23" + b"\x00" * 0x200
    assert read_name(far, 0x123 + 5) == ((b"near", b"far"), 0x123 + 12)


def test_requests_nsid() -> None:
    def query(options: list[dns.edns.Option], edns: int | bool = 0) -> bytes:
        return dns.message.make_query("a.test", "A", use_edns=edns, options=options).to_wire()

    assert requests_nsid(query([dns.edns.GenericOption(dns.edns.NSID, b"")]))
    assert not requests_nsid(query([]))
    assert not requests_nsid(query([], edns=False))
    assert not requests_nsid(b"\x00\x01\x00")  # not a query at all
    assert not requests_nsid(header(qd=2) + WWW + A_IN)


@pytest.mark.parametrize(
    ("flags", "rcode", "expected"),
    [
        (0x0100, 1, 0x8101),  # QUERY: RD copied
        (0x0000, 1, 0x8001),
        (0x0730, 1, 0x8101),  # AA, TC, AD, CD: never copied
        (0x2100, 4, 0xA004),  # NOTIFY: opcode copied, RD (not defined there) not
        (0x2800, 4, 0xA804),  # UPDATE
        (0x7FFF, 4, 0xF804),  # every bit: only the opcode stays
    ],
)
def test_header_only_responses(flags: int, rcode: int, expected: int) -> None:
    data = struct.pack("!HHHHHH", 0xABCD, flags, 3, 4, 5, 6) + b"rest of the query"
    assert header_only(data, rcode) == struct.pack("!HHHHHH", 0xABCD, expected, 0, 0, 0, 0)


def test_a_name_past_the_pointers_reach_is_written_whole_and_not_remembered() -> None:
    for size, kept in ((0x3FFF, True), (0x4000, False)):
        out, seen = bytearray(size), {}
        write_name(out, (b"a", b"x"), seen)
        assert out[size:] == b"\x01a\x01x\x00"
        assert ((b"a", b"x") in seen) == kept and ((b"x",) in seen) == (size + 2 < 0x4000)
    out, seen = bytearray(2), {(b"x",): 0x3FFF}
    write_name(out, (b"a", b"x"), seen)
    assert out[2:] == b"\x01a\xff\xff"  # a pointer to the last offset a pointer reaches
