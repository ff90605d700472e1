"""Names and RRsets as the resolver holds them: presentation form, legality, grouping of records."""

from __future__ import annotations

import pytest
from dnslib import CLASS, EDNS0, QTYPE, RR, SOA, A, DNSLabel
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.resolver.rrset import (
    RRset,
    group,
    is_legal,
    is_within,
    name_of,
    parse_rdata,
    to_text,
    type_text,
)


def test_to_text_escapes_as_rfc1035_section_5_1() -> None:
    name = (b"a.b", b"\\", b'"()', b";@$", b" !~\x7f\x00")
    assert to_text(name) == 'a\\.b.\\\\.\\"\\(\\).\\;\\@\\$.\\032!~\\127\\000.'
    assert to_text(()) == "."
    assert to_text(name_of("WWW.Example.TEST")) == "www.example.test."


@pytest.mark.parametrize(
    ("labels", "legal"),
    [
        ([b"a" * 63], True),
        ([b"a" * 64], False),  # RFC 1035 §2.3.4: labels of 63 octets or less
        ([b"a" * 63] * 3 + [b"a" * 61], True),  # 4 * 64 - 2 + 1 = 255 octets on the wire
        ([b"a" * 63] * 3 + [b"a" * 62], False),  # 256 octets
        ([b"a" * 64, b"b"], False),
        ([], True),
    ],
)
def test_names_are_legal_up_to_63_octet_labels_and_255_octets(
    labels: list[bytes], legal: bool
) -> None:
    assert is_legal(DNSLabel(labels)) is legal


def test_is_within_is_the_bailiwick_test() -> None:
    zone = name_of("example.test")
    assert is_within(name_of("a.b.example.test"), zone) and is_within(zone, zone)
    assert not is_within(name_of("badexample.test"), zone)
    assert not is_within(name_of("test"), zone)
    assert is_within(name_of("anything"), ())  # everything is below the root


def test_type_text_names_unknown_types_generically() -> None:
    assert (type_text(1), type_text(65280)) == ("A", "TYPE65280")


def test_an_unknown_type_is_kept_as_opaque_rdata() -> None:
    s = RRset((b"x",), 65280, 60, (b"\x01\x02",))
    assert [" ".join(rr.toZone().split()) for rr in s.to_rrs()] == ["x. 60 IN TYPE65280 \\# 2 0102"]
    assert bytes(parse_rdata(65280, b"\x01\x02").data) == b"\x01\x02"


def test_targets_of_ns_cname_mx_srv_and_none_of_an_address() -> None:
    sets = group(
        RR.fromZone(
            "_s._tcp.x. 60 IN SRV 1 2 3 Host.X.\n"
            "x. 60 IN MX 10 mail.x.\n"
            "x. 60 IN MX 20 mail2.x.\n"
            "x. 60 IN NS ns.x.\n"
            "c.x. 60 IN CNAME x.\n"
            "x. 60 IN A 127.0.0.1"
        )
    )
    assert {QTYPE[t]: s.targets() for (_, t), s in sets.items()} == {
        "SRV": [(b"host", b"x")],
        "MX": [(b"mail", b"x"), (b"mail2", b"x")],
        "NS": [(b"ns", b"x")],
        "CNAME": [(b"x",)],
        "A": [],
    }


def test_soa_minimum_is_the_last_field() -> None:
    (soa,) = group(RR.fromZone("t. 60 IN SOA ns.t. h.t. 1 2 3 4 5")).values()
    assert soa.soa_minimum() == 5


def test_group_makes_rrsets_with_the_smallest_ttl_and_no_duplicates() -> None:
    rrs = RR.fromZone(
        "x. 300 IN A 127.0.0.1\n"
        "X. 100 IN A 127.0.0.2\n"
        "x. 200 IN A 127.0.0.1\n"
        "x. 50 IN AAAA ::1\n"
        "y. 4294967295 IN A 127.0.0.3\n"  # RFC 2181 §8: the top bit set means zero
        "z. 2147483647 IN A 127.0.0.4"
    )
    ip = {n: bytes((127, 0, 0, n)) for n in range(1, 5)}
    assert group(rrs) == {
        ((b"x",), QTYPE.A): RRset((b"x",), QTYPE.A, 100, (ip[1], ip[2])),
        ((b"x",), QTYPE.AAAA): RRset((b"x",), QTYPE.AAAA, 50, (b"\x00" * 15 + b"\x01",)),
        ((b"y",), QTYPE.A): RRset((b"y",), QTYPE.A, 0, (ip[3],)),
        ((b"z",), QTYPE.A): RRset((b"z",), QTYPE.A, 2147483647, (ip[4],)),
    }


