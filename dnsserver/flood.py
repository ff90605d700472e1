"""A random-subdomain flood ("water torture"), sans-I/O: the names, the queries, the pacing and
the tally of what came back. `dnsserver flood` (dnsserver/flood_cli.py) sends it over a real
socket, for demonstrations and for bench.dns_resolver_flood; it refuses any target outside
127.0.0.0/8.

Every query asks for the A record of a fresh random name under the zone, so that no cache can
answer it: the resolver must ask the zone's servers each time, which is what makes the attack
hurt (the names do not exist; the zone's servers answer NXDOMAIN, each one anew).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

from dnsserver.wire import HEADER, name_wire

RCODE_NAMES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")
LABEL_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789"
LABEL_LENGTH = 12
_TAIL = b"\x00\x01\x00\x01"  # type A, class IN
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class FloodError(ValueError):
    """A flood that may not be sent (a target outside loopback, a bad zone or rate)."""


def loopback_only(addr: str, what: str) -> str:
    """`addr` if it is an IPv4 address in 127.0.0.0/8; FloodError otherwise."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise FloodError(f"{what} {addr!r} is not an IP address") from None
    if ip.version != 4 or ip not in LOOPBACK:
        raise FloodError(f"{what} {addr} is outside 127.0.0.0/8: a flood goes to loopback only")
    return addr


def zone_wire(zone: str) -> bytes:
    """The wire form of a zone name given as text ("hamburger.edu" or "hamburger.edu.")."""
    text = zone.strip().rstrip(".")
    labels = []
    for label in text.split(".") if text else ():
        try:
            raw = label.encode("ascii")
        except UnicodeEncodeError:
            raise FloodError(f"bad zone name {zone!r}: give an IDN as its A-label") from None
        if not raw or len(raw) > 63:
            raise FloodError(f"bad zone name {zone!r}")
        labels.append(raw)
    out = name_wire(tuple(labels))
    if 1 + LABEL_LENGTH + len(out) > 255:  # a name under it: one more label
        raise FloodError(f"zone name {zone!r} is too long for a name under it")
    return out


def due(elapsed: float, qps: float) -> int:
    """How many queries should have been sent `elapsed` seconds in, at `qps` per second."""
    return max(0, int(elapsed * qps))


class Queries:
    """Fresh random names under one zone, and the queries that ask for them (RD=1, type A)."""

    def __init__(self, zone: str, rng: random.Random) -> None:
        self.zone = zone_wire(zone)
        self.rng = rng

    def name(self) -> bytes:
        label = bytes(self.rng.choices(LABEL_CHARS, k=LABEL_LENGTH))
        return bytes((LABEL_LENGTH,)) + label + self.zone

    def query(self) -> tuple[int, bytes]:
        """(ID, query bytes) for a fresh name."""
        qid = self.rng.getrandbits(16)
        return qid, HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + self.name() + _TAIL


@dataclass(slots=True)
class Tally:
    """What a flood sent and what came back, by response code."""

    sent: int = 0
    answered: int = 0
    truncated: int = 0
    unmatched: int = 0  # datagrams that were not an answer to a query of ours
    rcodes: dict[str, int] = field(default_factory=dict)
    outstanding: bytearray = field(default_factory=lambda: bytearray(65536), repr=False)

    def sending(self, qid: int) -> None:
        self.sent += 1
        if self.outstanding[qid] < 255:
            self.outstanding[qid] += 1

    def received(self, data: bytes) -> None:
        if len(data) < 12 or not data[2] & 0x80:
            self.unmatched += 1
            return
        qid = data[0] << 8 | data[1]
        if not self.outstanding[qid]:
            self.unmatched += 1
            return
        self.outstanding[qid] -= 1
        self.answered += 1
        if data[2] & 0x02:
            self.truncated += 1
        code = data[3] & 0x0F
        name = RCODE_NAMES[code] if code < len(RCODE_NAMES) else f"RCODE{code}"
        self.rcodes[name] = self.rcodes.get(name, 0) + 1

    def summary(self, seconds: float) -> str:
        rate = self.sent / seconds if seconds > 0 else 0.0
        share = self.answered / self.sent if self.sent else 0.0
        codes = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rcodes.items())) or "none"
        lines = [
            f"sent {self.sent:,} queries in {seconds:.1f} s ({rate:,.0f}/s)",
            f"answered {self.answered:,} ({share:.1%}): {codes}",
        ]
        if self.truncated:
            lines.append(f"truncated (TC=1) {self.truncated:,}")
        lines.append(f"no answer {self.sent - self.answered:,}")
        if self.unmatched:
            lines.append(f"unmatched datagrams {self.unmatched:,}")
        return "\n".join(lines)
