"""Zone transfers from a primary (dnsserver/transfer.py): ACLs, AXFR and IXFR answers, messages."""

from __future__ import annotations

import io
import ipaddress
import re
import struct
import threading
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import journal, transfer, tsigkeys
from dnsserver.transfer import MESSAGE_SIZE, Acl
from dnsserver.update import Content, apply_update
from dnsserver.zone import Zone
from tests.dnsserver.test_update import ZONE, add, delete_rr, zone

KEY = tsigkeys.generate("xfr.example.com", bytes(range(32)))
RING = tsigkeys.keyring([KEY])
SOA10 = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 10 7200 3600 1209600 60"


def served(c: Content | None = None) -> Zone:
    return (c or zone()).zone("example.com.zone")


def texts(rrsets: list[dns.rrset.RRset]) -> list[str]:
    return [r.to_text() for r in rrsets]


def records_of(wires: list[bytes]) -> list[str]:
    """Records on the wire, as dnspython reads them (one each), in a message of their own."""
    msg = struct.pack("!HHHHHH", 0, 0x8400, 0, len(wires), 0, 0) + b"".join(wires)
    return texts(dns.message.from_wire(msg, one_rr_per_rrset=True).answer)


def uncompressed(text: str) -> bytes:
    """A record (a master-file line) as dnspython writes it without compressing names."""
    owner, ttl, rdclass, rdtype, rdata = text.split(None, 4)
    out = io.BytesIO()
    dns.rrset.from_text(owner, int(ttl), rdclass, rdtype, rdata).to_wire(out)
    return out.getvalue()


def soa_text(serial: int) -> str:
    return SOA10.replace(" 10 ", f" {serial} ")


# --- who may transfer


