"""Who may use the resolver: an ACL of client networks (others get REFUSED) and a rate limit.

The rate limit is a token bucket per client address (like Unbound's ip-ratelimit), with a
bounded table: when it is full, the oldest clients are forgotten, so a flood of spoofed
source addresses cannot grow memory.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

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
        self.known: dict[str, bool] = {}  # client address -> allowed (a bounded memo)
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def allowed(self, addr: str) -> bool:
        """RFC 5358: recursion only for the configured client networks."""
        hit = self.known.get(addr)
        if hit is None:
            try:
                ip = ipaddress.ip_address(addr.split("%", 1)[0])
            except ValueError:
                return False
            hit = any(ip in n for n in self.networks)
            if len(self.known) > 10_000:
                self.known.clear()
            self.known[addr] = hit
        return hit

    def admit(self, addr: str, now: float) -> bool:
        """Take one token from the client's bucket; False if it is empty."""
        rate = self.config.rate_limit
        if rate <= 0:
            return True
        burst = self.config.burst or rate
        b = self._buckets.get(addr)
        if b is None:
            b = [burst, now]
            self._buckets[addr] = b
            if len(self._buckets) > self.config.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(addr)
            b[0] = min(burst, b[0] + (now - b[1]) * rate)
            b[1] = now
        if b[0] < 1.0:
            return False
        b[0] -= 1.0
        return True
