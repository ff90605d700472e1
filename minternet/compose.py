"""The miniature Internet in containers: `docker compose up`, from the same topology.

One source of truth: every host of `topology.DEFAULT` becomes one service of
docker-compose.yml, on a private network where its address is its loopback address moved into
NETWORK (127.0.0.40 -> 10.53.0.40), on the standard ports. The zones the containers serve carry
those addresses; a PTR for each is in the network's reverse zone, which the host of
127.in-addr.arpa. serves too. The ports users need are published on the host's loopback, at
the host's topology address and the standard port (127.0.0.2:53 for the local DNS server,
127.0.0.41:993 for Bob's IMAPS, ...), so from the host compose looks like
`minternet up --standard-ports`.

`minternet compose` writes the file (a test fails if the checked-in one differs);
`minternet container NAME` is each container's command: it writes what the daemon needs (zones,
hints, its certificate, its config) into the container's state folder and becomes the daemon.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from minternet import launch, pki, topology
from minternet.launch import DNS_ROLES, LaunchContext
from minternet.topology import Host, Topology

#: The containers' network: host 127.0.0.X is 10.53.0.X there (.1 is the network's gateway).
NETWORK = ipaddress.IPv4Network("10.53.0.0/24")
NETWORK_NAME = "minternet"
#: The state folder in every container; named volumes hold what must outlive a container.
STATE_DIR = Path("/var/lib/minternet")
IMAGE = "minternet:latest"
PROJECT = "minternet"
#: The file `minternet compose` writes, at the top of the repository.
FILENAME = "docker-compose.yml"
#: A container's one-shot first service: the CA and the TSIG keys, made once for all.
SETUP = "setup"

#: What each role publishes on the host's loopback: (listener kind, protocol). The daemons'
#: control ports stay inside (`docker compose exec NAME ...` reaches them).
PUBLISHED: dict[str, tuple[tuple[str, str], ...]] = {
    "resolver": (("dns", "udp"), ("dns", "tcp")),
    "mail": tuple(
        (kind, "tcp")
        for kind in ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")
    ),
    "tracker": (("http", "tcp"), ("udp", "udp")),
    "peer": (("bittorrent", "tcp"),),
}

#: Named volumes: the CA and the TSIG keys (every container), and each mail host's folder
#: (its mailboxes, index, users and outbound queue): mail survives `down` and `up`.
SHARED_VOLUMES = {"tls": "tls", "keys": "keys"}


def container_address(address: str) -> str:
    """A host's address on the containers' network: the last octet kept."""
    last = int(ipaddress.IPv4Address(address)) & 0xFF
    return str(NETWORK.network_address + last)


def reverse_zone() -> str:
    """The reverse zone of NETWORK (0.53.10.in-addr.arpa.)."""
    octets = str(NETWORK.network_address).split(".")[: NETWORK.prefixlen // 8]
    return ".".join(reversed(octets)) + ".in-addr.arpa."


def compose_topology(topo: Topology = topology.DEFAULT) -> Topology:
    """`topo` as the containers see it: each host at its container address, and the network's
    reverse zone served beside 127.in-addr.arpa. (where the zone data's 127.0.1.x stay)."""
    hosts = []
    for h in topo.hosts:
        zones = h.zones
        if "127.in-addr.arpa." in zones:
            zones = (*zones, reverse_zone())
        hosts.append(dataclasses.replace(h, address=container_address(h.address), zones=zones))
    return dataclasses.replace(topo, hosts=tuple(hosts))


def published(topo: Topology = topology.DEFAULT) -> dict[str, str]:
    """Host name -> its loopback address, for the hosts that publish ports there."""
    return {h.name: h.address for h in topo.hosts if h.role in PUBLISHED}


def context(state_dir: Path = STATE_DIR, topo: Topology = topology.DEFAULT) -> LaunchContext:
    """How a container starts its daemon: the compose topology, the standard ports."""
    return LaunchContext(
        compose_topology(topo),
        state_dir,
        topology.port_scheme(standard=True),
        published=published(topo),
        clients=(str(NETWORK),),
    )


def volumes(host: Host) -> dict[str, str]:
    """Named volume -> where it is mounted in `host`'s container."""
    mounts = {name: str(STATE_DIR / folder) for name, folder in SHARED_VOLUMES.items()}
    if host.role == "mail":
        mounts[host.name] = str(STATE_DIR / host.name)
    return mounts


def _depends(host: Host, topo: Topology) -> list[tuple[str, str]]:
    """(service, condition) that `host`'s container waits for."""
    deps = [(SETUP, "service_completed_successfully")]
    if host.secondary_of is not None:
        deps.append((host.secondary_of, "service_healthy"))
    if host.role in ("mail", "peer"):  # mail finds MX records, peers the tracker
        deps += [(h.name, "service_healthy") for h in topo.hosts if h.role == "resolver"]
    if host.role == "peer":
        deps += [(h.name, "service_healthy") for h in topo.hosts if h.role == "tracker"]
    return deps


def _ports(host: Host) -> Iterator[str]:
    ports = topology.port_scheme(standard=True)
    for kind, proto in PUBLISHED.get(host.role, ()):
        port = ports[kind]
        yield f"{host.address}:{port}:{port}/{proto}"


def render(topo: Topology = topology.DEFAULT) -> str:
    """docker-compose.yml for `topo` (YAML; every string is quoted JSON, which YAML reads)."""
    q = json.dumps
    resolvers = [container_address(h.address) for h in topo.hosts if h.role == "resolver"]
    out = [
        "# Written by `minternet compose` from minternet/topology.py: do not edit by hand (a",
        "# test fails if this file differs from what `minternet compose` writes).",
        "#",
        "# docker compose up -d --wait    then, from this machine, the published ports on",
        "# loopback: dig @127.0.0.2 gaia.cs.umass.edu, Bob's IMAPS at 127.0.0.41:993, ...",
        '# (README: "The miniature Internet in containers"). BASE_IMAGE picks the image the',
        "# Dockerfile builds on (default python:3.12-slim).",
        f"name: {PROJECT}",
        "",
        "# One image for every service, built once (by the first service), used by the rest.",
        "x-image: &image",
        f"  image: {q(IMAGE)}",
        "  pull_policy: never",
        "",
        "services:",
        f"  {SETUP}:",
        f"    image: {q(IMAGE)}",
        "    build:",
        '      context: "."',
        "      args:",
        '        BASE_IMAGE: "${BASE_IMAGE:-python:3.12-slim}"',
        f'    command: ["container", "{SETUP}"]',
        '    restart: "no"',
        "    network_mode: none",
        "    volumes:",
        *(f"      - {q(f'{v}:{STATE_DIR / f}')}" for v, f in SHARED_VOLUMES.items()),
    ]
    for h in topo.hosts:
        out += ["", f"  {h.name}:", "    <<: *image", f"    command: {q(['container', h.name])}"]
        out += [f"    hostname: {q(h.fqdn.rstrip('.'))}", "    restart: unless-stopped"]
        out += ["    networks:", f"      {NETWORK_NAME}:"]
        out += [f"        ipv4_address: {q(container_address(h.address))}"]
        out += ["    dns: [" + ", ".join(q(r) for r in resolvers) + "]"]
        out += ["    sysctls:", '      net.ipv4.ip_unprivileged_port_start: "0"']
        out += ["    volumes:", *(f"      - {q(f'{v}:{m}')}" for v, m in volumes(h).items())]
        ports = list(_ports(h))
        if ports:
            out += ["    ports:", *(f"      - {q(p)}" for p in ports)]
        out += ["    depends_on:"]
        for name, condition in _depends(h, topo):
            out += [f"      {name}:", f"        condition: {condition}"]
        ready = str(STATE_DIR / h.name / "ready.json")
        out += ["    healthcheck:", f"      test: {q(['CMD', 'test', '-f', ready])}"]
        out += ["      interval: 2s", "      timeout: 2s", "      retries: 60"]
    out += ["", "networks:", f"  {NETWORK_NAME}:", "    ipam:", "      config:"]
    gateway = str(NETWORK.network_address + 1)
    out += [f"        - subnet: {q(str(NETWORK))}", f"          gateway: {q(gateway)}"]
    names = [*SHARED_VOLUMES, *(h.name for h in topo.hosts if h.role == "mail")]
    out += ["", "volumes:", *(f"  {v}:" for v in names)]
    return "\n".join(out) + "\n"


# -- inside a container ------------------------------------------------------------------------


def prepare(ctx: LaunchContext) -> None:
    """At image build time: the state folders the named volumes are mounted on."""
    for name in ("tls", "keys"):
        (ctx.state_dir / name).mkdir(parents=True, exist_ok=True)
    for h in ctx.topology.hosts:
        ctx.service_dir(h).mkdir(parents=True, exist_ok=True)


def setup(ctx: LaunchContext) -> None:
    """The one-shot first container: the CA and every TSIG key, before any daemon starts (so
    that no two containers make them at once)."""
    pki.CertificateAuthority.ensure(ctx.tls_dir)
    for h in ctx.topology.hosts:
        if h.role in DNS_ROLES:
            for zone in h.zones:
                ctx.key_file(zone)
    ctx.key_file(launch.REGISTRAR_KEY)
    print(f"setup: CA at {ctx.tls_dir / 'ca.pem'}, keys in {ctx.key_dir}", flush=True)


def run(name: str, ctx: LaunchContext) -> int:
    """Become `name`'s daemon (its logs on stderr: `docker compose logs NAME`)."""
    if name == SETUP:
        setup(ctx)
        return 0
    try:
        host = ctx.topology.host(name)
    except KeyError:
        known = " ".join(h.name for h in ctx.topology.hosts)
        print(f"minternet container: no host {name!r} (hosts: {SETUP} {known})", file=sys.stderr)
        return 2
    argv = launch.command_for(host, ctx)
    # the healthcheck looks for the ready file: one left by the last run must not count
    ctx.ready_file(host).unlink(missing_ok=True)
    os.execv(argv[0], argv)
    return 1  # pragma: no cover (execv does not return)
