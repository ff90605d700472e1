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


# --- exact reasons, and what an ignored update leaves for the ones after it


NS3_ERROR = (
    "the zone would have errors: name server ns3.example.com. (NS of example.com.) is in this "
    "zone but has no A or AAAA record: resolvers sent to it could not reach the zone"
)
MX_WARNING = (
    "MX of example.com.: mail server alias.example.com. is an alias (CNAME); it must name a host "
    "with its own A or AAAA record (RFC 2181 §10.3)"
)


@pytest.mark.parametrize("mx_first", [True, False])
def test_a_refusal_names_the_first_error_not_a_warning(mx_first: bool) -> None:
    mx = add("example.com. 60 IN MX 10 alias.example.com.")  # a warning
    ns = add("example.com. 60 IN NS ns3.example.com.")  # an error
    out = apply_update(zone(), [], [mx, ns] if mx_first else [ns, mx])
    assert (out.rcode, out.why, out.content, out.zone) == (REFUSED, NS3_ERROR, None, None)
    assert out.notes == () and out.removed == out.added == ()


def test_the_reason_of_a_zone_error_with_no_error_listed_is_its_message() -> None:
    from dnsserver.errors import ZoneError
    from dnsserver.problems import Problem
    from dnsserver.update import _first

    warning = Problem("z:1", "just a warning", warning=True)
    assert _first(ZoneError("the whole message", (warning,))) == "the whole message"
    error = Problem("z:2", "the error")
    assert _first(ZoneError("the whole message", (warning, error))) == "the error"


PRESCAN_WHY = [
    (Change(name("x.example.org"), CLASS_ANY, A, 0), NOTZONE, "A: outside the zone"),
    (
        Change(name("x.example.com"), CLASS_IN, ANY, 0),
        FORMERR,
        "ANY: not a record that can be added",
    ),
    (
        Change(name("x.example.com"), CLASS_IN, TXT, 0),
        FORMERR,
        "TXT: not a record that can be added",
    ),
    (Change(name("x.example.com"), CLASS_ANY, A, 1), FORMERR, "A: a bad RRset deletion"),
    (Change(name("x.example.com"), CLASS_ANY, 41, 0), FORMERR, "OPT: a bad RRset deletion"),
    (Change(name("x.example.com"), CLASS_NONE, A, 0), FORMERR, "A: a bad record deletion"),
    (Change(name("x.example.com"), 4, MX, 0), FORMERR, "MX: class 4"),
]


@pytest.mark.parametrize(("bad", "rcode", "why"), PRESCAN_WHY)
def test_the_prescan_says_which_update_is_wrong(bad: Change, rcode: int, why: str) -> None:
    out = apply_update(zone(), [], [bad])
    why = f"update {'.'.join(label.decode() for label in bad.name)}. {why}"
    assert (out.rcode, out.why, out.content, out.notes) == (rcode, why, None, ())


@pytest.mark.parametrize("rtype", [0, 41, 128, 250, 251, 252, 254, 255])
def test_meta_types_cannot_be_added(rtype: int) -> None:
    rec = parse_record("x.example.com. 60 IN A 192.0.2.1")
    out = apply_update(zone(), [], [Change(name("x.example.com"), CLASS_IN, rtype, 60, rec)])
    assert out.rcode == FORMERR and out.why.endswith(": not a record that can be added")


@pytest.mark.parametrize("rtype", [0, 41, 128, 252, 254])
def test_meta_types_other_than_any_cannot_be_deleted(rtype: int) -> None:
    out = apply_update(zone(), [], [Change(name("www.example.com"), CLASS_ANY, rtype, 0)])
    assert out.rcode == FORMERR and out.why.endswith(": a bad RRset deletion")
    rec = parse_record("www.example.com. 0 IN A 192.0.2.80")
    out = apply_update(zone(), [], [Change(name("www.example.com"), CLASS_NONE, rtype, 0, rec)])
    assert out.rcode == FORMERR and out.why.endswith(": a bad record deletion")


@pytest.mark.parametrize("rtype", [1, 127, 256, 65280])
def test_real_types_can_be_deleted_by_rrset(rtype: int) -> None:
    out = apply_update(zone(), [], [Change(name("www.example.com"), CLASS_ANY, rtype, 0)])
    assert out.rcode == NOERROR and out.why == ""


