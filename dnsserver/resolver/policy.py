"""Who may use the resolver: an ACL of client networks (others get REFUSED) and a rate limit.

The rate limit is a token bucket per client address (like Unbound's ip-ratelimit), from the
shared minternet.ratelimit: a bounded table, so a flood of spoofed source addresses cannot
grow memory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from minternet.bounded import BoundedMap
from minternet.ratelimit import TokenBuckets

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Loopback: the default topology's every host lives in 127.0.0.0/8.
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyConfig:
    allow: tuple[str, ...] = DEFAULT_ALLOW
    rate_limit: float = 0.0  # queries per second per client address; 0 = unlimited
    burst: float = 0.0  # bucket size; 0 = the same as one second of rate_limit
    max_clients: int = 100_000


class Policy:
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in self.config.allow
        )
        self.known: BoundedMap[str, bool] = BoundedMap(10_000)  # client address -> allowed
        self.buckets = TokenBuckets(
            self.config.rate_limit, self.config.burst, self.config.max_clients
        )

    def allowed(self, addr: str) -> bool:
        """RFC 5358: recursion only for the configured client networks."""
        hit = self.known.get(addr)
        if hit is None:
            try:
                ip = ipaddress.ip_address(addr)  # a scoped "fe80::1%eth0" too
            except ValueError:
                return False
            hit = any(ip in n for n in self.networks)
            self.known.put(addr, hit)
        return hit

    def admit(self, addr: str, now: float) -> bool:
        """Take one token from the client's bucket; False if it is empty."""
        return self.buckets.allow(addr, now)
