"""Zone transfers from a primary (dnsserver/transfer.py): ACLs, AXFR and IXFR answers, messages."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

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


# --- the answers

BIG = (
    ZONE
    + "example.com. 60 IN MX 10 www.example.com.\n"
    + 'example.com. 60 IN TXT "apex"\n'
    + 'z.example.com. 120 IN TXT "last"\n'
    + "a.b.example.com. 60 IN A 192.0.2.9\n"
    + 'b.example.com. 60 IN TXT "b"\n'
    + "b.example.com. 60 IN A 192.0.2.8\n"
)


def test_the_soa_rrset() -> None:
    rrset = transfer.soa_rrset(served())
    assert rrset.to_text() == SOA10
    assert rrset.name == dns.name.from_text("example.com.")
    assert rrset.rdclass == dns.rdataclass.IN and rrset.rdtype == dns.rdatatype.SOA
    assert rrset.ttl == 300 and len(rrset) == 1


def test_every_rrset_but_the_soa_apex_first_then_by_name() -> None:
    got = texts(transfer.zone_rrsets(served(zone(BIG))))
    assert got == [
        "example.com. 300 IN NS ns1.example.com.\nexample.com. 300 IN NS ns2.example.com.",
        "example.com. 60 IN MX 10 www.example.com.",
        'example.com. 60 IN TXT "apex"',
        "alias.example.com. 300 IN CNAME www.example.com.",
        "b.example.com. 60 IN A 192.0.2.8",
        'b.example.com. 60 IN TXT "b"',
        "a.b.example.com. 60 IN A 192.0.2.9",
        "ns1.example.com. 300 IN A 192.0.2.1",
        "ns2.example.com. 300 IN A 192.0.2.2",
        "www.example.com. 300 IN A 192.0.2.80\nwww.example.com. 300 IN A 192.0.2.81",
        'z.example.com. 120 IN TXT "last"',
    ]


def test_axfr_is_the_soa_every_rrset_and_the_soa_again() -> None:
    z = served(zone(BIG))
    got = transfer.axfr(z)
    assert texts(got) == [SOA10, *texts(transfer.zone_rrsets(z)), SOA10]
    assert len(got) == 13


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
    assert texts(transfer.ixfr(z, entries, 10)) == [
        soa_text(12),
        soa_text(10),
        soa_text(11),
        "h1.example.com. 60 IN A 192.0.2.11",
        soa_text(11),
        "www.example.com. 300 IN A 192.0.2.80",
        soa_text(12),
        soa_text(12),
    ]
    assert texts(transfer.ixfr(z, entries, 11)) == [
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
    got = transfer.ixfr(served(out.content), [entry], 10)
    assert texts(got)[3] == "new.example.com. 60 IN A 192.0.2.5"


@pytest.mark.parametrize("client", [12, 13, 12 + 2**31 - 1, 12 + 2**31])
def test_a_client_up_to_date_or_ahead_gets_the_soa_alone(client: int) -> None:
    c, entries = steps()
    assert texts(transfer.ixfr(served(c), entries, client)) == [soa_text(12)]


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
    assert texts(transfer.ixfr(z, entries[keep], client)) == texts(transfer.axfr(z))


# --- the messages


def query(rdtype: str = "AXFR", signed: bool = False) -> tuple[dns.message.Message, bytes]:
    """A transfer query as the client keeps it, and as the server parsed it (verified)."""
    q = dns.message.make_query("example.com.", rdtype)
    if signed:
        q.use_tsig(RING, keyname=KEY.name)
    wire = q.to_wire()
    return q, wire


def parsed(wire: bytes) -> dns.message.Message:
    return dns.message.from_wire(wire, keyring=RING)


def blob(owner: str, size: int) -> dns.rrset.RRset:
    """A TXT RRset of one record that counts `size` octets (owner, fixed fields and RDATA)."""
    name = dns.name.from_text(owner)
    rdlen = size - len(name.to_wire() or b"") - 10
    assert rdlen >= 1
    strings = []
    while rdlen > 256:
        strings.append("x" * 255)
        rdlen -= 256
    strings.append("y" * (rdlen - 1))
    rdata = " ".join(f'"{s}"' for s in strings)
    rrset = dns.rrset.from_text(name, 60, "IN", "TXT", rdata)
    return rrset


def test_the_size_of_a_blob_is_what_it_says() -> None:
    for size in (26, 27, 281, 282, 8000, 16384):
        rrset = blob("t.example.com.", size)
        wire = sum(15 + 10 + len(rd.to_wire()) for rd in rrset)
        assert wire == size


def sizes_of(wires: list[bytes]) -> list[list[str]]:
    """The owners of the answer RRsets of each message."""
    return [[r.name.to_text() for r in dns.message.from_wire(w).answer] for w in wires]


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
    answers = [blob(f"n{i}.example.com.", size) for i, size in enumerate(sizes)]
    _, wire = query()
    out = transfer.render(parsed(wire), answers)
    assert sizes_of(out) == [[f"n{i}.example.com." for i in group] for group in messages]


def test_an_rrset_counts_its_owner_for_every_record() -> None:
    name = dns.name.from_text("t.example.com.")  # 15 octets
    two = dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1", "192.0.2.2")  # 2 * (15+10+4)
    rest = blob("n.example.com.", MESSAGE_SIZE - 58)
    _, wire = query()
    assert sizes_of(transfer.render(parsed(wire), [two, rest])) == [
        ["t.example.com.", "n.example.com."]
    ]
    rest = blob("n.example.com.", MESSAGE_SIZE - 57)
    assert sizes_of(transfer.render(parsed(wire), [two, rest])) == [
        ["t.example.com."],
        ["n.example.com."],
    ]


def test_an_unsigned_axfr_is_one_response_to_the_query() -> None:
    z = served(zone(BIG))
    q, wire = query()
    out = transfer.render(parsed(wire), transfer.axfr(z))
    assert len(out) == 1
    r = dns.message.from_wire(out[0], one_rr_per_rrset=True)
    assert r.id == q.id and r.rcode() == 0 and r.flags & dns.flags.QR
    assert r.question == q.question
    lines = texts(r.answer)  # one record each; dnspython shuffles the records of an RRset
    assert lines[0] == lines[-1] == SOA10
    assert sorted(lines) == sorted("\n".join(texts(transfer.axfr(z))).splitlines())
    assert not r.had_tsig and r.authority == [] and r.additional == []


def test_no_answers_is_one_empty_response() -> None:
    q, wire = query()
    out = transfer.render(parsed(wire), [])
    assert len(out) == 1
    r = dns.message.from_wire(out[0])
    assert r.id == q.id and r.answer == [] and r.question == q.question


def read_signed(q: dns.message.Message, wires: list[bytes]) -> list[dns.message.Message]:
    """Verify a signed transfer as a client does: the first against the query's MAC, then each
    against the one before."""
    ctx = None
    out = []
    for w in wires:
        m = dns.message.from_wire(
            w, keyring=RING, request_mac=q.mac, xfr=True, tsig_ctx=ctx, multi=True
        )
        assert m.had_tsig and m.keyname == dns.name.from_text(KEY.name)
        ctx = m.tsig_ctx
        out.append(m)
    return out


def test_a_signed_transfer_is_signed_in_a_chain() -> None:
    answers = [blob(f"n{i}.example.com.", 10000) for i in range(4)]
    q, wire = query(signed=True)
    out = transfer.render(parsed(wire), answers)
    assert len(out) == 4
    msgs = read_signed(q, out)
    assert [m.id for m in msgs] == [q.id] * 4
    assert [[r.name.to_text() for r in m.answer] for m in msgs] == [
        [f"n{i}.example.com."] for i in range(4)
    ]
    # each message is signed as a continuation: verified alone, the later ones fail
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(out[1], keyring=RING, request_mac=q.mac)
    with pytest.raises(dns.tsig.BadSignature):
        read_signed(q, [out[0], out[2]])


def test_a_signed_single_message_verifies_against_the_query() -> None:
    c, entries = steps()
    q, wire = query("IXFR", signed=True)
    out = transfer.render(parsed(wire), transfer.ixfr(served(c), entries, 11))
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
    answers = [blob(f"n{i}.example.com.", 10000) for i in range(3)]
    _, wire = query()
    out = transfer.render(parsed(wire), answers)
    assert len(out) == 3
    assert all(not dns.message.from_wire(w).had_tsig for w in out)


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


def test_an_edns_query_still_gets_messages_of_message_size() -> None:
    q = dns.message.make_query("example.com.", "AXFR", use_edns=0, payload=1232)
    answers = [blob(f"n{i}.example.com.", 10000) for i in range(3)]
    out = transfer.render(parsed(q.to_wire()), answers)
    assert [len(w) > 10000 for w in out] == [True, True, True]
    assert sizes_of(out) == [["n0.example.com."], ["n1.example.com."], ["n2.example.com."]]
    assert all(dns.message.from_wire(w).edns == 0 for w in out)


def test_everything_after_the_first_percent_is_the_scope() -> None:
    acl = transfer.parse_acl(["192.0.2.1"])
    assert acl.allows("192.0.2.1%eth0", None) and acl.allows("192.0.2.1%eth0%1", None)
    assert not acl.allows("%192.0.2.1", None)


# --- big zones: names sorted once, messages made one at a time


def test_a_zones_order_is_sorted_once_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "_ORDERS", {})
    z = served(zone(BIG))
    first = transfer._order(z)
    assert first[0] == z.origin and len(first) == len(z.nodes)
    assert transfer._order(z) is first  # not sorted again
    assert {id(z): (z, first)} == transfer._ORDERS
    # another zone that came to have the same id is sorted for itself
    other = served(zone(ZONE))
    transfer._ORDERS[id(other)] = (z, first)
    got = transfer._order(other)
    assert got is not first and got == transfer._order(served(zone(ZONE)))
    assert transfer._ORDERS[id(other)] == (other, got)


def test_at_most_orders_kept_zones_are_remembered_the_oldest_going_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transfer, "_ORDERS", {})
    assert transfer.ORDERS_KEPT == 8
    zones = [served(zone(ZONE + f"h{i}.example.com. 60 IN A 192.0.2.{i}\n")) for i in range(10)]
    for z in zones[:8]:
        transfer._order(z)
    assert list(transfer._ORDERS) == [id(z) for z in zones[:8]]
    transfer._order(zones[8])
    assert list(transfer._ORDERS) == [id(z) for z in zones[1:9]]
    transfer._order(zones[1])  # a hit changes nothing
    transfer._order(zones[9])
    assert list(transfer._ORDERS) == [id(z) for z in zones[2:10]]


def test_the_streams_are_the_lists() -> None:
    c, entries = steps()
    z = served(c)
    assert texts(list(transfer.axfr_stream(z))) == texts(transfer.axfr(z))
    assert texts(list(transfer.iter_rrsets(z))) == texts(transfer.zone_rrsets(z))
    for since in (9, 10, 11, 12):
        assert texts(list(transfer.ixfr_stream(z, entries, since))) == texts(
            transfer.ixfr(z, entries, since)
        )


def test_messages_are_made_one_at_a_time() -> None:
    taken = []

    def answers() -> Iterator[dns.rrset.RRset]:
        for i in range(100):
            taken.append(i)
            yield blob(f"n{i}.example.com.", 10000)

    q, wire = query(signed=True)
    messages = transfer.stream(parsed(wire), answers())
    assert taken == []
    first = next(messages)
    assert taken == [0, 1]  # the second RRset did not fit: the first message is done
    second = next(messages)
    assert taken == [0, 1, 2]
    assert [[r.name.to_text() for r in m.answer] for m in read_signed(q, [first, second])] == [
        ["n0.example.com."],
        ["n1.example.com."],
    ]