def test_the_update_just_inside_the_zone_and_just_outside() -> None:
    out = apply_update(zone(), [], [add("example.com. 60 IN TXT apex")])
    assert out.rcode == NOERROR and out.changed
    for outside in ("com", "xexample.com", "example.com.org"):
        ch = Change(name(outside), CLASS_ANY, A, 0)
        out = apply_update(zone(), [], [ch])
        assert (out.rcode, out.why) == (NOTZONE, f"update {outside}. A: outside the zone")
        out = apply_update(zone(), [ch], [])
        assert (out.rcode, out.why) == (NOTZONE, f"prerequisite {outside}. A: outside the zone")


WWW = name("www.example.com")
RDATA = parse_record("www.example.com. 0 IN A 192.0.2.80")
PREREQUISITE_WHY = [
    (Change(WWW, CLASS_ANY, A, 1), FORMERR, "www.example.com. A: TTL 1, not 0"),
    (Change(name("no.example.com"), CLASS_ANY, ANY, 0), NXDOMAIN, "no.example.com. ANY: not there"),
    (Change(name("no.example.com"), CLASS_ANY, A, 0), NXRRSET, "no.example.com. A: not there"),
    (Change(WWW, CLASS_ANY, TXT, 0), NXRRSET, "www.example.com. TXT: not there"),
    (Change(WWW, CLASS_NONE, ANY, 0), YXDOMAIN, "www.example.com. ANY: there"),
    (Change(WWW, CLASS_NONE, A, 0), YXRRSET, "www.example.com. A: there"),
    (
        Change(WWW, CLASS_IN, A, 0),
        FORMERR,
        "www.example.com. A: a value-dependent prerequisite without RDATA",
    ),
    (Change(WWW, 4, A, 0), FORMERR, "www.example.com. A: class 4"),
    (
        Change(name("WWW.example.com"), CLASS_ANY, A, 0, RDATA),
        FORMERR,
        "WWW.example.com. A: RDATA in a class ANY or NONE prerequisite",
    ),
]


@pytest.mark.parametrize(("pre", "rcode", "why"), PREREQUISITE_WHY)
def test_a_failed_prerequisite_says_which(pre: Change, rcode: int, why: str) -> None:
    out = apply_update(zone(), [pre], [])
    assert (out.rcode, out.why, out.content, out.notes) == (rcode, f"prerequisite {why}", None, ())


def test_absent_names_and_rrsets_as_prerequisites() -> None:
    for pre in (
        Change(name("no.example.com"), CLASS_NONE, A, 0),  # no such name: no such RRset
        Change(name("no.example.com"), CLASS_NONE, ANY, 0),
        Change(name("www.example.com"), CLASS_NONE, TXT, 0),
    ):
        out = apply_update(zone(), [pre], [add("n.example.com. 60 IN A 192.0.2.3")])
        assert out.rcode == NOERROR and out.changed


@pytest.mark.parametrize("rtype", [ANY, 252, 41, 0])
def test_a_value_dependent_prerequisite_of_a_meta_type_is_formerr(rtype: int) -> None:
    rec = parse_record("www.example.com. 0 IN A 192.0.2.80")
    out = apply_update(zone(), [Change(name("www.example.com"), CLASS_IN, rtype, 0, rec)], [])
    assert out.rcode == FORMERR
    assert out.why.endswith(": a value-dependent prerequisite without RDATA")


def test_a_value_dependent_prerequisite_that_differs_is_named() -> None:
    out = apply_update(zone(), [value("www.example.com. 0 IN A 192.0.2.80")], [])
    assert (out.rcode, out.why) == (NXRRSET, "prerequisite www.example.com. A: the RRset differs")
    out = apply_update(zone(), [value("No.Example.com. 0 IN TXT x")], [])
    assert (out.rcode, out.why) == (NXRRSET, "prerequisite no.example.com. TXT: the RRset differs")


def test_every_prerequisite_is_checked_before_the_value_dependent_ones() -> None:
    both = [
        value("www.example.com. 0 IN A 192.0.2.80"),  # a subset: would be NXRRSET
        Change(name("www.example.com"), CLASS_NONE, ANY, 0),  # YXDOMAIN, found first
    ]
    assert apply_update(zone(), both, []).rcode == YXDOMAIN


