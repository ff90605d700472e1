"""How each role of the topology is started: the command line of its daemon.

Daemons are separate OS processes speaking real protocols; each gets its own address, the
port scheme's port(s), a ready file to report readiness and a log file.
"""

from __future__ import annotations

import json
import random
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dnsserver import tsigkeys
from dnsserver.resolver.policy import DEFAULT_ALLOW
from mailserver.users import UserDb
from minternet import pki, zonegen
from minternet.durable import write_atomically
from minternet.topology import Host, Topology
from peer.create import PieceHasher, build, choose_piece_length


@dataclass(frozen=True, slots=True)
class LaunchContext:
    topology: Topology
    state_dir: Path
    ports: dict[str, int]  # the port scheme: kind -> port
    log_level: str = "INFO"
    rrl: bool = True  # response rate limiting on the root, TLD and authoritative servers
    # Host name -> the address its ports are published at, where clients reach it at another
    # address than its own (compose: a container's ports on the host's loopback). Its
    # certificate names both; a peer tells the tracker that address (--announce-ip), and the
    # tracker trusts the peer's own address to say so.
    published: Mapping[str, str] = field(default_factory=dict)
    # Networks besides loopback whose clients the local DNS server answers (compose: the
    # containers' network, which the published ports' traffic comes from too).
    clients: tuple[str, ...] = ()

    def service_dir(self, host: Host) -> Path:
        return self.state_dir / host.name

    def ready_file(self, host: Host) -> Path:
        return self.service_dir(host) / "ready.json"

    def log_file(self, host: Host) -> Path:
        return self.state_dir / "logs" / f"{host.name}.log"

    @property
    def tls_dir(self) -> Path:
        """The miniature Internet's CA (ca.pem, for clients to trust) and each host's cert."""
        return self.state_dir / "tls"

    @property
    def key_dir(self) -> Path:
        """The TSIG keys: one per zone (`<zone>.key`) and the registrar's, in BIND's form."""
        return self.state_dir / "keys"

    def key_file(self, name: str) -> Path:
        """The key file of zone or key `name` (made once, with a fresh random secret); the key
        is named as the file: `networkutopia.com`, `root` for the root zone, `registrar`."""
        stem = key_stem(name)
        path = self.key_dir / f"{stem}.key"
        if not path.exists():
            self.key_dir.mkdir(parents=True, exist_ok=True)
            key = tsigkeys.generate(stem, secrets.token_bytes(32))
            # a secret: readable by its owner only, as tsig-keygen's output
            write_atomically(path, key.text().encode(), 0o600)
        return path

    def certificate(self, host: Host) -> pki.Issued:
        """Issue `host` a certificate for its DNS name and address from the topology's CA."""
        ca = pki.CertificateAuthority.ensure(self.tls_dir)
        also = [self.published[host.name]] if host.name in self.published else []
        return ca.issue(host.name, [host.fqdn], [host.address, *also])


DNS_ROLES = ("dns-root", "dns-tld", "dns-auth")
REGISTRAR_KEY = "registrar"  # the key the TLD servers accept delegations from


def key_stem(name: str) -> str:
    """The name of a zone's key and key file: the zone without its final dot, `root` for `.`."""
    return "root" if name == "." else name.rstrip(".")


MAIL_CONFIG = "mail.toml"
SAMPLE_NAME = "sample.bin"  # the seeder's file: SAMPLE_SIZE bytes, the same on every machine
SAMPLE_SIZE = 32 << 20
SAMPLE_SEED = "minternet sample"


def sample_torrent(state_dir: Path) -> Path:
    """The torrent of the seeder's sample file (what `peer download` is given)."""
    return state_dir / "torrents" / "sample.torrent"


#: RRL accounts clients per /32 here, not per /24: every host of the miniature Internet is in
#: 127.0.0.0/24, and per /24 the local DNS server would share its budget with every dig a user
#: runs. Each 127.0.0.x is a machine of its own, as it would be a network of its own outside.
#: The topology's own resolvers are exempt (`--rrl-exempt`), as operators exempt the
#: resolvers they know: see the README's "The local DNS server under a flood".
RRL_IPV4_PREFIX = 32