def test_group_leaves_out_other_classes_and_opt() -> None:
    chaos = RR("x.", QTYPE.A, CLASS.CH, 60, A("127.0.0.9"))
    opt = EDNS0(udp_len=1)  # its class field is the UDP size: 1, as IN's
    (only,) = group([chaos, opt, *RR.fromZone("x. 60 IN A 127.0.0.1")]).values()
    assert only == RRset((b"x",), QTYPE.A, 60, (b"\x7f\x00\x00\x01",))


_LABEL = st.text("aZ09-_", min_size=1, max_size=20).map(str.encode)
_NAME = st.lists(_LABEL, min_size=0, max_size=5)


@settings(max_examples=200, deadline=None)
@given(
    rtype=st.sampled_from(["NS", "CNAME", "PTR", "MX", "SRV"]),
    names=st.lists(_NAME, min_size=1, max_size=4),
)
def test_targets_read_from_the_wire_are_dnslibs_names_case_folded(
    rtype: str, names: list[list[bytes]]
) -> None:
    from dnslib import CNAME, MX, NS, PTR, SRV

    make = {
        "NS": NS, "CNAME": CNAME, "PTR": PTR,
        "MX": lambda n: MX(n, 10), "SRV": lambda n: SRV(1, 2, 3, n),
    }[rtype]  # fmt: skip
    rrs = [RR("x.", getattr(QTYPE, rtype), CLASS.IN, 60, make(DNSLabel(n))) for n in names]
    (s,) = group(rrs).values()
    expected = []
    for d in s.rdatas:  # what the dnslib objects carry, as the resolver's Names
        rd = parse_rdata(s.rtype, d)
        target = name_of(rd.target if rtype == "SRV" else rd.label)
        if target:  # the root is no target (a null MX, RFC 7505)
            expected.append(target)
    assert s.targets() == expected
    assert all(all(label == label.lower() for label in t) for t in s.targets())


def test_targets_of_nsec_and_https_and_a_broken_rdata_skipped() -> None:
    nsec = RRset((b"x",), QTYPE.NSEC, 60, (b"\x04Next\x01x\x00\x00\x01\x40",))
    assert nsec.targets() == [(b"next", b"x")]
    https = RRset((b"x",), QTYPE.HTTPS, 60, (b"\x00\x01\x03Svc\x01x\x00",))
    assert https.targets() == [(b"svc", b"x")]
    cut = RRset((b"x",), QTYPE.NS, 60, (b"\x05ab", b"\x02ns\x01x\x00"))  # runs past its end
    assert cut.targets() == [(b"ns", b"x")]
    assert RRset((b"x",), QTYPE.TXT, 60, (b"\x02ns\x00",)).targets() == []
    assert RRset((b"x",), QTYPE.MX, 60, (b"\x00\x00\x00",)).targets() == []  # null MX


def test_addresses_of_a_and_aaaa_sets_and_of_nothing_else() -> None:
    a = RRset((b"x",), QTYPE.A, 60, (bytes([127, 0, 0, 1]), bytes([10, 1, 2, 3]), b"\x01"))
    assert a.addresses() == ["127.0.0.1", "10.1.2.3"]  # a 1-octet rdata is no address
    six = bytes(15) + b"\x01"
    assert RRset((b"x",), QTYPE.AAAA, 60, (six, bytes(4))).addresses() == ["::1"]
    assert RRset((b"x",), QTYPE.NS, 60, (bytes(4),)).addresses() == []


@given(minimum=st.integers(0, 2**32 - 1), names=st.tuples(_NAME, _NAME))
def test_soa_minimum_is_what_dnslib_reads(minimum: int, names: tuple[list[bytes], ...]) -> None:
    soa = SOA(DNSLabel(names[0]), DNSLabel(names[1]), (1, 2, 3, 4, minimum))
    (s,) = group([RR("x.", QTYPE.SOA, CLASS.IN, 60, soa)]).values()
    assert s.soa_minimum() == minimum == int(parse_rdata(QTYPE.SOA, s.rdatas[0]).times[4])
