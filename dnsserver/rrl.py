"""Response rate limiting (RRL, as NSD and BIND do it): a counter per client prefix, response
class and second, with `slip` (sans-I/O: time is passed in).

A client network (/24 for IPv4, /56 for IPv6 by default) may receive `rate` responses of one
class (the same answer, NXDOMAIN for one zone, referrals to one child, errors, ...) in each
one-second window. A window counter is cheaper on the answer-cache fast path than a token
bucket (no float arithmetic), at the price of allowing up to twice the rate across a window
boundary. Past the rate, responses are dropped, except every `slip`-th
one, which goes out truncated (TC=1, no records) so that a real client whose address was
spoofed can still retry over TCP, where RRL does not apply. The table has a fixed number of
slots (a collision just resets the slot), so memory never grows with the number of clients.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

ALLOW = 0
DROP = 1
SLIP = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class RrlConfig:
    enabled: bool = True
    rate: float = 200.0  # responses per second per (client prefix, response class); NSD: 200
    slip: int = 2  # every 2nd limited response goes out with TC=1; 0: drop them all
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56
    table_size: int = 1 << 16

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rrl rate must be positive (use enabled = false to turn RRL off)")
        if self.slip < 0 or self.table_size < 1:
            raise ValueError("rrl slip must be >= 0 and table_size >= 1")
        if not 0 <= self.ipv4_prefix <= 32 or not 0 <= self.ipv6_prefix <= 128:
            raise ValueError("rrl prefix lengths must fit the address family")


class RateLimiter:
    def __init__(self, config: RrlConfig) -> None:
        self.config = config
        self._rate = float(config.rate)
        self._slip = config.slip
        self._size = config.table_size
        self._table: list[list[object] | None] = [None] * config.table_size
        self._prefixes: dict[str, str] = {}

    def prefix(self, host: str) -> str:
        """The client network an address is accounted under."""
        p = self._prefixes.get(host)
        if p is None:
            if len(self._prefixes) > 10_000:
                self._prefixes.clear()
            addr = ipaddress.ip_address(host.split("%")[0])
            plen = self.config.ipv4_prefix if addr.version == 4 else self.config.ipv6_prefix
            p = str(ipaddress.ip_network(f"{addr}/{plen}", strict=False))
            self._prefixes[host] = p
        return p

    def check(self, host: str, kind: bytes, now: float) -> int:
        """ALLOW, DROP or SLIP for one response of class `kind` to `host` at time `now`."""
        prefix = self._prefixes.get(host) or self.prefix(host)
        key = (prefix, kind)
        i = hash(key) % self._size
        slot = self._table[i]
        second = int(now)
        if slot is None or slot[0] != key:
            self._table[i] = [key, second, 1, 0]
            return ALLOW
        if slot[1] != second:  # a new one-second window
            slot[1] = second
            slot[2] = 1
            return ALLOW
        count = slot[2] = slot[2] + 1  # type: ignore[operator]
        if count <= self._rate:
            return ALLOW
        limited = slot[3] = slot[3] + 1  # type: ignore[operator]
        if self._slip and limited % self._slip == 0:
            return SLIP
        return DROP
