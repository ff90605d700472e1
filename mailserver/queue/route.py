"""Where mail for a domain goes (RFC 5321 §5.1, RFC 7505), without I/O: the resolver's MX answer
turned into the hosts to try in order, or a bounce, or a deferral.

- An MX answer gives its hosts by preference, lowest first; hosts of equal preference are
  tried in a random order (the caller's `rng`), so that senders spread over them (§5.1).
- No MX record at all (NOERROR, empty answer): the domain itself is the one host (its A and
  AAAA records, §5.1's "implicit MX").
- A null MX (RFC 7505: the exchange is the root, ".") says the domain takes no mail: bounced at
  once with 5.1.10 (§4.2), never retried. A "." next to real hosts is skipped.
- When this server finds one of its own names among the hosts, every host of that preference
  or higher is dropped (§5.1: it would relay to itself or away from the destination); when
  nothing is left the mail loops (5.4.6), which retrying cannot mend.
- NXDOMAIN bounces (5.1.2: no such domain); no answer, SERVFAIL or any other rcode defers
  (4.4.3: the resolver or the domain's servers may answer later).

Names are compared and returned in lower case without the trailing dot. At most `max_hosts`
hosts are kept, as Postfix keeps `smtp_mx_address_limit`: a hostile zone cannot make one
message try a thousand servers.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import groupby

import dns.rcode

__all__ = ["MAX_HOSTS", "Hosts", "Later", "Refuse", "Route", "route"]

MAX_HOSTS = 10


@dataclass(frozen=True, slots=True)
class Hosts:
    """Try these hosts in this order; `implicit` when there was no MX (the domain itself)."""

    hosts: tuple[str, ...]
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class Refuse:
    """Bounce every recipient at the domain now: `status` is the RFC 3463 code."""

    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Later:
    """Try the domain again later."""

    status: str
    reason: str


Route = Hosts | Refuse | Later


def _host(name: str) -> str:
    return name.rstrip(".").lower()


def route(
    domain: str,
    rcode: int | None,
    mx: Sequence[tuple[int, str]],
    *,
    rng: random.Random,
    local_names: Collection[str] = (),
    max_hosts: int = MAX_HOSTS,
) -> Route:
    """The route for `domain` from its MX lookup: `rcode` None when the resolver did not answer,
    `mx` the (preference, exchange) records as the DNS client gives them."""
    domain = _host(domain)
    if rcode is None:
        return Later("4.4.3", f"no answer from the resolver for {domain} MX")
    if rcode == dns.rcode.NXDOMAIN:
        return Refuse("5.1.2", f"{domain}: no such domain (NXDOMAIN)")
    if rcode != dns.rcode.NOERROR:
        return Later(
            "4.4.3", f"{domain} MX lookup failed: {dns.rcode.to_text(dns.rcode.Rcode(rcode))}"
        )
    if not mx:
        return Hosts((domain,), implicit=True)
    real = sorted((pref, _host(name)) for pref, name in mx if _host(name))
    if not real:
        return Refuse("5.1.10", f"{domain} accepts no mail (null MX, RFC 7505)")
    ours = {_host(n) for n in local_names}
    mine = min((pref for pref, name in real if name in ours), default=None)
    if mine is not None:
        real = [(pref, name) for pref, name in real if pref < mine]
        if not real:
            return Refuse("5.4.6", f"mail for {domain} loops back to this server (MX)")
    hosts: list[str] = []
    for _, group in groupby(real, key=lambda r: r[0]):
        names = [name for _, name in group]
        rng.shuffle(names)
        for name in names:
            if name not in hosts:  # a host listed twice is tried once, at its best preference
                hosts.append(name)
    return Hosts(tuple(hosts[:max_hosts]))
