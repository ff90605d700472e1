"""The resolver's stub-facing protocol (sans-I/O): a client's query bytes in, response bytes out.

Where `dnsserver/engine.py` answers for the authoritative side, this answers for the local DNS
server: the checks before resolution (FORMERR, NOTIMP for other opcodes, BADVERS, REFUSED
outside the allowed networks, class IN only, CHAOS identity), our own data (localhost, RFC
6761/6303), answers from the cache, RD=0 answered from the cache only, EDNS (the DO bit
copied, NSID when asked), truncation to the client's UDP size, and the two caches of whole
answers: packed answers keyed on the question (served by patching ID, case and TTLs) and the
`hot` map of exact query bytes seen before (served by prefixing the ID, with no parsing).

When a query needs a resolution, `begin` returns a `Resolve` step: the shell runs the
resolution (upstream I/O) and hands the result to `finish`. Time comes in as `now`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, TXT, DNSHeader, DNSRecord, EDNSOption

from dnsserver.chaos import CLASS_CH, Identity
from dnsserver.resolver import local
from dnsserver.resolver.iterate import Resolver, Result
from dnsserver.resolver.message import NAME_AFTER
from dnsserver.resolver.packed import PackedAnswer, QuestionKey, question_key
from dnsserver.resolver.policy import Policy
from dnsserver.resolver.rrset import ROOT, Name, RRset, is_legal, name_of
from dnsserver.resolver.stats import Stats
from dnsserver.wire import OPTION_NSID, RR_FIXED, read_name, requests_nsid, write_name
from minternet.bounded import BoundedMap

#: Types a stub may not ask a resolver for: zone transfers, OPT, and the obsolete MAILB and
#: MAILA (RFC 883; 253 and 254). ANY (255) is answered from what is cached.
REFUSED_TYPES = frozenset({QTYPE.AXFR, QTYPE.IXFR, QTYPE.OPT, 253, 254})


@dataclass(frozen=True, slots=True)
class Answered:
    """The response (None: send nothing), and for a query we could not serve, why."""

    wire: bytes | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Resolve:
    """The response waits for a resolution of (name, qtype): give its result to `finish`."""

    name: Name
    qtype: int
    reply: DNSRecord | None  # None: a keyed query, answered by `_direct`
    data: bytes
    qk: QuestionKey | None
    limit: int | None
    priming: bool = False  # RD=0 with an empty cache: the root's NS set, for a referral


class Frontend:
    def __init__(
        self,
        *,
        core: Resolver,
        policy: Policy,
        identity: Identity,
        stats: Stats,
        edns_size: int,
        answer_cache_size: int,
    ) -> None:
        self.core = core
        self.policy = policy
        self.identity = identity
        self.stats = stats
        self.edns_size = edns_size
        self.answers: BoundedMap[bytes, PackedAnswer] = BoundedMap(answer_cache_size)
        #: query bytes after the ID -> [answer bytes after the ID, valid until, packed]: the
        #: exact query seen before, answered with no parsing until its TTLs tick down.
        self.hot: BoundedMap[bytes, list[Any]] = BoundedMap(answer_cache_size)

    def flush(self) -> None:
        """Forget every whole answer (the cache they were made from was flushed)."""
        self.answers.clear()
        self.hot.clear()

    # -- fast path ---------------------------------------------------------------------------

    def fast_answer(
        self, data: bytes, client: str, now: float
    ) -> tuple[bytes | None, QuestionKey | None]:
        """(answer, key): an answer if the packed-answer cache has one for this query."""
        qk = question_key(data)
        if qk is None or not self.policy.allowed(client):
            return None, qk
        entry = self.answers.get(qk.key)
        if entry is None:
            return None, qk
        if entry.expires <= now:
            del self.answers[qk.key]
            return None, qk
        self.answers.touch(qk.key)
        self.stats.cache_hits += 1
        out = entry.render(int.from_bytes(data[:2]), qk.qname_wire, qk.rd, now)
        if len(out) <= qk.udp_size:
            self._make_hot(data, out, entry, now)
        return out, qk

    def _make_hot(self, data: bytes, out: bytes, entry: PackedAnswer, now: float) -> None:
        until = min(entry.expires, entry.created + int(now - entry.created) + 1)
        self.hot.put(data[2:], [out[2:], until, entry])

    def hot_refresh(self, data: bytes, hot: list[Any], now: float) -> bytes | None:
        """A hot entry whose TTLs ticked down: re-render it (once a second), or drop it."""
        entry: PackedAnswer = hot[2]
        if now >= entry.expires:
            del self.hot[data[2:]]  # `hot` is the entry the shell found there
            return None
        qk = question_key(data)
        assert qk is not None  # hot entries are made for keyed queries; the ID is not in the key
        out = entry.render(int.from_bytes(data[:2]), qk.qname_wire, qk.rd, now)
        hot[0] = out[2:]
        hot[1] = min(entry.expires, entry.created + int(now - entry.created) + 1)
        return out

    # -- shedding (dnsserver/resolver/admission.py) ---------------------------------------

    def answerable(self, name: Name, qtype: int, now: float) -> bool:
        """Whether `begin` would answer this question without a resolution (the cache or our
        own data): a query that is, is never shed."""
        if local.answer(name, qtype) is not None:
            return True
        res = self.core.from_cache(name, qtype, now)
        return res is not None and res.rcode != RCODE.SERVFAIL

    def shed_keyed(self, data: bytes, qk: QuestionKey) -> bytes:
        """SERVFAIL at once for a keyed query that gets no resolution, cut from its own bytes
        (no parse, no encoder): the header, its question, and an OPT if it had one (with DO
        copied, RFC 3225)."""
        self.stats.servfail += 1
        edns = qk.key[-1]
        head = data[:2] + bytes((0x80 | (data[2] & 0x01), 0x80 | RCODE.SERVFAIL))
        head += b"\x00\x01\x00\x00\x00\x00" + (b"\x00\x01" if edns else b"\x00\x00")
        question = data[12 : 12 + len(qk.qname_wire) + 4]
        if not edns:
            return head + question
        do = b"\x80" if edns in (2, 4) else b"\x00"
        return (
            head
            + question
            + b"\x00\x00\x29"
            + self.edns_size.to_bytes(2)
            + b"\x00\x00"
            + do
            + b"\x00\x00\x00"
        )

    def shed(self, step: Resolve, now: float) -> bytes:
        """SERVFAIL for a query that waited for a resolution it will not get."""
        if step.reply is None:
            assert step.qk is not None
            out = self._direct(step.data, step.qk, Result(rcode=RCODE.SERVFAIL), step.limit, now)
            assert out is not None  # (no records: nothing it cannot write)
            return out
        return self._respond(step.reply, Result(rcode=RCODE.SERVFAIL), step.limit, now)

    # -- full path ---------------------------------------------------------------------------

    def begin(
        self, data: bytes, client: str, qk: QuestionKey | None, limit: int | None, now: float
    ) -> Answered | Resolve:
        """The response to a query, or the resolution it waits for.

        `limit` is the client's UDP size; None over TCP. Raises nothing for any input.
        """
        if qk is not None:
            step = self._begin_keyed(data, client, qk, limit, now)
            if step is not None:
                return step
        try:
            req = DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on garbage
            return Answered(self._formerr(data), "malformed query")
        if req.header.qr:
            return Answered(None)  # a response sent to us: never answered (no reflection loops)
        if not all(is_legal(q.qname) for q in req.questions):
            return Answered(self._formerr(data), "malformed query")
        opts = [r for r in req.ar if r.rtype == QTYPE.OPT]
        reply = self._reply_of(req, opts, data)
        if req.header.opcode != OPCODE.QUERY:
            reply.header.rd = 0  # RD is defined for QUERY only (RFC 2136 §2.2: zero in UPDATE)
            return Answered(self._finish(reply, RCODE.NOTIMP, limit))
        if len(req.questions) != 1 or len(opts) > 1:
            self.stats.formerr += 1
            return Answered(self._finish(reply, RCODE.FORMERR, limit))
        if opts and (opts[0].ttl >> 16) & 0xFF != 0:  # RFC 6891 §6.1.3: BADVERS
            reply.ar = [EDNS0(udp_len=self.edns_size, ext_rcode=1)]
            return Answered(self._finish(reply, 0, limit))
        if not self.policy.allowed(client):
            self.stats.refused += 1
            return Answered(self._finish(reply, RCODE.REFUSED, limit), "REFUSED: not allowed")
        q = req.questions[0]
        if q.qclass == CLASS_CH:  # version.bind, id.server, ... (see dnsserver/chaos.py)
            text = self.identity.txt(name_of(q.qname), q.qtype)
            if text is not None:
                reply.add_answer(RR(q.qname, QTYPE.TXT, CLASS_CH, 0, TXT(text.encode())))
                return Answered(self._finish(reply, RCODE.NOERROR, limit))
        if q.qclass != 1 or q.qtype in REFUSED_TYPES:
            return Answered(self._finish(reply, RCODE.REFUSED, limit))  # class IN only
        name, qtype = name_of(q.qname), int(q.qtype)
        own = local.answer(name, qtype)  # localhost and loopback reverse: our own data
        if own is not None:
            reply.header.aa = 1
            return Answered(self._respond(reply, own, limit, now))  # never kept: it is ours
        res = self.core.from_cache(name, qtype, now)
        if res is not None and res.rcode != RCODE.SERVFAIL:
            self.stats.cache_hits += 1
            return Answered(self._respond(reply, res, limit, now, data, qk))
        if not req.header.rd:
            res = self.core.from_cache(name, qtype, now, partial=True)
            if res is None:
                res = self._cached_referral(name, now)  # RD=0: the cache and nothing else
            if res is None:  # not even the root's NS set: prime it first, as Unbound does
                return Resolve(ROOT, QTYPE.NS, reply, data, qk, limit, priming=True)
            return Answered(self._respond(reply, res, limit, now))  # not kept: not complete
        self.stats.cache_misses += 1
        return Resolve(name, qtype, reply, data, qk, limit)

    def _reply_of(self, req: DNSRecord, opts: list[RR], data: bytes) -> DNSRecord:
        """The response to `req` before its records: header, question, OPT."""
        reply = DNSRecord(DNSHeader(id=req.header.id, qr=1, rd=req.header.rd, ra=1))
        reply.header.opcode = req.header.opcode
        reply.questions = list(req.questions[:1])
        if opts:  # RFC 3225 §3: the DO bit is copied into the response
            do = "do" if opts[0].ttl & 0x8000 else ""
            nsid = self.identity.nsid  # RFC 5001: only to a query that asks for it
            ours = [EDNSOption(OPTION_NSID, nsid)] if nsid and requests_nsid(data) else []
            reply.add_ar(EDNS0(udp_len=self.edns_size, flags=do, opts=ours))
        return reply

    def _begin_keyed(
        self, data: bytes, client: str, qk: QuestionKey, limit: int | None, now: float
    ) -> Answered | Resolve | None:
        """`begin` for the common query, a keyed one (one question, at most an OPT of version
        0) for class IN from an allowed client, answered from the cache or resolved, without
        dnslib: the response is written by `_direct`, byte for byte what the dnslib path packs
        (a property test holds it to that). None for the dnslib path: every other query."""
        qname = qk.qname_wire
        # (dnslib refuses a label that is not UTF-8, and a name over 255 octets is FORMERR)
        if len(qname) > 255 or not qname.isascii() or qk.key[-3:-1] != b"\x00\x01":
            return None
        name, qtype = question(qk)
        if qtype in REFUSED_TYPES or not self.policy.allowed(client):
            return None
        if local.answer(name, qtype) is not None:
            return None
        res = self.core.from_cache(name, qtype, now)
        if res is not None and res.rcode != RCODE.SERVFAIL:
            out = self._direct(data, qk, res, limit, now)
            if out is None:
                return None
            self.stats.cache_hits += 1
            return Answered(out)
        if not qk.rd:
            return None
        self.stats.cache_misses += 1
        return Resolve(name, qtype, None, data, qk, limit)

    def _direct(
        self, data: bytes, qk: QuestionKey, res: Result, limit: int | None, now: float
    ) -> bytes | None:
        """`_respond` for a keyed query, written directly; None if `res` holds a type this
        writer does not know (`DIRECT_TYPES`)."""
        extra = self.core.additional((*res.answer, *res.authority), now)
        sections = (res.answer, res.authority, extra)
        if any(s.rtype not in DIRECT_TYPES for section in sections for s in section):
            return None
        edns = qk.key[-1]
        opt = b""
        if edns:  # root owner, type 41, class = our UDP size, DO copied, NSID when asked
            nsid = self.identity.nsid if edns >= 3 else b""
            options = (_U16.pack(OPTION_NSID) + _U16.pack(len(nsid)) + nsid) if nsid else b""
            ttl = 0x8000 if edns in (2, 4) else 0
            opt = b"\x00" + RR_FIXED.pack(41, self.edns_size, ttl, len(options)) + options
        flags = 0x8080 | (0x0100 if qk.rd else 0) | res.rcode
        question = qk.qname_wire + data[12 + len(qk.qname_wire) : 16 + len(qk.qname_wire)]
        out = _write(data[:2], flags, question, sections, opt)
        if res.rcode == RCODE.SERVFAIL:
            self.stats.servfail += 1
        elif res.rcode == RCODE.NXDOMAIN:
            self.stats.nxdomain += 1
        if not res.stale and res.rcode in (RCODE.NOERROR, RCODE.NXDOMAIN):
            entry = self._remember(qk.key, out, now)
            if entry is not None and limit is not None and len(out) <= limit:
                self._make_hot(data, out, entry, now)
        if limit is None or len(out) <= limit:
            return out
        if extra:  # additional data first (RFC 2181 §9), then TC=1 with the question only
            out = _write(data[:2], flags, question, (res.answer, res.authority, ()), opt)
            if len(out) <= limit:
                return out
        return _write(data[:2], flags | 0x0200, question, ((), (), ()), opt)

    def _reply(self, step: Resolve) -> DNSRecord:
        """The dnslib response of a keyed step, for a result `_direct` does not write."""
        if step.reply is not None:
            return step.reply
        req = DNSRecord.parse(step.data)
        return self._reply_of(req, [r for r in req.ar if r.rtype == QTYPE.OPT], step.data)

    def finish(self, step: Resolve, res: Result, now: float) -> bytes:
        """The response once the resolution `step` waited for has given `res`."""
        if step.reply is None:
            assert step.qk is not None  # (a step without a reply is a keyed query's)
            out = self._direct(step.data, step.qk, res, step.limit, now)
            if out is not None:
                return out
        if step.priming:
            referral = self._cached_referral(ROOT, now)
            if referral is None:
                referral = Result(rcode=RCODE.SERVFAIL)
            return self._respond(self._reply(step), referral, step.limit, now)  # not kept
        return self._respond(self._reply(step), res, step.limit, now, step.data, step.qk)

    def _cached_referral(self, name: Name, now: float) -> Result | None:
        """RD=0 and the cache has no answer: a referral to the closest delegation it holds, as
        Unbound answers (with allow_snoop; its default `allow` REFUSES RD=0 queries); None
        when not even the root's NS set is cached (RFC 8109: prime it)."""
        ns = self.core.closest_ns(name, now)
        return None if ns is None else Result(rcode=RCODE.NOERROR, authority=(ns,))

    def _respond(
        self,
        reply: DNSRecord,
        res: Result,
        limit: int | None,
        now: float,
        data: bytes = b"",
        qk: QuestionKey | None = None,
    ) -> bytes:
        """Fill `reply` from `res`. A complete answer to the query `data` is given with its key
        `qk`, to be kept and served again packed."""
        reply.header.rcode = res.rcode
        for rrset in res.answer:
            for rr in rrset.to_rrs():
                reply.add_answer(rr)
        for rrset in res.authority:
            for rr in rrset.to_rrs():
                reply.add_auth(rr)
        for rrset in self.core.additional((*res.answer, *res.authority), now):  # glue too
            for rr in rrset.to_rrs():
                reply.add_ar(rr)
        if res.rcode == RCODE.SERVFAIL:
            self.stats.servfail += 1
        elif res.rcode == RCODE.NXDOMAIN:
            self.stats.nxdomain += 1
        out = bytes(reply.pack())
        if (  # (a response without records has no TTL to count down: `_remember` refuses it)
            qk is not None and not res.stale and res.rcode in (RCODE.NOERROR, RCODE.NXDOMAIN)
        ):
            entry = self._remember(qk.key, out, now)
            if entry is not None and limit is not None and len(out) <= limit:
                self._make_hot(data, out, entry, now)
        return self._fit(out, reply, limit)

    def _remember(self, key: bytes, out: bytes, now: float) -> PackedAnswer | None:
        try:
            entry = PackedAnswer(out, now)
        except ValueError:
            return None
        if entry.expires <= now:
            return None
        self.answers.pop(key, None)  # re-inserted: the youngest, last to be dropped
        self.answers.put(key, entry)
        return entry

    def _finish(self, reply: DNSRecord, rcode: int, limit: int | None) -> bytes:
        reply.header.rcode = rcode
        return self._fit(bytes(reply.pack()), reply, limit)

    def _fit(self, out: bytes, reply: DNSRecord, limit: int | None) -> bytes:
        """RFC 1035 §4.2.1, RFC 6891 §7: too big for the client's UDP size: TC=1, question only.

        Additional data is optional (RFC 2181 §9): it is dropped first, and TC is set only
        when the answer and authority sections themselves do not fit.
        """
        if limit is None or len(out) <= limit:
            return out
        opt = [r for r in reply.ar if r.rtype == QTYPE.OPT]
        if len(opt) < len(reply.ar):
            reply.ar = opt
            out = bytes(reply.pack())
            if len(out) <= limit:
                return out
        # (a reply without a question, to a query without one, is a header and an OPT at most:
        # it always fits)
        small = DNSRecord(reply.header, q=reply.questions[0])
        small.header.tc = 1
        small.ar = opt
        return bytes(small.pack())

    def _formerr(self, data: bytes) -> bytes | None:
        """A header-only FORMERR for a query that cannot be parsed (none to responses)."""
        self.stats.formerr += 1
        if len(data) < 12 or data[2] & 0x80:
            return None
        opcode = data[2] & 0x78
        flags = 0x80 | opcode | (data[2] & 0x01 if not opcode else 0)  # QR, opcode, RD if QUERY
        return data[:2] + bytes((flags, RCODE.FORMERR)) + bytes(8)  # and no records


