"""The upstream query's bytes, written without dnslib, are those dnslib packs."""

from __future__ import annotations

import pytest
from dnslib import EDNS0, DNSHeader, DNSLabel, DNSQuestion, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from dnsserver.aio.upstream import Upstream
from dnsserver.resolver.iterate import UpstreamQuery
from dnsserver.resolver.stats import Stats
from minternet.dnsclient import Dropped

labels = st.lists(st.binary(min_size=1, max_size=63), min_size=0, max_size=4)


@given(
    labels,
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.booleans(),
    st.booleans(),
    st.integers(512, 4096),
)
def test_the_query_bytes_are_dnslib_s(
    parts: list[bytes], qid: int, qtype: int, rd: bool, edns: bool, size: int
) -> None:
    label = DNSLabel(parts)
    q = UpstreamQuery(
        server="192.0.2.1",
        qname=tuple(p.lower() for p in parts),
        qlabel=label,
        qtype=qtype,
        zone=(),
        recursion_desired=rd,
        timeout=1.0,
    )
    up = Upstream(port=53, stats=Stats(), edns_size=size)
    expected = DNSRecord(DNSHeader(id=qid, rd=1 if rd else 0), q=DNSQuestion(label, qtype))
    if edns:
        expected.add_ar(EDNS0(udp_len=size))
    assert up._wire(q, qid, edns) == bytes(expected.pack())


def _query(name: bytes = b"Www") -> UpstreamQuery:
    return UpstreamQuery(
        server="192.0.2.1",
        qname=(name.lower(), b"x"),
        qlabel=DNSLabel([name, b"x"]),
        qtype=1,
        zone=(),
        recursion_desired=False,
        timeout=1.0,
    )


def _answer(name: str, qtype: int = 1, qclass: int = 1, *, qr: int = 1, extra: int = 0) -> bytes:
    r = DNSRecord(DNSHeader(id=9, qr=qr), q=DNSQuestion(name, qtype, qclass))
    for _ in range(extra):
        r.add_question(DNSQuestion(name, qtype, qclass))
    return bytes(r.pack())


def test_an_answer_is_taken_only_for_the_question_sent() -> None:
    loose = Upstream(port=53, stats=Stats())._accept(_query())
    strict = Upstream(port=53, stats=Stats(), randomize_case=True)._accept(_query())
    assert loose(_answer("WWW.X.")).questions == (((b"WWW", b"X"), 1, 1),)  # case aside
    assert strict(_answer("Www.x.")).questions == (((b"Www", b"x"), 1, 1),)
    refused = [
        (strict, _answer("WWW.x."), "forged"),  # 0x20: the case must come back as sent
        (loose, _answer("www.y."), "forged"),
        (loose, _answer("www.x.x."), "forged"),
        (loose, _answer("ww.x."), "forged"),
        (loose, _answer("www.x.", qtype=28), "forged"),
        (loose, _answer("www.x.", qclass=3), "forged"),
        (loose, _answer("www.x.", extra=1), "forged"),  # two questions
        (loose, _answer("www.x.", qr=0), "forged"),  # a query, not a response
        (loose, _answer("www.x.")[:-1], "malformed"),
    ]
    for accept, data, kind in refused:
        with pytest.raises(Dropped) as e:
            accept(data)
        assert e.value.kind == kind, data
