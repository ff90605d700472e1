"""Who answered: CH TXT version.bind / id.server / hostname.bind and NSID (RFC 5001) on the
authoritative engine, answered as NSD does; the identity's configuration and flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from dnsserver.chaos import Identity
from dnsserver.cli import build_config, build_parser
from dnsserver.engine import Engine
from dnsserver.zoneset import ZoneSet

NSID = dns.edns.GenericOption(dns.edns.NSID, b"")
SHOWN = Identity(identity="dns.umass.edu", version="minternet 9.9")


def chaos(engine: Engine, name: str, rdtype: str = "TXT", **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, rdclass="CH", **kw)  # type: ignore[arg-type]
    wire = engine.handle(q.to_wire(), tcp=False).wire
    assert wire is not None
    return dns.message.from_wire(wire)


def texts(r: dns.message.Message) -> list[tuple[str, int, int, str]]:
    return [
        (rrset.name.to_text(), rrset.rdclass, rrset.ttl, rd.to_text())
        for rrset in r.answer
        for rd in rrset
    ]


def nsid(r: dns.message.Message) -> bytes | None:
    found = [o for o in r.options if o.otype == dns.edns.NSID]
    return found[0].to_wire() if found else None


def test_identity_settings_and_their_defaults() -> None:
    default = Identity.from_settings(
        identity="",
        hide_identity=False,
        version="",
        hide_version=False,
        hostname="host1",
        default_version="minternet 0.1.0",
    )
    assert default == Identity(identity="host1", version="minternet 0.1.0")
    assert default.nsid == b"host1"
    hidden = Identity.from_settings(
        identity="x", hide_identity=True, version="", hide_version=True, hostname="h",
        default_version="v",
    )  # fmt: skip
    assert hidden == Identity(identity=None, version=None) and hidden.nsid is None
    with pytest.raises(ValueError, match="identity is longer than 255 octets"):
        Identity.from_settings(
            identity="x" * 256, hide_identity=False, version="", hide_version=False,
            hostname="h", default_version="v",
        )  # fmt: skip


def test_version_and_identity_are_answered_as_nsd_does(all_zones: ZoneSet) -> None:
    engine = Engine(all_zones, identity=SHOWN)
    for name, want in (
        ("version.bind", '"minternet 9.9"'),
        ("VERSION.server", '"minternet 9.9"'),
        ("id.server", '"dns.umass.edu"'),
        ("hostname.bind", '"dns.umass.edu"'),
    ):
        r = chaos(engine, name)
        assert r.rcode() == dns.rcode.NOERROR
        assert texts(r) == [(name + ".", dns.rdataclass.CH, 0, want)]  # client's case, TTL 0
        assert r.flags & dns.flags.RD and not r.flags & (dns.flags.AA | dns.flags.RA)
        assert r.question[0].rdclass == dns.rdataclass.CH
    assert texts(chaos(engine, "version.bind", "ANY")) == [
        ("version.bind.", dns.rdataclass.CH, 0, '"minternet 9.9"')
    ]


@pytest.mark.parametrize(
    ("name", "rdtype"), [("version.bind", "A"), ("foo.bar", "TXT"), ("bind", "TXT")]
)
def test_other_chaos_questions_are_refused(all_zones: ZoneSet, name: str, rdtype: str) -> None:
    r = chaos(Engine(all_zones, identity=SHOWN), name, rdtype)
    assert r.rcode() == dns.rcode.REFUSED and not r.answer


def test_hidden_items_are_refused(all_zones: ZoneSet) -> None:
    no_version = Engine(all_zones, identity=Identity(identity="ns1", version=None))
    assert chaos(no_version, "version.bind").rcode() == dns.rcode.REFUSED
    assert texts(chaos(no_version, "id.server"))[0][3] == '"ns1"'
    no_identity = Engine(all_zones, identity=Identity(identity=None, version="v"))
    assert chaos(no_identity, "hostname.bind").rcode() == dns.rcode.REFUSED
    r = chaos(no_identity, "version.bind", use_edns=0, options=[NSID])
    assert r.rcode() == dns.rcode.NOERROR and nsid(r) is None
    # the engine's default (a library user who configured nothing) hides both
    assert chaos(Engine(all_zones), "version.bind").rcode() == dns.rcode.REFUSED


def test_nsid_only_to_queries_that_ask_including_errors(all_zones: ZoneSet) -> None:
    engine = Engine(all_zones, identity=SHOWN)
    for _ in range(2):  # answered, then from the answer cache
        for name, rdtype, rcode in (
            ("www.networkutopia.com", "A", dns.rcode.NOERROR),
            ("nosuch.crepes.fr", "A", dns.rcode.NXDOMAIN),
            ("crepes.fr", "AXFR", dns.rcode.REFUSED),
        ):
            q = dns.message.make_query(name, rdtype, use_edns=0, options=[NSID])
            r = dns.message.from_wire(engine.handle(q.to_wire(), tcp=False).wire or b"")
            assert r.rcode() == rcode and nsid(r) == b"dns.umass.edu"
            plain = dns.message.make_query(name, rdtype, use_edns=0)
            r = dns.message.from_wire(engine.handle(plain.to_wire(), tcp=True).wire or b"")
            assert r.rcode() == rcode and r.edns == 0 and nsid(r) is None


def test_identity_from_config_file_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "dns.toml"
    cfg.write_text(
        'zones = ["a.zone"]\nlisten = ["127.0.0.1:0"]\n'
        'identity = "ns-from-file"\nversion = "custom 1"\nhide_version = false\n'
    )
    c = build_config(build_parser().parse_args(["serve", "--config", str(cfg)]))
    assert (c.identity, c.hide_identity, c.version, c.hide_version) == (
        "ns-from-file", False, "custom 1", False,
    )  # fmt: skip
    argv = ["serve", "--config", str(cfg), "--identity", "flag", "--hide-version"]
    c = build_config(build_parser().parse_args(argv))
    assert (c.identity, c.hide_identity, c.hide_version) == ("flag", False, True)
    c = build_config(build_parser().parse_args(["serve", "--config", str(cfg), "--hide-identity"]))
    assert c.hide_identity and c.identity == "ns-from-file"


def test_an_identity_too_long_is_a_usage_error(tmp_path: Path) -> None:
    zone = tmp_path / "t.zone"
    zone.write_text("$ORIGIN t.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 127.0.0.1\n")
    argv = ["serve", "--zone", str(zone), "--listen", "127.0.0.1:0", "--identity", "x" * 300]
    p = subprocess.run(
        [sys.executable, "-m", "dnsserver", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "identity is longer than 255 octets" in p.stderr
    assert "Traceback" not in p.stderr


def settings(identity: str = "", version: str = "", **hide: bool) -> Identity:
    return Identity.from_settings(
        identity=identity,
        hide_identity=hide.get("hide_identity", False),
        version=version,
        hide_version=hide.get("hide_version", False),
        hostname="host1",
        default_version="minternet 0.1.0",
    )


def test_what_is_configured_wins_over_the_defaults() -> None:
    assert settings("ns.example", "custom 2") == Identity(identity="ns.example", version="custom 2")
    assert settings(hide_version=True) == Identity(identity="host1", version=None)
    assert settings(hide_identity=True) == Identity(identity=None, version="minternet 0.1.0")


def test_identity_and_version_fit_one_txt_string_of_255_octets() -> None:
    assert settings("x" * 255, "v" * 255) == Identity(identity="x" * 255, version="v" * 255)
    with pytest.raises(ValueError, match=r"^identity is longer than 255 octets$"):
        settings("\u00e9" * 128)  # 128 characters, 256 octets in UTF-8
    with pytest.raises(ValueError, match=r"^version is longer than 255 octets$"):
        settings(version="v" * 256)
    with pytest.raises(ValueError, match=r"^version is longer than 255 octets$"):
        settings(version="v" * 256, hide_version=True)  # a bad setting, hidden or not
    assert SHOWN.txt((b"version", b"bind"), 16) == "minternet 9.9"
    assert SHOWN.txt((b"version", b"bind"), 255) == "minternet 9.9"  # ANY
    assert SHOWN.txt((b"id", b"server"), 1) is None  # A: REFUSED
    assert Identity(identity="\u00e9").nsid == b"\xc3\xa9"  # UTF-8 on the wire
