"""The fast reading of common UPDATEs (dnsserver/dynamic.py `_read_common`) gives exactly what
dnspython's parser gives, or declines and leaves the message to it."""

from __future__ import annotations

import struct
import time
from unittest import mock

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig
import dns.update
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import dynamic, tsigkeys
from dnsserver.dynamic import Request
from dnsserver.masterfile import rdata_wire
from dnsserver.update import Change

KEY = tsigkeys.generate("networkutopia.com", bytes(range(32)))
OTHER = tsigkeys.generate("registrar", bytes(range(1, 33)))
RING = tsigkeys.keyring([KEY, OTHER])
ZONE = (b"networkutopia", b"com")
NOW = 1_750_000_000


def allowed(zone: tuple[bytes, ...]) -> frozenset[str] | None:
    return frozenset({"networkutopia.com."}) if zone == ZONE else None


def slow(wire: bytes) -> Request | dynamic.Reply:
    with mock.patch.object(dynamic, "_read_common", return_value=None):
        return dynamic.read_update(wire, RING, allowed)


def seen(change: Change) -> tuple[object, ...]:
    rec = change.record
    record = None
    if rec is not None:
        record = (rec.labels, rec.key, rec.ttl, rec.rtype, rdata_wire(rec.rdata), rec.identity,
                  rec.target, rec.target_labels, rec.source, rec.line)  # fmt: skip
    return (change.name, change.rclass, change.rtype, change.ttl, record)


def same(fast: Request, wire: bytes) -> None:
    """`fast` is what dnspython's reading of `wire` gives, and so is its answer."""
    other = slow(wire)
    assert isinstance(other, Request)
    assert fast.message is None and other.message is not None
    assert (fast.zone, fast.key) == (other.zone, other.key)
    assert [seen(c) for c in fast.prerequisites] == [seen(c) for c in other.prerequisites]
    assert [seen(c) for c in fast.updates] == [seen(c) for c in other.updates]
    for rcode in (0, 8):
        assert dynamic.answer(fast, rcode, now=lambda: NOW) == dynamic.answer(
            other, rcode, now=lambda: NOW
        )


def signed(u: dns.update.UpdateMessage, key: tsigkeys.TsigKey = KEY) -> bytes:
    u.use_tsig(tsigkeys.keyring([key]), keyname=key.name)
    return u.to_wire()


def test_the_common_updates_are_read_fast_and_alike() -> None:
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    u.add("WWW", 60, "A", "192.0.2.8")  # a record each, as sent (dnspython: one RR per RRset)
    u.add("www", 300, "A", "192.0.2.7")
    u.add("www", 300, "AAAA", "2001:db8::1")
    u.add("_acme-challenge", 60, "TXT", '"token one"', '"two"')  # two records
    u.delete("_acme-challenge", "TXT", '"old"')
    u.delete("old", "A")
    u.delete("gone")
    u.present("www")
    u.absent("new", "A")
    u.present("www", "A", "192.0.2.7")
    wire = signed(u)
    fast = dynamic._read_common(wire, RING, allowed)
    assert isinstance(fast, Request)
    assert [(c.name[0], c.rclass, c.rtype, c.ttl) for c in fast.updates] == [
        (b"www", 1, 1, 300),
        (b"www", 1, 1, 60),  # (dnspython compressed WWW to a pointer to www)
        (b"www", 1, 1, 300),
        (b"www", 1, 28, 300),
        (b"_acme-challenge", 1, 16, 60),
        (b"_acme-challenge", 1, 16, 60),
        (b"_acme-challenge", 254, 16, 0),
        (b"old", 255, 1, 0),
        (b"gone", 255, 255, 0),
    ]
    assert [(c.name[0], c.rclass, c.rtype) for c in fast.prerequisites] == [
        (b"www", 255, 255),
        (b"new", 254, 1),
        (b"www", 1, 1),
    ]
    same(fast, wire)
    assert dynamic.read_update(wire, RING, allowed).message is None  # type: ignore[union-attr]


def test_the_fast_reading_checks_the_signature() -> None:
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    wire = bytearray(signed(u))
    wire[-20] ^= 1  # a bit of the MAC (the last 6 octets follow it)
    assert dynamic._read_common(bytes(wire), RING, allowed) is None
    got = dynamic.read_update(bytes(wire), RING, allowed)
    assert isinstance(got, dynamic.Reply) and got.why == "bad TSIG signature"


