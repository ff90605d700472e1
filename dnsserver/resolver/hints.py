"""Root hints: the root's NS names and their addresses, read from an RFC 1035 master file."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.zonefile

from dnsserver.resolver.errors import ResolverError
from dnsserver.resolver.rrset import Name, to_text


@dataclass(frozen=True, slots=True)
class RootHints:
    """Where iteration starts (RFC 1034 §5.3.3 SBELT): root NS names and their addresses."""

    ns_names: tuple[Name, ...]
    addresses: dict[Name, tuple[str, ...]]

    def all_addresses(self) -> list[str]:
        return [a for n in self.ns_names for a in self.addresses.get(n, ())]


def _name(n: dns.name.Name) -> Name:
    return tuple(label.lower() for label in n.labels if label)


def parse(text: str, where: str) -> RootHints:
    """Parse a hints file (named.root format; names relative to the root); `where` names it."""
    try:
        # dnspython's defaults: origin the root, names kept absolute; rdclass None: a class
        # may be written, and must be IN
        rrsets = dns.zonefile.read_rrsets(text, rdclass=None)
    except dns.exception.DNSException as e:
        raise ResolverError(f"{where}: {e}") from None
    ns: list[Name] = []
    addrs: dict[Name, list[str]] = {}
    for rrset in rrsets:
        owner = _name(rrset.name)
        if rrset.rdtype == dns.rdatatype.NS and owner == ():
            ns.extend(_name(rd.target) for rd in rrset if _name(rd.target) not in ns)
        elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addrs.setdefault(owner, []).extend(
                str(ipaddress.ip_address(rd.address)) for rd in rrset
            )
    if not ns:
        raise ResolverError(f"{where}: no NS records for the root")
    usable = {n: tuple(addrs[n]) for n in ns if n in addrs}
    if not usable:
        names = ", ".join(to_text(n) for n in ns)
        raise ResolverError(f"{where}: no addresses for the root servers ({names})")
    return RootHints(tuple(ns), usable)


def load(path: str) -> RootHints:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ResolverError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ResolverError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return parse(text, path)
