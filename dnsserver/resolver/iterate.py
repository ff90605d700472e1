"""Iterative resolution (RFC 1034 §5.3.3) as a generator: it yields queries, is sent replies.

A driver (dnsserver/resolver/drive.py: for the asyncio shell, the `trace` command and a
test's fake hierarchy) runs

    gen = resolver.resolve(qname, qtype, now)
    query = next(gen)
    while True:
        query = gen.send(UpstreamReply(now=..., message=... or None on timeout, rtt=...))

until StopIteration carries the `Result`. No I/O, no clock, no randomness but the injected RNG.

Rules applied on every response (RFC 1034 §5.3.3 step 4, RFC 2181 §5.4.1, RFC 8499 §7):
- only records at or below the zone of the server that sent them are used or cached
  (bailiwick), glue only for the NS names of the referral;
- a referral must lead strictly downwards towards the name; anything else is a lame answer
  and the next server of the zone is tried;
- CNAME chains are followed inside one response while they stay in the zone, and across
  zones by restarting at the target;
- per client query: at most `max_queries` upstream queries, `max_depth` nested NS-address
  lookups, `max_restarts` CNAME restarts and `max_time` seconds, then SERVFAIL.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Generator
from dataclasses import dataclass, field, replace

from dnslib import QTYPE, RCODE, DNSLabel

from dnsserver.resolver.cache import Cache, Negative, Rank
from dnsserver.resolver.hints import RootHints
from dnsserver.resolver.message import Message
from dnsserver.resolver.rrset import (
    ROOT,
    Name,
    RRset,
    group_records,
    is_within,
    to_label,
    to_text,
)
from dnsserver.resolver.servers import ServerSelector
from dnsserver.resolver.stats import Stats


@dataclass(frozen=True, slots=True, kw_only=True)
class IterConfig:
    max_queries: int = 32  # Unbound's max-sent-count
    max_depth: int = 5  # nested lookups of NS addresses without glue
    max_restarts: int = 11  # CNAME restarts (Unbound's max-query-restarts)
    max_time: float = 6.0  # seconds a client query may take before SERVFAIL
    attempts_per_server: int = 2
    forwarders: tuple[str, ...] = ()  # forwarding mode: ask these resolvers with RD=1
    randomize_case: bool = False  # draft-vixie-dnsext-dns0x20, off by default as in Unbound


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamQuery:
    """Action: send (qlabel, qtype, IN) to `server`; answer with an `UpstreamReply`."""

    server: str
    qname: Name
    qlabel: DNSLabel  # what goes on the wire (case-randomised when 0x20 is on)
    qtype: int
    zone: Name
    recursion_desired: bool
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamReply:
    now: float
    message: Message | None
    rtt: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One upstream exchange, for `dnsserver trace` and the debug log."""

    server: str
    zone: Name
    qname: Name
    qtype: int
    elapsed: float
    outcome: str  # "referral", "answer", "cname", "nxdomain", "nodata", "timeout", "lame"
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    rcode: int
    answer: tuple[RRset, ...] = ()
    authority: tuple[RRset, ...] = ()
    stale: bool = False
    upstream_queries: int = 0
    steps: tuple[Step, ...] = ()
    reason: str = ""


class _Kind(enum.Enum):
    ANSWER = "answer"
    CNAME = "cname"
    NEGATIVE = "negative"
    FAIL = "fail"
    REFERRAL = "referral"
    LAME = "lame"


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: _Kind
    rrsets: tuple[RRset, ...] = ()
    target: Name = ROOT  # CNAME target, or child zone of a referral
    nxdomain: bool = False
    soa: RRset | None = None
    ns_names: tuple[Name, ...] = ()
    detail: str = ""


@dataclass(slots=True)
class _Budget:
    start: float
    now: float
    queries: int = 0
    steps: list[Step] = field(default_factory=list)


Driver = Generator[UpstreamQuery, UpstreamReply, Result]

#: Answer types whose targets' addresses go in the additional section.
_ADDITIONAL_FOR = frozenset({QTYPE.NS, QTYPE.MX, QTYPE.SRV})