def test_an_acl_of_addresses_networks_and_keys_is_parsed() -> None:
    acl = transfer.parse_acl(
        [
            "192.0.2.1",
            " 198.51.100.7/24 ",  # host bits set: the network it is in
            "2001:db8::/32",
            "KEY NetworkUtopia.COM",
            "key   registrar. ",
        ]
    )
    assert acl == Acl(
        (
            ipaddress.ip_network("192.0.2.1/32"),
            ipaddress.ip_network("198.51.100.0/24"),
            ipaddress.ip_network("2001:db8::/32"),
        ),
        frozenset({"networkutopia.com.", "registrar."}),
    )
    assert transfer.parse_acl([]) == Acl() == Acl((), frozenset())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nonsense", "transfer ACL entry 'nonsense': not an address, a network or `key NAME`"),
        (
            "192.0.2.300",
            "transfer ACL entry '192.0.2.300': not an address, a network or `key NAME`",
        ),
        ("key", "transfer ACL entry 'key': not an address, a network or `key NAME`"),
        ("keyx.example", "transfer ACL entry 'keyx.example': not an address, a network or `key"),
        ("key a..b", "transfer ACL entry 'key a..b': bad key name 'a..b': "),
    ],
)
def test_a_bad_acl_entry_is_named(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        transfer.parse_acl(["192.0.2.1", entry])


def test_a_bad_key_name_in_an_acl_is_a_value_error_not_a_key_file_error() -> None:
    with pytest.raises(ValueError) as info:
        transfer.parse_acl(["key a..b"])
    assert type(info.value) is ValueError
    assert str(info.value).startswith("transfer ACL entry 'key a..b': bad key name 'a..b': ")


@pytest.mark.parametrize(
    ("address", "key", "allowed"),
    [
        ("192.0.2.1", None, True),
        ("192.0.2.2", None, False),
        ("198.51.100.200", None, True),
        ("198.51.101.1", None, False),
        ("2001:db8::53", None, True),
        ("fe80::1%eth0", None, True),  # a scope is not part of the address
        ("fe80::1%eth0%x", None, True),
        ("2001:db9::53", None, False),
        ("not an address", None, False),
        ("", None, False),
        ("192.0.2.2", "registrar.", True),  # the key suffices, from anywhere
        ("not an address", "registrar.", True),
        ("192.0.2.2", "other.", False),
        ("192.0.2.1", "other.", True),  # a key not in the list: the address still counts
        ("not an address", "other.", False),
    ],
)
def test_an_acl_allows_its_addresses_and_keys(address: str, key: str | None, allowed: bool) -> None:
    acl = transfer.parse_acl(
        ["192.0.2.1", "198.51.100.0/24", "2001:db8::/32", "fe80::/10", "key registrar"]
    )
    assert acl.allows(address, key) is allowed


def test_an_empty_acl_allows_nobody() -> None:
    assert not Acl().allows("192.0.2.1", None)
    assert not Acl().allows("192.0.2.1", "registrar.")
    assert not Acl(keys=frozenset({"registrar."})).allows("192.0.2.1", None)


# --- the answers: records on the wire

BIG = (
    ZONE
    + "example.com. 60 IN MX 10 www.example.com.\n"
    + 'example.com. 60 IN TXT "apex"\n'
    + 'z.example.com. 120 IN TXT "last"\n'
    + "a.b.example.com. 60 IN A 192.0.2.9\n"
    + 'b.example.com. 60 IN TXT "b"\n'
    + "b.example.com. 60 IN A 192.0.2.8\n"
)
BIG_RECORDS = [  # the apex first, then the names in order; an RRset's types in order
    "example.com. 300 IN NS ns1.example.com.",
    "example.com. 300 IN NS ns2.example.com.",
    "example.com. 60 IN MX 10 www.example.com.",
    'example.com. 60 IN TXT "apex"',
    "alias.example.com. 300 IN CNAME www.example.com.",
    "b.example.com. 60 IN A 192.0.2.8",
    'b.example.com. 60 IN TXT "b"',
    "a.b.example.com. 60 IN A 192.0.2.9",
    "ns1.example.com. 300 IN A 192.0.2.1",
    "ns2.example.com. 300 IN A 192.0.2.2",
    "www.example.com. 300 IN A 192.0.2.80",
    "www.example.com. 300 IN A 192.0.2.81",
    'z.example.com. 120 IN TXT "last"',
]


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test packs its zones itself (ids of zones gone may come back for new ones)."""
    monkeypatch.setattr(transfer, "_WIRES", {})


def test_the_soa_rrset() -> None:
    rrset = transfer.soa_rrset(served())
    assert rrset.to_text() == SOA10
    assert rrset.name == dns.name.from_text("example.com.")
    assert rrset.rdclass == dns.rdataclass.IN and rrset.rdtype == dns.rdatatype.SOA
    assert rrset.ttl == 300 and len(rrset) == 1


def test_the_zones_records_the_soa_apart_the_apex_first_then_by_name() -> None:
    soa, records = transfer.zone_wires(served(zone(BIG)))
    assert records_of([soa]) == [SOA10]
    assert records_of(records) == BIG_RECORDS


def test_each_record_is_on_the_wire_whole_its_names_uncompressed() -> None:
    soa, records = transfer.zone_wires(served(zone(BIG)))
    assert soa == uncompressed(SOA10)
    assert records == [uncompressed(text) for text in BIG_RECORDS]
    ns1 = (
        b"\x07example\x03com\x00"
        + struct.pack("!HHIH", 2, 1, 300, 17)
        + b"\x03ns1\x07example\x03com\x00"
    )
    assert records[0] == ns1


def test_a_record_of_more_than_32767_octets_of_rdata_is_packed_whole() -> None:
    strings = " ".join(["x" * 250] * 131)  # 131 * 251 = 32,881 octets
    text = f"big.example.com. 60 IN TXT {strings}"
    z = served(zone(ZONE + text + "\n"))
    _, records = transfer.zone_wires(z)
    big = [r for r in records if r.startswith(b"\x03big")]
    assert big == [uncompressed(text)]
    assert struct.unpack("!HHIH", big[0][17:27]) == (16, 1, 60, 32881)
    out = send(query(), transfer.axfr_wires(z))  # too big for one message of its own
    assert len(out) == 3 and owners_of(out)[1] == ["big.example.com."]


def test_owners_are_lowercase_as_the_zone_keys_them() -> None:
    z = served(zone(ZONE + "MiXed.Example.COM. 60 IN A 192.0.2.7\n"))
    _, records = transfer.zone_wires(z)
    assert "mixed.example.com. 60 IN A 192.0.2.7" in records_of(records)


def test_axfr_is_the_soa_every_record_and_the_soa_again() -> None:
    z = served(zone(BIG))
    got = list(transfer.axfr_wires(z))
    soa, records = transfer.zone_wires(z)
    assert got == [soa, *records, soa]
    assert records_of(got) == [SOA10, *BIG_RECORDS, SOA10]


# --- the packed zones kept


def test_a_zone_is_packed_once_and_kept() -> None:
    z = served(zone(BIG))
    soa, records = transfer.zone_wires(z)
    again = transfer.zone_wires(z)
    assert again[0] is soa and again[1] is records  # not packed again
    assert {id(z): (z, soa, records)} == transfer._WIRES
    # another zone that came to have the same id is packed for itself
    other = served(zone(ZONE))
    transfer._WIRES[id(other)] = (z, soa, records)
    got_soa, got = transfer.zone_wires(other)
    assert got is not records and records_of(got) == records_of(
        transfer.zone_wires(served(zone(ZONE)))[1]
    )
    assert transfer._WIRES[id(other)] == (other, got_soa, got)


def test_at_most_wires_kept_zones_are_packed_and_kept_the_oldest_going_first() -> None:
    assert transfer.WIRES_KEPT == 8
    zones = [served(zone(ZONE + f"h{i}.example.com. 60 IN A 192.0.2.{i}\n")) for i in range(10)]
    for z in zones[:8]:
        transfer.zone_wires(z)
    assert list(transfer._WIRES) == [id(z) for z in zones[:8]]
    transfer.zone_wires(zones[8])
    assert list(transfer._WIRES) == [id(z) for z in zones[1:9]]
    kept = transfer.zone_wires(zones[1])  # a hit changes nothing: the oldest still goes first
    assert list(transfer._WIRES) == [id(z) for z in zones[1:9]]
    second = transfer.zone_wires(zones[2])
    transfer.zone_wires(zones[9])
    assert list(transfer._WIRES) == [id(z) for z in zones[2:10]]
    assert transfer.zone_wires(zones[2])[1] is second[1]
    again = transfer.zone_wires(zones[1])  # packed again
    assert again[1] is not kept[1] and again == kept
    assert "h1.example.com. 60 IN A 192.0.2.1" in records_of(kept[1])


def test_a_zone_asked_for_by_many_at_once_is_packed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    z = served(zone(BIG))
    packed = []
    pack = transfer._pack

    def slow(zone: Zone) -> tuple[bytes, list[bytes]]:
        packed.append(zone)
        time.sleep(0.05)
        return pack(zone)

    monkeypatch.setattr(transfer, "_pack", slow)
    got: list[tuple[bytes, list[bytes]]] = []
    threads = [threading.Thread(target=lambda: got.append(transfer.zone_wires(z))) for _ in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert packed == [z]
    assert all(g[1] is got[0][1] for g in got) and len(got) == 4


def test_a_zones_order_is_the_apex_then_the_names_in_order() -> None:
    # (sorted once per zone: zone_wires packs each zone once, see the tests above)
    z = served(zone(BIG))
    first = transfer._order(z)
    assert first[0] == z.origin and len(first) == len(z.nodes)
    assert first[1:] == sorted(first[1:], key=lambda k: tuple(reversed(k)))


# --- IXFR


def steps() -> tuple[Content, list[journal.Entry]]:
    """Serial 10 -> 11 (an address added) -> 12 (an address removed)."""
    c = zone()
    entries = []
    for change in (
        add("h1.example.com. 60 IN A 192.0.2.11"),
        delete_rr("www.example.com. 0 IN A 192.0.2.80"),
    ):
        out = apply_update(c, [], [change])
        assert out.content is not None
        entries.append(journal.entry_of(out.removed, out.added))
        c = out.content
    return c, entries


def test_ixfr_sends_the_differences_from_the_clients_serial() -> None:
    c, entries = steps()
    z = served(c)
    want = [
        soa_text(12),
        soa_text(10),
        soa_text(11),
        "h1.example.com. 60 IN A 192.0.2.11",
        soa_text(11),
        "www.example.com. 300 IN A 192.0.2.80",
        soa_text(12),
        soa_text(12),
    ]
    got = list(transfer.ixfr_wires(z, entries, 10))
    assert records_of(got) == want
    assert got == [uncompressed(text) for text in want]
    assert records_of(list(transfer.ixfr_wires(z, entries, 11))) == [
        soa_text(12),
        soa_text(11),
        "www.example.com. 300 IN A 192.0.2.80",
        soa_text(12),
        soa_text(12),
    ]


def test_ixfr_owners_are_lowercase_as_the_zone_keys_them() -> None:
    c = zone()
    out = apply_update(c, [], [add("New.Example.COM. 60 IN A 192.0.2.5")])
    assert out.content is not None
    entry = journal.entry_of(out.removed, out.added)
    got = list(transfer.ixfr_wires(served(out.content), [entry], 10))
    assert records_of(got)[3] == "new.example.com. 60 IN A 192.0.2.5"
    assert got[3] == uncompressed("new.example.com. 60 IN A 192.0.2.5")


@pytest.mark.parametrize("client", [12, 13, 12 + 2**31 - 1, 12 + 2**31])
def test_a_client_up_to_date_or_ahead_gets_the_soa_alone(client: int) -> None:
    c, entries = steps()
    got = list(transfer.ixfr_wires(served(c), entries, client))
    assert got == [uncompressed(soa_text(12))]


@pytest.mark.parametrize(
    ("client", "keep"),
    [
        (9, slice(None)),  # older than the journal
        (10, slice(1, None)),  # the journal was cut: it does not reach back to 10
        (10, slice(0, 1)),  # the journal stops short of the zone's serial
        (11, slice(0, 1)),
        (10, slice(0, 0)),  # no journal at all
    ],
)
def test_a_serial_the_journal_does_not_lead_from_gets_the_whole_zone(
    client: int, keep: slice
) -> None:
    c, entries = steps()
    z = served(c)
    got = list(transfer.ixfr_wires(z, entries[keep], client))
    assert got == list(transfer.axfr_wires(z))
    assert records_of(got)[0] == records_of(got)[-1] == soa_text(12)
    assert len(got) == 2 + z.records - 1


def test_the_answers_are_made_one_record_at_a_time() -> None:
    c, entries = steps()
    z = served(c)
    assert isinstance(transfer.axfr_wires(z), Iterator)
    assert isinstance(transfer.ixfr_wires(z, entries, 10), Iterator)


# --- the messages


def query(rdtype: str = "AXFR", signed: bool = False, fudge: int = 300) -> dns.message.Message:
    """A transfer query as the client keeps it."""
    q = dns.message.make_query("example.com.", rdtype)
    if signed:
        q.use_tsig(RING, keyname=KEY.name, fudge=fudge)
    q.to_wire()  # the MAC is computed as the query is written
    return q


def received(q: dns.message.Message) -> dns.message.Message:
    """The query as the server read it (its TSIG verified)."""
    return dns.message.from_wire(q.to_wire(), keyring=RING)


def question(q: dns.message.Message) -> bytes:
    rrset = q.question[0]
    return (rrset.name.to_wire() or b"") + struct.pack("!HH", rrset.rdtype, rrset.rdclass)


def clock() -> int:
    return int(time.time())


def send(
    q: dns.message.Message, records: Iterator[bytes] | list[bytes], signed: bool = False
) -> list[bytes]:
    signer = transfer.signer_of(received(q), clock) if signed else None
    return list(transfer.messages(q.id, question(q), records, signer))


def blob(owner: str, size: int) -> bytes:
    """A TXT record that counts `size` octets on the wire (owner, fixed fields and RDATA)."""
    name = dns.name.from_text(owner).to_wire() or b""
    rdlen = size - len(name) - 10
    assert rdlen >= 1
    rdata = b""
    while rdlen > 256:
        rdata += b"\xff" + b"x" * 255
        rdlen -= 256
    rdata += bytes((rdlen - 1,)) + b"y" * (rdlen - 1)
    return name + struct.pack("!HHIH", 16, 1, 60, len(rdata)) + rdata


def test_the_size_of_a_blob_is_what_it_says() -> None:
    for size in (26, 27, 281, 282, 8000, 16384):
        wire = blob("t.example.com.", size)
        assert len(wire) == size
        assert records_of([wire])[0].startswith('t.example.com. 60 IN TXT "')


def owners_of(wires: list[bytes]) -> list[list[str]]:
    """The owners of the answer records of each message."""
    return [
        [r.name.to_text() for r in dns.message.from_wire(w, one_rr_per_rrset=True).answer]
        for w in wires
    ]


@pytest.mark.parametrize(
    ("sizes", "messages"),
    [
        ([MESSAGE_SIZE], [[0]]),
        ([MESSAGE_SIZE + 5000], [[0]]),  # too big alone: still one message, not an empty one
        ([8000, 8384], [[0, 1]]),  # exactly MESSAGE_SIZE in all
        ([8000, 8385], [[0], [1]]),
        ([8000, 8000, 384], [[0, 1, 2]]),
        ([8000, 8000, 385], [[0, 1], [2]]),
        ([8000, 8000, 8000], [[0, 1], [2]]),
        ([10000, 10000, 6384], [[0], [1, 2]]),  # a new message starts counting from nothing
        ([10000, 10000, 6385], [[0], [1], [2]]),
        ([MESSAGE_SIZE + 1, 27, MESSAGE_SIZE], [[0], [1], [2]]),
        ([27, 27, MESSAGE_SIZE - 54, 27], [[0, 1, 2], [3]]),
    ],
)
def test_messages_hold_at_most_message_size_octets_of_records(
    sizes: list[int], messages: list[list[int]]
) -> None:
    records = [blob(f"n{i}.example.com.", size) for i, size in enumerate(sizes)]
    out = send(query(), records)
    assert owners_of(out) == [[f"n{i}.example.com." for i in group] for group in messages]
    q = question(query())
    assert [len(w) - 12 - len(q) for w in out] == [
        sum(sizes[i] for i in group) for group in messages
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=28, max_value=MESSAGE_SIZE + 100), max_size=12))
def test_every_message_is_full_up_to_message_size_unless_one_record_is_bigger(
    sizes: list[int],
) -> None:
    records = [blob(f"n{i}.example.com.", size) for i, size in enumerate(sizes)]
    out = owners_of(send(query(), records))
    groups = [[int(owner[1:].split(".")[0]) for owner in m] for m in out]
    assert [i for g in groups for i in g] == list(range(len(sizes)))  # all, in order
    for n, group in enumerate(groups):
        total = sum(sizes[i] for i in group)
        assert total <= MESSAGE_SIZE or len(group) == 1
        if n + 1 < len(groups):  # the next record did not fit
            assert total + sizes[groups[n + 1][0]] > MESSAGE_SIZE


def test_an_unsigned_axfr_is_one_response_to_the_query() -> None:
    z = served(zone(BIG))
    q = query()
    out = send(q, transfer.axfr_wires(z))
    assert len(out) == 1
    assert struct.unpack("!HHHHHH", out[0][:12]) == (q.id, 0x8400, 1, 15, 0, 0)
    assert out[0][12:].startswith(question(q))
    r = dns.message.from_wire(out[0], one_rr_per_rrset=True)
    assert r.id == q.id and r.rcode() == 0 and r.flags == dns.flags.QR | dns.flags.AA
    assert r.question == q.question
    assert texts(r.answer) == [SOA10, *BIG_RECORDS, SOA10]
    assert not r.had_tsig and r.authority == [] and r.additional == []


def test_the_question_is_echoed_as_it_was_asked() -> None:
    q = dns.message.make_query("ExAmple.COM.", "IXFR")
    out = send(q, [uncompressed(SOA10)])
    r = dns.message.from_wire(out[0])
    assert r.question[0].name.labels == (b"ExAmple", b"COM", b"")
    assert r.question[0].rdtype == dns.rdatatype.IXFR
    assert out[0][12 : 12 + 17] == b"\x07ExAmple\x03COM\x00\x00\xfb\x00\x01"


def test_no_records_is_one_empty_response() -> None:
    q = query()
    out = send(q, [])
    assert len(out) == 1
    assert out[0] == struct.pack("!HHHHHH", q.id, 0x8400, 1, 0, 0, 0) + question(q)
    r = dns.message.from_wire(out[0])
    assert r.id == q.id and r.answer == [] and r.question == q.question


def read_signed(q: dns.message.Message, wires: list[bytes]) -> list[dns.message.Message]:
    """Verify a signed transfer as a client does: the first against the query's MAC, then each
    against the one before."""
    ctx = None
    out = []
    for w in wires:
        m = dns.message.from_wire(
            w, keyring=RING, request_mac=q.mac, multi=True, tsig_ctx=ctx, one_rr_per_rrset=True
        )
        assert m.had_tsig and m.keyname == dns.name.from_text(KEY.name)
        ctx = m.tsig_ctx
        out.append(m)
    return out


def test_a_signed_transfer_is_signed_in_a_chain() -> None:
    records = [blob(f"n{i}.example.com.", 10000) for i in range(4)]
    q = query(signed=True)
    out = send(q, records, signed=True)
    assert len(out) == 4
    msgs = read_signed(q, out)
    assert [m.id for m in msgs] == [q.id] * 4
    assert [m.flags for m in msgs] == [dns.flags.QR | dns.flags.AA] * 4
    assert all(m.question == q.question for m in msgs)
    assert [[r.name.to_text() for r in m.answer] for m in msgs] == [
        [f"n{i}.example.com."] for i in range(4)
    ]
    assert all(struct.unpack("!HHHH", w[4:12]) == (1, 1, 0, 1) for w in out)  # the TSIG alone
    # each message is signed as a continuation: verified alone, the later ones fail
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(out[1], keyring=RING, request_mac=q.mac)
    with pytest.raises(dns.tsig.BadSignature):
        read_signed(q, [out[0], out[2]])
    # and the first is signed over the query's MAC
    other = query(signed=True)
    with pytest.raises(dns.tsig.BadSignature):
        read_signed(other, out[:1])


def test_a_signed_transfer_uses_the_requests_fudge_and_the_clock_at_each_message() -> None:
    records = [blob(f"n{i}.example.com.", 10000) for i in range(3)]
    q = query(signed=True, fudge=123)
    base = int(time.time())
    ticks = iter(range(base, base + 100))
    signer = transfer.signer_of(received(q), lambda: next(ticks))
    assert signer is not None
    out = list(transfer.messages(q.id, question(q), records, signer))
    msgs = read_signed(q, out)
    assert [m.tsig[0].fudge for m in msgs] == [123] * 3
    assert [m.tsig[0].time_signed for m in msgs] == [base, base + 1, base + 2]
    assert [m.tsig[0].error for m in msgs] == [0] * 3
    assert [m.tsig[0].original_id for m in msgs] == [q.id] * 3


def test_the_signer_of_a_signed_query() -> None:
    q = query(signed=True, fudge=77)
    got = received(q)
    signer = transfer.signer_of(got, clock)
    assert signer == transfer.Signer(got.keyring, q.mac, 77, clock)
    assert signer is not None and signer.key.name == dns.name.from_text(KEY.name)
    assert signer.key.secret == KEY.secret


def test_a_query_unsigned_or_unverified_has_no_signer() -> None:
    assert transfer.signer_of(received(query()), clock) is None
    q = query(signed=True)
    unverified = dns.message.from_wire(q.to_wire(), keyring=False)  # a TSIG, no key checked
    assert unverified.had_tsig and unverified.tsig is not None
    assert transfer.signer_of(unverified, clock) is None
    got = received(q)
    got.tsig = None  # no TSIG record after all
    assert transfer.signer_of(got, clock) is None
    got = received(q)
    got.tsig = dns.rrset.RRset(got.keyname, dns.rdataclass.ANY, dns.rdatatype.TSIG)  # empty
    assert not got.had_tsig and isinstance(got.keyring, dns.tsig.Key)
    assert transfer.signer_of(got, clock) is None
    assert transfer.signer_of(received(q), clock) is not None


def test_a_signed_single_message_verifies_against_the_query() -> None:
    c, entries = steps()
    q = query("IXFR", signed=True)
    out = send(q, transfer.ixfr_wires(served(c), entries, 11), signed=True)
    assert len(out) == 1
    r = dns.message.from_wire(out[0], keyring=RING, request_mac=q.mac, one_rr_per_rrset=True)
    assert r.had_tsig and r.id == q.id
    assert texts(r.answer) == [
        soa_text(12),
        soa_text(11),
        "www.example.com. 300 IN A 192.0.2.80",
        soa_text(12),
        soa_text(12),
    ]
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(out[0], keyring=RING, request_mac=b"\x00" * 32)


def test_an_unsigned_query_gets_unsigned_messages() -> None:
    records = [blob(f"n{i}.example.com.", 10000) for i in range(3)]
    out = send(query(), records)
    assert len(out) == 3
    assert all(not dns.message.from_wire(w).had_tsig for w in out)
    assert all(w[10:12] == b"\x00\x00" for w in out)


@pytest.mark.parametrize(
    ("ednsflags", "payload", "wire"),
    [
        (0, 1232, b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"),
        (0x8000, 1232, b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"),
        (0x0001, 512, b"\x00\x00\x29\x02\x00\x00\x00\x00\x00\x00\x00"),  # Z bits: not echoed
        (0xFF00FFFF, 65535, b"\x00\x00\x29\xff\xff\x00\x00\x80\x00\x00\x00"),  # DO alone
        (0x7FFF, 32768, b"\x00\x00\x29\x80\x00\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_the_opt_record_is_version_0_our_payload_and_the_do_bit_echoed(
    ednsflags: int, payload: int, wire: bytes
) -> None:
    q = dns.message.make_query("example.com.", "AXFR", use_edns=0)
    q.ednsflags = ednsflags
    assert transfer.opt_record(q, payload) == wire
    r = dns.message.from_wire(struct.pack("!HHHHHH", 0, 0x8400, 0, 0, 0, 1) + wire)
    assert r.edns == 0 and r.payload == payload and r.ednsflags == ednsflags & dns.flags.DO


def test_a_query_without_edns_has_no_opt_record() -> None:
    assert transfer.opt_record(dns.message.make_query("example.com.", "AXFR"), 1232) is None


def test_the_clients_serial_is_the_soa_in_the_authority_section() -> None:
    q = dns.message.make_query("example.com.", "IXFR")
    assert transfer.client_serial(q) is None
    soa = dns.rrset.from_text("example.com.", 0, "IN", "SOA", "ns1. h. 42 1 1 1 1")
    q.authority.append(soa)
    assert transfer.client_serial(q) == 42
    ns = dns.rrset.from_text("example.com.", 0, "IN", "NS", "ns1.example.com.")
    empty = dns.rrset.RRset(
        dns.name.from_text("example.com."), dns.rdataclass.IN, dns.rdatatype.SOA
    )
    q.authority = [ns, empty, soa]
    assert transfer.client_serial(q) == 42
    q.authority = [ns, empty]
    assert transfer.client_serial(q) is None
    high = dns.rrset.from_text("example.com.", 0, "IN", "SOA", "ns1. h. 4294967295 1 1 1 1")
    q.authority = [high, soa]
    assert transfer.client_serial(q) == 4294967295


def test_everything_after_the_first_percent_is_the_scope() -> None:
    acl = transfer.parse_acl(["192.0.2.1"])
    assert acl.allows("192.0.2.1%eth0", None) and acl.allows("192.0.2.1%eth0%1", None)
    assert not acl.allows("%192.0.2.1", None)


# --- big zones: messages made one at a time


def test_messages_are_made_one_at_a_time() -> None:
    taken = []

    def records() -> Iterator[bytes]:
        for i in range(100):
            taken.append(i)
            yield blob(f"n{i}.example.com.", 10000)

    q = query(signed=True)
    messages = transfer.messages(
        q.id, question(q), records(), transfer.signer_of(received(q), clock)
    )
    assert taken == []
    first = next(messages)
    assert taken == [0, 1]  # the second record did not fit: the first message is done
    second = next(messages)
    assert taken == [0, 1, 2]
    assert [[r.name.to_text() for r in m.answer] for m in read_signed(q, [first, second])] == [
        ["n0.example.com."],
        ["n1.example.com."],
    ]