def test_the_count_limit_is_on_both_sections_together() -> None:
    pres = [Change(name("www.example.com"), CLASS_ANY, A, 0)] * 500
    ups = [add(f"n{i}.example.com. 60 IN A 192.0.2.1") for i in range(500)]
    out = apply_update(zone(), pres, ups)
    assert out.rcode == NOERROR and len(out.added) == 501
    out = apply_update(zone(), [*pres, pres[0]], ups)
    assert (out.rcode, out.why) == (REFUSED, "more than 1000 records in one update")
    out = apply_update(zone(), pres * 2 + [pres[0]], [])
    assert out.rcode == REFUSED
    out = apply_update(zone(), pres * 2, [])
    assert out.rcode == NOERROR and not out.changed


NEXT = add("next.example.com. 60 IN A 192.0.2.99")


@pytest.mark.parametrize(
    ("ignored", "note"),
    [
        (add("www.example.com. 60 IN SOA a.example.com. b.example.com. 99 1 1 1 1"),
         "ignored: an SOA record at www.example.com., not the apex"),
        (add("example.com. 60 IN SOA a.example.com. b.example.com. 3 1 1 1 1"),
         "ignored: SOA serial 3 is not after 10"),
        (add("www.example.com. 60 IN CNAME ns1.example.com."),
         "ignored: www.example.com. CNAME: the name has other data"),
        (add("alias.example.com. 60 IN A 192.0.2.1"),
         "ignored: alias.example.com. A: the name has a CNAME"),
        (delete_rrset("example.com", SOA), "ignored: deleting the apex SOA RRset"),
        (delete_rrset("example.com", NS), "ignored: deleting the apex NS RRset"),
        (delete_rr(SOA10_ZERO := ZONE.splitlines()[0].replace(" 300 ", " 0 ")),
         "ignored: deleting the SOA record"),
        (delete_rrset("example.com", ANY), None),  # nothing but the SOA and NS there
        (delete_rrset("nothere.example.com", ANY), None),
        (delete_rrset("www.example.com", TXT), None),
        (delete_rr("www.example.com. 0 IN A 192.0.2.99"), None),
        (delete_rr("nothere.example.com. 0 IN A 192.0.2.99"), None),
    ],
)  # fmt: skip
def test_an_ignored_update_does_not_stop_the_next(ignored: Change, note: str | None) -> None:
    out = apply_update(zone(), [], [ignored, NEXT])
    assert out.rcode == NOERROR and out.content is not None
    assert out.notes == ((note,) if note else ())
    assert texts(out.content, "next.example.com", A) == ["next.example.com. 60 IN A 192.0.2.99"]
    assert out.content.serial == 11
    assert [record_text(r) for r in out.added[1:]] == ["next.example.com. 60 IN A 192.0.2.99"]
    assert out.removed == (zone().soa,)


def test_the_apex_last_ns_delete_does_not_stop_the_next() -> None:
    c = apply_update(zone(), [], [delete_rr("example.com. 0 IN NS ns2.example.com.")]).content
    assert c is not None
    out = apply_update(c, [], [delete_rr("example.com. 0 IN NS ns1.example.com."), NEXT])
    assert out.content is not None and out.notes == ("ignored: deleting the apex's last NS record",)
    assert texts(out.content, "next.example.com", A) == ["next.example.com. 60 IN A 192.0.2.99"]
    assert texts(out.content, "example.com", NS) == ["example.com. 300 IN NS ns1.example.com."]


def test_an_soa_update_does_not_stop_the_next() -> None:
    soa = add(ZONE.splitlines()[0].replace(" 10 ", " 20 "))
    out = apply_update(zone(), [], [soa, NEXT])
    assert out.content is not None and out.content.serial == 20 and out.notes == ()
    assert texts(out.content, "next.example.com", A) == ["next.example.com. 60 IN A 192.0.2.99"]
    assert [record_text(r) for r in out.added] == [
        ZONE.splitlines()[0].replace(" 10 ", " 20 "),
        "next.example.com. 60 IN A 192.0.2.99",
    ]