def test_what_the_fast_reading_leaves_to_dnspython() -> None:
    def declined(u: dns.update.UpdateMessage, key: tsigkeys.TsigKey = KEY) -> bool:
        return dynamic._read_common(signed(u, key), RING, allowed) is None

    mx = dns.update.UpdateMessage("networkutopia.com")
    mx.add("@", 300, "MX", "10 mail.networkutopia.com.")  # RDATA with a name
    assert declined(mx)
    escaped = dns.update.UpdateMessage("networkutopia.com")
    escaped.add("a\\.b", 300, "A", "192.0.2.1")  # a label that needs an escape
    assert declined(escaped)
    edns = dns.update.UpdateMessage("networkutopia.com")
    edns.use_edns(0)
    assert declined(edns)
    assert declined(dns.update.UpdateMessage("networkutopia.com"), OTHER)  # key not allowed
    assert declined(dns.update.UpdateMessage("example.com"))  # a zone we do not update
    plain = dns.update.UpdateMessage("networkutopia.com")
    assert dynamic._read_common(plain.to_wire(), RING, allowed) is None  # unsigned


_OWNERS = [
    (b"www", b"networkutopia", b"com"),
    (b"WWW", b"networkutopia", b"com"),
    (b"a", b"networkutopia", b"com"),
    (b"networkutopia", b"com"),
    (b"x", b"example", b"com"),
    (b"*", b"networkutopia", b"com"),
    (b"s p", b"networkutopia", b"com"),
    (),
]
_TTL = st.sampled_from([0, 1, 300, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
_TXT = st.lists(st.binary(max_size=4), min_size=1, max_size=3).map(
    lambda parts: b"".join(bytes((len(p),)) + p for p in parts)
)
_PLAIN_OWNERS = st.sampled_from([o for o in _OWNERS if b"s p" not in o])
# records the fast reading takes (most of them), and any record at all
_ADD_OR_DELETE = st.sampled_from([1, 254])  # class IN (add) or NONE (delete this record)
_COMMON = st.one_of(
    st.tuples(_PLAIN_OWNERS, st.just(1), _ADD_OR_DELETE, _TTL, st.binary(min_size=4, max_size=4)),
    st.tuples(
        _PLAIN_OWNERS, st.just(28), _ADD_OR_DELETE, _TTL, st.binary(min_size=16, max_size=16)
    ),
    st.tuples(_PLAIN_OWNERS, st.just(16), _ADD_OR_DELETE, _TTL, _TXT),
    st.tuples(
        _PLAIN_OWNERS,
        st.sampled_from([1, 2, 15, 16, 28, 255]),
        st.sampled_from([254, 255]),
        _TTL,
        st.just(b""),
    ),
)
_ANY = st.tuples(
    st.sampled_from(_OWNERS),
    st.sampled_from([1, 28, 16, 15, 255, 2, 41, 250, 0, 252, 99]),
    st.sampled_from([1, 254, 255, 3]),
    _TTL,
    st.one_of(st.binary(max_size=17), _TXT),
)
_RECORD = st.one_of(_COMMON, _COMMON, _COMMON, _COMMON, _COMMON, _COMMON, _ANY)


def _name(labels: tuple[bytes, ...]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def raw_update(
    prerequisites: list[tuple[object, ...]], updates: list[tuple[object, ...]], zone: bytes
) -> bytes:
    wire = struct.pack("!HHHHHH", 0x4242, 0x2800, 1, len(prerequisites), len(updates), 0)
    wire += zone + struct.pack("!HH", 6, 1)
    for owner, rtype, rclass, ttl, rdata in (*prerequisites, *updates):
        assert isinstance(owner, tuple) and isinstance(rdata, bytes)
        wire += _name(owner) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata
    key = RING[next(iter(RING))]
    return tsigkeys.append_tsig(wire, key, fudge=300, now=int(time.time()), request_mac=None)[0]


@settings(max_examples=400)
@given(
    st.lists(_RECORD, max_size=4),
    st.lists(_RECORD, max_size=6),
    st.sampled_from([_name(ZONE), _name((b"NetworkUtopia", b"COM")), b"\x03net\x00"]),
)
def test_any_update_read_fast_is_read_alike_by_dnspython(
    prerequisites: list[tuple[object, ...]], updates: list[tuple[object, ...]], zone: bytes
) -> None:
    wire = raw_update(prerequisites, updates, zone)
    fast = dynamic._read_common(wire, RING, allowed)
    if fast is not None:
        same(fast, wire)


@settings(max_examples=300)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_mangled_update_read_fast_is_read_alike(where: int, value: int) -> None:
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    u.add("txt", 300, "TXT", '"x"')
    u.delete("old")
    wire = bytearray(signed(u))
    wire[where % len(wire)] = value
    fast = dynamic._read_common(bytes(wire), RING, allowed)
    if fast is not None:
        same(fast, bytes(wire))


def _signed_with(wire: bytes, original_id: int, other: bytes) -> tuple[bytes, bytes]:
    """`wire` signed with a TSIG that carries this Original ID and Other Data; its MAC."""
    key = RING[next(iter(RING))]
    template = dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, 0, 300, b"", original_id, 0, other
    )
    tsig, _ = dns.tsig.sign(wire, key, template, int(time.time()), b"")
    return tsigkeys.add_tsig_record(
        wire, key.name.to_wire() or b"", tsig.to_wire() or b""
    ), tsig.mac


@pytest.mark.parametrize("original_id_differs, other", [(False, b"xy"), (True, b"")])
def test_a_request_tsig_unlike_the_answer_s_is_not_reused_to_sign(
    original_id_differs: bool, other: bytes
) -> None:
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    qid = u.id
    wire, mac = _signed_with(u.to_wire(), qid ^ 1 if original_id_differs else qid, other)
    fast = dynamic._read_common(wire, RING, allowed)
    assert isinstance(fast, Request) and fast.signing is not None
    assert fast.signing.template is None and fast.signing.mac == mac
    same(fast, wire)
    answer = dns.message.from_wire(dynamic.answer(fast, 0), keyring=RING, request_mac=mac)
    assert answer.tsig is not None and answer.tsig[0].original_id == qid
    assert answer.tsig[0].other == b""


def test_the_request_s_tsig_signs_the_answer_when_it_can() -> None:
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    wire = signed(u)
    fast = dynamic._read_common(wire, RING, allowed)
    assert isinstance(fast, Request) and fast.signing is not None
    template = fast.signing.template
    assert isinstance(template, tsigkeys.SigningTemplate) and template.mac == u.mac
    answer = dns.message.from_wire(dynamic.answer(fast, 0), keyring=RING, request_mac=u.mac)
    assert answer.had_tsig and answer.tsig is not None and answer.tsig[0].mac != u.mac


def _crafted(flags: int, counts: tuple[int, int, int, int], zone: bytes) -> bytes:
    """Header, `zone` as the zone section, one added A record, then a valid TSIG over it all."""
    wire = struct.pack("!HHHHHH", 0x4242, flags, *counts) + zone
    wire += _name((b"www", *ZONE)) + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 7])
    key = RING[next(iter(RING))]
    return tsigkeys.append_tsig(wire, key, fudge=300, now=int(time.time()), request_mac=None)[0]


