"""Our master-file reader: checked against dnspython's zone parser, and its error messages."""

from __future__ import annotations

from pathlib import Path

import dns.message
import dns.rdataclass
import dns.zone
import pytest
from dnslib import RR, DNSLabel, DNSRecord

from dnsserver.errors import ZoneError
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