def test_a_changed_outcome_keeps_its_notes() -> None:
    out = apply_update(zone(), [], [add("alias.example.com. 60 IN A 192.0.2.1"), NEXT])
    assert out.changed and out.notes == ("ignored: alias.example.com. A: the name has a CNAME",)


def test_deleting_an_rrset_keeps_the_other_types_and_others_elsewhere() -> None:
    c = zone(
        ZONE + "www.example.com. 60 IN TXT hello\nmail.example.com. 60 IN MX 10 www.example.com.\n"
    )
    out = apply_update(c, [], [delete_rrset("www.example.com", A)])
    assert out.content is not None
    assert set(out.content.names[name("www.example.com")]) == {TXT}
    out = apply_update(c, [], [delete_rrset("mail.example.com", MX)])
    assert out.content is not None and name("mail.example.com") not in out.content.names
    assert set(out.content.names[ORIGIN]) == {SOA, NS}


def test_an_mx_and_a_delegation_can_be_deleted_as_rrsets() -> None:
    c = zone(
        ZONE
        + "example.com. 60 IN MX 10 www.example.com.\n"
        + "sub.example.com. 60 IN NS ns1.example.com.\n"
    )
    out = apply_update(
        c, [], [delete_rrset("example.com", MX), delete_rrset("sub.example.com", NS)]
    )
    assert out.content is not None and out.notes == ()
    assert set(out.content.names[ORIGIN]) == {SOA, NS}
    assert name("sub.example.com") not in out.content.names
    assert sorted(record_text(r) for r in out.removed[1:]) == [
        "example.com. 60 IN MX 10 www.example.com.",
        "sub.example.com. 60 IN NS ns1.example.com.",
    ]


def test_deleting_one_record_keeps_the_others_at_the_name() -> None:
    c = zone(ZONE + "www.example.com. 60 IN TXT hello\n")
    out = apply_update(c, [], [delete_rr("www.example.com. 0 IN A 192.0.2.80")])
    assert out.content is not None
    node = out.content.names[name("www.example.com")]
    assert set(node) == {A, TXT}
    assert texts(out.content, "www.example.com", TXT) == ['www.example.com. 60 IN TXT "hello"']


def test_deleting_the_last_record_of_a_name_removes_the_name() -> None:
    c = zone(ZONE + "t.example.com. 60 IN A 192.0.2.5\nu.example.com. 60 IN A 192.0.2.6\n")
    c2 = zone(ZONE + "u.example.com. 60 IN A 192.0.2.6\n")
    out = apply_update(c, [], [delete_rr("t.example.com. 0 IN A 192.0.2.5")])
    assert out.content is not None
    assert name("t.example.com") not in out.content.names
    assert set(out.content.names) == set(c2.names)
    c3 = zone(ZONE + "t.example.com. 60 IN A 192.0.2.5\nt.example.com. 60 IN TXT x\n")
    out = apply_update(c3, [], [delete_rr("t.example.com. 0 IN A 192.0.2.5")])
    assert out.content is not None and set(out.content.names[name("t.example.com")]) == {TXT}


def test_a_ttl_change_keeps_each_records_targets_and_origin() -> None:
    c = zone(ZONE + "example.com. 300 IN MX 10 alias.example.com.\n")
    out = apply_update(c, [], [add("example.com. 60 IN MX 20 www.example.com.")])
    assert out.zone is not None and out.content is not None
    assert [t[0] for t in out.zone.nodes[ORIGIN][MX].targets] == [
        name("alias.example.com"),
        name("www.example.com"),
    ]
    assert [str(t[1]) for t in out.zone.nodes[ORIGIN][MX].targets] == [
        "alias.example.com.",
        "www.example.com.",
    ]
    # the kept MX, its TTL changed, is still where it was read from
    assert [(p.where, p.message, p.warning) for p in out.zone.warnings] == [
        ("?:1", MX_WARNING, True)
    ]
    kept = out.content.names[ORIGIN][MX][0]
    old = c.names[ORIGIN][MX][0]
    assert kept.ttl == 60 and old.ttl == 300
    assert (kept.labels, kept.key, kept.rtype, kept.identity, kept.target, kept.target_labels) == (
        old.labels, old.key, old.rtype, old.identity, old.target, old.target_labels,
    )  # fmt: skip
    assert (kept.source, kept.line) == (old.source, old.line) and kept.rdata is old.rdata