class Resolver:
    """The resolution core: cache, root hints, server selection and the rules above."""

    def __init__(
        self,
        hints: RootHints,
        cache: Cache,
        *,
        rng: random.Random,
        stats: Stats | None = None,
        config: IterConfig | None = None,
        selector: ServerSelector | None = None,
    ) -> None:
        self.hints = hints
        self.cache = cache
        self.rng = rng
        self.stats = stats or Stats()
        self.config = config or IterConfig()
        self.selector = selector or ServerSelector(rng)

    # -- entry points ---------------------------------------------------------------------

    def resolve(self, qname: Name, qtype: int, now: float) -> Driver:
        b = _Budget(start=now, now=now)
        result = yield from self._resolve(qname, qtype, b, 0, frozenset({(qname, qtype)}))
        return replace(result, upstream_queries=b.queries, steps=tuple(b.steps))

    def from_cache(
        self, qname: Name, qtype: int, now: float, *, stale: bool = False, partial: bool = False
    ) -> Result | None:
        """The answer the cache alone gives, or None; `partial`: a CNAME chain cut short will do."""
        chain: list[RRset] = []
        name, seen = qname, {qname}
        for _ in range(self.config.max_restarts + 1):
            out = self._cached(name, qtype, now, stale)
            if out is None:
                if partial and chain:
                    return Result(rcode=RCODE.NOERROR, answer=tuple(chain))
                return None
            if out.kind is _Kind.ANSWER:
                return Result(rcode=RCODE.NOERROR, answer=(*chain, *out.rrsets), stale=stale)
            if out.kind is _Kind.NEGATIVE:
                rcode = RCODE.NXDOMAIN if out.nxdomain else RCODE.NOERROR
                assert out.soa is not None  # the cache keeps no negative answer without one
                return Result(rcode=rcode, answer=tuple(chain), authority=(out.soa,), stale=stale)
            chain.extend(out.rrsets)
            if out.target in seen:  # as `_resolve` answers it
                return Result(rcode=RCODE.SERVFAIL, answer=tuple(chain), reason="CNAME loop")
            seen.add(out.target)
            name = out.target
        return None

    def additional(self, answer: tuple[RRset, ...], now: float) -> tuple[RRset, ...]:
        """Cached addresses of the NS, MX and SRV targets in `answer`, for the additional section.

        RFC 1034 §4.3.2 step 6 / RFC 2181 §5.4.1: what a server has of the targets' addresses
        goes in the additional section. `dig +trace` needs it: it follows the `. NS` answer of
        the resolver to the root servers' addresses found there.
        """
        out: list[RRset] = []
        seen: set[Name] = set()
        for rrset in answer:
            if rrset.rtype not in _ADDITIONAL_FOR:
                continue
            for target in rrset.targets():
                if target in seen:
                    continue
                seen.add(target)
                for rtype in (QTYPE.A, QTYPE.AAAA):
                    hit = self.cache.get(target, rtype, now)
                    if hit is not None:
                        out.append(hit)
        return tuple(out)

    def closest_delegation(self, name: Name, now: float) -> tuple[Name, tuple[Name, ...]]:
        """The deepest zone above `name` whose NS set is cached; the root hints otherwise."""
        ns = self.closest_ns(name, now)
        if ns is None:
            return ROOT, self.hints.ns_names
        return ns.name, tuple(ns.targets())

    def closest_zone(self, name: Name, now: float) -> Name:
        """`closest_delegation`'s zone alone (the admission's zone budget asks for it twice
        for every query that may need resolving)."""
        ns = self.closest_ns(name, now)
        return ROOT if ns is None else ns.name

    def closest_ns(self, name: Name, now: float) -> RRset | None:
        """The cached NS set of the deepest zone above `name`, or None."""
        get = self.cache.get
        for i in range(len(name) + 1):
            ns = get(name[i:], QTYPE.NS, now)
            if ns is not None:
                return ns
        return None

    # -- resolution -----------------------------------------------------------------------

    def _cached(self, name: Name, qtype: int, now: float, stale: bool) -> _Outcome | None:
        c = self.cache
        hit = c.get(name, qtype, now, min_rank=Rank.ANSWER, stale=stale)
        if hit is not None:
            return _Outcome(_Kind.ANSWER, (hit,))
        if qtype != QTYPE.CNAME:
            cn = c.get(name, QTYPE.CNAME, now, min_rank=Rank.ANSWER, stale=stale)
            if cn is not None and cn.targets():
                return _Outcome(_Kind.CNAME, (cn,), target=cn.targets()[0])
        neg: Negative | None = c.get_negative(name, qtype, now, stale=stale)
        if neg is None and not stale:
            neg = c.get_nxdomain_above(name, now)
        if neg is not None:
            return _Outcome(_Kind.NEGATIVE, nxdomain=neg.nxdomain, soa=neg.soa)
        return None

    def _resolve(
        self, qname: Name, qtype: int, b: _Budget, depth: int, stack: frozenset[tuple[Name, int]]
    ) -> Driver:
        chain: list[RRset] = []
        name, seen = qname, {qname}
        for _ in range(self.config.max_restarts + 1):
            out = self._cached(name, qtype, b.now, False)
            if out is None:
                out = yield from self._iterate(name, qtype, b, depth, stack)
            if out.kind is _Kind.ANSWER:
                return Result(rcode=RCODE.NOERROR, answer=(*chain, *out.rrsets))
            if out.kind is _Kind.NEGATIVE:
                chain.extend(out.rrsets)
                rcode = RCODE.NXDOMAIN if out.nxdomain else RCODE.NOERROR
                auth = (out.soa,) if out.soa is not None else ()
                return Result(rcode=rcode, answer=tuple(chain), authority=auth)
            if out.kind is _Kind.FAIL:
                stale = self._stale(name, qtype, b.now, chain) if depth == 0 else None
                if stale is not None:
                    return stale
                return Result(rcode=RCODE.SERVFAIL, answer=tuple(chain), reason=out.detail)
            chain.extend(out.rrsets)  # CNAME: restart at the target (RFC 1034 §3.6.2)
            if out.target in seen:
                return Result(rcode=RCODE.SERVFAIL, answer=tuple(chain), reason="CNAME loop")
            seen.add(out.target)
            name = out.target
        return Result(rcode=RCODE.SERVFAIL, answer=tuple(chain), reason="CNAME chain too long")

    def _stale(self, name: Name, qtype: int, now: float, chain: list[RRset]) -> Result | None:
        """RFC 8767 §4: every server failed; answer from expired data if serve-stale is on."""
        if not self.cache.config.serve_stale:
            return None
        res = self.from_cache(name, qtype, now, stale=True)
        if res is None or res.rcode == RCODE.SERVFAIL:  # nothing cached, or a CNAME loop
            return None
        self.stats.stale_answers += 1
        return replace(res, answer=(*chain, *res.answer), stale=True)

    def _exhausted(self, b: _Budget) -> str:
        c = self.config
        if b.queries >= c.max_queries:
            return f"budget of {c.max_queries} upstream queries exhausted"
        if b.now - b.start >= c.max_time:
            return f"time budget of {c.max_time:g}s exhausted"
        return ""

    def _addresses(self, zone: Name, ns_names: tuple[Name, ...], now: float) -> list[str]:
        if self.config.forwarders:
            return list(self.config.forwarders)
        out: list[str] = []
        for ns in ns_names:
            for a in self._ns_addresses(ns, now):
                if a not in out:
                    out.append(a)
        if zone == ROOT and not out:
            out = self.hints.all_addresses()
        return out

    def _ns_addresses(self, ns: Name, now: float) -> list[str]:
        rr = self.cache.get(ns, QTYPE.A, now)
        addrs = rr.addresses() if rr is not None else []
        if not addrs:
            addrs = list(self.hints.addresses.get(ns, ()))
        return addrs

    def _qlabel(self, name: Name) -> DNSLabel:
        if not self.config.randomize_case:
            return to_label(name)
        rnd = self.rng.getrandbits
        labels = []
        for label in name:
            labels.append(bytes(c ^ 0x20 if 0x61 <= c <= 0x7A and rnd(1) else c for c in label))
        return DNSLabel(labels)

    def _iterate(
        self, name: Name, qtype: int, b: _Budget, depth: int, stack: frozenset[tuple[Name, int]]
    ) -> Generator[UpstreamQuery, UpstreamReply, _Outcome]:
        cfg = self.config
        forwarding = bool(cfg.forwarders)
        zone, ns_names = (ROOT, ()) if forwarding else self.closest_delegation(name, b.now)
        tried: dict[str, int] = {}
        looked_up: set[Name] = set()
        while True:
            why = self._exhausted(b)
            if why:
                return _Outcome(_Kind.FAIL, detail=why)
            addrs = self._addresses(zone, ns_names, b.now)
            candidates = [a for a in addrs if tried.get(a, 0) < cfg.attempts_per_server]
            if not candidates:
                if forwarding:
                    return _Outcome(_Kind.FAIL, detail="no forwarder answered")
                found = yield from self._lookup_ns(ns_names, looked_up, b, depth, stack)
                if found:
                    continue
                return _Outcome(_Kind.FAIL, detail=f"no usable server for zone {_text(zone)}")
            server = self.selector.choose(candidates)
            tried[server] = tried.get(server, 0) + 1
            sent_at = b.now
            reply = yield UpstreamQuery(
                server=server,
                qname=name,
                qlabel=self._qlabel(name),
                qtype=qtype,
                zone=zone,
                recursion_desired=forwarding,
                timeout=self.selector.timeout(server),
            )
            b.now = max(b.now, reply.now)
            b.queries += 1
            self.stats.upstream_queries += 1

            def step(
                outcome: str, detail: str, server: str = server, at: float = sent_at, z: Name = zone
            ) -> None:
                b.steps.append(
                    Step(
                        server=server,
                        zone=z,
                        qname=name,
                        qtype=qtype,
                        elapsed=b.now - at,
                        outcome=outcome,
                        detail=detail,
                    )
                )

            if reply.message is None:
                self.stats.upstream_timeouts += 1
                self.selector.on_timeout(server)
                step("timeout", "no answer")
                continue
            self.selector.on_rtt(server, max(0.0, reply.rtt))
            out = self._classify(name, qtype, zone, reply.message, b.now, forwarding)
            kind = out.kind.value
            if out.kind is _Kind.NEGATIVE:
                kind = "nxdomain" if out.nxdomain else "nodata"
            step(kind, out.detail)
            if out.kind is _Kind.LAME:
                tried[server] = cfg.attempts_per_server
                continue
            if out.kind is _Kind.REFERRAL:
                zone, ns_names = out.target, out.ns_names
                tried, looked_up = {}, set()
                continue
            return out

    def _lookup_ns(
        self,
        ns_names: tuple[Name, ...],
        looked_up: set[Name],
        b: _Budget,
        depth: int,
        stack: frozenset[tuple[Name, int]],
    ) -> Generator[UpstreamQuery, UpstreamReply, bool]:
        """Resolve the address of one NS name that came without usable glue (RFC 1034 §5.3.3)."""
        for ns in ns_names:
            if ns in looked_up or self._ns_addresses(ns, b.now):
                continue
            looked_up.add(ns)
            key = (ns, int(QTYPE.A))
            if depth + 1 > self.config.max_depth or key in stack:
                continue  # loop (the NS name needs this very lookup) or too deep
            res = yield from self._resolve(ns, QTYPE.A, b, depth + 1, stack | {key})
            addrs = tuple(d for rr in res.answer if rr.rtype == QTYPE.A for d in rr.rdatas)
            if addrs:
                if not self._ns_addresses(ns, b.now):  # TTL 0: not cached; keep it for now
                    self.cache.put_rrset(RRset(ns, QTYPE.A, 1, addrs), Rank.GLUE, b.now)
                return True
        return False

    # -- one response -----------------------------------------------------------------------

    def _in_bailiwick(
        self, sets: dict[tuple[Name, int], RRset], zone: Name
    ) -> dict[tuple[Name, int], RRset]:
        kept = {k: s for k, s in sets.items() if is_within(k[0], zone)}
        self.stats.bailiwick_rejected += len(sets) - len(kept)
        return kept

    def _classify(
        self, name: Name, qtype: int, zone: Name, msg: Message, now: float, forwarding: bool
    ) -> _Outcome:
        if not msg.qr or msg.opcode != 0:
            return _Outcome(_Kind.LAME, detail="not a response")
        if msg.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
            return _Outcome(_Kind.LAME, detail=f"rcode {RCODE.get(msg.rcode)}")
        cache, max_ttl = self.cache, cache_max_ttl(self.cache)
        answer = self._in_bailiwick(group_records(msg.answer), zone)
        auth = self._in_bailiwick(group_records(msg.authority), zone)

        chain: list[RRset] = []
        cur, seen = name, {name}
        while True:
            hit = answer.get((cur, qtype))
            if qtype == QTYPE.ANY and hit is None:
                anyset = [s for k, s in answer.items() if k[0] == cur]
                if anyset:
                    return _Outcome(_Kind.ANSWER, (*chain, *anyset), detail="ANY")
            if hit is not None:
                hit = _cap(hit, max_ttl)
                cache.put_rrset(hit, Rank.ANSWER, now)
                if hit.rtype in _ADDITIONAL_FOR:  # their addresses, for our additional section
                    self._cache_addresses(msg, tuple(hit.targets()), zone, now)
                return _Outcome(_Kind.ANSWER, (*chain, hit), detail=_chained(chain, _summary(hit)))
            cn = answer.get((cur, QTYPE.CNAME)) if qtype != QTYPE.CNAME else None
            if cn is None or not cn.targets():
                break
            cn = _cap(cn, max_ttl)
            cache.put_rrset(cn, Rank.ANSWER, now)
            chain.append(cn)
            cur = cn.targets()[0]
            if cur in seen:
                break
            seen.add(cur)

        soa = None
        for (owner, rtype), s in auth.items():
            if rtype == QTYPE.SOA and is_within(cur, owner):
                soa = s
        if soa is not None:  # RFC 2308 §5: passed on with the TTL it is cached for
            soa = soa.with_ttl(cache.negative_ttl(soa))
        if chain:
            if soa is not None and is_within(cur, zone):  # the chain ends in this zone
                nx = msg.rcode == RCODE.NXDOMAIN
                cache.put_negative(cur, qtype, nx, soa, now)
                return _Outcome(
                    _Kind.NEGATIVE,
                    tuple(chain),
                    nxdomain=nx,
                    soa=soa,
                    detail=_chained(chain, "no such name" if nx else "no data of that type"),
                )
            return _Outcome(_Kind.CNAME, tuple(chain), target=cur, detail=f"CNAME {_text(cur)}")
        if msg.rcode == RCODE.NXDOMAIN:
            cache.put_negative(name, qtype, True, soa, now)
            return _Outcome(_Kind.NEGATIVE, nxdomain=True, soa=soa, detail="no such name")
        if not forwarding:
            cut = None
            for (owner, rtype), s in auth.items():
                if (
                    rtype == QTYPE.NS
                    and owner != zone
                    and is_within(name, owner)
                    and (cut is None or len(owner) > len(cut.name))
                ):
                    cut = s
            if cut is not None and soa is None:
                return self._referral(cut, zone, msg, now)
        if soa is not None or msg.aa or forwarding:
            cache.put_negative(name, qtype, False, soa, now)
            return _Outcome(_Kind.NEGATIVE, soa=soa, detail="no data of that type")
        return _Outcome(_Kind.LAME, detail="neither answer, referral nor negative answer")

    def _cache_addresses(
        self, msg: Message, targets: tuple[Name, ...], zone: Name, now: float
    ) -> int:
        """Cache (as glue) the additional-section addresses of `targets` that lie in `zone`.

        Anything else in the additional section is out of bailiwick: counted, never cached.
        Returns how many RRsets were cached.
        """
        cached = 0
        for (owner, rtype), s in group_records(msg.additional).items():
            if rtype not in (QTYPE.A, QTYPE.AAAA):
                continue
            if owner in targets and is_within(owner, zone):
                self.cache.put_rrset(_cap(s, cache_max_ttl(self.cache)), Rank.GLUE, now)
                cached += 1
            else:
                self.stats.bailiwick_rejected += 1
        return cached

    def _referral(self, cut: RRset, zone: Name, msg: Message, now: float) -> _Outcome:
        """Cache the child's NS set and the glue for its NS names that lies within `zone`."""
        cut = _cap(cut, cache_max_ttl(self.cache))
        targets = tuple(cut.targets())
        self.cache.put_rrset(cut, Rank.AUTHORITY, now)
        glue = self._cache_addresses(msg, targets, zone, now)
        names = ", ".join(_text(t) for t in targets)
        return _Outcome(
            _Kind.REFERRAL,
            target=cut.name,
            ns_names=targets,
            detail=f"{_text(cut.name)} NS {names} ({glue} glue)",
        )


def cache_max_ttl(cache: Cache) -> int:
    return cache.config.max_ttl


def _cap(s: RRset, max_ttl: int) -> RRset:
    return s if s.ttl <= max_ttl else s.with_ttl(max_ttl)


def _text(name: Name) -> str:
    return to_text(name)


def _chained(chain: list[RRset], end: str) -> str:
    """`end` behind the CNAMEs that led to it: "CNAME gaia.cs.umass.edu. -> A 127.0.1.22"."""
    return " -> ".join([*(f"CNAME {_text(c.targets()[0])}" for c in chain), end])


def _summary(s: RRset) -> str:
    # A, the common case, without dnslib's objects: this runs for every answer
    texts = s.addresses() if s.rtype == QTYPE.A else [str(r.rdata) for r in s.to_rrs()]
    return (
        f"{QTYPE.get(s.rtype)} "  # an unknown type by its number
        + ", ".join(texts[:4])
        + (" ..." if len(texts) > 4 else "")
    )
