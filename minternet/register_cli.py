"""`minternet register` and `minternet unregister`: the registrar at work (see registrar.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.tsig

from dnsserver import tsigkeys
from minternet import console, registrar, supervisor, topology
from minternet.launch import REGISTRAR_KEY, LaunchContext, key_stem
from minternet.registrar import RegistrarError, Registration
from minternet.supervisor import Service, SupervisorError

TIMEOUT = 5.0


def add_arguments(reg: argparse.ArgumentParser, unreg: argparse.ArgumentParser) -> None:
    reg.add_argument("domain", metavar="DOMAIN", help="the new domain, below a TLD (example.com)")
    reg.add_argument(
        "--ns",
        action="append",
        default=[],
        metavar="NAME=ADDRESS",
        help="a name server of the domain, the primary first (repeatable): "
        "--ns ns1.example.com=127.0.0.60",
    )
    reg.add_argument(
        "--serve",
        action="store_true",
        help="also run the domain's servers on those addresses: the primary with a starter "
        "zone (SOA, NS, www, MX), the second as its secondary",
    )
    unreg.add_argument("domain", metavar="DOMAIN", help="a domain `register` registered")


def _tld_service(topo: topology.Topology, tld: str, services: list[Service]) -> Service:
    primary = topo.zone_servers(tld)[0]
    for s in services:
        if s.name == primary.name and supervisor.running(s):
            return s
    raise RegistrarError(
        f"the {tld} server ({primary.name}) is not running: `minternet up` starts it"
    )


def _send(
    msg: dns.message.Message, service: Service, key_file: Path, what: str
) -> dns.message.Message:
    try:
        key = tsigkeys.load([key_file])[tsigkeys.key_name(REGISTRAR_KEY)]
    except (tsigkeys.KeyFileError, KeyError) as e:
        raise RegistrarError(f"the registrar's key {key_file}: {e}") from None
    msg.use_tsig(tsigkeys.keyring([key]), keyname=key.name)
    try:
        return dns.query.tcp(msg, service.address, port=service.ports["dns"], timeout=TIMEOUT)
    except (OSError, dns.exception.DNSException, dns.tsig.PeerError) as e:
        raise RegistrarError(f"{what}: {service.name} at {service.address}: {e}") from None


def _context(state_dir: Path, topo: topology.Topology, tld: Service) -> LaunchContext:
    """Launch settings like those of the running topology: its ports, its RRL setting."""
    offset = tld.ports["dns"] - 53
    ports = topology.port_scheme(offset == 0, offset=offset or topology.UNPRIVILEGED_OFFSET)
    return LaunchContext(topo, state_dir, ports, rrl="--no-rrl" not in tld.command)


def register(args: argparse.Namespace, state_dir: Path) -> int:
    try:
        return _register(args, state_dir)
    except (RegistrarError, SupervisorError) as e:
        print(f"minternet register: {e}", file=sys.stderr)
        return 1


def _register(args: argparse.Namespace, state_dir: Path) -> int:
    services = supervisor.read_state(state_dir)
    if not services:
        raise RegistrarError(f"nothing is running from {state_dir}: `minternet up` first")
    domain = registrar.absolute(args.domain)
    regs = registrar.load(state_dir)
    if domain in regs:
        raise RegistrarError(f"{domain} is registered already (`minternet unregister {domain}`)")
    base = registrar.topology_for(topology.DEFAULT, regs.values())
    tld = registrar.tld_of(base, domain)
    reg = Registration(domain, registrar.parse_servers(args.ns, domain), served=args.serve)
    if reg.served:
        registrar.check_served(reg, base)
    tld_service = _tld_service(base, tld, services)
    msg = registrar.delegation(reg)
    answer = _send(msg, tld_service, state_dir / "keys" / f"{REGISTRAR_KEY}.key", "the update")
    rcode = answer.rcode()
    if rcode == dns.rcode.YXDOMAIN:
        raise RegistrarError(f"{domain} exists in {tld} already: not registered")
    if rcode != dns.rcode.NOERROR:
        raise RegistrarError(f"{tld_service.name} answered {dns.rcode.to_text(rcode)}")
    registrar.save(state_dir, [*regs.values(), reg])
    ns = ", ".join(f"{n} ({a})" for n, a in reg.servers)
    print(f"registered {domain} in {tld}: a signed UPDATE to {tld_service.name} "
          f"({tld_service.address}) inserted NS {ns}")  # fmt: skip
    for name, address in registrar.glue(reg):
        print(f"  glue: {name} {'AAAA' if ':' in address else 'A'} {address}")
    if reg.served:
        topo = registrar.topology_for(topology.DEFAULT, [*regs.values(), reg])
        ctx = _context(state_dir, topo, tld_service)
        hosts = reg.hosts()
        started = supervisor.add(hosts, ctx, progress=lambda m: print(m, flush=True))
        for s, host in zip(started, hosts, strict=True):
            kind = "primary" if host.secondary_of is None else "secondary"
            print(f"started {s.name} ({kind}) for {domain} at {s.address} port {s.ports['dns']}")
        key = ctx.key_file(domain)
        primary = started[0]
        prog = console.program("minternet")
        print(f"\nAdd records (key {key}):\n"
              f"  nsupdate -k {key}\n"
              f"  > server {primary.address} {primary.ports['dns']}\n"
              f"  > update add www.{domain} 300 A 192.0.2.80\n  > send\n"
              f"Resolve it: dig @{_resolver(services)} www.{domain}\n"
              f"Take it back: {prog} unregister {domain.rstrip('.')}")  # fmt: skip
    else:
        print(f"its name servers must now serve {domain}: the world finds them through {tld}")
    return 0


def _resolver(services: list[Service]) -> str:
    for s in services:
        if s.role == "resolver":
            return f"{s.address} -p {s.ports['dns']}"
    return "the local DNS server"


def unregister(args: argparse.Namespace, state_dir: Path) -> int:
    try:
        domain = registrar.absolute(args.domain)
        regs = registrar.load(state_dir)
        reg = regs.get(domain)
        if reg is None:
            registered = ", ".join(regs) or "none"
            raise RegistrarError(f"{domain} is not registered here (registered: {registered})")
        services = supervisor.read_state(state_dir)
        base = registrar.topology_for(topology.DEFAULT, regs.values())
        tld = registrar.tld_of(base, domain)
        tld_service = _tld_service(base, tld, services)
        answer = _send(registrar.removal(reg), tld_service,
                       state_dir / "keys" / f"{REGISTRAR_KEY}.key", "the update")  # fmt: skip
        if answer.rcode() != dns.rcode.NOERROR:
            raise RegistrarError(f"{tld_service.name} answered {dns.rcode.to_text(answer.rcode())}")
        stopped = supervisor.remove(state_dir, [h.name for h in reg.hosts()])
        registrar.save(state_dir, [r for r in regs.values() if r.domain != domain])
    except (RegistrarError, SupervisorError) as e:
        print(f"minternet unregister: {e}", file=sys.stderr)
        return 1
    print(f"unregistered {domain}: its delegation is gone from {tld}")
    for s in stopped:
        print(f"stopped {s.name} ({s.address})")
    print(f"(resolvers forget it when what they cached expires; its key stays in "
          f"{state_dir / 'keys' / (key_stem(domain) + '.key')})")  # fmt: skip
    return 0