def command_for(host: Host, ctx: LaunchContext) -> list[str]:
    """The argv that runs `host`'s daemon; writes the files it needs (zones, hints, its
    certificate) first."""
    ctx.certificate(host)
    common = [
        "--name",
        host.name,
        "--ready-file",
        str(ctx.ready_file(host)),
        "--log-level",
        ctx.log_level,
    ]
    if "control" in host.listeners:
        common += ["--control", f"{host.address}:{ctx.ports['control']}"]
    if host.role in DNS_ROLES:
        zone_dir = ctx.state_dir / "zones"
        argv = [sys.executable, "-m", "dnsserver", "serve"]
        argv += ["--listen", f"{host.address}:{ctx.ports['dns']}"]
        argv += ["--identity", host.fqdn.rstrip(".") or host.name]
        if ctx.rrl:
            argv += ["--rrl-ipv4-prefix", str(RRL_IPV4_PREFIX)]
            for resolver in ctx.topology.hosts:
                if resolver.role == "resolver":
                    argv += ["--rrl-exempt", resolver.address]
        else:
            argv += ["--no-rrl"]
        if host.secondary_of is not None:
            primary = ctx.topology.host(host.secondary_of)
            for zone in host.zones:
                argv += ["--secondary", f"{zone}={primary.address}:{ctx.ports['dns']}"]
                # holders of the zone's key may transfer it from here too (`dig -k ... AXFR`)
                argv += ["--key", str(ctx.key_file(zone))]
                argv += ["--allow-transfer", f"{zone}=key {key_stem(zone)}"]
            argv += ["--secondary-dir", str(ctx.service_dir(host) / "zones")]
            return argv + common
        for zone in host.zones:
            for secondary in ctx.topology.secondaries(host, zone):
                argv += ["--notify", f"{zone}={secondary.address}:{ctx.ports['dns']}"]
            path = zone_dir / zonegen.zone_filename(zone)
            path.parent.mkdir(parents=True, exist_ok=True)
            # A zone changed by dynamic updates (its journal exists) is kept as it is: the
            # generated file is only its starting point.
            if not path.with_name(path.name + ".jnl").exists():
                path.write_text(zonegen.render_zone(ctx.topology, zone, ctx.ports))
            argv += ["--zone", str(path)]
            # Every zone accepts updates signed with its own key; the TLDs the registrar's too.
            argv += ["--key", str(ctx.key_file(zone))]
            allowed = [tsigkeys.key_name(key_stem(zone))]
            if host.role == "dns-tld":
                allowed.append(tsigkeys.key_name(REGISTRAR_KEY))
            argv += ["--allow-update", f"{zone}={','.join(allowed)}"]
        if host.role == "dns-tld":
            argv += ["--key", str(ctx.key_file(REGISTRAR_KEY))]
        return argv + common
    if host.role == "resolver":
        hints = ctx.state_dir / "zones" / "root.hints"
        hints.parent.mkdir(parents=True, exist_ok=True)
        hints.write_text(zonegen.render_root_hints(ctx.topology))
        argv = [sys.executable, "-m", "dnsserver", "resolve"]
        argv += ["--listen", f"{host.address}:{ctx.ports['dns']}"]
        argv += ["--root-hints", str(hints), "--upstream-port", str(ctx.ports["dns"])]
        argv += ["--identity", host.fqdn.rstrip(".") or host.name]
        if ctx.clients:
            argv += _config(ctx, host, "resolver.toml", allow=[*DEFAULT_ALLOW, *ctx.clients])
        return argv + common
    if host.role == "mail":
        config = write_mail_config(host, ctx)
        return [sys.executable, "-m", "mailserver", "serve", "--config", str(config), *common]
    if host.role == "tracker":
        argv = [sys.executable, "-m", "tracker", "serve"]
        argv += ["--listen", f"{host.address}:{ctx.ports['http']}"]
        argv += ["--udp", f"{host.address}:{ctx.ports['udp']}"]
        # peers that tell the tracker their published address may (their `ip=` is honoured)
        peers = [h for h in ctx.topology.hosts if h.role == "peer" and h.name in ctx.published]
        if peers:
            argv += _config(ctx, host, "tracker.toml", trusted_proxies=[h.address for h in peers])
        return argv + common
    if host.role == "peer":
        torrent, folder = write_sample(host, ctx)
        argv = [sys.executable, "-m", "peer", "seed", str(torrent), str(folder)]
        argv += ["--listen", f"{host.address}:{ctx.ports['bittorrent']}"]
        if host.name in ctx.published:
            argv += ["--announce-ip", ctx.published[host.name]]
        return argv + common
    raise ValueError(f"{host.name}: no daemon for role {host.role!r}")


