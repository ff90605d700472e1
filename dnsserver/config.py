"""The server's configuration: a frozen dataclass read from TOML (`--config`) or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from dnsserver.rrl import RrlConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_udp_payload: int = 1232  # largest UDP answer we send, whatever the client offers
    tcp_max_connections: int = 256
    tcp_idle_timeout: float = 10.0  # seconds without a query before we close (RFC 7766 §6.2.3)
    tcp_max_message: int = 65535  # largest query accepted over TCP
    cache_entries: int = 50_000  # packed answers kept per transport (~20 MB when full)

    def __post_init__(self) -> None:
        if not 512 <= self.max_udp_payload <= 65535:
            raise ValueError("max_udp_payload must be within 512..65535")
        if self.tcp_max_connections < 1 or self.tcp_idle_timeout <= 0:
            raise ValueError("tcp_max_connections and tcp_idle_timeout must be positive")
        if not 12 <= self.tcp_max_message <= 65535:
            raise ValueError("tcp_max_message must be within 12..65535")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """Example TOML:

    zones = ["root.zone"]
    listen = ["127.0.0.10:10053"]
    identity = "a.root-servers.net"
    [rrl]
    rate = 200
    [limits]
    tcp_idle_timeout = 10.0
    keys = ["keys/networkutopia.com.key"]
    [allow_update]
    "networkutopia.com" = ["networkutopia.com"]
    """

    zones: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    control: str | None = None  # ADDR:PORT of the control endpoint (stats); loopback only
    # who answered (dnsserver/chaos.py): id.server, hostname.bind and NSID give the identity
    identity: str = ""  # "" = this machine's hostname
    hide_identity: bool = False  # REFUSED to id.server and hostname.bind, no NSID
    version: str = ""  # version.bind and version.server; "" = "minternet 0.1.0"
    hide_version: bool = False
    rrl: RrlConfig = field(default_factory=RrlConfig)
    limits: Limits = field(default_factory=Limits)
    # dynamic update (RFC 2136): TSIG key files in BIND's form, and per zone the names of the
    # keys that may update it (zones not named here refuse updates)
    keys: tuple[str, ...] = ()
    allow_update: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # zone transfers (RFC 5936, RFC 1995): per zone, who may transfer it (addresses, networks,
    # `key NAME`); by default its secondaries (`notify`) and the keys that may update it
    allow_transfer: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notify: dict[str, tuple[str, ...]] = field(default_factory=dict)  # zone -> ADDR[:PORT]s
    # secondary zones: zone -> its primary's ADDR[:PORT]; copies kept in `secondary_dir`
    secondary: dict[str, str] = field(default_factory=dict)
    secondary_dir: str = "secondary"
