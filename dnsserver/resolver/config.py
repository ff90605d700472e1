"""The resolver daemon's configuration (TOML via `minternet.config`, overridden by CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass

from dnsserver.resolver.admission import AdmissionConfig
from dnsserver.resolver.cache import CacheConfig
from dnsserver.resolver.iterate import IterConfig
from dnsserver.resolver.policy import DEFAULT_ALLOW, PolicyConfig
from dnsserver.resolver.servers import SelectionConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolverConfig:
    listen: str = "127.0.0.2:10053"  # stub-facing UDP and TCP
    root_hints: str = ""  # RFC 1035 master file (named.root format)
    upstream_port: int = 53  # glue carries no port: every authoritative server is asked here
    forward: tuple[str, ...] = ()  # ADDR:PORT of resolvers to forward to (RD=1) instead
    control: str = ""  # ADDR:PORT of the control endpoint; "" = none
    # who answered (dnsserver/chaos.py): id.server, hostname.bind and NSID give the identity
    identity: str = ""  # "" = this machine's hostname
    hide_identity: bool = False  # REFUSED to id.server and hostname.bind, no NSID
    version: str = ""  # version.bind and version.server; "" = "minternet 0.1.0"
    hide_version: bool = False
    # access control and rate limiting
    allow: tuple[str, ...] = DEFAULT_ALLOW
    rate_limit: float = 0.0  # queries/s per client address, 0 = off
    # cache (defaults as Unbound's)
    cache_size: int = 100_000  # RRset/negative entries (LRU beyond)
    message_cache_size: int = 100_000  # packed answers (LRU beyond)
    max_ttl: int = 86400
    min_ttl: int = 0
    max_negative_ttl: int = 3600
    serve_stale: bool = False  # RFC 8767
    stale_ttl: int = 30
    stale_window: int = 86400
    # iteration
    randomize_case: bool = False  # 0x20
    max_queries: int = 32
    max_depth: int = 5
    max_time: float = 6.0
    upstream_timeout: float = 0.4  # first timeout for a server not measured yet (Unbound: 376 ms)
    max_upstream_timeout: float = 2.0  # timeouts back off up to this
    edns_size: int = 1232  # upstream EDNS0 UDP size (DNS flag day 2020)
    # resolution work under load (dnsserver/resolver/admission.py; Unbound's names in brackets)
    max_pending: int = 1024  # client queries waiting for a resolution [num-queries-per-thread]
    jostle_timeout: float = 0.2  # a full table gives up a query older than this [jostle-timeout]
    resolution_rate: float = 200.0  # resolutions/s one client may start, 0 = off [ip-ratelimit]
    resolution_burst: float = 200.0
    zone_rate: float = 300.0  # resolutions/s into one zone, 0 = off [ratelimit]
    zone_burst: float = 300.0
    upstream_tcp_per_server: int = 10  # TCP retries in flight to one server [outgoing-num-tcp]
    # unmatched upstream datagrams (a spoofing attempt) before the caches are flushed, in case
    # one got through; 0 = never [unwanted-reply-threshold; Unbound suggests 10 million]
    unwanted_reply_threshold: int = 10_000_000
    # client TCP (RFC 7766)
    tcp_idle_timeout: float = 10.0
    max_tcp_connections: int = 256

    def cache_config(self) -> CacheConfig:
        return CacheConfig(
            max_entries=self.cache_size,
            max_ttl=self.max_ttl,
            min_ttl=self.min_ttl,
            max_negative_ttl=self.max_negative_ttl,
            serve_stale=self.serve_stale,
            stale_ttl=self.stale_ttl,
            stale_window=self.stale_window,
        )

    def iter_config(self, forwarders: tuple[str, ...]) -> IterConfig:
        return IterConfig(
            max_queries=self.max_queries,
            max_depth=self.max_depth,
            max_time=self.max_time,
            forwarders=forwarders,
            randomize_case=self.randomize_case,
        )

    def admission_config(self) -> AdmissionConfig:
        return AdmissionConfig(
            max_resolutions=self.max_pending,
            jostle_timeout=self.jostle_timeout,
            client_rate=self.resolution_rate,
            client_burst=self.resolution_burst,
            zone_rate=self.zone_rate,
            zone_burst=self.zone_burst,
        )

    def policy_config(self) -> PolicyConfig:
        return PolicyConfig(allow=self.allow, rate_limit=self.rate_limit)

    def selection_config(self) -> SelectionConfig:
        return SelectionConfig(
            initial_rto=self.upstream_timeout,
            max_rto=max(self.upstream_timeout, self.max_upstream_timeout),
        )
