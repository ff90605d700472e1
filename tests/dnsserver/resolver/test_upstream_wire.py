"""The upstream query's bytes, written without dnslib, are those dnslib packs."""

from __future__ import annotations

from dnslib import EDNS0, DNSHeader, DNSLabel, DNSQuestion, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from dnsserver.aio.upstream import Upstream
from dnsserver.resolver.iterate import UpstreamQuery
from dnsserver.resolver.stats import Stats

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