ZONE_SECTION = _name(ZONE) + struct.pack("!HH", 6, 1)


@pytest.mark.parametrize(
    "flags, counts, zone, slow_rcode",
    [
        (0x2800, (1, 0, 1, 0), ZONE_SECTION, 0),  # as it should be (append_tsig adds the 1)
        (0x2800, (0, 0, 1, 0), ZONE_SECTION, 1),  # no zone section counted: FORMERR
        (0x0000, (1, 0, 1, 0), ZONE_SECTION, 4),  # opcode QUERY: NOTIMP
        (0x2800, (1, 0, 1, 1), ZONE_SECTION, 1),  # a record counted that is not there
        (0x2800, (1, 0, 1, 0), _name(ZONE) + struct.pack("!HH", 2, 1), 1),  # zone type NS
    ],
)
def test_only_a_well_formed_update_is_read_fast(
    flags: int, counts: tuple[int, int, int, int], zone: bytes, slow_rcode: int
) -> None:
    wire = _crafted(flags, counts, zone)
    fast = dynamic._read_common(wire, RING, allowed)
    got = dynamic.read_update(wire, RING, allowed)
    if slow_rcode == 0:
        assert isinstance(fast, Request)
        same(fast, wire)
    else:
        assert fast is None
        assert isinstance(got, dynamic.Reply) and got.wire is not None
        assert got.wire[3] & 0x0F == slow_rcode


def test_a_response_is_never_read_as_an_update() -> None:
    wire = _crafted(0xA800, (1, 0, 1, 0), ZONE_SECTION)  # QR set
    assert dynamic._read_common(wire, RING, allowed) is None
    got = dynamic.read_update(wire, RING, allowed)
    assert isinstance(got, dynamic.Reply) and got.wire is None and got.why == "not a request"


def test_an_algorithm_name_in_other_letters_is_answered_with_the_key_s() -> None:
    # found by the mangled-update property: "hMac-sha256." verifies (the MAC covers the name
    # in lower case), but the answer carries the key's algorithm name, as dnspython's does
    u = dns.update.UpdateMessage("networkutopia.com")
    u.add("www", 300, "A", "192.0.2.7")
    wire = bytearray(signed(u))
    at = wire.rindex(b"hmac-sha256")
    wire[at + 1 : at + 2] = b"M"
    fast = dynamic._read_common(bytes(wire), RING, allowed)
    assert isinstance(fast, Request) and fast.signing is not None
    assert fast.signing.template is None
    same(fast, bytes(wire))
