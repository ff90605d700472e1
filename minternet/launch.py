"""How each role of the topology is started: the command line of its daemon.

Daemons are separate OS processes speaking real protocols; each gets its own address, the
port scheme's port(s), a ready file to report readiness and a log file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from minternet import pki, zonegen
from minternet.topology import Host, Topology


@dataclass(frozen=True, slots=True)
class LaunchContext:
    topology: Topology
    state_dir: Path
    ports: dict[str, int]  # the port scheme: kind -> port
    log_level: str = "INFO"
    rrl: bool = True  # response rate limiting on the root, TLD and authoritative servers

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

    def certificate(self, host: Host) -> pki.Issued:
        """Issue `host` a certificate for its DNS name and address from the topology's CA."""
        ca = pki.CertificateAuthority.ensure(self.tls_dir)
        return ca.issue(host.name, [host.fqdn], [host.address])


DNS_ROLES = ("dns-root", "dns-tld", "dns-auth")

#: Roles of the topology that `minternet up` does not start yet (command_for has no daemon for
#: them). LEAD, issue 9: drop "mail" here once `mailserver serve` is wired into command_for.
NOT_YET_LAUNCHED = frozenset({"mail"})

#: RRL accounts clients per /32 here, not per /24: every host of the miniature Internet is in
#: 127.0.0.0/24, and per /24 the local DNS server would share its budget with every dig a user
#: runs. Each 127.0.0.x is a machine of its own, as it would be a network of its own outside.
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
        else:
            argv += ["--no-rrl"]
        for zone in host.zones:
            path = zone_dir / zonegen.zone_filename(zone)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(zonegen.render_zone(ctx.topology, zone, ctx.ports))
            argv += ["--zone", str(path)]
        return argv + common
    if host.role == "resolver":
        hints = ctx.state_dir / "zones" / "root.hints"
        hints.parent.mkdir(parents=True, exist_ok=True)
        hints.write_text(zonegen.render_root_hints(ctx.topology))
        argv = [sys.executable, "-m", "dnsserver", "resolve"]
        argv += ["--listen", f"{host.address}:{ctx.ports['dns']}"]
        argv += ["--root-hints", str(hints), "--upstream-port", str(ctx.ports["dns"])]
        argv += ["--identity", host.fqdn.rstrip(".") or host.name]
        return argv + common
    if host.role == "tracker":
        argv = [sys.executable, "-m", "tracker", "serve"]
        argv += ["--listen", f"{host.address}:{ctx.ports['http']}"]
        argv += ["--udp", f"{host.address}:{ctx.ports['udp']}"]
        return argv + common
    raise ValueError(f"{host.name}: no daemon for role {host.role!r}")
