"""The registrar of the course notes: a new domain comes into the DNS.

"Register networkutopia.com at a DNS registrar; provide names and IP addresses of the
authoritative name servers (primary and secondary); the registrar inserts NS and A records into
the .com TLD server" (the notes). `minternet register DOMAIN --ns NAME=ADDRESS ...` does that
with a TSIG-signed dynamic update (RFC 2136) to the TLD's primary server, signed with the
registrar's key, which the topology's TLD servers accept (`<state>/keys/registrar.key`): the
delegation (NS) and, for name servers inside the new domain, their glue (A/AAAA). With
`--serve` it also runs the domain's servers: the primary on the first name server's address,
with a starter zone (SOA, NS, an A for www, an MX), and a secondary of it on the second, if
there is one. `minternet unregister DOMAIN` takes the delegation out again and stops them.

Registered domains are kept in `<state>/registered.json`, so they live as long as the state
directory: the TLD zone keeps its delegation in its journal across `down` and `up`, and `up`
starts the servers of the domains registered with `--serve` again, as hosts of the topology
(`topology_for`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.update

from minternet.durable import write_atomically
from minternet.topology import Host, Record, Topology
from minternet.zonegen import is_subdomain

REGISTRY_FILE = "registered.json"
STARTER_TTL = 300  # the starter zone's records: short, so that changes show soon


class RegistrarError(Exception):
    """What the registrar refuses, and why."""


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered domain: its name servers (absolute name, address) and whether `minternet`
    runs them (`--serve`)."""

    domain: str  # absolute, lowercase
    servers: tuple[tuple[str, str], ...]
    served: bool = False

    def hosts(self) -> list[Host]:
        """The hosts that run its servers (none unless served): the primary, then secondaries."""
        if not self.served:
            return []
        out = []
        primary = f"{self.domain.rstrip('.')}-ns1"
        for i, (name, address) in enumerate(self.servers, 1):
            out.append(
                Host(
                    f"{self.domain.rstrip('.')}-ns{i}",
                    "dns-auth",
                    address,
                    name,
                    (self.domain,),
                    secondary_of=None if i == 1 else primary,
                )
            )
        return out

    def starter(self) -> tuple[Record, ...]:
        """The starter zone's records beyond what the hosts give (SOA, NS, their addresses):
        www and mail at the primary's address, and the MX, as the notes' example adds them."""
        address = self.servers[0][1]
        kind = "AAAA" if ":" in address else "A"
        return (
            Record("www", kind, address, STARTER_TTL),
            Record("mail", kind, address, STARTER_TTL),
            Record("@", "MX", f"10 mail.{self.domain}", STARTER_TTL),
        )


def absolute(name: str) -> str:
    try:
        return dns.name.from_text(name).to_text().lower()
    except Exception as e:
        raise RegistrarError(f"bad name {name!r}: {e}") from None


def parse_servers(texts: Sequence[str], domain: str) -> tuple[tuple[str, str], ...]:
    """`--ns NAME=ADDRESS` options: names made absolute, addresses checked; at least one."""
    if not texts:
        raise RegistrarError("give the domain's name servers: --ns NAME=ADDRESS (one or more)")
    out: list[tuple[str, str]] = []
    for text in texts:
        name, sep, address = text.partition("=")
        if not sep or not name.strip() or not address.strip():
            raise RegistrarError(f"--ns {text!r}: expected NAME=ADDRESS (ns1.{domain}=127.0.0.60)")
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            raise RegistrarError(f"--ns {text!r}: {address.strip()!r} is not an address") from None
        entry = (absolute(name.strip()), str(ip))
        if entry[0] in (n for n, _ in out):
            raise RegistrarError(f"--ns {text!r}: {entry[0]} is given twice")
        out.append(entry)
    return tuple(out)


def tld_of(topo: Topology, domain: str) -> str:
    """The TLD zone a domain is registered in: the topology's TLD zone it is directly below."""
    tlds = sorted({z for h in topo.hosts if h.role == "dns-tld" for z in h.zones})
    for zone in tlds:
        if domain != zone and is_subdomain(domain, zone):
            labels = dns.name.from_text(domain).relativize(dns.name.from_text(zone)).labels
            if len(labels) == 1:
                return zone
            raise RegistrarError(
                f"{domain} is not directly below {zone}: a registrar registers names of a TLD "
                f"(like example.{zone}); delegate deeper names from that domain's own zone"
            )
    raise RegistrarError(f"{domain} is not below a TLD of this topology ({', '.join(tlds)})")


def check_served(reg: Registration, topo: Topology) -> None:
    """`--serve` runs servers on loopback addresses that no host of the topology uses."""
    used = {h.address: h.name for h in topo.hosts}
    for name, address in reg.servers:
        ip = ipaddress.ip_address(address)
        if ip.version != 4 or not ip.is_loopback:
            raise RegistrarError(
                f"--serve runs {name} on {address}: it must be a 127.0.0.0/8 address"
            )
        if address in used:
            raise RegistrarError(f"--serve: {address} is {used[address]}'s address already")


def delegation(reg: Registration) -> dns.update.UpdateMessage:
    """The registrar's UPDATE to the TLD: the domain must be new (RFC 2136 prerequisite 'name
    not in use'); its NS records, and glue for the name servers inside it."""
    tld = dns.name.from_text(reg.domain).parent()
    msg = dns.update.UpdateMessage(tld)
    msg.absent(reg.domain)  # no delegation or data at the name yet
    for name, _ in reg.servers:
        msg.add(reg.domain, 86400, "NS", name)
    for name, address in glue(reg):
        msg.add(name, 86400, "AAAA" if ":" in address else "A", address)
    return msg


def glue(reg: Registration) -> list[tuple[str, str]]:
    """The name servers that need glue: those inside the domain (RFC 1034 §4.2.1)."""
    return [(n, a) for n, a in reg.servers if is_subdomain(n, reg.domain)]


def removal(reg: Registration) -> dns.update.UpdateMessage:
    """The UPDATE that takes the delegation and its glue out of the TLD."""
    tld = dns.name.from_text(reg.domain).parent()
    msg = dns.update.UpdateMessage(tld)
    msg.delete(reg.domain, dns.rdatatype.NS)
    for name, _ in glue(reg):
        msg.delete(name)
    return msg


def load(state_dir: Path) -> dict[str, Registration]:
    path = state_dir / REGISTRY_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise RegistrarError(f"{path}: unreadable: {e}") from None
    try:
        return {
            d: Registration(d, tuple((str(n), str(a)) for n, a in r["servers"]), bool(r["served"]))
            for d, r in data["domains"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise RegistrarError(f"{path}: not a registry ({e!r})") from None


def save(state_dir: Path, regs: Iterable[Registration]) -> None:
    path = state_dir / REGISTRY_FILE
    data = {
        "domains": {
            r.domain: {"servers": [list(s) for s in r.servers], "served": r.served} for r in regs
        }
    }
    write_atomically(path, (json.dumps(data, indent=2) + "\n").encode(), 0o644)


def topology_for(base: Topology, regs: Iterable[Registration]) -> Topology:
    """The topology with the servers of the domains registered with `--serve` as hosts."""
    regs = list(regs)
    hosts = [h for r in regs for h in r.hosts()]
    records = dict(base.records)
    for r in regs:
        if r.served:
            records[r.domain] = r.starter()
    return Topology(
        (*base.hosts, *hosts), records, default_ttl=base.default_ttl,
        negative_ttl=base.negative_ttl,
    )  # fmt: skip
