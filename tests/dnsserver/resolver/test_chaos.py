"""The resolver's identity: CH TXT version.bind / id.server / hostname.bind and NSID, answered
as Unbound does (and consistently with the authoritative server)."""

from __future__ import annotations

import argparse
from typing import Any

import dns.asyncquery
import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import pytest

from dnsserver.resolver_cli import build_config

Start = Any
NSID = dns.edns.GenericOption(dns.edns.NSID, b"")


async def ask(port: int, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    rdclass = kw.pop("rdclass", "IN")
    q = dns.message.make_query(name, rdtype, rdclass=rdclass, **kw)
    return await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=5)


def nsid(r: dns.message.Message) -> bytes | None:
    found = [o for o in r.options if o.otype == dns.edns.NSID]
    return found[0].to_wire() if found else None


async def test_version_and_identity(start_resolver: Start) -> None:
    _, ports = await start_resolver(identity="local-test", version="minternet 9.9")
    for name, want in (
        ("version.bind", '"minternet 9.9"'),
        ("version.server", '"minternet 9.9"'),
        ("ID.Server", '"local-test"'),
        ("hostname.bind", '"local-test"'),
    ):
        r = await ask(ports["dns"], name, "TXT", rdclass="CH")
        assert r.rcode() == dns.rcode.NOERROR
        assert [
            (s.name.to_text(), s.rdclass, s.ttl, [d.to_text() for d in s]) for s in r.answer
        ] == [(name + ".", dns.rdataclass.CH, 0, [want])]
        assert r.flags & dns.flags.RA and not r.flags & dns.flags.AA
    for name, rdtype in (("version.bind", "A"), ("foo.bar", "TXT")):
        r = await ask(ports["dns"], name, rdtype, rdclass="CH")
        assert r.rcode() == dns.rcode.REFUSED and not r.answer


async def test_hidden_identity_and_version_are_refused(start_resolver: Start) -> None:
    _, ports = await start_resolver(identity="x", hide_identity=True, hide_version=True)
    for name in ("version.bind", "version.server", "id.server", "hostname.bind"):
        r = await ask(ports["dns"], name, "TXT", rdclass="CH")
        assert r.rcode() == dns.rcode.REFUSED and not r.answer
    r = await ask(ports["dns"], "www.example.test.", use_edns=0, options=[NSID])
    assert r.rcode() == dns.rcode.NOERROR and nsid(r) is None


async def test_other_classes_are_refused_not_notimp(start_resolver: Start) -> None:
    _, ports = await start_resolver()
    r = await ask(ports["dns"], "www.example.test.", rdclass="HS")
    assert r.rcode() == dns.rcode.REFUSED


async def test_nsid_only_to_queries_that_ask_on_every_path(start_resolver: Start) -> None:
    _, ports = await start_resolver(identity="local-test")
    for _ in range(3):  # resolved, then from the packed answers, then from the hot cache
        r = await ask(ports["dns"], "www.example.test.", use_edns=0, options=[NSID])
        assert [d.address for d in r.answer[0]] == ["127.1.0.1"] and nsid(r) == b"local-test"
        plain = await ask(ports["dns"], "www.example.test.", use_edns=0)
        assert [d.address for d in plain.answer[0]] == ["127.1.0.1"] and nsid(plain) is None
    r = await ask(ports["dns"], "nope.example.test.", use_edns=0, options=[NSID])
    assert r.rcode() == dns.rcode.NXDOMAIN and nsid(r) == b"local-test"


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        ([], ("", False, "", False)),
        (["--identity", "dns.nyu.edu", "--hide-version"], ("dns.nyu.edu", False, "", True)),
        (["--hide-identity"], ("", True, "", False)),
    ],
)
def test_identity_flags(flags: list[str], want: tuple[object, ...]) -> None:
    parser = argparse.ArgumentParser()
    from dnsserver.resolver_cli import add_parsers

    add_parsers(parser.add_subparsers(dest="command"))
    c = build_config(parser.parse_args(["resolve", *flags]))
    assert (c.identity, c.hide_identity, c.version, c.hide_version) == want
