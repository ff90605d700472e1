"""Response rate limiting (RRL, as NSD and BIND do it): a counter per client prefix, response
class and second, with `slip` (sans-I/O: time is passed in).

A client network (/24 for IPv4, /56 for IPv6 by default) may receive `rate` responses of one
class (the same answer, NXDOMAIN for one zone, referrals to one child, errors, ...) in each
one-second window. A window counter is cheaper on the answer-cache fast path than a token
bucket (no float arithmetic), at the price of allowing up to twice the rate across a window
boundary. Past the rate, responses are dropped, except every `slip`-th
one, which goes out truncated (TC=1, no records) so that a real client whose address was
spoofed can still retry over TCP, where RRL does not apply. The counters live for one second
and at most `table_size` of them exist, so memory never grows with the number of clients.

`exempt` lists addresses and networks that are never limited, as BIND's `exempt-clients`:
the resolvers an operator knows (RRL is there to stop reflection off spoofed sources; a known
resolver's own queries, limited, would only come back as a flood of TCP retries).
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
    exempt: tuple[str, ...] = ()  # addresses or networks never limited (BIND exempt-clients)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rrl rate must be positive (use enabled = false to turn RRL off)")
        if self.slip < 0 or self.table_size < 1:
            raise ValueError("rrl slip must be >= 0 and table_size >= 1")
        if not 0 <= self.ipv4_prefix <= 32 or not 0 <= self.ipv6_prefix <= 128:
            raise ValueError("rrl prefix lengths must fit the address family")
        for net in self.exempt:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"rrl exempt: {net!r} is not an address or network") from None


class RateLimiter:
    def __init__(self, config: RrlConfig) -> None:
        self.config = config
        self._rate = config.rate
        self._slip = config.slip
        self._max = config.table_size
        self._second = -1
        self._counts: dict[tuple[str, bytes], int] = {}  # responses in the current second
        self._limited: dict[tuple[str, bytes], int] = {}  # limited responses, for slip
        self._prefixes: dict[str, str] = {}
        self._exempt = tuple(ipaddress.ip_network(n, strict=False) for n in config.exempt)

    def prefix(self, host: str) -> str:
        """The client network an address is accounted under ("" for an exempt client)."""
        p = self._prefixes.get(host)
        if p is None:
            if len(self._prefixes) > 10_000:
                self._prefixes.clear()
            addr = ipaddress.ip_address(host.split("%")[0])
            if any(addr in net for net in self._exempt):
                p = ""
            else:
                plen = self.config.ipv4_prefix if addr.version == 4 else self.config.ipv6_prefix
                p = str(ipaddress.ip_network(f"{addr}/{plen}", strict=False))
            self._prefixes[host] = p
        return p

    def check(self, host: str, kind: bytes, now: float) -> int:
        """ALLOW, DROP or SLIP for one response of class `kind` to `host` at time `now`."""
        net = self._prefixes.get(host)
        if net is None:
            net = self.prefix(host)
        if not net:
            return ALLOW  # exempt
        key = (net, kind)
        second = int(now)
        counts = self._counts
        if second != self._second or len(counts) >= self._max:
            # a new one-second window (or a table full of spoofed sources): start counting anew
            counts.clear()
            self._limited.clear()
            self._second = second
        count = counts[key] = counts.get(key, 0) + 1
        if count <= self._rate:
            return ALLOW
        limited = self._limited[key] = self._limited.get(key, 0) + 1
        if self._slip and limited % self._slip == 0:
            return SLIP
        return DROP