def test_the_served_zone_has_the_path_given() -> None:
    out = apply_update(zone(), [], [NEXT], "zones/example.com.zone")
    assert out.zone is not None and out.zone.path == "zones/example.com.zone"
    out = apply_update(zone(), [], [NEXT])
    assert out.zone is not None and out.zone.path == ""
    assert zone().zone("p.zone").path == "p.zone"


@pytest.mark.parametrize(
    ("new", "old", "after"),
    [
        (11, 10, True),
        (10, 10, False),
        (9, 10, False),
        (10 + 2**31 - 1, 10, True),
        (10 + 2**31, 10, False),  # exactly half way: undefined, so not after
        (10 + 2**31 + 1, 10, False),
        (0, 2**32 - 1, True),
        (2**31 - 2, 2**32 - 1, True),  # 2^31 - 1 ahead, across the wrap
        (2**31 - 1, 2**32 - 1, False),  # 2^31 ahead
        (2**31, 0, False),
        (2**31 - 1, 0, True),
        (2**32 - 1, 0, False),
    ],
)
def test_serial_arithmetic_at_the_boundaries(new: int, old: int, after: bool) -> None:
    assert serial_after(new, old) is after


@pytest.mark.parametrize(
    ("serial", "following"),
    [(0, 1), (1, 2), (2**31 - 1, 2**31), (2**32 - 2, 2**32 - 1), (2**32 - 1, 1)],
)
def test_next_serial(serial: int, following: int) -> None:
    assert next_serial(serial) == following


def test_an_soa_serial_exactly_half_way_is_ignored() -> None:
    half = ZONE.splitlines()[0].replace(" 10 ", f" {10 + 2**31} ")
    out = apply_update(zone(), [], [add(half)])
    assert not out.changed and out.notes == (f"ignored: SOA serial {10 + 2**31} is not after 10",)
    just = ZONE.splitlines()[0].replace(" 10 ", f" {9 + 2**31} ")
    out = apply_update(zone(), [], [add(just)])
    assert out.content is not None and out.content.serial == 9 + 2**31


def test_a_replayed_difference_gives_the_same_names_exactly() -> None:
    c = zone(ZONE + "t.example.com. 60 IN A 192.0.2.5\nwww.example.com. 60 IN TXT x\n")
    out = apply_update(
        c,
        [],
        [
            delete_rr("t.example.com. 0 IN A 192.0.2.5"),  # the name goes
            delete_rr("www.example.com. 0 IN A 192.0.2.80"),  # one of two goes
            delete_rrset("www.example.com", TXT),
            add("n.example.com. 60 IN A 192.0.2.3"),
            add("ns1.example.com. 30 IN A 192.0.2.1"),  # a TTL change
        ],
    )
    assert out.content is not None
    again = apply_difference(c, out.removed, out.added)
    assert again.origin == ORIGIN and again.origin_labels == ORIGIN
    assert again.names == out.content.names
    assert again.zone("x").serial == 11


def test_a_journal_entry_must_begin_with_both_soas() -> None:
    c = zone()
    out = apply_update(c, [], [NEXT])
    rec = parse_record("next.example.com. 60 IN A 192.0.2.99")
    message = "^an entry must begin with the old and the new SOA$"
    for removed, added in (
        ((), out.added),
        (out.removed, ()),
        ((), ()),
        ((rec, *out.removed), out.added),
        (out.removed, out.added[1:]),
    ):
        with pytest.raises(JournalMismatch, match=message):
            apply_difference(c, removed, added)


def test_a_journal_entry_can_add_beside_and_change_the_ttl() -> None:
    c = zone()
    new_soa = parse_record(ZONE.splitlines()[0].replace(" 10 ", " 11 "))
    rec = parse_record("www.example.com. 30 IN A 192.0.2.82")
    got = apply_difference(c, [c.soa], [new_soa, rec])
    assert got.serial == 11
    assert texts(got, "www.example.com", A) == [
        "www.example.com. 30 IN A 192.0.2.80",
        "www.example.com. 30 IN A 192.0.2.81",
        "www.example.com. 30 IN A 192.0.2.82",
    ]
    assert c.serial == 10 and len(c.names[name("www.example.com")][A]) == 2