#: The types `_direct` writes (their rdata as the cache holds it: no name in it, or names
#: written out whole, or SOA's two); a response holding any other goes the dnslib way.
DIRECT_TYPES = frozenset(
    {QTYPE.A, QTYPE.AAAA, QTYPE.NS, QTYPE.CNAME, QTYPE.PTR, QTYPE.MX, QTYPE.TXT, QTYPE.SRV}
    | {QTYPE.SOA}
)
_U16 = struct.Struct("!H")


def _write(
    qid: bytes,
    flags: int,
    question: bytes,
    sections: tuple[tuple[RRset, ...], tuple[RRset, ...], tuple[RRset, ...]],
    opt: bytes,
) -> bytes:
    """A response: header, the question (`question`: its name as the client wrote it, type and
    class), the records of `sections` (answer, authority, additional), `opt` first among the
    additional records. Names are compressed as dnslib's packer
    does: every suffix of every name written is remembered (case and all) at its offset, and a
    later name ending in one points to it; SRV targets are never compressed (RFC 2782)."""
    counts = [sum(len(s.rdatas) for s in section) for section in sections]
    out = bytearray(qid)
    out += _U16.pack(flags)
    out += _U16.pack(1) + _U16.pack(counts[0]) + _U16.pack(counts[1])
    out += _U16.pack(counts[2] + (1 if opt else 0))
    seen: dict[Name, int] = {}
    qname, _ = read_name(question, 0)
    write_name(out, qname, seen)
    out += question[-4:]
    for k, section in enumerate(sections):
        if k == 2:
            out += opt  # the OPT leads the additional section, as the dnslib path adds it
        for s in section:
            for d in s.rdatas:
                write_name(out, s.name, seen)
                start = len(out) + RR_FIXED.size
                out += RR_FIXED.pack(s.rtype, 1, s.ttl, 0)
                at = NAME_AFTER.get(s.rtype)
                if at is not None:
                    out += d[:at]
                    write_name(out, read_name(d, at)[0], seen)
                elif s.rtype == QTYPE.SOA:
                    mname, i = read_name(d, 0)
                    rname, i = read_name(d, i)
                    write_name(out, mname, seen)
                    write_name(out, rname, seen)
                    out += d[i:]
                else:
                    out += d
                _U16.pack_into(out, start - 2, len(out) - start)
    return bytes(out)


def question(qk: QuestionKey) -> tuple[Name, int]:
    """The (name, type) of a keyed query, from its key (the name's wire form is checked by
    `question_key`, and lowercased there)."""
    n = len(qk.qname_wire)
    wire = qk.key
    labels = []
    i = 0
    # (not wire.read_name: it refuses names over 255 octets, which `begin` must see to answer
    # them FORMERR)
    while ln := wire[i]:
        labels.append(wire[i + 1 : i + 1 + ln])
        i += ln + 1
    return tuple(labels), int.from_bytes(wire[n : n + 2])


def udp_limit(data: bytes) -> int:
    """The client's UDP size for a query the fast path could not key: its OPT's, or 512."""
    try:
        req = DNSRecord.parse(data)
    except Exception:
        return 512
    for r in req.ar:
        if r.rtype == QTYPE.OPT:
            return max(512, min(4096, int(r.rclass)))
    return 512
