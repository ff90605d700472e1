"""Zone checks: every error and warning named-checkzone gives, at `file:line`, in zone terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsserver.errors import ZoneError
from dnsserver.zone import load_zone

# Lines 1-5; a body starts at line 6.
HEAD = (
    "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\nns1 A 192.0.2.1\n"
)
NS2 = "name server ns2.example.com. (NS of example.com.)"


def check(body: str, head: str = HEAD) -> tuple[bool, list[str]]:
    """Load z.zone (in the current directory): (loaded, its problems as checkzone prints them)."""
    Path("z.zone").write_text(head + body)
    try:
        zone = load_zone("z.zone")
    except ZoneError as e:
        return False, [p.to_text() for p in e.problems]
    return True, [p.to_text() for p in zone.warnings]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "@ NS ns2\n",
            f"z.zone:6: error: {NS2} is in this zone but has no A or AAAA record: resolvers sent "
            "to it could not reach the zone",
        ),
        (
            "@ NS ns2\nns2 TXT no-address\n",
            f"z.zone:6: error: {NS2} is in this zone but has no A or AAAA record: resolvers sent "
            "to it could not reach the zone",
        ),
        (
            "@ NS ns2.empty\nhost.ns2.empty A 192.0.2.9\n",  # an empty non-terminal
            "z.zone:6: error: name server ns2.empty.example.com. (NS of example.com.) is in this "
            "zone but has no A or AAAA record: resolvers sent to it could not reach the zone",
        ),
        (
            "@ NS 192.0.2.1\n",
            "z.zone:6: error: name server 192.0.2.1.example.com. (NS of example.com.) is in this "
            "zone but has no A or AAAA record: resolvers sent to it could not reach the zone "
            "(an NS record holds a host's name, not its address)",
        ),
        (
            "@ NS ns2\nns2 CNAME ns1\n",
            f"z.zone:6: error: {NS2} is an alias (CNAME); an NS record must name a host with its "
            "own A or AAAA record (RFC 2181 §10.3)",
        ),
        (
            "x CNAME ns1\nx A 192.0.2.5\n",
            "z.zone:7: error: x.example.com. has a CNAME and other data: this A record and the "
            "CNAME at z.zone:6; a name with a CNAME can have no other records (RFC 1034 §3.6.2)",
        ),
        (
            "x TXT hello\nx CNAME ns1\n",
            "z.zone:7: error: x.example.com. has a CNAME and other data: this CNAME record and "
            "the TXT at z.zone:6; a name with a CNAME can have no other records (RFC 1034 §3.6.2)",
        ),
        (
            "x CNAME ns1\nx CNAME www\n",
            "z.zone:7: error: x.example.com. has a second CNAME (the first is at z.zone:6); an "
            "alias points to exactly one name (RFC 2181 §10.1)",
        ),
        (
            "@ SOA ns1 hostmaster 2 7200 3600 1209600 300\n",
            "z.zone:6: error: a second SOA record for example.com. (the first is at z.zone:3); a "
            "zone has exactly one",
        ),
        (
            "x SOA ns1 hostmaster 2 7200 3600 1209600 300\n",
            "z.zone:6: error: SOA record at x.example.com., which is not the zone's apex "
            "example.com.; a zone has one SOA, at its top",
        ),
        (
            "$INCLUDE hosts.inc\n",
            "z.zone:6: error: $INCLUDE hosts.inc: cannot read hosts.inc: No such file or directory",
        ),
        (
            "x A 192.0.2.256\n",
            "z.zone:6: error: A record '192.0.2.256' is not an IPv4 address (four numbers 0-255: "
            "192.0.2.1)",
        ),
    ],
)
def test_each_error_refuses_the_zone_at_its_line(body: str, expected: str) -> None:
    assert check(body) == (False, [expected])


def test_a_missing_soa_or_ns_is_reported_at_the_first_record() -> None:
    no_soa = "$ORIGIN example.com.\n$TTL 3600\n@ NS ns1\nns1 A 192.0.2.1\n"
    assert check("", head=no_soa) == (
        False,
        ["z.zone:3: error: zone example.com. has no SOA record at its apex"],
    )
    no_ns = "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\nns1 A 192.0.2.1\n"
    assert check("", head=no_ns) == (
        False,
        ["z.zone:3: error: zone example.com. has no NS records at its apex"],
    )


def test_every_error_is_reported_not_only_the_first() -> None:
    loaded, problems = check("a A 1.2.3.999\nb AAAA 2001:db8::zz\nc A 192.0.2.3\n")
    assert not loaded
    assert problems == [
        "z.zone:6: error: A record '1.2.3.999' is not an IPv4 address (four numbers 0-255: "
        "192.0.2.1)",
        "z.zone:7: error: AAAA record '2001:db8::zz' is not an IPv6 address (like 2001:db8::1)",
    ]
    loaded, problems = check("@ NS ns2\n@ NS ns3\nx CNAME ns1\nx TXT hi\n")
    assert [p.split(": error: ")[0] for p in problems] == ["z.zone:6", "z.zone:7", "z.zone:9"]


def test_errors_in_included_files_name_the_include_chain() -> None:
    Path("mid.inc").write_text("$INCLUDE deep.inc\n")
    Path("deep.inc").write_text("ok A 192.0.2.7\nbad A 300.1.1.1\n$INCLUDE gone.inc\n")
    assert check("$INCLUDE mid.inc\n") == (
        False,
        [
            "deep.inc:2: error: A record '300.1.1.1' is not an IPv4 address (four numbers "
            "0-255: 192.0.2.1) (included from mid.inc:1, from z.zone:6)",
            "deep.inc:3: error: $INCLUDE gone.inc: cannot read gone.inc: No such file or "
            "directory (included from mid.inc:1, from z.zone:6)",
        ],
    )


def test_a_flood_of_bad_lines_stops_at_100_errors() -> None:
    loaded, problems = check("x A 1.2.3.999\n" * 5000)
    assert not loaded and len(problems) == 100
    assert problems[-1] == "z.zone:104: error: too many errors; reading stopped"


GLUE_WARNING = (
    "z.zone:6: warning: delegation of sub.example.com. to ns.sub.example.com. has no glue: "
    "ns.sub.example.com. is inside sub.example.com., so this zone must give its A or AAAA "
    "record (glue), or no resolver can reach sub.example.com."
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("sub NS ns.sub\n", GLUE_WARNING),
        ("sub NS ns.sub\n@ NS ns.sub\n", GLUE_WARNING),  # an apex NS below a cut is the cut's
        (
            "a NS ns.b\nb NS ns.b\nns.b A 192.0.2.9\nc NS ns.d\nd NS ns.d\nns.d A 192.0.2.10\n"
            "e NS ns.f\nf NS ns.f.example.net.\n",
            "z.zone:12: warning: delegation of e.example.com. to ns.f.example.com. has no glue: "
            "ns.f.example.com. is inside the delegated zone f.example.com., so this zone should "
            "give its A or AAAA record too (sibling glue)",
        ),
        (
            "sub NS ns2\n",
            "z.zone:6: warning: delegation of sub.example.com.: name server ns2.example.com. is "
            "in this zone but has no A or AAAA record",
        ),
        (
            "sub NS ns2\nns2 CNAME ns1\n",
            "z.zone:6: warning: delegation of sub.example.com.: name server ns2.example.com. is "
            "an alias (CNAME); an NS record must name a host with its own A or AAAA record "
            "(RFC 2181 §10.3)",
        ),
        (
            "@ MX 10 mail\n",
            "z.zone:6: warning: MX of example.com.: mail server mail.example.com. is in this "
            "zone but has no A or AAAA record",
        ),
        (
            "@ MX 10 mail\nmail CNAME ns1\n",
            "z.zone:6: warning: MX of example.com.: mail server mail.example.com. is an alias "
            "(CNAME); it must name a host with its own A or AAAA record (RFC 2181 §10.3)",
        ),
        (
            "_sip._udp SRV 0 5 5060 sip\n",
            "z.zone:6: warning: SRV of _sip._udp.example.com.: target sip.example.com. is in "
            "this zone but has no A or AAAA record",
        ),
    ],
)
def test_each_warning_still_loads_the_zone(body: str, expected: str) -> None:
    assert check(body) == (True, [expected])


@pytest.mark.parametrize(
    "body",
    [
        "sub NS ns.sub\nns.sub A 192.0.2.9\n",  # glue
        "sub NS ns.sub\nns.sub AAAA 2001:db8::9\n",  # IPv6 glue is glue
        "sub NS sub\nsub A 192.0.2.9\n",  # the name server is named as the cut
        "@ NS ns.sub\nsub NS ns.sub\nns.sub A 192.0.2.9\n",
        "@ NS ns.example.net.\nsub NS ns.example.org.\n",  # outside: not looked up
        "@ NS ns9\n* A 192.0.2.9\n",  # a wildcard answers for ns9
        "@ MX 0 .\n_x._tcp SRV 0 0 0 .\n",  # null MX (RFC 7505), no such service (RFC 2782)
        "@ MX 10 mail.sub\nsub NS ns1\n",  # below a cut: the child's business
        "sub NS ns1\nsub MX 10 nowhere\n",  # occluded by the cut: not served
        "x 60 A 192.0.2.9\n",
    ],
)
def test_what_named_checkzone_accepts_silently_is_accepted_silently(body: str) -> None:
    assert check(body) == (True, [])


def test_no_ttl_is_a_warning_at_the_first_record_without_one() -> None:
    head = "$ORIGIN example.com.\n@ 3600 SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    assert check("@ NS ns1\nns1 A 192.0.2.1\n", head=head) == (
        True,
        [
            "z.zone:3: warning: no TTL and no $TTL: this record gets 3600, the TTL of the record "
            "before it (and so may later ones); a $TTL line at the top of the file says what "
            "you mean"
        ],
    )
    head = "$ORIGIN example.com.\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    assert check("@ NS ns1\nns1 A 192.0.2.1\n", head=head) == (
        True,
        [
            "z.zone:2: warning: no TTL and no $TTL: this record gets 300, the SOA's MINIMUM "
            "field (and so may later ones); a $TTL line at the top of the file says what you "
            "mean"
        ],
    )
    head = "$ORIGIN example.com.\n@ 60 SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    assert check("@ 60 NS ns1\nns1 60 A 192.0.2.1\n", head=head) == (True, [])


def test_warnings_beyond_100_are_counted_not_kept() -> None:
    loaded, problems = check("".join(f"h{i} MX 10 nowhere{i}\n" for i in range(150)))
    assert loaded and len(problems) == 101
    assert problems[-1] == "z.zone: warning: ... and 0 more errors and 50 more warnings not shown"


def test_the_loaded_line_names_zone_serial_and_records() -> None:
    Path("z.zone").write_text(HEAD + "www A 192.0.2.2\nwww A 192.0.2.2\n")  # one duplicate
    assert load_zone("z.zone").loaded_text() == "zone example.com/IN: loaded serial 1, 4 records"


def test_the_generated_topology_zones_have_no_warnings(zone_dir: Path) -> None:
    for path in sorted(zone_dir.glob("*.zone")):
        assert load_zone(path).warnings == (), path.name


def test_a_file_without_records_lacks_both_soa_and_ns() -> None:
    assert check("", head="$ORIGIN example.com.\n$TTL 3600\n") == (
        False,
        [
            "z.zone: error: zone example.com. has no SOA record at its apex (the file has no "
            "records)",
            "z.zone: error: zone example.com. has no NS records at its apex (the file has no "
            "records)",
        ],
    )


def test_a_missing_soa_comes_first_even_before_an_error_in_the_first_record() -> None:
    head = "$ORIGIN example.com.\n$TTL 3600\nx CNAME ns1\nx A 192.0.2.5\n@ NS ns1\n"
    loaded, problems = check("ns1 A 192.0.2.1\n", head=head)
    assert not loaded
    assert [p.split(": error: ")[0] for p in problems] == ["z.zone:3", "z.zone:4"]
    assert "has no SOA record" in problems[0] and "has a CNAME and other data" in problems[1]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "x CNAME ns1\nx CNAME ns1\nx CNAME www\n",  # a duplicate is not a second CNAME
            "z.zone:8: error: x.example.com. has a second CNAME (the first is at z.zone:6); an "
            "alias points to exactly one name (RFC 2181 §10.1)",
        ),
        (
            "x TXT hello\nx CNAME ns1\nx A 192.0.2.5\n",  # the earliest other record is named
            "z.zone:7: error: x.example.com. has a CNAME and other data: this CNAME record and "
            "the TXT at z.zone:6; a name with a CNAME can have no other records (RFC 1034 §3.6.2)",
        ),
        (
            "x CNAME ns1\nx TYPE65280 \\# 1 00\n",
            "z.zone:7: error: x.example.com. has a CNAME and other data: this TYPE65280 record "
            "and the CNAME at z.zone:6; a name with a CNAME can have no other records (RFC 1034 "
            "§3.6.2)",
        ),
        (
            "@ NS ns2\n@ NS ns3\nns3 A 192.0.2.3\n",  # the line of the NS that names it
            f"z.zone:6: error: {NS2} is in this zone but has no A or AAAA record: resolvers sent "
            "to it could not reach the zone",
        ),
        (
            "@ NS ns3\nns3 A 192.0.2.3\n@ NS ns2\n",
            f"z.zone:8: error: {NS2} is in this zone but has no A or AAAA record: resolvers sent "
            "to it could not reach the zone",
        ),
        (
            "@ NS ns9.w\n*.w CNAME ns1\n",  # a wildcard that only aliases: an alias
            "z.zone:6: error: name server ns9.w.example.com. (NS of example.com.) is an alias "
            "(CNAME); an NS record must name a host with its own A or AAAA record "
            "(RFC 2181 §10.3)",
        ),
        (
            "@ NS ns9.w\n*.w TXT no-address\n",
            "z.zone:6: error: name server ns9.w.example.com. (NS of example.com.) is in this "
            "zone but has no A or AAAA record: resolvers sent to it could not reach the zone",
        ),
    ],
)
def test_errors_name_the_record_that_is_wrong(body: str, expected: str) -> None:
    assert check(body) == (False, [expected])


@pytest.mark.parametrize(
    "body",
    [
        "@ NS ns9.a.b.w\n*.w A 192.0.2.9\n",  # a wildcard two labels up covers it
        "x CNAME ns1\nx RRSIG A 8 3 3600 20300101000000 20250101000000 1 example.com. AAAA\n"
        "x NSEC ns1.example.com. CNAME RRSIG NSEC\n",  # DNSSEC records may sit beside a CNAME
        "@ NS ns.sub\nsub NS ns.sub\nns.sub AAAA 2001:db8::9\n",
    ],
)
def test_more_that_is_accepted_silently(body: str) -> None:
    assert check(body) == (True, [])


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        ("192.0.2.1", True),  # an address written where a name belongs
        ("10.0.0.255", True),
        ("192.0.2.256", False),  # no address: 256 is no octet
        ("10.1", False),  # two numbers are no IPv4 address
        ("1.2.3.4.5", False),
        ("a.b.c.d", False),
        ("ns-1.0.0.1", False),
    ],
)
def test_the_hint_for_an_address_written_as_a_name_server(target: str, hint: bool) -> None:
    loaded, problems = check(f"@ NS {target}\n")
    assert not loaded and len(problems) == 1
    assert problems[0].startswith(f"z.zone:6: error: name server {target}.example.com. (NS of")
    assert problems[0].endswith("(an NS record holds a host's name, not its address)") == hint


def test_a_delegation_below_another_needs_no_glue_check() -> None:
    # deeper.sub is inside sub: occluded, not served, so its missing glue is not reported
    loaded, problems = check("sub NS ns.sub\nns.sub A 192.0.2.9\ndeeper.sub NS ns.deeper.sub\n")
    assert loaded and problems == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "sub NS ns.example.net.\nsub NS ns2\n",  # after a name server outside the zone
            "z.zone:7: warning: delegation of sub.example.com.: name server ns2.example.com. is "
            "in this zone but has no A or AAAA record",
        ),
        (
            "sub NS ns1\nsub NS ns2\n",  # after one with an address
            "z.zone:7: warning: delegation of sub.example.com.: name server ns2.example.com. is "
            "in this zone but has no A or AAAA record",
        ),
        (
            "sub NS ns.sub\nns.sub A 192.0.2.9\nsub NS ns2.sub\n",  # after one with glue
            "z.zone:8: warning: delegation of sub.example.com. to ns2.sub.example.com. has no "
            "glue: ns2.sub.example.com. is inside sub.example.com., so this zone must give its A "
            "or AAAA record (glue), or no resolver can reach sub.example.com.",
        ),
        (
            "sub NS sub\n",  # the name server named as the cut itself is inside the child
            "z.zone:6: warning: delegation of sub.example.com. to sub.example.com. has no glue: "
            "sub.example.com. is inside sub.example.com., so this zone must give its A or AAAA "
            "record (glue), or no resolver can reach sub.example.com.",
        ),
    ],
)
def test_every_name_server_of_a_delegation_is_checked(body: str, expected: str) -> None:
    assert check(body) == (True, [expected])


def test_a_file_that_is_not_utf8_is_refused_at_the_line_of_the_bad_byte() -> None:
    Path("z.zone").write_bytes(HEAD.encode() + b'www A 192.0.2.2\nx TXT "caf\xe9"\ny A 192.0.2.3\n')
    with pytest.raises(ZoneError) as err:
        load_zone("z.zone")
    assert [p.to_text() for p in err.value.problems] == [
        "z.zone:7: error: not UTF-8 text (invalid continuation byte)"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "@ NS @\n",  # the apex as its own name server, without an address
            "z.zone:6: error: name server example.com. (NS of example.com.) is in this zone but "
            "has no A or AAAA record: resolvers sent to it could not reach the zone",
        ),
        (
            "@ NS ns.example.net.\n@ NS ns2\n",  # after one outside the zone
            f"z.zone:7: error: {NS2} is in this zone but has no A or AAAA record: resolvers sent "
            "to it could not reach the zone",
        ),
    ],
)
def test_every_apex_name_server_is_checked(body: str, expected: str) -> None:
    assert check(body) == (False, [expected])


def test_a_zone_without_soa_and_ns_says_so_in_that_order() -> None:
    assert check("", head="$ORIGIN example.com.\n$TTL 3600\nwww A 192.0.2.1\n") == (
        False,
        [
            "z.zone:3: error: zone example.com. has no SOA record at its apex",
            "z.zone:3: error: zone example.com. has no NS records at its apex",
        ],
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "deep.sub NS ns.deep.sub\n",  # a cut two labels below the apex
            "z.zone:6: warning: delegation of deep.sub.example.com. to ns.deep.sub.example.com. "
            "has no glue: ns.deep.sub.example.com. is inside deep.sub.example.com., so this zone "
            "must give its A or AAAA record (glue), or no resolver can reach deep.sub.example.com.",
        ),
        (
            "_sip._udp SRV 0 5 5060 sip\nsip CNAME ns1\n",
            "z.zone:6: warning: SRV of _sip._udp.example.com.: target sip.example.com. is an "
            "alias (CNAME); it must name a host with its own A or AAAA record (RFC 2782)",
        ),
        (
            "@ MX 0 mail.example.net.\n@ MX 10 mail\n",  # after a mail server outside the zone
            "z.zone:7: warning: MX of example.com.: mail server mail.example.com. is in this zone "
            "but has no A or AAAA record",
        ),
        (
            "@ MX 10 ns1\n@ MX 20 mail\n",  # after one with an address
            "z.zone:7: warning: MX of example.com.: mail server mail.example.com. is in this zone "
            "but has no A or AAAA record",
        ),
        (
            "@ MX 0 .\n@ MX 10 mail\n",  # after a null MX
            "z.zone:7: warning: MX of example.com.: mail server mail.example.com. is in this zone "
            "but has no A or AAAA record",
        ),
    ],
)
def test_more_warnings(body: str, expected: str) -> None:
    assert check(body) == (True, [expected])


@pytest.mark.parametrize(
    "body",
    [
        "@ NS ns9.b.w\n*.w A 192.0.2.9\n",  # the closest encloser is one label up
        "@ MX 10 mail.example.net.\n_s._tcp SRV 0 0 1 host.example.org.\n",  # outside the zone
        "@ NS @\n@ A 192.0.2.7\n",
    ],
)
def test_still_more_that_is_accepted_silently(body: str) -> None:
    assert check(body) == (True, [])
