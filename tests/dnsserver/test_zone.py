"""Loading RFC 1035 master files: the syntax real zone files use, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import dns.message
import pytest

from dnsserver.engine import Engine
from dnsserver.errors import ZoneError
from dnsserver.zone import load_zone
from dnsserver.zoneset import ZoneSet, load_zones
from tests.dnsserver.conftest import ask, rrs


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def engine_for(*paths: Path) -> Engine:
    return Engine(load_zones([str(p) for p in paths]))


def test_tricky_master_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "hosts.inc", "inc1 A 192.0.2.10\ninc2 1h A 192.0.2.11\n")
    zone = write(
        tmp_path,
        "tricky.zone",
        f"""; a comment line
$ORIGIN Tricky.Test.
$TTL 1d
@   IN  SOA ns1 hostmaster.tricky.test. (
            2026112701 ; serial
            2h         ; refresh
            1h         ; retry
            2w         ; expire
            5m )       ; negative caching TTL
    IN  NS  ns1            ; owner omitted: still the apex
ns1 A 192.0.2.1
www IN 600 A 192.0.2.2     ; TTL after the class
    AAAA 2001:db8::2        ; owner and TTL omitted
txt TXT "quote \\" inside" "semi; colon" "\\065\\066"
unk TYPE65280 \\# 4 0a0b0c0d
*.wild A 192.0.2.3
mail.sub MX 5 www
$INCLUDE {inc}
""",
    )
    e = engine_for(zone)
    assert rrs(ask(e, "www.tricky.test", "A").answer) == ["www.tricky.test. 600 IN A 192.0.2.2"]
    assert rrs(ask(e, "www.tricky.test", "AAAA").answer) == [
        "www.tricky.test. 86400 IN AAAA 2001:db8::2"
    ]
    assert rrs(ask(e, "tricky.test", "NS").answer) == [
        "tricky.test. 86400 IN NS ns1.Tricky.Test."  # rdata names keep the file's case
    ]
    assert rrs(ask(e, "txt.tricky.test", "TXT").answer) == [
        'txt.tricky.test. 86400 IN TXT "quote \\" inside" "semi; colon" "AB"'
    ]
    assert rrs(ask(e, "unk.tricky.test", "TYPE65280").answer) == [
        "unk.tricky.test. 86400 IN TYPE65280 \\# 4 0a0b0c0d"
    ]
    assert rrs(ask(e, "x.wild.tricky.test", "A").answer) == [
        "x.wild.tricky.test. 86400 IN A 192.0.2.3"
    ]
    assert rrs(ask(e, "inc1.tricky.test", "A").answer) == [
        "inc1.tricky.test. 86400 IN A 192.0.2.10"
    ]
    assert rrs(ask(e, "inc2.tricky.test", "A").answer) == ["inc2.tricky.test. 3600 IN A 192.0.2.11"]
    nx = ask(e, "nothing.tricky.test", "A")
    assert nx.authority[0].ttl == 300  # min(SOA TTL 1d, MINIMUM 5m)
    assert nx.authority[0].name.to_text() == "Tricky.Test."  # origin as written


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    zone = write(
        tmp_path,
        "broken.zone",
        "$ORIGIN b.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.300\n",
    )
    with pytest.raises(ZoneError, match=r"broken\.zone:5:"):
        load_zone(zone)


def test_error_inside_include_names_the_included_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "bad.inc", "ok A 192.0.2.1\nbad MX notanumber x\n")
    zone = write(
        tmp_path,
        "main.zone",
        f"$ORIGIN b.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n$INCLUDE {inc}\n",
    )
    with pytest.raises(ZoneError, match=r"bad\.inc:2:"):
        load_zone(zone)


def test_missing_soa_is_an_error(tmp_path: Path) -> None:
    zone = write(tmp_path, "nosoa.zone", "$ORIGIN n.test.\n$TTL 60\n@ NS ns1\nns1 A 192.0.2.1\n")
    # At the first record, where the SOA belongs.
    with pytest.raises(ZoneError, match=r"nosoa\.zone:3: zone n\.test\. has no SOA"):
        load_zone(zone)


def test_cname_and_other_data_is_an_error(tmp_path: Path) -> None:
    zone = write(
        tmp_path,
        "c.zone",
        "$ORIGIN c.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx CNAME ns1\nx A 192.0.2.1\n"
        "ns1 A 192.0.2.53\n",
    )
    with pytest.raises(ZoneError, match=r"c\.zone:6: x\.c\.test\. has a CNAME and other data"):
        load_zone(zone)


def test_no_origin_is_an_error(tmp_path: Path) -> None:
    zone = write(tmp_path, "o.zone", "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n")
    with pytest.raises(ZoneError, match=r"o\.zone"):
        load_zone(zone)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match="cannot read"):
        load_zone(tmp_path / "absent.zone")


def test_same_zone_twice_is_an_error(tmp_path: Path) -> None:
    text = "$ORIGIN d.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
    a, b = write(tmp_path, "a.zone", text), write(tmp_path, "b.zone", text)
    with pytest.raises(ZoneError) as err:
        ZoneSet([load_zone(a), load_zone(b)])
    assert str(err.value) == f"{b}: zone d.test. is already loaded from {a}"


def test_duplicate_records_collapse_and_ttl_is_the_smallest(tmp_path: Path) -> None:
    zone = write(
        tmp_path,
        "dup.zone",
        "$ORIGIN d.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
        "x 100 A 192.0.2.1\nx 50 A 192.0.2.1\nx 70 A 192.0.2.2\n",
    )
    r = ask(engine_for(zone), "x.d.test", "A")
    assert sorted(rrs(r.answer)) == ["x.d.test. 50 IN A 192.0.2.1", "x.d.test. 50 IN A 192.0.2.2"]


def test_the_generated_topology_zones_all_load(zone_dir: Path) -> None:
    for path in zone_dir.glob("*.zone"):
        z = load_zone(path)
        assert z.soa.rdatas
    assert dns.message  # the module is used by helpers above


def test_a_reload_in_a_worker_thread_leaves_the_collector_running(tmp_path, monkeypatch):
    # The loader turned the cyclic collector off for the whole process while a reload loaded
    # in a worker thread: the event loop served queries without it for that time.
    import gc
    import threading

    from dnsserver import zone as zone_mod
    from dnsserver.zoneset import load_zones

    path = tmp_path / "t.zone"
    path.write_text("$ORIGIN t.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n")
    seen: list[bool] = []
    real = zone_mod._load
    monkeypatch.setattr(zone_mod, "_load", lambda *a: seen.append(gc.isenabled()) or real(*a))
    worker = threading.Thread(target=load_zones, args=([str(path)],))
    worker.start()
    worker.join()
    load_zones([str(path)], pause_gc=True)  # start-up: nothing else runs, the pause is fine
    load_zone(path)  # the collector is paused only when asked
    assert seen == [True, False, True] and gc.isenabled()


def test_a_zone_error_names_the_first_error_and_counts_the_others(tmp_path: Path) -> None:
    head = "$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
    one = write(tmp_path, "one.zone", head + "a A 1.2.3.999\n")
    with pytest.raises(ZoneError) as err:
        load_zone(one)
    assert str(err.value) == (
        f"{one}:6: A record '1.2.3.999' is not an IPv4 address (four numbers 0-255: 192.0.2.1)"
    )
    two = write(tmp_path, "two.zone", head + "a A 1.2.3.999\nb A 1.2.3.999\n")
    with pytest.raises(ZoneError) as err:
        load_zone(two)
    assert str(err.value).endswith("(four numbers 0-255: 192.0.2.1) (and 1 more errors)")
    three = write(tmp_path, "three.zone", head + "a A 1.2.3.999\nb A 1.2.3.999\nc A x\n")
    with pytest.raises(ZoneError) as err:
        load_zone(three)
    assert str(err.value).endswith("(four numbers 0-255: 192.0.2.1) (and 2 more errors)")
    assert len(err.value.problems) == 3


def test_past_100_errors_the_last_problem_counts_the_rest_at_the_file(tmp_path: Path) -> None:
    head = "$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\nns1 A 192.0.2.53\n"
    path = write(tmp_path, "e.zone", head + "".join(f"@ NS ns{i}.x\n" for i in range(150)))
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert str(err.value).endswith(" (and 149 more errors)")
    assert len(err.value.problems) == 101
    assert err.value.problems[-1].to_text() == (
        f"{path}: error: ... and 50 more errors and 0 more warnings not shown"
    )


def test_owners_outside_the_zone_when_the_file_has_no_origin(tmp_path: Path) -> None:
    # without $ORIGIN the first owner is the zone; names with bytes that are not ASCII are
    # shown escaped
    path = write(
        tmp_path,
        "o.zone",
        "$TTL 60\nexample.com. SOA ns1.example.com. h.example.com. 1 2 3 4 5\n"
        "example.com. NS ns1.example.com.\nns1.example.com. A 192.0.2.1\n"
        "\\200.example.org. A 192.0.2.2\nexample.net. A 192.0.2.3\n",
    )
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert [p.to_text() for p in err.value.problems] == [
        f"{path}:5: error: \\xc8.example.org. is outside the zone example.com.",
        f"{path}:6: error: example.net. is outside the zone example.com.",
    ]


def test_the_loaded_line_of_the_root_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "root.zone",
        "$ORIGIN .\n$TTL 60\n@ SOA a.root. h.root. 7 2 3 4 5\n@ NS a.root.\na.root. A 192.0.2.1\n",
    )
    zone = load_zone(path)
    assert zone.loaded_text() == "zone ./IN: loaded serial 7, 3 records"
    assert zone.name_text == "." and zone.serial == 7


def test_several_bad_zones_report_the_first_error_and_every_problem(tmp_path: Path) -> None:
    head = "$ORIGIN {}.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
    good = write(tmp_path, "good.zone", head.format("good"))
    bad1 = write(tmp_path, "bad1.zone", head.format("bad1") + "x A 1.2.3.999\n")
    bad2 = write(tmp_path, "bad2.zone", head.format("bad2") + "y A 1.2.3.998\nz A 1.2.3.997\n")
    with pytest.raises(ZoneError) as err:
        load_zones([str(good), str(bad1), str(bad2)])
    assert str(err.value).startswith(f"{bad1}:6: A record '1.2.3.999' is not an IPv4 address")
    assert [p.where for p in err.value.problems] == [f"{bad1}:6", f"{bad2}:6", f"{bad2}:7"]


def test_a_record_repeated_later_in_the_rrset_is_dropped_too(tmp_path: Path) -> None:
    zone = write(
        tmp_path,
        "dup3.zone",
        "$ORIGIN d.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
        "x A 192.0.2.1\nx A 192.0.2.2\nx A 192.0.2.2\nx A 192.0.2.1\n",
    )
    assert sorted(rrs(ask(engine_for(zone), "x.d.test", "A").answer)) == [
        "x.d.test. 60 IN A 192.0.2.1",
        "x.d.test. 60 IN A 192.0.2.2",
    ]
    assert load_zone(zone).loaded_text() == "zone d.test/IN: loaded serial 1, 5 records"


RELATIVE = "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"


def test_an_origin_given_is_the_origin_of_relative_names_and_keeps_its_case(tmp_path: Path):
    # `checkzone rel.zone Example.COM`: the file has no $ORIGIN, the name given is its zone
    path = write(tmp_path, "rel.zone", RELATIVE)
    zone = load_zone(path, (b"Example", b"COM"))
    assert zone.loaded_text() == "zone Example.COM/IN: loaded serial 1, 3 records"
    assert zone.origin == (b"example", b"com") and zone.name_text == "Example.COM."
    nx = ask(Engine(ZoneSet([zone])), "nothing.example.com", "A")
    assert rrs(nx.authority) == ["Example.COM. 5 IN SOA ns1.Example.COM. h.Example.COM. 1 2 3 4 5"]


def test_an_owner_outside_the_zone_is_reported_beside_the_other_errors_of_the_file(
    tmp_path: Path,
) -> None:
    # Found while reading, with the file's other errors, not after them (which never comes:
    # a file with errors is refused when it has been read).
    outside = "www.example.net. A 192.0.2.2\nbad A 1.2.3.999\n"
    path = write(tmp_path, "rel.zone", RELATIVE + outside)
    with pytest.raises(ZoneError) as err:
        load_zone(path, (b"example", b"com"))
    assert [p.to_text() for p in err.value.problems] == [
        f"{path}:5: error: www.example.net. is outside the zone example.com.",
        f"{path}:6: error: A record '1.2.3.999' is not an IPv4 address (four numbers 0-255: "
        "192.0.2.1)",
    ]
    path = write(tmp_path, "abs.zone", "$ORIGIN example.com.\n" + RELATIVE + outside)
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert [p.where for p in err.value.problems] == [f"{path}:6", f"{path}:7"]


def test_a_file_with_no_origin_and_no_records_is_an_error_at_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.zone", "; nothing here yet\n$TTL 60\n")
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert str(err.value) == f"{path}: no $ORIGIN and no records: which zone is this?"
    assert [p.to_text() for p in err.value.problems] == [
        f"{path}: error: no $ORIGIN and no records: which zone is this?"
    ]


def test_without_origin_the_zone_is_the_first_owner_whatever_comes_next(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "first.zone",
        "$TTL 60\nExample.com. SOA ns1.example.com. h.example.com. 1 2 3 4 5\n"
        "ns1.example.com. A 192.0.2.1\nexample.com. NS ns1.example.com.\n",
    )
    zone = load_zone(path)
    assert zone.loaded_text() == "zone Example.com/IN: loaded serial 1, 3 records"


def test_reading_past_the_kept_errors_still_places_the_count_of_the_rest_at_the_file(
    tmp_path: Path,
) -> None:
    # An unreadable $INCLUDEd file ends its reading with one error more than the reader
    # counts towards its stop: past the errors kept, the listing ends with how many more.
    inc = write(tmp_path, "unterm.inc", 'x TXT "never closed\n')
    path = write(
        tmp_path,
        "many.zone",
        "$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n"
        + "a A 1.2.3.999\n" * 98
        + f"$INCLUDE {inc}\nb A 1.2.3.999\n",
    )
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert all(p.where.startswith(str(tmp_path)) for p in err.value.problems)