def _config(ctx: LaunchContext, host: Host, name: str, **keys: list[str]) -> list[str]:
    """`--config FILE` for a daemon: `keys` as TOML lists (JSON arrays of strings are TOML) in
    `name` in the host's service folder."""
    path = ctx.service_dir(host) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items()))
    return ["--config", str(path)]


def write_sample(host: Host, ctx: LaunchContext) -> tuple[Path, Path]:
    """The seeder's sample file (made once: SAMPLE_SIZE bytes from a seeded generator, so the
    same everywhere) in its service folder, and its torrent (256 KiB pieces, no creation date:
    the same bytes at every `up`), announced to the topology's tracker by address (its
    published address first, where it has one)."""
    folder = ctx.service_dir(host) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    data_file = folder / SAMPLE_NAME
    if not data_file.exists() or data_file.stat().st_size != SAMPLE_SIZE:
        data_file.write_bytes(random.Random(SAMPLE_SEED).randbytes(SAMPLE_SIZE))
    piece = choose_piece_length(SAMPLE_SIZE)
    hasher = PieceHasher(piece)
    hasher.feed(data_file.read_bytes())
    tracker = next(h for h in ctx.topology.hosts if h.role == "tracker")
    announce = [f"http://{tracker.address}:{ctx.ports['http']}/announce"]
    if tracker.name in ctx.published:
        # a tier before it for the clients outside (BEP 12): the tracker's published address.
        # The seeder, inside, finds nothing there at once and goes on to the next tier.
        announce.insert(0, f"http://{ctx.published[tracker.name]}:{ctx.ports['http']}/announce")
    torrent = build(SAMPLE_NAME, SAMPLE_SIZE, piece, hasher.pieces(), announce)
    path = sample_torrent(ctx.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(torrent)
    return path, folder


def write_mail_config(host: Host, ctx: LaunchContext) -> Path:
    """The mail host's TOML config in its service folder (its mail, index and users file live
    beside it, and stay from one `up` to the next), with the certificate from the topology's CA;
    the topology's users get their demo passwords (added, or reset if someone changed them)."""
    directory = ctx.service_dir(host)
    directory.mkdir(parents=True, exist_ok=True)
    issued = ctx.certificate(host)
    # mail to other domains: MX records from the topology's local DNS server (never the
    # system's resolver), the other mail servers on the topology's SMTP port, their
    # certificates checked against the topology's CA
    resolvers = [h for h in ctx.topology.hosts if h.role == "resolver"]
    queue: list[str] = []
    if resolvers:
        dns_at = f"{resolvers[0].address}:{ctx.ports['dns']}"
        queue = [
            "[queue]",
            f"resolver = {json.dumps(dns_at)}",
            f"relay_port = {ctx.ports['smtp']}",
            f"ca_file = {json.dumps(str(ctx.tls_dir / 'ca.pem'))}",
        ]
    lines = [
        "# Written by `minternet up` at each start (edits here are overwritten).",
        f"hostname = {json.dumps(host.fqdn.rstrip('.'))}",
        "domains = [" + ", ".join(json.dumps(d.rstrip(".")) for d in host.mail_domains) + "]",
        f"address = {json.dumps(host.address)}",
        'state_dir = "."',
        # IMAP and POP3 in two processes (mailserver/aio/workers.py): the 50-session mix of
        # bench.mail_imap took half the time of one process on a 2-core machine
        "workers = 2",
        f"tls_cert = {json.dumps(str(issued.cert))}",
        f"tls_key = {json.dumps(str(issued.key))}",
        "[listen]",
        *(  # control too (also given as --control): `mailserver queue --config` finds it
            f"{kind} = {json.dumps(f'{host.address}:{ctx.ports[kind]}')}" for kind in host.listeners
        ),
        *queue,
    ]
    path = directory / MAIL_CONFIG
    path.write_text("\n".join(lines) + "\n")
    users = UserDb(directory / "users")
    for user in host.users:
        users.ensure(user.address, user.password.encode())
    return path
