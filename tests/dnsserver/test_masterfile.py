"""Our master-file reader: checked against dnspython's zone parser, and its error messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from dnslib import RR, DNSLabel, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsserver import masterfile
from dnsserver.errors import ZoneError
from dnsserver.masterfile import Record, origin_of, parse_record, rdata_wire, read, record_text
from dnsserver.problems import Problems
from dnsserver.zone import Zone, load_zone

TRICKY = """; differential test zone
$ORIGIN Diff.Test.
$TTL 1h30m
@ IN SOA ns1 hostmaster.diff.test. ( 1 2h 1h 2w
    5m )
  NS ns1
  NS ns2.elsewhere.example.
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
a\\.b A 192.0.2.5
\\065bc A 192.0.2.6
www IN 300 CNAME ns1
mx 60 IN MX 10 ns1.diff.test.
txt TXT "one two" three "esc\\"aped" "\\240\\001" ""
srv SRV 0 5 5060 ns1
caa CAA 128 issue "ca.example.net; account=1"
ptr PTR ns1
unk TYPE65280 \\# 3 abcdef
sub NS ns.sub
ns.sub A 192.0.2.9
*.wild TXT "wild"
$ORIGIN deeper.diff.test.
x A 192.0.2.10
"""


def ours(zone: Zone) -> set[tuple[str, int, int, str]]:
    out = set()
    for key, types in zone.nodes.items():
        for rrset in types.values():
            for rd in rrset.rdatas:
                rec = DNSRecord()
                rec.add_answer(RR(DNSLabel(key), rrset.rtype, 1, rrset.ttl, rd))
                (rr,) = dns.message.from_wire(bytes(rec.pack())).answer
                for rdata in rr:
                    out.add((rr.name.to_text().lower(), rr.rdtype, rr.ttl, rdata.to_text().lower()))
    return out


def reference(path: Path) -> set[tuple[str, int, int, str]]:
    z = dns.zone.from_file(str(path), relativize=False, rdclass=dns.rdataclass.IN)
    out = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rdata in rds:
                out.add((name.to_text().lower(), rds.rdtype, rds.ttl, rdata.to_text().lower()))
    return out


def test_same_records_as_dnspython_on_a_tricky_zone(tmp_path: Path) -> None:
    path = tmp_path / "diff.zone"
    path.write_text(TRICKY)
    assert ours(load_zone(path)) == reference(path)


def test_same_records_as_dnspython_on_the_topology_zones(zone_dir: Path) -> None:
    for path in sorted(zone_dir.glob("*.zone")):
        assert ours(load_zone(path)) == reference(path), path.name


def zone_with(tmp_path: Path, body: str, name: str = "z.zone") -> Path:
    path = tmp_path / name
    path.write_text("$ORIGIN z.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n" + body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x 60 60 A 192.0.2.1\n", "two TTLs"),
        ("x CH TXT hello\n", "only IN"),
        ("x A 192.0.2.1 )\n", "unbalanced"),
        ('x TXT "no end\n', "unterminated"),
        ("x MX 10 (\n", "never closed"),
        ("x BOGUS 1\n", "unknown record type"),
        ("x A 192.0.2.256\n", r"A record '192\.0\.2\.256' is not an IPv4 address"),
        ("x AAAA 2001:db8::zz\n", r"AAAA record '2001:db8::zz' is not an IPv6 address"),
        ("x.example.org. A 192.0.2.1\n", "outside the zone"),
        ("x" * 64 + " A 192.0.2.1\n", "63 octets"),
        ("$GENERATE 1-2 h$ A 192.0.2.$\n", "unsupported directive"),
        ("x MX 70000 ns1\n", "65535"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = zone_with(tmp_path, "ok A 192.0.2.1\n" + body)
    with pytest.raises(ZoneError, match=message) as err:
        load_zone(path)
    assert "z.zone" in str(err.value)
    assert "z.zone:6:" in str(err.value)


def test_include_is_relative_to_the_including_file_and_takes_an_origin(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hosts.inc").write_text("h A 192.0.2.7\n@ TXT here\n")
    path = zone_with(
        tmp_path, "$INCLUDE sub/hosts.inc inc.z.test.\nafter A 192.0.2.8\nns1 A 192.0.2.53\n"
    )
    zone = load_zone(path)
    assert (b"h", b"inc", b"z", b"test") in zone.nodes
    assert (b"inc", b"z", b"test") in zone.nodes
    assert (b"after", b"z", b"test") in zone.nodes  # the origin reverts after the file


def test_include_loop_is_stopped(tmp_path: Path) -> None:
    path = zone_with(tmp_path, "$INCLUDE z.zone\n")
    with pytest.raises(ZoneError, match="nested deeper"):
        load_zone(path)


def test_ttl_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.zone"
    # no $TTL: the last TTL written carries on (RFC 1035 §5.1)
    path.write_text(
        "$ORIGIN t.test.\n@ 100 SOA ns1 h 1 2 3 4 5\n@ NS ns1\nx 7 A 192.0.2.1\ny A 192.0.2.2\n"
        "ns1 A 192.0.2.53\n"
    )
    zone = load_zone(path)
    assert zone.nodes[(b"y", b"t", b"test")][1].ttl == 7
    assert zone.nodes[(b"t", b"test")][2].ttl == 100


def records(path: Path, zone: tuple[bytes, ...] | None = None) -> list[tuple[object, ...]]:
    """Every record read: owner as written, its key, TTL, type, RDATA as text, target, where."""
    return [
        (r.labels, r.key, r.ttl, r.rtype, str(r.rdata), r.target, r.target_labels, r.where())
        for r in read(path, zone)
    ]


def test_every_field_of_every_record(tmp_path: Path) -> None:
    (tmp_path / "inc.zone").write_text("h A 192.0.2.7\n")
    path = tmp_path / "m.zone"
    path.write_text(
        "$ORIGIN Ex.Test.\n"
        "@ 3600 IN SOA ns1 hostmaster ( 1 2 3 4\n"
        "   300 )\n"
        "\tNS ns1 ; a tab: the owner is the last one\n"
        "ns1 IN 60 AAAA 2001:DB8::1\n"
        "Mx MX 10 Mail.Ex.Test.\n"
        "al CNAME Ns1\n"
        "p PTR ns1\n"
        't TXT "a b;(c)" d\n'
        "srv SRV 0 1 80 Ns1\n"
        '$INCLUDE "inc.zone" Sub\n'
        "$TTL 2h\n"
        "after A 192.0.2.8\n"
        "Crêpes A 192.0.2.9\n"
    )
    ex, ex_key = (b"Ex", b"Test"), (b"ex", b"test")
    where = str(path)
    assert records(path, ex_key) == [
        (ex, ex_key, 3600, 6, "ns1.Ex.Test. hostmaster.Ex.Test. 1 2 3 4 300", None, None,
         f"{where}:2"),
        (ex, ex_key, 3600, 2, "ns1.Ex.Test.", (b"ns1", *ex_key), (b"ns1", *ex), f"{where}:4"),
        ((b"ns1", *ex), (b"ns1", *ex_key), 60, 28, "\\# 16 20010DB8000000000000000000000001",
         None, None, f"{where}:5"),
        ((b"Mx", *ex), (b"mx", *ex_key), 60, 15, "10 Mail.Ex.Test.", (b"mail", *ex_key),
         (b"Mail", *ex), f"{where}:6"),
        ((b"al", *ex), (b"al", *ex_key), 60, 5, "Ns1.Ex.Test.", (b"ns1", *ex_key),
         (b"Ns1", *ex), f"{where}:7"),
        ((b"p", *ex), (b"p", *ex_key), 60, 12, "ns1.Ex.Test.", (b"ns1", *ex_key),
         (b"ns1", *ex), f"{where}:8"),
        ((b"t", *ex), (b"t", *ex_key), 60, 16, "\\# 10 076120623B2863290164",
         None, None, f"{where}:9"),
        ((b"srv", *ex), (b"srv", *ex_key), 60, 33, "0 1 80 Ns1.Ex.Test.", (b"ns1", *ex_key),
         (b"Ns1", *ex), f"{where}:10"),
        ((b"h", b"Sub", *ex), (b"h", b"sub", *ex_key), 60, 1, "\\# 4 C0000207", None, None,
         f"{tmp_path / 'inc.zone'}:1"),
        ((b"after", *ex), (b"after", *ex_key), 7200, 1, "\\# 4 C0000208", None, None,
         f"{where}:13"),
        ((b"xn--crpes-isa", *ex), (b"xn--crpes-isa", *ex_key), 7200, 1, "\\# 4 C0000209", None,
         None, f"{where}:14"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x 2147483648 A 192.0.2.1\n", "TTL 2147483648 is over 2^31-1"),  # RFC 2181 §8
        ("x 4294967296 A 192.0.2.1\n", "TTL 4294967296 is over 2^31-1"),  # over 32 bits, too
        ("$TTL 2147483648\n", "TTL 2147483648 is over 2^31-1"),
        ("x 60 70 A 192.0.2.1\n", "two TTLs in one record ('70')"),
        ("x 60 IN IN A 192.0.2.1\n", "unknown record type 'IN'"),  # one TTL, one class, a type
        ("x HS A 192.0.2.1\n", "class HS (only IN is served)"),
        ("x CLASS3 A 192.0.2.1\n", "class CLASS3 (only IN is served)"),
        ("x IN\n", "missing record type"),
        ("x 60\n", "missing record type"),
        ("x BOGUS 1\n", "unknown record type 'BOGUS'"),
        ("x NS\n", "NS record with no data"),
        ("x NS a..b\n", "bad label in 'a..b' (empty or over 63 octets)"),
        ("x MX 10\n", "bad MX record data '10': expecting an identifier"),
        ("x MX 65536 ns1\n", "MX preference 65536 is over 65535"),
        ("x A 192.0.2.1 192.0.2.2\n", "bad A record data '192.0.2.1 192.0.2.2': expected EOL or "
         'EOF, got 3 "192.0.2.2"'),
        ('x TXT "' + "t" * 256 + '"\n', "TXT string longer than 255 octets"),
        ("x TXT " + "t" * 256 + "\n", "TXT string longer than 255 octets"),
        ("x..y A 192.0.2.1\n", "bad label in 'x..y' (empty or over 63 octets)"),
        ("x." + "a" * 64 + ". A 192.0.2.1\n", f"bad label in 'x.{'a' * 64}.' (empty or over 63 "
         "octets)"),
        (".".join(["a" * 63] * 4) + ". A 192.0.2.1\n",
         f"name '{'.'.join(['a' * 63] * 4)}.' is longer than 255 octets"),
        ("$FOO bar\n", "bad or unsupported directive '$FOO bar'"),
        ("$ORIGIN\n", "bad or unsupported directive '$ORIGIN'"),
        ("$TTL 1 2\n", "bad or unsupported directive '$TTL 1 2'"),
        ("$INCLUDE a b c\n", "bad or unsupported directive '$INCLUDE a b c'"),
        ("x A 192.0.2.1 )\n", "unbalanced ')'"),
        ('x TXT "no end\n', "unterminated quoted string"),
    ],
)  # fmt: skip
def test_each_bad_line_and_its_message(tmp_path: Path, body: str, message: str) -> None:
    path = zone_with(tmp_path, body)
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert [p.to_text() for p in err.value.problems] == [f"{path}:5: error: {message}"]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("x 2147483647 A 192.0.2.1\n", 2147483647),  # the largest TTL
        ("x 0 A 192.0.2.1\n", 0),
        ("x 1W A 192.0.2.1\n", 604800),
        ("x IN 1h30m A 192.0.2.1\n", 5400),
        ("$TTL 1d\nx A 192.0.2.1\n", 86400),
    ],
)
def test_ttls_as_written(tmp_path: Path, body: str, line: int) -> None:
    zone = load_zone(zone_with(tmp_path, body + "ns1 A 192.0.2.53\n"))
    assert zone.nodes[(b"x", b"z", b"test")][1].ttl == line


def test_values_at_their_limits_are_accepted(tmp_path: Path) -> None:
    zone = load_zone(
        zone_with(tmp_path, f'x MX 65535 ns1\nx TXT "{"t" * 255}" {"u" * 255}\nns1 A 192.0.2.53\n')
    )
    x = zone.nodes[(b"x", b"z", b"test")]
    assert x[15].targets[0][0] == (b"ns1", b"z", b"test")
    assert x[16].rdatas[0].data == b"\xff" + b"t" * 255 + b"\xff" + b"u" * 255


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@ 60 A 192.0.2.1\n", "'@' used before any $ORIGIN"),
        ("x 60 A 192.0.2.1\n", "relative name 'x' before any $ORIGIN"),
        ("\\120 60 A 192.0.2.1\n", "relative name '\\\\120' before any $ORIGIN"),
        ("\t60 A 192.0.2.1\n", "no owner name and no previous owner"),
        ("$ORIGIN z.test.\n@ NS ns1\n", "no TTL: write one or add a $TTL line"),
    ],
)
def test_what_needs_an_origin_an_owner_or_a_ttl(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "o.zone"
    path.write_text(text)
    lines = text.count("\n")
    with pytest.raises(ZoneError, match="^" + re.escape(f"{path}:{lines}: {message}") + "$"):
        list(read(path))  # without a list of problems, the first error is raised at the end


def test_reading_goes_on_after_a_bad_line_and_every_error_is_kept(tmp_path: Path) -> None:
    path = zone_with(tmp_path, "a A 1.2.3.999\nb A 192.0.2.2\nc BOGUS x\nd A 192.0.2.4\n")
    found = Problems()
    read_back = [r.labels[0] for r in read(path, (b"z", b"test"), found)]
    assert read_back == [b"z", b"z", b"b", b"d"]  # SOA, NS, then the good lines
    assert [p.to_text() for p in found.items] == [
        f"{path}:5: error: A record '1.2.3.999' is not an IPv4 address (four numbers 0-255: "
        "192.0.2.1)",
        f"{path}:7: error: unknown record type 'BOGUS'",
    ]
    with pytest.raises(ZoneError, match=r"z\.zone:5: A record '1\.2\.3\.999'") as err:
        list(read(path))
    assert len(err.value.problems) == 2


def test_parentheses_quotes_and_comments_across_lines(tmp_path: Path) -> None:
    path = zone_with(
        tmp_path,
        'x TXT ( "one ; not a comment" ; a comment\n'
        '        "two ( three )" )\n'
        "y ( A\n"
        "    192.0.2.2 ) ; the record starts on line 7\n"
        "z TXT ( unclosed\n"
        "ns1 A 192.0.2.53\n",
    )
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    assert [p.to_text() for p in err.value.problems] == [f"{path}:9: error: '(' never closed"]
    path = zone_with(tmp_path, 'x TXT "a (b" \'c\' ")"\nns1 A 192.0.2.53\n')
    texts = load_zone(path).nodes[(b"x", b"z", b"test")][16].rdatas[0].data
    assert texts == b"\x04a (b\x03'c'\x01)"


def test_includes_inherit_the_ttls_and_the_origin_reverts(tmp_path: Path) -> None:
    (tmp_path / "ttl.inc").write_text("a A 192.0.2.1\nb 30 A 192.0.2.2\n")
    (tmp_path / "last.inc").write_text("c A 192.0.2.3\n")
    path = tmp_path / "i.zone"
    path.write_text(
        "$ORIGIN i.test.\n@ 100 SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
        "$INCLUDE ttl.inc inner\n"  # no $TTL: the last TTL written (100) goes in
        "d A 192.0.2.4\n"  # the last TTL written inside does not come back out
        "$TTL 7\n"
        '$INCLUDE "last.inc"\n'
    )
    got = {r.labels: r.ttl for r in read(path, (b"i", b"test"), Problems())}
    assert got[(b"a", b"inner", b"i", b"test")] == 100
    assert got[(b"b", b"inner", b"i", b"test")] == 30
    assert got[(b"d", b"i", b"test")] == 100
    assert got[(b"c", b"i", b"test")] == 7  # $TTL goes in, and the origin is i.test. again


def test_an_include_uses_the_soa_minimum_when_no_ttl_was_written(tmp_path: Path) -> None:
    (tmp_path / "m.inc").write_text("a A 192.0.2.1\n")
    path = tmp_path / "m.zone"
    path.write_text("$ORIGIN m.test.\n@ SOA ns1 h 1 2 3 4 42\n$INCLUDE m.inc\n")
    assert [(r.labels, r.ttl) for r in read(path, (b"m", b"test"), Problems())] == [
        ((b"m", b"test"), 42),
        ((b"a", b"m", b"test"), 42),
    ]


def test_includes_nest_eight_deep_and_no_deeper(tmp_path: Path) -> None:
    for i in range(9):  # 0.inc includes 1.inc ... 8.inc, which includes nothing
        tail = f"$INCLUDE {i + 1}.inc\n" if i < 8 else ""
        (tmp_path / f"{i}.inc").write_text(f"h{i} A 192.0.2.{i}\n" + tail)
    zone = load_zone(zone_with(tmp_path, "$INCLUDE 1.inc\nns1 A 192.0.2.53\n"))
    assert (b"h8", b"z", b"test") in zone.nodes  # 1.inc to 8.inc: eight deep
    path = zone_with(tmp_path, "$INCLUDE 0.inc\nns1 A 192.0.2.53\n", "nine.zone")
    with pytest.raises(ZoneError) as err:
        load_zone(path)
    (problem,) = err.value.problems
    assert problem.to_text().startswith(
        f"{tmp_path / '7.inc'}:2: error: $INCLUDE nested deeper than 8 (a loop?) (included from "
        f"{tmp_path / '6.inc'}:2, from "
    )


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("; no origin here\n$TTL 60\n$ORIGIN Sub.Example.COM.\n$ORIGIN other.\n",
         (b"sub", b"example", b"com")),
        ("$ORIGIN .\n", ()),
        ("$ORIGIN relative\n", None),  # no origin before it: no zone name
        ("$ORIGIN a..b.\n", None),
        ("$ORIGIN a b\n$ORIGIN c.\n", (b"c",)),  # a bad directive is no origin
        ("x A 192.0.2.1\n", None),
        ("$ORIGIN ( unclosed\n", None),
    ],
)  # fmt: skip
def test_the_origin_of_a_file(tmp_path: Path, text: str, origin: tuple[bytes, ...] | None) -> None:
    path = tmp_path / "f.zone"
    path.write_text(text)
    assert origin_of(path) == origin
    assert origin_of(tmp_path / "absent.zone") is None


def test_a_name_of_255_octets_is_read_and_one_of_256_is_not(tmp_path: Path) -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61]) + "."  # 3 x 64 + 62 + 1 = 255 octets
    over = ".".join(["a" * 63] * 3 + ["c" * 62]) + "."  # 256 octets
    path = tmp_path / "n.zone"
    path.write_text(f"$TTL 60\n{longest} A 192.0.2.1\n{over} A 192.0.2.2\n")
    found = Problems()
    assert [r.labels[-1] for r in read(path, None, found)] == [b"b" * 61]
    assert [p.to_text() for p in found.items] == [
        f"{path}:3: error: name '{over}' is longer than 255 octets"
    ]


def test_a_relative_origin_is_below_the_current_one_and_an_include_keeps_its_name(
    tmp_path: Path,
) -> None:
    # RFC 1035 §5.1: a relative name in $ORIGIN is relative to the origin before it. The file
    # name of an $INCLUDE loses its quotes and nothing else (X at either end stays).
    (tmp_path / "X.incX").write_text("h A 192.0.2.7\n")
    path = zone_with(tmp_path, "$ORIGIN Sub\nx A 192.0.2.1\n$INCLUDE X.incX\n")
    keys = [r.key for r in read(path, (b"z", b"test"))]
    assert keys[2:] == [(b"x", b"sub", b"z", b"test"), (b"h", b"sub", b"z", b"test")]


def test_an_owner_outside_the_zone_is_an_error_and_reading_goes_on(tmp_path: Path) -> None:
    (tmp_path / "out.inc").write_text("in A 192.0.2.3\nwww.example.org. A 192.0.2.4\n")
    path = zone_with(
        tmp_path,
        "x.example.org. A 192.0.2.1\n"  # longer than the zone's name
        "test. A 192.0.2.2\n"  # shorter: its parent
        "$INCLUDE out.inc\n"
        "bad A 192.0.2.256\n",
    )
    found = Problems()
    assert [r.key[0] for r in read(path, (b"z", b"test"), found)] == [b"z", b"z", b"in"]
    included = f" (included from {path}:7)"
    assert [p.to_text() for p in found.items] == [
        f"{path}:5: error: x.example.org. is outside the zone z.test.",
        f"{path}:6: error: test. is outside the zone z.test.",
        f"{tmp_path / 'out.inc'}:2: error: www.example.org. is outside the zone z.test.{included}",
        f"{path}:8: error: A record '192.0.2.256' is not an IPv4 address (four numbers 0-255: "
        "192.0.2.1)",
    ]
    # Loading says the same: every error, the owners outside the zone first.
    with pytest.raises(ZoneError, match=r"z\.zone:5: x\.example\.org\. is outside") as err:
        load_zone(path)
    assert [p.to_text() for p in err.value.problems] == [p.to_text() for p in found.items]


def test_the_origin_given_is_the_origin_before_any_origin_line(tmp_path: Path) -> None:
    path = tmp_path / "g.zone"
    path.write_text("$TTL 60\nx A 192.0.2.1\n@ TXT apex\n")
    origin = (b"G", b"test")
    assert [r.labels for r in read(path, (b"g", b"test"), origin=origin)] == [
        (b"x", b"G", b"test"),
        origin,
    ]


def test_rdata_that_the_fast_paths_and_dnspython_give(tmp_path: Path) -> None:
    path = tmp_path / "r.zone"
    path.write_text(
        "$ORIGIN r.test.\n$TTL 60\n"
        "mx MX 20 Mail\n"  # not the default preference (dnslib's is 10)
        "empty TYPE65280 \\# 0\n"  # RFC 3597: RDATA of no octets
        "dn DNAME Other.Example.\n"  # a target, but not one a lookup follows for glue
        "n NS \\# 3 01 41 00\n"  # RFC 3597's form: parsed by dnspython, a target all the same
        "m MX \\# 5 0014 01 42 00\n"
    )
    (mx, empty, dn, n, m) = read(path)
    assert (str(n.rdata), n.target, n.target_labels) == ("A.", (b"a",), (b"A",))
    assert (str(m.rdata), m.target, m.target_labels) == ("20 B.", (b"b",), (b"B",))
    assert (str(mx.rdata), mx.rdata.preference, mx.target) == (
        "20 Mail.r.test.",
        20,
        (b"mail", b"r", b"test"),
    )
    assert (empty.rdata.data, empty.identity, empty.target) == (b"", b"", None)
    assert (dn.rdata.data, dn.target) == (b"\x05Other\x07Example\x00", None)


ASCII_LOCALE_READ = """
import sys
from dnsserver.masterfile import origin_of, read
from dnsserver.problems import Problems
found = Problems()
print(origin_of(sys.argv[1]), [r.labels for r in read(sys.argv[1], None, found)], found.items)
"""


def test_zone_files_are_utf_8_whatever_the_locale(tmp_path: Path) -> None:
    (tmp_path / "cakes.inc").write_text("Gâteau A 192.0.2.2\n", encoding="utf-8")
    path = tmp_path / "u.zone"
    path.write_text("$ORIGIN Crêpes.test.\n$TTL 60\n@ A 192.0.2.1\n$INCLUDE cakes.inc\n")
    crepes = (b"xn--crpes-isa", b"test")
    expected = f"{crepes!r} {[crepes, (b'xn--gteau-3qa', *crepes)]!r} []"
    found = Problems()
    assert f"{origin_of(path)!r} {[r.labels for r in read(path, None, found)]!r} {found.items}" == (
        expected
    )
    # A service started with no locale (LANG unset, Python's own coercion off) reads ASCII
    # by default: the files are read as UTF-8 all the same.
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    env.pop("LANG", None)
    out = subprocess.run(
        [sys.executable, "-c", ASCII_LOCALE_READ, str(path)],
        env=env,
        capture_output=True,
        check=True,
    )
    assert out.stdout.decode("utf-8") == expected + "\n"


def test_srv_records_that_differ_only_in_the_case_of_the_target_are_duplicates(
    tmp_path: Path,
) -> None:
    # RFC 4343: names compare without case, numbers do not: port 65 is 0x0041 and 97 is 0x0061,
    # two records that lowercasing the whole RDATA made one.
    path = zone_with(
        tmp_path,
        "_x._tcp SRV 0 0 65 ns1\n_x._tcp SRV 0 0 97 ns1\n_x._tcp SRV 0 0 97 NS1\n"
        "ns1 A 192.0.2.53\n",
    )
    zone = load_zone(path)
    srv = zone.nodes[(b"_x", b"_tcp", b"z", b"test")][33]
    assert [(rd.port, str(rd.target)) for rd in srv.rdatas] == [(65, "ns1.z.test."),
                                                               (97, "ns1.z.test.")]  # fmt: skip
    assert zone.records == 5  # SOA, NS, two SRV and an A: the third SRV is the second again


def test_a_dot_escaped_in_a_label_is_no_dot_between_labels(tmp_path: Path) -> None:
    # a\.b is one label "a.b": another name than a.b, so another record, not its duplicate
    path = zone_with(
        tmp_path,
        "m MX 10 a\\.b\nm MX 10 a.b\nm MX 10 A.B\n"
        "n NS a\\.b\nn NS a.b\nn NS A\\.B\n"
        "ns1 A 192.0.2.53\na.b A 192.0.2.1\n",
    )
    zone = load_zone(path)
    mx = zone.nodes[(b"m", b"z", b"test")][15]
    assert [t for t, _ in mx.targets] == [(b"a.b", b"z", b"test"), (b"a", b"b", b"z", b"test")]
    ns = zone.nodes[(b"n", b"z", b"test")][2]
    assert [t for t, _ in ns.targets] == [(b"a.b", b"z", b"test"), (b"a", b"b", b"z", b"test")]
    assert zone.records == 8  # of 10: the two written again in capitals are duplicates
    path = zone_with(tmp_path, "c CNAME a\\.b\nc CNAME a.b\nns1 A 192.0.2.53\n", "c.zone")
    with pytest.raises(ZoneError, match=r"^\S+:6: c\.z\.test\. has a second CNAME \(the first"):
        load_zone(path)


# --- a record as one master-file line (record_text), as the journal writes it


def dnspython_text(rec: Record) -> str:
    """The line dnspython writes for the record: the form record_text must give."""
    wire = rdata_wire(rec.rdata)
    rd = dns.rdata.from_wire(
        dns.rdataclass.IN, dns.rdatatype.RdataType.make(rec.rtype), wire, 0, len(wire)
    )
    owner = dns.name.Name((*rec.labels, b"")).to_text()
    kind = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rec.rtype))
    return f"{owner} {rec.ttl} IN {kind} {rd.to_text()}"


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("www.example.com. 300 IN A 192.0.2.1", None),
        ("WWW.Example.COM. 300 IN A 0.0.0.0", None),  # the case as written
        ("a\\.b.example.com. 60 IN A 255.255.255.255", None),
        ("a\\$b.example.com. 60 IN A 192.0.2.1", None),
        ("a/b.example.com. 60 IN A 192.0.2.1", None),
        ("a*b.example.com. 60 IN A 192.0.2.1", None),
        ("\\195\\169.example.com. 60 IN A 192.0.2.1", None),
        ("*.example.com. 60 IN AAAA 2001:db8::1", None),
        ("_sip._tcp.example.com. 60 IN AAAA ::ffff:192.0.2.1", None),
        ("x-y.example.com. 60 IN AAAA ::", None),
        ("x-y.example.com. 60 IN AAAA 2001:db8:0:0:1:0:0:1", "x-y.example.com. 60 IN AAAA "
         "2001:db8::1:0:0:1"),
        ("x-y.example.com. 60 IN AAAA 64:ff9b::192.0.2.1", "x-y.example.com. 60 IN AAAA "
         "64:ff9b::c000:201"),
        ("example.com. 60 IN NS ns1.Example.com.", None),
        ("example.com. 60 IN NS .", None),
        ("example.com. 60 IN NS ns\\032x.example.com.", None),
        ("alias.example.com. 60 IN CNAME www.example.com.", None),
        ("alias.example.com. 60 IN CNAME a\\@b.example.com.", None),
        ("1.2.0.192.in-addr.arpa. 60 IN PTR host.example.", None),
        ("1.2.0.192.in-addr.arpa. 60 IN PTR h\\.st.example.", None),
        ("example.com. 60 IN MX 10 mail.example.com.", None),
        ("example.com. 60 IN MX 0 .", None),
        ("example.com. 60 IN MX 65535 m\\(x.example.com.", None),
        ("example.com. 60 IN SOA ns1.example.com. host\\.master.example.com. 1 2 3 4 5", None),
        ("example.com. 60 IN SOA ns\\;1.example.com. hostmaster.example.com. 1 2 3 4 5", None),
        ("example.com. 60 IN SOA . . 4294967295 2147483647 0 1 2", None),
        ("example.com. 60 IN TXT \"a b\" c", 'example.com. 60 IN TXT "a b" "c"'),
        ("example.com. 60 IN SRV 0 5 5060 sip.example.com.", None),
        ("example.com. 60 IN CAA 0 issue \"ca.example\"", None),
        ("example.com. 60 IN TYPE65280 \\# 3 abcdef", None),
        (". 60 IN NS a.root-servers.net.", None),
    ],
)  # fmt: skip
def test_a_record_is_written_as_dnspython_writes_it_and_reads_back(
    line: str, text: str | None
) -> None:
    rec = parse_record(line)
    got = record_text(rec)
    assert got == (text or line) == dnspython_text(rec)
    back = parse_record(got)
    assert (back.labels, back.ttl, back.rtype, back.identity) == (
        rec.labels, rec.ttl, rec.rtype, rec.identity,
    )  # fmt: skip


def _utf8(b: bytes) -> bool:
    try:
        b.decode()
    except UnicodeDecodeError:
        return False
    return True


# labels dnslib can read back (a label that is not UTF-8 in an SOA or SRV is not read: dnslib's
# parse raises its own DNSError)
label = st.binary(min_size=1, max_size=6).filter(_utf8)
names = st.lists(
    st.one_of(label, st.sampled_from([b"a", b"B-1", b"_x", b"*", b"c.d", b"e f", b"g\\h"])),
    max_size=3,
)


def absolute(labels: list[bytes]) -> str:
    return dns.name.Name((*labels, b"")).to_text()


@settings(max_examples=200, deadline=None)
@given(
    owner=names,
    target=names,
    other=names,
    rtype=st.sampled_from(["A", "AAAA", "NS", "CNAME", "PTR", "MX", "SOA", "TXT"]),
)
def test_any_name_is_written_as_dnspython_writes_it(
    owner: list[bytes], target: list[bytes], other: list[bytes], rtype: str
) -> None:
    data = {
        "A": "192.0.2.1",
        "AAAA": "2001:db8::53",
        "NS": absolute(target),
        "CNAME": absolute(target),
        "PTR": absolute(target),
        "MX": f"5 {absolute(target)}",
        "SOA": f"{absolute(target)} {absolute(other)} 7 1 2 3 4",
        "TXT": '"t"',
    }[rtype]
    rec = parse_record(f"{absolute(owner)} 60 IN {rtype} {data}")
    assert record_text(rec) == dnspython_text(rec)
    back = parse_record(record_text(rec))
    assert (back.labels, back.identity) == (rec.labels, rec.identity)


def test_names_in_rdata_are_written_whole_never_compressed() -> None:
    rec = parse_record("example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5")
    assert rdata_wire(rec.rdata) == (
        b"\x03ns1\x07example\x03com\x00\x0ahostmaster\x07example\x03com\x00"
        + b"".join(n.to_bytes(4, "big") for n in (1, 2, 3, 4, 5))
    )
    same = parse_record("example.com. 60 IN SOA example.com. example.com. 1 2 3 4 5")
    assert rdata_wire(same.rdata)[:26] == b"\x07example\x03com\x00" * 2


def test_type_names_are_dnspythons_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(masterfile, "_TYPE_NAMES", {})
    assert masterfile.type_name(1) == "A" and masterfile.type_name(65280) == "TYPE65280"
    assert masterfile._TYPE_NAMES == {1: "A", 65280: "TYPE65280"}
    masterfile._TYPE_NAMES[65280] = "KEPT"  # asked again: the name kept, not made again
    assert masterfile.type_name(65280) == "KEPT"
    rec = parse_record("example.com. 60 IN TYPE65280 \\# 1 ab")
    assert record_text(rec) == "example.com. 60 IN KEPT \\# 1 ab"


@pytest.mark.parametrize(
    "line",
    [
        "www.example.com. 300 IN A 192.0.2.1",
        "Www.example.com. 300 IN AAAA 2001:db8::1",
        "_sip._tcp.example.com. 60 IN NS ns-1.example.com.",
        "*.example.com. 60 IN CNAME www.example.com.",
        "1.2.0.192.in-addr.arpa. 60 IN PTR host.example.",
        "example.com. 60 IN MX 10 mail.example.com.",
        "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5",
        ". 60 IN NS .",
    ],
)
def test_plain_names_addresses_and_the_soa_are_written_without_dnspython(
    line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = parse_record(line)

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("dnspython was asked")

    monkeypatch.setattr(dns.rdata, "from_wire", boom)
    monkeypatch.setattr(dns.name.Name, "to_text", boom)
    assert record_text(rec) == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b. 60 IN A 192.0.2.1\nc. 60 IN A 192.0.2.2", "not one record with its owner: "),
        (" 60 IN A 192.0.2.1", "not one record with its owner: "),  # the owner left out
        ("$TTL 60", "not one record with its owner: '$TTL 60'"),
        ("$ORIGIN example.", "not one record with its owner: '$ORIGIN example.'"),
        ('a"b. 60 IN A 192.0.2.1', "unterminated quoted string"),
        ("a. 60 IN A 192.0.2.1 )", "unbalanced ')'"),
        ("\\065..b. 60 IN A 192.0.2.1", "A DNS label is empty."),
        ("a. IN A 192.0.2.1", "no TTL: write one or add a $TTL line"),
    ],
)
def test_parse_record_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_record(text)
    assert str(info.value) == message or (
        message.endswith(": ") and str(info.value) == f"{message}{text!r}"
    )


def test_an_soa_without_a_ttl_gets_its_minimum() -> None:
    rec = parse_record("example. IN SOA ns. h. 1 2 3 4 5")
    assert rec.ttl == 5 and rec.rtype == 6


def test_a_file_that_cannot_be_read_is_one_error_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.zone"
    found = Problems()
    assert list(read(path, None, found)) == []
    assert [p.to_text() for p in found.items] == [
        f"{path}: error: cannot read: No such file or directory"
    ]


@pytest.mark.parametrize(
    "text",
    [
        r"a.example. 60 IN SRV 1 1 1 \128x.example.",
        r"example. 60 IN SOA \128.example. h.example. 1 2 3 4 5",
    ],
)
def test_names_dnslib_cannot_hold_are_bad_record_data(text: str) -> None:
    # (dnslib reads the labels of SRV and SOA names as UTF-8; a label that is not was a
    # DNSError escaping the loader, and SERVFAILed a whole batch of dynamic updates)
    with pytest.raises(ValueError, match=r"^record data dnslib cannot hold: Error unpacking"):
        parse_record(text)
