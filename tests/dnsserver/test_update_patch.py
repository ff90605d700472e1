"""The served zone patched after an update (update.patched) is the zone a whole build makes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.errors import NOERROR, REFUSED
from dnsserver.masterfile import parse_record, rdata_wire
from dnsserver.update import (
    CLASS_ANY,
    CLASS_IN,
    CLASS_NONE,
    Change,
    Content,
    apply_update,
    content,
)
from dnsserver.zone import Zone

ORIGIN = (b"example", b"com")
ZONE = [
    "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 10 7200 3600 1209600 60",
    "example.com. 300 IN NS ns1.example.com.",
    "example.com. 300 IN NS ns2.example.com.",
    "ns1.example.com. 300 IN A 192.0.2.1",
    "ns2.example.com. 300 IN A 192.0.2.2",
    "www.example.com. 300 IN A 192.0.2.80",
    "deep.a.b.example.com. 300 IN A 192.0.2.81",
    "sub.example.com. 300 IN NS ns.sub.example.com.",
    "ns.sub.example.com. 300 IN A 192.0.2.53",
]


def start() -> tuple[Content, Zone]:
    c = content(ORIGIN, [parse_record(line) for line in ZONE])
    return c, c.zone("z")


def view(zone: Zone) -> tuple[object, ...]:
    """What lookups read of a zone, comparable."""
    nodes = {
        key: {
            rtype: (rrset.rtype, rrset.ttl, sorted(rdata_wire(rd) for rd in rrset.rdatas),
                    sorted((t, str(label)) for t, label in rrset.targets))
            for rtype, rrset in node.items()
        }
        for key, node in zone.nodes.items()
    }  # fmt: skip
    return (nodes, zone.exists, zone.cuts, zone.records, zone.serial, zone.negative_ttl,
            zone.origin, str(zone.origin_label), zone.path)  # fmt: skip


def add(text: str) -> Change:
    rec = parse_record(text)
    return Change(rec.labels, CLASS_IN, rec.rtype, rec.ttl, rec)


def name(text: str) -> tuple[bytes, ...]:
    return tuple(label.encode() for label in text.split("."))


owners = st.sampled_from(
    ["www", "a.b", "deep.a.b", "x.deep.a.b", "new", "sub", "ns.sub", "ns1", "c.sub", "example"]
)


def owner(o: str) -> str:
    return "example.com." if o == "example" else f"{o}.example.com."


changes = st.one_of(
    st.builds(lambda o, n, t: add(f"{owner(o)} {t} IN A 192.0.2.{n}"), owners,
              st.integers(1, 3), st.sampled_from([60, 300])),
    st.builds(lambda o: add(f"{owner(o)} 60 IN TXT hello"), owners),
    st.builds(lambda o: add(f"{owner(o)} 60 IN NS ns1.example.com."), owners),
    st.builds(lambda o: add(f"{owner(o)} 60 IN MX 10 www.example.com."), owners),
    st.builds(lambda o: Change(name(owner(o)[:-1]), CLASS_ANY, 255, 0), owners),
    st.builds(lambda o: Change(name(owner(o)[:-1]), CLASS_ANY, 1, 0), owners),
    st.builds(lambda o, n: Change(name(owner(o)[:-1]), CLASS_NONE, 1, 0,
                                  parse_record(f"{owner(o)} 0 IN A 192.0.2.{n}")),
              owners, st.integers(1, 3)),
    st.builds(lambda n: Change(name("example.com"), CLASS_NONE, 2, 0,
                               parse_record(f"example.com. 0 IN NS ns{n}.example.com.")),
              st.integers(1, 2)),
    st.builds(lambda n: add(f"example.com. 60 IN NS ns{n}.example.com."), st.integers(1, 4)),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(changes, min_size=1, max_size=3), min_size=1, max_size=8))
def test_a_patched_zone_is_the_zone_built_whole(script: list[list[Change]]) -> None:
    c, zone = start()
    for updates in script:
        whole = apply_update(c, [], updates, "z")
        fast = apply_update(c, [], updates, "z", zone)
        assert (fast.rcode, fast.why, fast.notes) == (whole.rcode, whole.why, whole.notes)
        if whole.content is None:
            continue
        assert whole.zone is not None and fast.zone is not None
        assert view(fast.zone) == view(whole.zone)
        c, zone = whole.content, fast.zone


def test_an_apex_ns_to_a_host_without_an_address_is_still_refused() -> None:
    c, zone = start()
    out = apply_update(c, [], [add("example.com. 60 IN NS ns3.example.com.")], "z", zone)
    assert out.rcode == REFUSED and "ns3.example.com" in out.why
    # and taking the address of an apex NS host away
    gone = Change(name("ns2.example.com"), CLASS_ANY, 255, 0)
    out = apply_update(c, [], [gone], "z", zone)
    assert out.rcode == REFUSED and "ns2.example.com" in out.why


def test_empty_non_terminals_go_with_the_last_name_below_them() -> None:
    c, zone = start()
    assert (b"b", *ORIGIN) in zone.exists and (b"a", b"b", *ORIGIN) in zone.exists
    out = apply_update(c, [], [Change(name("deep.a.b.example.com"), CLASS_ANY, 255, 0)], "z", zone)
    assert out.rcode == NOERROR and out.zone is not None
    assert (b"b", *ORIGIN) not in out.zone.exists and (b"a", b"b", *ORIGIN) not in out.zone.exists
    assert out.zone.records == zone.records - 1
    back = apply_update(out.content, [], [add("x.b.example.com. 60 IN A 192.0.2.9")], "z",  # type: ignore[arg-type]
                        out.zone)  # fmt: skip
    assert back.zone is not None and (b"b", *ORIGIN) in back.zone.exists
    assert (b"a", b"b", *ORIGIN) not in back.zone.exists


def test_the_names_an_update_does_not_touch_are_shared_with_the_old_zone() -> None:
    c, zone = start()
    out = apply_update(c, [], [add("www.example.com. 300 IN A 192.0.2.99")], "z", zone)
    assert out.rcode == NOERROR and out.zone is not None
    assert out.zone.nodes[name("ns1.example.com")] is zone.nodes[name("ns1.example.com")]
    assert out.zone.nodes[name("www.example.com")] is not zone.nodes[name("www.example.com")]
    assert out.zone.serial == 11 and zone.serial == 10  # the old zone is untouched
    assert len(zone.nodes[name("www.example.com")][1].rdatas) == 1


def test_a_patched_zone_has_the_path_it_is_given() -> None:
    c, zone = start()
    out = apply_update(c, [], [add("www.example.com. 300 IN A 192.0.2.99")], "new/path", zone)
    assert out.zone is not None and out.zone.path == "new/path"
    # and when the apex NS change, the zone is built whole, with the same path
    ns = add("example.com. 300 IN NS ns.sub.example.com.")
    out = apply_update(c, [], [ns], "new/path", zone)
    assert out.zone is not None and out.zone.path == "new/path"
    assert out.zone.nodes[name("ns1.example.com")] is not zone.nodes[name("ns1.example.com")]


def test_a_patched_zone_keeps_the_warnings_of_the_last_whole_build() -> None:
    lines = [*ZONE, "example.com. 300 IN MX 10 mail.example.com."]  # no address for mail
    c = content(ORIGIN, [parse_record(line) for line in lines])
    zone = c.zone("z")
    assert zone.warnings and "mail.example.com" in zone.warnings[0].message
    out = apply_update(c, [], [add("www.example.com. 300 IN A 192.0.2.99")], "z", zone)
    assert out.zone is not None and out.zone.warnings == zone.warnings


def test_a_name_added_and_deleted_in_one_update_is_not_in_the_zone() -> None:
    c, zone = start()
    updates = [
        add("www.example.com. 300 IN A 192.0.2.99"),
        add("gone.example.com. 60 IN A 192.0.2.7"),
        Change(name("gone.example.com"), CLASS_ANY, 255, 0),
    ]
    out = apply_update(c, [], updates, "z", zone)
    whole = apply_update(c, [], updates, "z")
    assert out.rcode == NOERROR and out.zone is not None and whole.zone is not None
    assert name("gone.example.com") not in out.zone.nodes
    assert name("gone.example.com") not in out.zone.exists
    assert view(out.zone) == view(whole.zone)


def test_a_name_that_loses_its_ns_records_is_no_longer_a_delegation() -> None:
    lines = [*ZONE, "deleg.example.com. 300 IN NS ns1.example.com.",
             "deleg.example.com. 300 IN TXT kept"]  # fmt: skip
    c = content(ORIGIN, [parse_record(line) for line in lines])
    zone = c.zone("z")
    assert name("deleg.example.com") in zone.cuts
    updates = [Change(name("deleg.example.com"), CLASS_ANY, 2, 0)]
    out = apply_update(c, [], updates, "z", zone)
    whole = apply_update(c, [], updates, "z")
    assert out.zone is not None and whole.zone is not None
    assert name("deleg.example.com") not in out.zone.cuts
    assert name("sub.example.com") in out.zone.cuts
    assert view(out.zone) == view(whole.zone)
