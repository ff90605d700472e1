"""The authoritative engine: query bytes in, response bytes out (sans-I/O).

Parses the query, applies the protocol rules that come before lookup (EDNS version, class,
transfer and obsolete query types), runs the lookup, packs the response for the transport and
fills the answer cache. The asyncio shell consults the cache itself first (the fast path) and
calls `handle()` on a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnsserver import response
from dnsserver.cache import AnswerCache
from dnsserver.chaos import CLASS_CH, Identity
from dnsserver.config import Limits
from dnsserver.errors import FORMERR, NOTIMP, REFUSED, DnsError, Unanswerable
from dnsserver.lookup import KIND_ERROR, lookup
from dnsserver.wire import TYPE_OPT, Query, header_only, parse_query
from dnsserver.zoneset import ZoneSet

CLASS_IN = 1
CLASS_ANY = 255
TYPE_IXFR, TYPE_AXFR, TYPE_MAILB, TYPE_MAILA = 251, 252, 253, 254
DEFAULT_MAX_UDP = 1232  # DNS flag day 2020: fits the IPv6 minimum MTU without fragmenting


@dataclass(frozen=True, slots=True)
class Response:
    """A response (None: send nothing) with its RRL class and, for bad input, why."""

    wire: bytes | None
    kind: bytes
    problem: str | None = None


class Engine:
    def __init__(
        self,
        zones: ZoneSet,
        *,
        max_udp: int = DEFAULT_MAX_UDP,
        cache_entries: int = Limits().cache_entries,  # the server's default
        identity: Identity | None = None,
    ) -> None:
        self.zones = zones
        self.max_udp = max_udp
        self.identity = identity or Identity()  # by default, hidden: CH queries are REFUSED
        self.nsid = self.identity.nsid
        self.udp_cache = AnswerCache(cache_entries)
        self.tcp_cache = AnswerCache(cache_entries)

    def swap_zones(self, zones: ZoneSet) -> None:
        """Serve `zones` from now on; cached answers from the old zones are forgotten."""
        self.zones = zones
        self.udp_cache.clear()
        self.tcp_cache.clear()

    def handle(self, data: bytes, *, tcp: bool) -> Response:
        """Answer one query (a cache miss on the fast path); caches what can be cached."""
        try:
            query = parse_query(data)
        except Unanswerable as e:
            return Response(None, b"error", str(e))
        except DnsError as e:
            assert e.rcode is not None
            return Response(header_only(data, e.rcode), b"error", str(e))
        wire, kind = self._answer(query, tcp=tcp)
        cache = self.tcp_cache if tcp else self.udp_cache
        cache.put(data[2:], (wire[2:], kind))
        return Response(wire, kind)

    def _answer(self, query: Query, *, tcp: bool) -> tuple[bytes, bytes]:
        max_udp, nsid = self.max_udp, self.nsid
        if query.edns is not None and query.edns.version != 0:
            return response.badvers(query, max_udp, nsid), b"error"
        if query.tsig is not None:  # we hold no keys: every signed query is BADKEY
            return response.badkey(query, max_udp, nsid), b"error"
        if query.qclass not in (CLASS_IN, CLASS_ANY):
            if query.qclass == CLASS_CH:  # version.bind, id.server, ... (see chaos.py)
                text = self.identity.txt(query.key, query.qtype)
                if text is not None:
                    return response.chaos(query, text, max_udp, nsid), b"chaos"
            return response.error(query, REFUSED, max_udp, nsid), b"error"  # class IN only
        if query.qtype in (TYPE_AXFR, TYPE_IXFR):
            return response.error(query, REFUSED, max_udp, nsid), b"error"  # no zone transfers
        if query.qtype in (TYPE_MAILA, TYPE_MAILB):
            return response.error(query, NOTIMP, max_udp, nsid), b"error"  # obsolete (RFC 883)
        if query.qtype == TYPE_OPT:
            return response.error(query, FORMERR, max_udp, nsid), b"error"  # a pseudo-type
        ans = lookup(self.zones, query.labels, query.key, query.qtype, tcp=tcp)
        limit = response.TCP_MAX if tcp else response.udp_limit(query, max_udp)
        if ans.kind == KIND_ERROR:
            return response.error(query, ans.rcode, max_udp, nsid), b"error"
        wire = response.pack(query, ans, limit, max_udp, nsid)
        return wire, ans.kind.encode() + b" " + b".".join(ans.rrl_name)

    def slip(self, data: bytes) -> bytes | None:
        """The TC=1 response RRL sends instead of a limited answer (`data` parsed before)."""
        try:
            query = parse_query(data)
        except DnsError:
            return None
        return response.truncated(query, 0, False, self.max_udp, self.nsid)
