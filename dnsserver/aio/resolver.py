"""The caching resolver daemon: stub-facing UDP/TCP listeners, upstream driving, control port.

Cache hits on plain queries are served from packed answers without parsing the query (see
resolver/packed.py); everything else goes through dnslib and the resolution core.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import OrderedDict
from typing import Any

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, TXT, DNSHeader, DNSRecord, EDNSOption

from dnsserver.aio import identity
from dnsserver.aio.stub import TCPConn, UDPReader
from dnsserver.aio.upstream import Upstream
from dnsserver.chaos import CLASS_CH
from dnsserver.resolver import control, local
from dnsserver.resolver import hints as hints_mod
from dnsserver.resolver.cache import Cache
from dnsserver.resolver.config import ResolverConfig
from dnsserver.resolver.iterate import Reply, Resolver, Result
from dnsserver.resolver.packed import PackedAnswer, QuestionKey, question_key
from dnsserver.resolver.policy import Policy
from dnsserver.resolver.rrset import ROOT, Name, is_legal, name_of, to_text, type_text
from dnsserver.resolver.servers import ServerSelector
from dnsserver.resolver.stats import Stats
from dnsserver.wire import OPTION_NSID, requests_nsid
from minternet.listen import binding, open_tcp, parse_hostport
from minternet.logs import Throttle

log = logging.getLogger(__name__)
_throttle = Throttle()

#: Types a stub may not ask a resolver for (zone transfers, meta types other than ANY).
_REFUSED_TYPES = {QTYPE.AXFR, QTYPE.IXFR, QTYPE.OPT, 251}
BIND_ATTEMPTS = 20  # port 0: the UDP port chosen by the kernel may be taken for TCP
CONTROL_MAX_LINE = 4096  # a control command is one short line
#: Control connections open at once; a new one closes the oldest, so that idle connections
#: can neither eat the descriptors resolution needs nor lock the operator out.
CONTROL_MAX_CONNECTIONS = 16


class ResolverDaemon:
    """`async start() -> {"dns": port, "control": port}` / `async stop()` for service.run."""

    def __init__(
        self, config: ResolverConfig, *, name: str = "resolver", rng: random.Random | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.stats = Stats()
        self.rng = rng or random.SystemRandom()
        self.hints = hints_mod.load(config.root_hints) if config.root_hints else None
        forwarders: dict[str, int] = {}
        for text in config.forward:
            host, port = parse_hostport(text, config.upstream_port)
            forwarders[host] = port
        if self.hints is None and not forwarders:
            raise hints_mod.ResolverError("either root hints or a forwarder is needed")
        self.cache = Cache(config.cache_config())
        self.core = Resolver(
            self.hints or hints_mod.RootHints((), {}),
            self.cache,
            rng=self.rng,
            stats=self.stats,
            config=config.iter_config(tuple(forwarders)),
            selector=ServerSelector(self.rng, config.server_config()),
        )
        self.policy = Policy(config.policy_config())
        self.identity = identity.from_config(
            identity=config.identity,
            hide_identity=config.hide_identity,
            version=config.version,
            hide_version=config.hide_version,
        )
        self.host, self.port = parse_hostport(config.listen)
        self.upstream = Upstream(
            port=config.upstream_port,
            stats=self.stats,
            source=self.host if self.host not in ("0.0.0.0", "::") else None,
            edns_size=config.edns_size,
            randomize_case=config.randomize_case,
            ports=forwarders,
        )
        self.answers: OrderedDict[bytes, PackedAnswer] = OrderedDict()
        #: query bytes after the ID -> [answer bytes after the ID, valid until, packed, key]:
        #: the exact query seen before, answered with no parsing until its TTLs tick down.
        self.hot: dict[bytes, list[Any]] = {}
        self._inflight: dict[tuple[Name, int], asyncio.Future[Result]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closers: list[Any] = []
        self._tcp_conns: set[TCPConn] = set()
        self._control_conns: dict[asyncio.StreamWriter, None] = {}  # oldest first
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> dict[str, int]:
        self.loop = asyncio.get_running_loop()
        for attempt in range(BIND_ATTEMPTS):
            udp = UDPReader(self, self.host, self.port)
            port = udp.port
            try:
                tcp, _ = await open_tcp(lambda: TCPConn(self), self.host, port)
            except OSError:
                udp.close()
                if self.port != 0 or attempt == BIND_ATTEMPTS - 1:
                    raise
                continue  # port 0: the kernel's UDP port is taken for TCP; another one
            break
        udp.start()
        self._closers.extend((udp, tcp))
        ports = {"dns": port}
        if self.config.control:
            chost, cport = parse_hostport(self.config.control)
            with binding("TCP", chost, cport):
                ctl = await asyncio.start_server(
                    self._control, chost, cport, reuse_address=True, limit=CONTROL_MAX_LINE
                )
            self._closers.append(ctl)
            ports["control"] = ctl.sockets[0].getsockname()[1]
        mode = (
            "forwarding to " + ", ".join(self.config.forward)
            if self.config.forward
            else (
                f"iterating from {len(self.core.hints.ns_names)} root hints, "
                f"upstream port {self.config.upstream_port}"
            )
        )
        log.info("resolver on %s:%d, %s", self.host, port, mode)
        return ports

    async def stop(self) -> None:
        for c in self._closers:
            c.close()
        for conn in list(self._tcp_conns):
            if conn.transport is not None:
                conn.transport.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        self._closers.clear()

    def reload(self) -> None:
        """SIGHUP: re-read the root hints (a bad file keeps the old ones); the cache stays."""
        if not self.config.root_hints:
            return
        try:
            self.core.hints = hints_mod.load(self.config.root_hints)
        except hints_mod.ResolverError as e:
            log.error("keeping the old root hints: %s", e)
            return
        log.info("root hints reloaded (%d servers)", len(self.core.hints.ns_names))

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # -- fast path -------------------------------------------------------------------------

    def fast_answer(self, data: bytes, client: str) -> tuple[bytes | None, QuestionKey | None]:
        """(answer, key): an answer if the packed-answer cache has one for this query."""
        qk = question_key(data)
        if qk is None or not self.policy.allowed(client):
            return None, qk
        entry = self.answers.get(qk.key)
        if entry is None:
            return None, qk
        assert self.loop is not None
        now = self.loop.time()
        if entry.expires <= now:
            del self.answers[qk.key]
            return None, qk
        self.stats.cache_hits += 1
        out = entry.render(int.from_bytes(data[:2]), qk.qname_wire, qk.rd, now)
        if len(out) <= qk.udp_size:
            self._make_hot(data, out, entry, now)
        return out, qk

    def _make_hot(self, data: bytes, out: bytes, entry: PackedAnswer, now: float) -> None:
        if len(self.hot) >= self.config.message_cache_size:
            self.hot.clear()  # bounded; rebuilt from `answers` by the next queries
        until = min(entry.expires, entry.created + int(now - entry.created) + 1)
        self.hot[data[2:]] = [out[2:], until, entry]

    def hot_refresh(self, data: bytes, hot: list[Any], now: float) -> bytes | None:
        """A hot entry whose TTLs ticked down: re-render it (once a second), or drop it."""
        entry: PackedAnswer = hot[2]
        if now >= entry.expires:
            self.hot.pop(data[2:], None)
            return None
        qk = question_key(data)
        if qk is None:
            return None
        out = entry.render(int.from_bytes(data[:2]), qk.qname_wire, qk.rd, now)
        hot[0] = out[2:]
        hot[1] = min(entry.expires, entry.created + int(now - entry.created) + 1)
        return out

    def admit(self, client: str) -> bool:
        self.stats.queries += 1
        assert self.loop is not None
        if self.policy.admit(client, self.loop.time()):
            return True
        self.stats.ratelimited += 1
        _throttle(log, "ratelimit", "rate limit: dropping queries from %s", client)
        return False

    # -- full path ---------------------------------------------------------------------------

    async def answer(
        self, data: bytes, client: str, qk: QuestionKey | None, limit: int | None
    ) -> bytes | None:
        """The response to one query (None: drop). `limit`: the UDP size, None over TCP."""
        try:
            req = DNSRecord.parse(data)
        except Exception:
            self.stats.formerr += 1
            _throttle(log, "formerr", "malformed query from %s", client)
            return _formerr(data)
        if req.header.qr:
            return None  # a response sent to us: never answer those (no reflection loops)
        if not all(is_legal(q.qname) for q in req.questions):
            self.stats.formerr += 1
            _throttle(log, "formerr", "malformed query from %s", client)
            return _formerr(data)
        opts = [r for r in req.ar if r.rtype == QTYPE.OPT]
        reply = DNSRecord(DNSHeader(id=req.header.id, qr=1, rd=req.header.rd, ra=1))
        reply.header.opcode = req.header.opcode
        reply.questions = list(req.questions[:1])
        if opts:  # RFC 3225 §3: the DO bit is copied into the response
            do = "do" if opts[0].ttl & 0x8000 else ""
            nsid = self.identity.nsid  # RFC 5001: only to a query that asks for it
            ours = [EDNSOption(OPTION_NSID, nsid)] if nsid and requests_nsid(data) else []
            reply.add_ar(EDNS0(udp_len=self.config.edns_size, flags=do, opts=ours))
        if req.header.opcode != OPCODE.QUERY:
            reply.header.rd = 0  # RD is defined for QUERY only (RFC 2136 §2.2: zero in UPDATE)
            return self._finish(reply, RCODE.NOTIMP, limit)
        if len(req.questions) != 1 or len(opts) > 1:
            self.stats.formerr += 1
            return self._finish(reply, RCODE.FORMERR, limit)
        if opts and (opts[0].ttl >> 16) & 0xFF != 0:  # RFC 6891 §6.1.3: BADVERS
            reply.ar = [EDNS0(udp_len=self.config.edns_size, ext_rcode=1)]
            return self._finish(reply, 0, limit)
        if not self.policy.allowed(client):
            self.stats.refused += 1
            _throttle(log, "refused", "REFUSED %s (not in allow list)", client)
            return self._finish(reply, RCODE.REFUSED, limit)
        q = req.questions[0]
        if q.qclass == CLASS_CH:  # version.bind, id.server, ... (see dnsserver/chaos.py)
            text = self.identity.txt(name_of(q.qname), q.qtype)
            if text is not None:
                reply.add_answer(RR(q.qname, QTYPE.TXT, CLASS_CH, 0, TXT(text.encode())))
                return self._finish(reply, RCODE.NOERROR, limit)
        if q.qclass != 1 or q.qtype in _REFUSED_TYPES:
            return self._finish(reply, RCODE.REFUSED, limit)  # class IN only, as Unbound
        name, qtype = name_of(q.qname), int(q.qtype)
        assert self.loop is not None
        now = self.loop.time()
        own = local.answer(name, qtype)  # localhost and loopback reverse: our own data
        res = self.core.from_cache(name, qtype, now) if own is None else None
        complete = True  # a whole answer (not RD=0's partial chain or referral): re-servable
        if own is not None:
            res, complete = own, False  # the same TTL every time: not from the answer cache
            reply.header.aa = 1
        elif res is not None and res.rcode != RCODE.SERVFAIL:
            self.stats.cache_hits += 1
        elif not req.header.rd:
            complete = False
            res = self.core.from_cache(name, qtype, now, partial=True)
            if res is None:
                res = await self._cache_only_referral(name, now)  # RD=0: no recursion
        else:
            self.stats.cache_misses += 1
            res = await self._resolve_shared(name, qtype)
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
        if (
            qk is not None
            and complete
            and not res.stale
            and res.rcode in (RCODE.NOERROR, RCODE.NXDOMAIN)
            and (res.answer or res.authority)
        ):
            entry = self._remember(qk.key, out, now)
            if entry is not None and limit is not None and len(out) <= limit:
                self._make_hot(data, out, entry, now)
        return self._fit(out, reply, limit)

    async def _cache_only_referral(self, name: Name, now: float) -> Result:
        """RD=0 and the cache has no answer: a referral to the closest delegation it holds, as
        Unbound answers (with allow_snoop; its default `allow` REFUSES RD=0 queries). With not
        even the root's NS set in the cache, the root is primed first (RFC 8109: one `. NS`
        query to the root hints), as Unbound does; if that fails, SERVFAIL."""
        zone, _ = self.core.closest_delegation(name, now)
        ns = self.cache.get(zone, QTYPE.NS, now)
        if ns is None:
            assert self.loop is not None
            primed = await self._resolve_shared(ROOT, QTYPE.NS)
            ns = self.cache.get(ROOT, QTYPE.NS, self.loop.time())
            if ns is None:
                return Result(rcode=RCODE.SERVFAIL, reason=primed.reason or "priming failed")
        return Result(rcode=RCODE.NOERROR, authority=(ns,))

    def _remember(self, key: bytes, out: bytes, now: float) -> PackedAnswer | None:
        try:
            entry = PackedAnswer(out, now)
        except ValueError:
            return None
        if entry.expires <= now:
            return None
        self.answers[key] = entry
        self.answers.move_to_end(key)
        while len(self.answers) > self.config.message_cache_size:
            self.answers.popitem(last=False)
        return entry

    def _finish(self, reply: DNSRecord, rcode: int, limit: int | None) -> bytes:
        reply.header.rcode = rcode
        if rcode == RCODE.SERVFAIL:
            self.stats.servfail += 1
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
        small = DNSRecord(reply.header, q=reply.questions[0] if reply.questions else None)
        small.header.tc = 1
        small.ar = [r for r in reply.ar if r.rtype == QTYPE.OPT]
        return bytes(small.pack())

    async def _resolve_shared(self, name: Name, qtype: int) -> Result:
        """One resolution per (name, type) at a time; concurrent askers share its result."""
        key = (name, qtype)
        fut = self._inflight.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        assert self.loop is not None
        fut = self.loop.create_future()
        self._inflight[key] = fut
        try:
            res = await self._drive(name, qtype)
            fut.set_result(res)
            return res
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        finally:
            del self._inflight[key]

    async def _drive(self, name: Name, qtype: int) -> Result:
        assert self.loop is not None
        loop = self.loop
        gen = self.core.resolve(name, qtype, loop.time())
        try:
            q = next(gen)
            while True:
                msg, rtt = await self.upstream.query(q)
                q = gen.send(Reply(now=loop.time(), message=msg, rtt=rtt))
        except StopIteration as stop:
            res: Result = stop.value
        except Exception:
            log.exception("resolving %s %s failed", to_text(name), type_text(qtype))
            return Result(rcode=RCODE.SERVFAIL, reason="internal error")
        if log.isEnabledFor(logging.DEBUG):
            for s in res.steps:
                log.debug(
                    "%s %s -> %s (zone %s): %s %s, %.1f ms",
                    to_text(s.qname),
                    type_text(s.qtype),
                    s.server,
                    to_text(s.zone),
                    s.outcome,
                    s.detail,
                    s.elapsed * 1000,
                )
        if res.rcode == RCODE.SERVFAIL:
            _throttle(
                log,
                "servfail",
                "SERVFAIL for %s %s: %s",
                to_text(name),
                type_text(qtype),
                res.reason or "no answer",
            )
        return res

    # -- control endpoint ---------------------------------------------------------------------

    def control_command(self, line: str) -> dict[str, Any]:
        """One control line -> a JSON-able reply (see resolver/control.py)."""
        assert self.loop is not None
        out = control.execute(line, cache=self.cache, stats=self.stats, now=self.loop.time())
        if out.flushed:
            self.answers.clear()
            self.hot.clear()
        if out.log:
            log.info("%s", out.log)
        reply = dict(out.reply)
        if "stats" in reply:
            reply["answer_cache_entries"] = len(self.answers)
            reply["upstream_ports_in_use"] = sorted(self.upstream.active_ports)
        return reply

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._control_conns) >= CONTROL_MAX_CONNECTIONS:
            oldest = next(iter(self._control_conns))
            del self._control_conns[oldest]
            peer = oldest.get_extra_info("peername")
            _throttle(log, "control-cap", "%d control connections; closing the oldest (%s)",
                      CONTROL_MAX_CONNECTIONS, peer[0] if peer else "?")  # fmt: skip
            oldest.transport.abort()
        self._control_conns[writer] = None
        try:
            try:
                async with asyncio.timeout(10):
                    line = await reader.readline()
            except ValueError:  # no newline within the limit (asyncio.LimitOverrunError)
                peer = writer.get_extra_info("peername")
                _throttle(log, "control-long", "control line too long from %s",
                          peer[0] if peer else "?")  # fmt: skip
                reply: dict[str, Any] = {"error": f"line longer than {CONTROL_MAX_LINE} octets"}
            else:
                text = line.decode("utf-8", "replace")[:1024]
                try:
                    if text.split()[:1] == ["dump"]:
                        # a full cache takes seconds to format: off the event loop, which keeps
                        # answering queries (the dump only reads a snapshot of the cache)
                        reply = await asyncio.to_thread(self.control_command, text)
                    else:
                        reply = self.control_command(text)
                except Exception as e:  # a bad NAME and the like
                    reply = {"error": str(e)}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            self._control_conns.pop(writer, None)
            writer.close()


def _formerr(data: bytes) -> bytes | None:
    """A header-only FORMERR for a query that cannot be parsed or answered (none to responses)."""
    if len(data) < 12 or data[2] & 0x80:
        return None
    h = bytearray(data[:12])
    opcode = data[2] & 0x78
    h[2] = 0x80 | opcode | (data[2] & 0x01 if not opcode else 0)  # QR, opcode, RD if QUERY
    h[3] = RCODE.FORMERR
    h[4:12] = bytes(8)
    return bytes(h)
