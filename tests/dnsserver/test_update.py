"""RFC 2136 dynamic update against a zone's records (the sans-I/O core, dnsserver/update.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver.errors import FORMERR, NOERROR, REFUSED
from dnsserver.masterfile import parse_record, record_text
from dnsserver.update import (
    CLASS_ANY,
    CLASS_IN,
    CLASS_NONE,
    MAX_CHANGES,
    NOTZONE,
    NXDOMAIN,
    NXRRSET,
    YXDOMAIN,
    YXRRSET,
    Change,
    Content,
    JournalMismatch,
    apply_difference,
    apply_update,
    content,
    next_serial,
    serial_after,
)
from dnsserver.zone import load_zone

ORIGIN = (b"example", b"com")
ZONE = """\
example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 10 7200 3600 1209600 60
example.com. 300 IN NS ns1.example.com.
example.com. 300 IN NS ns2.example.com.
ns1.example.com. 300 IN A 192.0.2.1
ns2.example.com. 300 IN A 192.0.2.2
www.example.com. 300 IN A 192.0.2.80
www.example.com. 300 IN A 192.0.2.81
alias.example.com. 300 IN CNAME www.example.com.
"""
A, NS, CNAME, SOA, MX, TXT, ANY = 1, 2, 5, 6, 15, 16, 255


def zone(text: str = ZONE) -> Content:
    return content(ORIGIN, [parse_record(line) for line in text.splitlines()])


def name(text: str) -> tuple[bytes, ...]:
    return tuple(label.encode() for label in text.rstrip(".").split("."))


def add(text: str) -> Change:
    rec = parse_record(text)
    return Change(rec.labels, CLASS_IN, rec.rtype, rec.ttl, rec)


def delete_rrset(owner: str, rtype: int) -> Change:
    return Change(name(owner), CLASS_ANY, rtype, 0)


def delete_rr(text: str) -> Change:
    rec = parse_record(text)
    return Change(rec.labels, CLASS_NONE, rec.rtype, 0, rec)


def texts(c: Content, owner: str, rtype: int) -> list[str]:
    return sorted(record_text(r) for r in c.names.get(name(owner), {}).get(rtype, ()))


def test_an_add_goes_in_and_the_serial_goes_up_by_one() -> None:
    before = zone()
    out = apply_update(before, [], [add("new.example.com. 60 IN A 192.0.2.9")])
    assert out.rcode == NOERROR and out.changed
    assert out.content is not None and out.zone is not None
    assert texts(out.content, "new.example.com", A) == ["new.example.com. 60 IN A 192.0.2.9"]
    assert out.content.serial == 11
    assert before.serial == 10 and name("new.example.com") not in before.names  # untouched
    assert [record_text(r) for r in out.removed] == [record_text(before.soa)]
    assert [record_text(r) for r in out.added] == [
        record_text(out.content.soa),
        "new.example.com. 60 IN A 192.0.2.9",
    ]
    assert out.zone.serial == 11 and (b"new", *ORIGIN) in out.zone.nodes


def test_adding_a_record_already_there_only_sets_the_rrset_ttl() -> None:
    out = apply_update(zone(), [], [add("www.example.com. 30 IN A 192.0.2.80")])
    assert out.content is not None
    assert texts(out.content, "www.example.com", A) == [
        "www.example.com. 30 IN A 192.0.2.80",
        "www.example.com. 30 IN A 192.0.2.81",
    ]
    # a TTL change removes and adds the whole RRset (IXFR carries whole records)
    assert sorted(record_text(r) for r in out.removed[1:]) == [
        "www.example.com. 300 IN A 192.0.2.80",
        "www.example.com. 300 IN A 192.0.2.81",
    ]
    assert len(out.added) == 3


def test_adding_exactly_what_is_there_changes_nothing_and_keeps_the_serial() -> None:
    out = apply_update(zone(), [], [add("www.example.com. 300 IN A 192.0.2.80")])
    assert out.rcode == NOERROR and not out.changed and out.removed == out.added == ()


def test_case_of_names_does_not_make_a_new_record() -> None:
    out = apply_update(zone(), [], [add("WWW.Example.COM. 300 IN A 192.0.2.80")])
    assert not out.changed
    out = apply_update(zone(), [], [add("alias.example.com. 300 IN CNAME WWW.EXAMPLE.com.")])
    assert not out.changed


def test_cname_rules() -> None:
    out = apply_update(zone(), [], [add("www.example.com. 300 IN CNAME other.example.com.")])
    assert not out.changed and out.notes == (
        "ignored: www.example.com. CNAME: the name has other data",
    )
    out = apply_update(zone(), [], [add("alias.example.com. 300 IN TXT hello")])
    assert not out.changed and out.notes == (
        "ignored: alias.example.com. TXT: the name has a CNAME",
    )
    out = apply_update(zone(), [], [add("alias.example.com. 300 IN CNAME ns1.example.com.")])
    assert out.content is not None  # a CNAME replaces the CNAME
    assert texts(out.content, "alias.example.com", CNAME) == [
        "alias.example.com. 300 IN CNAME ns1.example.com."
    ]


def test_soa_add_replaces_only_with_a_later_serial_and_only_at_the_apex() -> None:
    later = (
        "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 50 7200 3600 1209600 60"
    )
    out = apply_update(zone(), [], [add(later)])
    assert out.content is not None and out.content.serial == 50  # not 51: it set the serial
    same = later.replace(" 50 ", " 10 ")
    out = apply_update(zone(), [], [add(same)])
    assert not out.changed and out.notes == ("ignored: SOA serial 10 is not after 10",)
    earlier = later.replace(" 50 ", " 9 ")
    assert apply_update(zone(), [], [add(earlier)]).notes == (
        "ignored: SOA serial 9 is not after 10",
    )
    below = "www.example.com. 300 IN SOA ns1.example.com. h.example.com. 50 1 1 1 1"
    out = apply_update(zone(), [], [add(below)])
    assert not out.changed and out.notes == (
        "ignored: an SOA record at www.example.com., not the apex",
    )


def test_soa_serial_wraps_by_rfc_1982() -> None:
    top = ZONE.replace(" 10 7200", " 4294967295 7200")
    out = apply_update(zone(top), [], [add("n.example.com. 60 IN A 192.0.2.3")])
    assert out.content is not None and out.content.serial == 1  # 0 is skipped
    assert next_serial(4294967294) == 4294967295 and next_serial(5) == 6
    assert serial_after(1, 4294967295) and not serial_after(4294967295, 1)
    assert serial_after(11, 10) and not serial_after(10, 10) and not serial_after(9, 10)
    assert not serial_after(10 + 2**31, 10) and serial_after(10 + 2**31 - 1, 10)


def test_delete_rrset_name_and_record() -> None:
    out = apply_update(zone(), [], [delete_rrset("www.example.com", A)])
    assert out.content is not None and name("www.example.com") not in out.content.names
    assert len(out.removed) == 3  # the SOA and both addresses
    out = apply_update(zone(), [], [delete_rr("www.example.com. 0 IN A 192.0.2.81")])
    assert out.content is not None
    assert texts(out.content, "www.example.com", A) == ["www.example.com. 300 IN A 192.0.2.80"]
    assert [record_text(r) for r in out.removed[1:]] == ["www.example.com. 300 IN A 192.0.2.81"]
    out = apply_update(zone(), [], [delete_rrset("alias.example.com", ANY)])
    assert out.content is not None and name("alias.example.com") not in out.content.names
    # deleting what is not there: nothing changes, the serial stays
    for ch in (
        delete_rrset("nope.example.com", ANY),
        delete_rrset("www.example.com", MX),
        delete_rr("www.example.com. 0 IN A 192.0.2.99"),
    ):
        out = apply_update(zone(), [], [ch])
        assert out.rcode == NOERROR and not out.changed


def test_the_apex_soa_and_ns_are_never_deleted() -> None:
    c = zone()
    out = apply_update(c, [], [delete_rrset("example.com", ANY)])
    assert not out.changed  # only SOA and NS live at this apex
    out = apply_update(c, [], [delete_rrset("example.com", SOA), delete_rrset("example.com", NS)])
    assert not out.changed and out.notes == (
        "ignored: deleting the apex SOA RRset",
        "ignored: deleting the apex NS RRset",
    )
    soa = record_text(c.soa).replace(" 300 ", " 0 ")
    assert apply_update(c, [], [delete_rr(soa)]).notes == ("ignored: deleting the SOA record",)
    out = apply_update(c, [], [delete_rr("example.com. 0 IN NS ns2.example.com.")])
    assert out.content is not None
    assert texts(out.content, "example.com", NS) == ["example.com. 300 IN NS ns1.example.com."]
    out = apply_update(out.content, [], [delete_rr("example.com. 0 IN NS ns1.example.com.")])
    assert not out.changed and out.notes == ("ignored: deleting the apex's last NS record",)
    mx = apply_update(c, [], [add("example.com. 60 IN MX 10 www.example.com.")]).content
    assert mx is not None
    out = apply_update(mx, [], [delete_rrset("example.com", ANY)])
    assert out.content is not None  # the MX goes; SOA and NS stay
    assert set(out.content.names[ORIGIN]) == {SOA, NS}


def test_updates_apply_in_order_within_one_message() -> None:
    out = apply_update(
        zone(),
        [],
        [
            add("t.example.com. 60 IN A 192.0.2.5"),
            delete_rrset("t.example.com", A),
            add("t.example.com. 60 IN TXT after"),
        ],
    )
    assert out.content is not None
    assert set(out.content.names[name("t.example.com")]) == {TXT}
    assert out.content.serial == 11  # one update message, one serial


PREREQUISITES = [
    pytest.param(Change(name("www.example.com"), CLASS_ANY, ANY, 0), NOERROR, id="name-in-use"),
    pytest.param(Change(name("no.example.com"), CLASS_ANY, ANY, 0), NXDOMAIN, id="name-not-in-use"),
    pytest.param(Change(name("www.example.com"), CLASS_ANY, A, 0), NOERROR, id="rrset-exists"),
    pytest.param(Change(name("www.example.com"), CLASS_ANY, MX, 0), NXRRSET, id="rrset-missing"),
    pytest.param(Change(name("no.example.com"), CLASS_NONE, ANY, 0), NOERROR, id="name-free"),
    pytest.param(Change(name("www.example.com"), CLASS_NONE, ANY, 0), YXDOMAIN, id="name-taken"),
    pytest.param(Change(name("www.example.com"), CLASS_NONE, MX, 0), NOERROR, id="rrset-absent"),
    pytest.param(Change(name("www.example.com"), CLASS_NONE, A, 0), YXRRSET, id="rrset-present"),
    pytest.param(Change(name("www.example.com"), CLASS_ANY, A, 5), FORMERR, id="ttl-not-0"),
    pytest.param(Change(name("www.example.org"), CLASS_ANY, A, 0), NOTZONE, id="out-of-zone"),
    pytest.param(Change(name("www.example.com"), 3, A, 0), FORMERR, id="class-chaos"),
    pytest.param(
        Change(
            name("www.example.com"),
            CLASS_ANY,
            A,
            0,
            parse_record("www.example.com. 0 IN A 192.0.2.80"),
        ),
        FORMERR,
        id="rdata-in-class-any",
    ),
    pytest.param(
        Change(
            name("www.example.com"),
            CLASS_NONE,
            A,
            0,
            parse_record("www.example.com. 0 IN A 192.0.2.80"),
        ),
        FORMERR,
        id="rdata-in-class-none",
    ),
    pytest.param(
        Change(name("www.example.com"), CLASS_IN, A, 0), FORMERR, id="value-without-rdata"
    ),
    pytest.param(Change(name("example.com"), CLASS_ANY, ANY, 0), NOERROR, id="apex-in-use"),
    # an empty non-terminal is not "in use": only names with records are
    pytest.param(Change(name("example.com"), CLASS_ANY, ANY, 0), NOERROR, id="apex"),
]


@pytest.mark.parametrize(("pre", "rcode"), PREREQUISITES)
def test_prerequisites(pre: Change, rcode: int) -> None:
    c = zone()
    out = apply_update(c, [pre], [add("p.example.com. 60 IN A 192.0.2.7")])
    assert out.rcode == rcode
    assert out.changed == (rcode == NOERROR)
    if rcode != NOERROR:
        assert out.why and out.content is None and out.removed == ()


def test_empty_non_terminals_are_not_names_in_use() -> None:
    c = zone(ZONE + "a.b.example.com. 60 IN A 192.0.2.4\n")
    out = apply_update(c, [Change(name("b.example.com"), CLASS_ANY, ANY, 0)], [])
    assert out.rcode == NXDOMAIN
    out = apply_update(c, [Change(name("b.example.com"), CLASS_NONE, ANY, 0)], [])
    assert out.rcode == NOERROR


def value(text: str) -> Change:
    rec = parse_record(text)
    return Change(rec.labels, CLASS_IN, rec.rtype, 0, rec)


def test_value_dependent_prerequisites_compare_the_whole_rrset() -> None:
    both = [
        value("www.example.com. 0 IN A 192.0.2.80"),
        value("www.example.com. 0 IN A 192.0.2.81"),
    ]
    assert apply_update(zone(), both, []).rcode == NOERROR
    assert apply_update(zone(), both[:1], []).rcode == NXRRSET  # a subset is not the RRset
    extra = [*both, value("www.example.com. 0 IN A 192.0.2.82")]
    assert apply_update(zone(), extra, []).rcode == NXRRSET
    assert apply_update(zone(), [value("no.example.com. 0 IN A 192.0.2.80")], []).rcode == NXRRSET
    case = [value("ALIAS.example.com. 0 IN CNAME WWW.example.COM.")]
    assert apply_update(zone(), case, []).rcode == NOERROR
    ttl = Change(
        name("www.example.com"),
        CLASS_IN,
        A,
        300,
        parse_record("www.example.com. 0 IN A 192.0.2.80"),
    )
    assert apply_update(zone(), [ttl], []).rcode == FORMERR


def test_a_failed_prerequisite_stops_every_update() -> None:
    c = zone()
    out = apply_update(
        c,
        [Change(name("www.example.com"), CLASS_NONE, ANY, 0)],
        [add("q.example.com. 60 IN A 192.0.2.7")],
    )
    assert out.rcode == YXDOMAIN and out.why == "prerequisite www.example.com. ANY: there"
    assert out.content is None and name("q.example.com") not in c.names


PRESCAN = [
    pytest.param(Change(name("x.example.org"), CLASS_ANY, A, 0), NOTZONE, id="out-of-zone"),
    pytest.param(Change(name("x.example.com"), CLASS_IN, ANY, 0), FORMERR, id="add-any"),
    pytest.param(Change(name("x.example.com"), CLASS_IN, 252, 0), FORMERR, id="add-axfr"),
    pytest.param(Change(name("x.example.com"), CLASS_IN, A, 0), FORMERR, id="add-without-rdata"),
    pytest.param(Change(name("x.example.com"), CLASS_ANY, A, 10), FORMERR, id="delete-ttl"),
    pytest.param(Change(name("x.example.com"), CLASS_ANY, 252, 0), FORMERR, id="delete-axfr"),
    pytest.param(Change(name("x.example.com"), CLASS_NONE, A, 0), FORMERR, id="delete-rr-no-rdata"),
    pytest.param(Change(name("x.example.com"), CLASS_NONE, ANY, 0), FORMERR, id="delete-rr-any"),
    pytest.param(Change(name("x.example.com"), 3, A, 0), FORMERR, id="class-chaos"),
    pytest.param(
        Change(
            name("x.example.com"), CLASS_ANY, A, 0, parse_record("x.example.com. 0 IN A 1.2.3.4")
        ),
        FORMERR,
        id="delete-rrset-with-rdata",
    ),
    pytest.param(
        Change(
            name("x.example.com"), CLASS_NONE, A, 7, parse_record("x.example.com. 0 IN A 1.2.3.4")
        ),
        FORMERR,
        id="delete-rr-ttl",
    ),
]


@pytest.mark.parametrize(("bad", "rcode"), PRESCAN)
def test_the_prescan_refuses_the_whole_update(bad: Change, rcode: int) -> None:
    out = apply_update(zone(), [], [add("ok.example.com. 60 IN A 192.0.2.7"), bad])
    assert out.rcode == rcode and not out.changed and out.why


def test_an_update_that_would_break_the_zone_is_refused_whole() -> None:
    # an apex NS naming a host of the zone that has no address is an error of the zone
    # (RFC 2181 §10.3), as when loading the file; an MX at a CNAME only a warning
    out = apply_update(
        zone(),
        [],
        [add("ok.example.com. 60 IN A 192.0.2.7"), add("example.com. 60 IN NS ns3.example.com.")],
    )
    assert out.rcode == REFUSED and out.why.startswith("the zone would have errors: ")
    assert "ns3.example.com" in out.why and out.content is None
    out = apply_update(zone(), [], [add("example.com. 60 IN MX 10 alias.example.com.")])
    assert out.rcode == NOERROR and out.zone is not None and out.zone.warnings


def test_too_many_records_in_one_update_are_refused() -> None:
    many = [add(f"n{i}.example.com. 60 IN A 192.0.2.1") for i in range(MAX_CHANGES + 1)]
    out = apply_update(zone(), [], many)
    assert out.rcode == REFUSED and out.why == f"more than {MAX_CHANGES} records in one update"
    out = apply_update(zone(), [], many[:MAX_CHANGES])
    assert out.rcode == NOERROR and out.content is not None
    assert len(out.added) == MAX_CHANGES + 1


def test_grouping_drops_duplicates_and_takes_the_smallest_ttl() -> None:
    c = zone(ZONE + "www.example.com. 5 IN A 192.0.2.80\nwww.example.com. 900 IN A 192.0.2.82\n")
    assert texts(c, "www.example.com", A) == [
        "www.example.com. 5 IN A 192.0.2.80",
        "www.example.com. 5 IN A 192.0.2.81",
        "www.example.com. 5 IN A 192.0.2.82",
    ]
    with pytest.raises(Exception, match="has no SOA record"):
        content(ORIGIN, [parse_record("www.example.com. 5 IN A 192.0.2.80")])


def test_records_come_soa_first_then_the_apex_then_by_name(tmp_path: object) -> None:
    c = zone(ZONE + "a.example.com. 60 IN A 192.0.2.9\nz.a.example.com. 60 IN A 192.0.2.9\n")
    order = [record_text(r).split()[0:4:3] for r in c.records()]
    assert order[0] == ["example.com.", "SOA"] and order[1:3] == [["example.com.", "NS"]] * 2
    owners = [o for o, _ in order[3:]]
    assert owners == sorted(owners, key=lambda o: tuple(reversed(o.rstrip(".").split("."))))


def test_replaying_a_difference_gives_the_same_zone() -> None:
    c = zone()
    out = apply_update(
        c,
        [],
        [add("n.example.com. 60 IN A 192.0.2.3"), delete_rr("www.example.com. 0 IN A 192.0.2.80")],
    )
    assert out.content is not None
    again = apply_difference(c, out.removed, out.added)
    assert sorted(map(record_text, again.records())) == sorted(
        map(record_text, out.content.records())
    )
    with pytest.raises(JournalMismatch, match="the entry starts at serial 10, the zone is at 11"):
        apply_difference(out.content, out.removed, out.added)
    with pytest.raises(JournalMismatch, match="begin with the old and the new SOA"):
        apply_difference(c, out.removed[1:], out.added)
    gone = (out.removed[0], parse_record("nothere.example.com. 60 IN A 192.0.2.3"))
    with pytest.raises(
        JournalMismatch, match=r"nothere\.example\.com\. 60 IN A 192\.0\.2\.3 is not in"
    ):
        apply_difference(c, gone, out.added)


rdatas = st.sampled_from(["192.0.2.1", "192.0.2.2", "192.0.2.3"])
owners = st.sampled_from(["example.com", "a.example.com", "b.example.com", "www.example.com"])
changes = st.one_of(
    st.builds(lambda o, r, t: add(f"{o}. {t} IN A {r}"), owners, rdatas, st.sampled_from([30, 60])),
    st.builds(lambda o, r: add(f"{o}. 60 IN TXT t{r[-1]}"), owners, rdatas),
    st.builds(
        lambda o: add(f"{o}. 60 IN CNAME www.example.com."),
        st.sampled_from(["a.example.com", "b.example.com"]),
    ),
    st.builds(lambda o: delete_rrset(o, A), owners),
    st.builds(lambda o: delete_rrset(o, ANY), owners),
    st.builds(lambda o: delete_rrset(o, NS), owners),
    st.builds(lambda o, r: delete_rr(f"{o}. 0 IN A {r}"), owners, rdatas),
    st.builds(
        lambda n: delete_rr(f"example.com. 0 IN NS ns{n}.example.com."), st.sampled_from([1, 2])
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(changes, min_size=1, max_size=4), max_size=6))
def test_any_sequence_of_updates_keeps_the_zone_whole(script: list[list[Change]]) -> None:
    c = zone()
    for updates in script:
        before = sorted(map(record_text, c.records()))
        out = apply_update(c, [], updates)
        assert sorted(map(record_text, c.records())) == before  # the old content never changes
        if out.content is None:
            assert out.removed == out.added == ()
            continue
        assert out.rcode == NOERROR
        new = out.content
        assert new.serial == next_serial(c.serial)
        assert SOA in new.names[ORIGIN] and new.names[ORIGIN][NS]  # the apex stays whole
        for node in new.names.values():  # no CNAME beside other data
            assert CNAME not in node or set(node) == {CNAME}
            for records in node.values():  # one TTL per RRset, no duplicates
                assert len({r.ttl for r in records}) == 1
                assert len({r.identity for r in records}) == len(records)
        replayed = apply_difference(c, out.removed, out.added)
        assert sorted(map(record_text, replayed.records())) == sorted(
            map(record_text, new.records())
        )
        assert out.zone is not None and out.zone.serial == new.serial
        c = new


def test_the_served_zone_is_the_content_checked_as_a_file(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "z.zone"
    out = apply_update(zone(), [], [add("n.example.com. 60 IN MX 10 www.example.com.")])
    assert out.content is not None and out.zone is not None
    path.write_text(
        "$ORIGIN example.com.\n" + "\n".join(map(record_text, out.content.records())) + "\n"
    )
    loaded = load_zone(path)
    assert loaded.serial == out.zone.serial and loaded.records == out.zone.records
    assert set(loaded.nodes) == set(out.zone.nodes)