def test_the_next_update_can_require_the_soa_an_update_wrote() -> None:
    first = apply_update(zone(), [], [add("new.example.com. 60 IN A 192.0.2.9")])
    assert first.content is not None
    soa = record_text(first.content.soa)
    assert soa == (
        "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 11 7200 3600 1209600 60"
    )
    required = parse_record(soa)
    prerequisite = Change(required.labels, CLASS_IN, SOA, 0, required)
    out = apply_update(first.content, [prerequisite], [add("b.example.com. 60 IN A 192.0.2.8")])
    assert out.rcode == NOERROR and out.content is not None and out.content.serial == 12
    assert first.content.soa.identity == required.identity


def test_the_soa_written_by_an_update_is_the_old_one_with_the_next_serial() -> None:
    before = zone()
    out = apply_update(before, [], [add("new.example.com. 60 IN A 192.0.2.9")])
    assert out.content is not None
    old, new = before.soa, out.content.soa
    assert (new.labels, new.key, new.ttl, new.rtype, new.source, new.line) == (
        old.labels, old.key, old.ttl, old.rtype, old.source, old.line,
    )  # fmt: skip
    assert new.identity == parse_record(record_text(new)).identity
    assert (new.target, new.target_labels) == (None, None)
    assert new.rdata.times == (11, 7200, 3600, 1209600, 60)  # type: ignore[attr-defined]
    assert str(new.rdata.mname) == "ns1.example.com." and str(new.rdata.rname) == (  # type: ignore[attr-defined]
        "hostmaster.example.com."
    )


@pytest.mark.parametrize(
    "soa",
    [
        "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 10 7200 3600 1209600 30",
        r"example.com. 60 IN SOA NS1.Example.COM. host\.master.example.com. 4294967295 1 2 3 4",
        "example.com. 60 IN SOA . . 0 0 0 0 0",
    ],
)
def test_a_new_serial_keeps_the_soa_identity_its_wire_form(soa: str) -> None:
    from dnsserver.masterfile import rdata_wire
    from dnsserver.update import _reserial

    for serial in (1, 11, 0x01020304, 4294967295):
        rec = _reserial(parse_record(soa), serial)
        again = parse_record(record_text(rec))  # as the loader reads it
        assert rec.identity == rdata_wire(rec.rdata) == again.identity
        assert rec.rdata.times[0] == serial and rec.ttl == 60  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["rrset", "record", "name"])
def test_taking_away_the_address_of_an_apex_name_server_is_refused(how: str) -> None:
    # the served zone is patched, not built again, unless the update touches the apex NS
    # records or the hosts they name: here a host, so the whole zone is checked, and refused
    before = zone()
    served = before.zone("example.com.zone")
    change = {
        "rrset": delete_rrset("ns2.example.com", A),
        "record": delete_rr("ns2.example.com. 300 IN A 192.0.2.2"),
        "name": delete_rrset("ns2.example.com", ANY),
    }[how]
    out = apply_update(before, [], [change], "example.com.zone", served)
    assert out.rcode == REFUSED and out.content is None
    assert out.why == (
        "the zone would have errors: name server ns2.example.com. (NS of example.com.) is in "
        "this zone but has no A or AAAA record: resolvers sent to it could not reach the zone"
    )


def test_a_name_two_levels_below_nothing_brings_its_empty_non_terminal() -> None:
    before = zone()
    served = before.zone("example.com.zone")
    out = apply_update(before, [], [add("a.b.c.example.com. 60 IN A 192.0.2.9")], "z", served)
    assert out.zone is not None
    for owner in ("a.b.c.example.com", "b.c.example.com", "c.example.com"):
        assert name(owner) in out.zone.exists
    gone = apply_update(out.content, [], [delete_rrset("a.b.c.example.com", ANY)], "z", out.zone)
    assert gone.zone is not None
    assert not {name(o) for o in ("a.b.c.example.com", "b.c.example.com", "c.example.com")} & set(
        gone.zone.exists
    )
    assert name("example.com") in gone.zone.exists and name("www.example.com") in gone.zone.exists
