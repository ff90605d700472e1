"""Renders the topology's zones as RFC 1035 master files, and the root hints file.

What is derived, never written twice: SOA and apex NS from the hosts serving a zone, address
records for every host from the host table, delegations (NS in the parent) and glue, the
reverse DNS: a PTR for every address of the topology in the reverse zone that holds it, and
mail: each mail domain's MX and RFC 6186 SRV records, naming the mail host that serves it.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import dns.reversename

from minternet.topology import Host, Topology

REVERSE_TREES = ("in-addr.arpa.", "ip6.arpa.")

SERIAL = 2026112701

MX_PREFERENCE = 10
#: RFC 6186 (and RFC 8314 §5.1 for submissions) service records a mail client looks up to
#: configure itself: owner label under the domain -> the listener whose port it gives.
MAIL_SRV = (
    ("_submission._tcp", "submission"),
    ("_submissions._tcp", "submissions"),
    ("_imap._tcp", "imap"),
    ("_imaps._tcp", "imaps"),
    ("_pop3._tcp", "pop3"),
    ("_pop3s._tcp", "pop3s"),
)
ROOT_HINTS_TTL = 3600000


def is_subdomain(name: str, zone: str) -> bool:
    """True if absolute `name` is `zone` or below it (case-insensitive)."""
    name, zone = name.lower(), zone.lower()
    return zone == "." or name == zone or name.endswith("." + zone)


def parent_zone(topo: Topology, zone: str) -> str | None:
    """The closest served zone strictly above `zone`."""
    best: str | None = None
    for z in topo.zones():
        if z != zone and is_subdomain(zone, z) and (best is None or len(z) > len(best)):
            best = z
    return best


def zone_of_name(topo: Topology, name: str) -> str | None:
    """The closest served zone containing `name`."""
    best: str | None = None
    for z in topo.zones():
        if is_subdomain(name, z) and (best is None or len(z) > len(best)):
            best = z
    return best


def _owner(name: str, origin: str) -> str:
    if name.lower() == origin.lower():
        return "@"
    if origin == ".":
        return name
    return name[: -len(origin) - 1]


def _absolute(owner: str, zone: str) -> str:
    if owner == "@":
        return zone
    return owner + "." + zone if zone != "." else owner + "."


def reverse_names(topo: Topology) -> dict[str, str]:
    """Every address of the topology -> the one name its PTR record gives.

    The addresses are those of the hosts and of the A and AAAA records of the zone data. An
    address with several names gets one PTR: a host's own name if it is a host's address,
    else the name with the most labels (the machine rather than the domain: 127.0.1.60 is
    relay1.west-coast.enterprise.com., not enterprise.com.), the first in the topology on a
    tie. Wildcard owners name no machine and are left out.
    """
    names: dict[str, str] = {}
    for h in topo.hosts:
        names.setdefault(h.address, h.fqdn)
    hosts = set(names)
    for zone, records in topo.records.items():
        for rec in records:
            if rec.rtype not in ("A", "AAAA") or rec.owner.split(".")[0] == "*":
                continue
            name = _absolute(rec.owner, zone)
            address = rec.rdata.strip()
            old = names.get(address)
            if address in hosts or (old is not None and old.count(".") >= name.count(".")):
                continue
            names[address] = name
    return names


def reverse_owner(address: str) -> str:
    """The PTR owner of an IPv4 or IPv6 address: 20.0.0.127.in-addr.arpa. and the like."""
    return str(dns.reversename.from_address(address))


def _address_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return ip.version, int(ip)


def _ptr_records(topo: Topology, zone: str) -> list[str]:
    """The PTR lines of `zone`: those of the addresses no more specific served zone holds."""
    if not any(is_subdomain(zone, tree) for tree in REVERSE_TREES):
        return []
    lines = []
    by_address = sorted(reverse_names(topo).items(), key=lambda kv: _address_key(kv[0]))
    for address, name in by_address:
        owner = reverse_owner(address)
        if zone_of_name(topo, owner) == zone:
            lines.append(f"{_owner(owner, zone)} IN PTR {name}")
    return lines


def _mail_records(topo: Topology, zone: str, ports: dict[str, int]) -> list[str]:
    """The MX and SRV lines of the mail domains that `zone` holds, from the mail hosts."""
    lines = []
    for h in topo.mail_hosts():
        for domain in h.mail_domains:
            if zone_of_name(topo, domain) != zone:
                continue
            lines.append(f"{_owner(domain, zone)} IN MX {MX_PREFERENCE} {h.fqdn}")
            for label, kind in MAIL_SRV:
                if kind in h.listeners:
                    owner = _owner(f"{label}.{domain}", zone)
                    lines.append(f"{owner} IN SRV 0 1 {ports[kind]} {h.fqdn}")
    return lines


def render_zone(topo: Topology, zone: str, ports: dict[str, int]) -> str:
    servers = topo.zone_servers(zone)
    if not servers:
        raise KeyError(f"no host serves {zone}")
    ttl = topo.default_ttl
    lines = [
        f"; zone {zone} -- generated by minternet from the topology; edits are overwritten",
        f"$ORIGIN {zone}",
        f"$TTL {ttl}",
        f"@ IN SOA {servers[0].fqdn} hostmaster.{zone if zone != '.' else 'root-servers.net.'} ("
        f" {SERIAL} 7200 3600 1209600 {topo.negative_ttl} )",
    ]
    addresses: dict[str, Host] = {}
    for h in servers:
        lines.append(f"@ IN NS {h.fqdn}")
        if is_subdomain(h.fqdn, zone):
            addresses[h.fqdn] = h
    # Hosts whose name lives in this zone (authoritative data).
    for h in topo.hosts:
        if zone_of_name(topo, h.fqdn) == zone:
            addresses[h.fqdn] = h
    # Delegations to child zones, with glue for name server names inside this zone.
    for child in topo.zones():
        if parent_zone(topo, child) != zone:
            continue
        lines.append(f"; delegation of {child}")
        for h in topo.zone_servers(child):
            lines.append(f"{_owner(child, zone)} IN NS {h.fqdn}")
            if is_subdomain(h.fqdn, zone):
                addresses[h.fqdn] = h
    if addresses:
        lines.append("; addresses of name servers and service hosts (glue where below a cut)")
    for fqdn, h in sorted(addresses.items()):
        lines.append(f"{_owner(fqdn, zone)} IN A {h.address}")
    ptrs = _ptr_records(topo, zone)
    if ptrs:
        lines.append("; reverse DNS: a PTR for every address of the topology in this zone")
        lines.extend(ptrs)
    mail = _mail_records(topo, zone, ports)
    if mail:
        lines.append("; mail: MX and RFC 6186 SRV records of the domains of the mail hosts")
        lines.extend(mail)
    extra = topo.records.get(zone, ())
    if extra:
        lines.append("; zone data")
    for rec in extra:
        rdata = re.sub(r"\{port:(\w+)\}", lambda m: str(ports[m.group(1)]), rec.rdata)
        ttl_text = f" {rec.ttl}" if rec.ttl is not None else ""
        lines.append(f"{rec.owner}{ttl_text} IN {rec.rtype} {rdata}")
    return "\n".join(lines) + "\n"


def zone_filename(zone: str) -> str:
    return "root.zone" if zone == "." else f"{zone.rstrip('.')}.zone"


def write_zones(topo: Topology, directory: Path, ports: dict[str, int]) -> dict[str, Path]:
    """Write every zone of the topology into `directory`; returns zone -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for zone in topo.zones():
        path = directory / zone_filename(zone)
        path.write_text(render_zone(topo, zone, ports))
        paths[zone] = path
    return paths


def render_root_hints(topo: Topology) -> str:
    """The root hints file (RFC 1035 master format, like named.root) for a resolver."""
    lines = ["; root hints for the minternet -- generated from the topology"]
    roots = topo.zone_servers(".")
    for h in roots:
        lines.append(f".\t{ROOT_HINTS_TTL}\tIN\tNS\t{h.fqdn}")
    for h in roots:
        lines.append(f"{h.fqdn}\t{ROOT_HINTS_TTL}\tIN\tA\t{h.address}")
    return "\n".join(lines) + "\n"
