"""The tracker's configuration: one frozen dataclass, loaded from TOML by minternet.config."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_INTERVAL = 2**31 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackerConfig:
    """Every limit of the tracker, with its default. Times are seconds."""

    # BEP 3 `interval` / `min interval`: how often clients re-announce.
    interval: int = 300
    min_interval: int = 60
    # numwant when the client sends none, and the cap on what a client may ask for.
    numwant_default: int = 50
    numwant_max: int = 200
    # A peer that has not announced for expiry_multiple * interval is dropped.
    expiry_multiple: float = 2.0
    # Memory bounds: a flood of random info_hashes / peer_ids cannot grow past these.
    max_swarms: int = 200_000
    max_peers_per_swarm: int = 10_000
    # Per source IP (IPv6: per /64) announce rate (token bucket: `rate_per_ip` per second, bursts of
    # `rate_burst`); 0 turns it off. Tracked IPs are bounded by `rate_tracked_ips`.
    rate_per_ip: float = 50.0
    rate_burst: float = 200.0
    rate_tracked_ips: int = 100_000
    # Private tracker: only these info-hashes (hex, one per line) are served.
    whitelist_file: str | None = None
    # Per-user passkeys: when set, announces must use /<passkey>/announce.
    passkeys: tuple[str, ...] = ()
    # Only announces coming from these addresses may set `ip=` or X-Forwarded-For.
    trusted_proxies: tuple[str, ...] = ()
    # BEP 48 scrape without info_hash lists every swarm: off by default.
    full_scrape: bool = False
    max_scrape_hashes: int = 74
    # Display names for the stats page: hex info-hash -> name.
    names: dict[str, str] = field(default_factory=dict)
    # HTTP limits: request line, one header line, header count, whole request head, body
    # bytes (GET has none; a body is read and ignored), open connections, and timeouts for a
    # request to arrive completely (slow clients) and for an idle keep-alive connection.
    # Memory per connection is bounded by http_max_head + http_max_body.
    http_max_request_line: int = 4096
    http_max_header_line: int = 8190
    http_max_headers: int = 64
    http_max_head: int = 16384
    http_max_body: int = 8192
    http_max_connections: int = 4096
    http_request_timeout: float = 10.0
    http_keepalive_timeout: float = 60.0
    # A client may pipeline at most this many requests before we stop reading its socket.
    http_max_pipeline: int = 64
    # "builtin" (tracker.aio.http, the fast one) or "aiohttp" (aiohttp's low-level server).
    http_server: str = "builtin"

    def __post_init__(self) -> None:
        for name in (
            "interval",
            "min_interval",
            "numwant_max",
            "max_swarms",
            "max_peers_per_swarm",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.interval > MAX_INTERVAL:
            # BEP 15 sends the interval as a 32-bit field; clients read it as signed.
            raise ValueError(f"interval must be at most {MAX_INTERVAL}")
        for name in (
            "rate_tracked_ips",
            "http_max_request_line",
            "http_max_header_line",
            "http_max_headers",
            "http_max_head",
            "http_max_connections",
            "http_max_pipeline",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.http_max_body < 0:
            raise ValueError("http_max_body must not be negative")
        for name in ("http_request_timeout", "http_keepalive_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if not (math.isfinite(self.rate_per_ip) and math.isfinite(self.rate_burst)):
            raise ValueError("rate_per_ip and rate_burst must be finite")
        if self.min_interval > self.interval:
            raise ValueError("min_interval must not exceed interval")
        if not 0 <= self.numwant_default <= self.numwant_max:
            raise ValueError("numwant_default must be between 0 and numwant_max")
        if not (math.isfinite(self.expiry_multiple) and self.expiry_multiple >= 1):
            raise ValueError("expiry_multiple must be a finite number of at least 1")
        if self.rate_per_ip < 0 or self.rate_burst < 1:
            raise ValueError("rate_per_ip must be >= 0 and rate_burst >= 1")
        if self.http_server not in ("builtin", "aiohttp"):
            raise ValueError("http_server must be 'builtin' or 'aiohttp'")
        if not 1 <= self.max_scrape_hashes <= 120:
            raise ValueError("max_scrape_hashes must be between 1 and 120")
