"""The caching resolver daemon: stub-facing UDP/TCP listeners, upstream driving, control port.

The protocol is the frontend core's (dnsserver/resolver/frontend.py); this shell binds the
listeners (dnsserver/aio/stub.py on the shared stream and datagram layers), runs resolutions
(one per name and type at a time, shared by everyone asking), and serves the control endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from dnslib import RCODE

from dnsserver.aio import identity
from dnsserver.aio.stub import MAX_QUERY, Pending, StubTcp, StubUdp, tcp_limits
from dnsserver.aio.upstream import Upstream
from dnsserver.resolver import admission, control
from dnsserver.resolver import hints as hints_mod
from dnsserver.resolver.admission import Admission, Ticket
from dnsserver.resolver.cache import Cache
from dnsserver.resolver.config import ResolverConfig
from dnsserver.resolver.drive import drive
from dnsserver.resolver.frontend import Answered, Frontend, question
from dnsserver.resolver.iterate import Resolver, Result
from dnsserver.resolver.packed import QuestionKey
from dnsserver.resolver.policy import Policy
from dnsserver.resolver.rrset import Name, to_text, type_text
from dnsserver.resolver.servers import ServerSelector
from dnsserver.resolver.stats import SHED_COUNTERS, Rates, Stats
from minternet.control import ControlServer
from minternet.datagram import DatagramListener, bind_pair
from minternet.listen import parse_hostport
from minternet.logs import Throttle
from minternet.stream import Connection, StreamListener
from minternet.tasks import Tasks

log = logging.getLogger(__name__)

#: The counter of each reason for shedding a query, and what it means in the log.
SHED_STAT = dict(zip(admission.REASONS, SHED_COUNTERS, strict=True))
SHED_WHY = {
    admission.CLIENT: "a client starts more resolutions than its budget",
    admission.ZONE: "a zone is asked for more names than its budget",
    admission.CAPACITY: "every place for a resolution is taken",
    admission.JOSTLED: "slow queries give their place to new ones",
}


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
            selector=ServerSelector(self.rng, config.selection_config()),
        )
        self.policy = Policy(config.policy_config())
        self.identity = identity.from_config(
            identity=config.identity,
            hide_identity=config.hide_identity,
            version=config.version,
            hide_version=config.hide_version,
        )
        self.host, self.port = parse_hostport(config.listen)
        self.throttle = Throttle()
        self.upstream = Upstream(
            port=config.upstream_port,
            stats=self.stats,
            throttle=self.throttle,
            source=self.host if self.host not in ("0.0.0.0", "::") else None,
            edns_size=config.edns_size,
            randomize_case=config.randomize_case,
            ports=forwarders,
            tcp_per_server=config.upstream_tcp_per_server,
            unwanted_threshold=config.unwanted_reply_threshold,
            on_unwanted=self._unwanted,
        )
        self.frontend = Frontend(
            core=self.core,
            policy=self.policy,
            identity=self.identity,
            stats=self.stats,
            edns_size=config.edns_size,
            answer_cache_size=config.message_cache_size,
        )
        self.admission = Admission(config.admission_config())
        self.forwarding = bool(forwarders)
        # the last (name, now, zone) `_zone_of` found: shed_early and begin ask it in turn
        self._zone_memo: tuple[Name, float, Name | None] | None = None
        self.rates = Rates()
        self._ticker: asyncio.TimerHandle | None = None
        self.tasks = Tasks(log)
        self._inflight: dict[tuple[Name, int], asyncio.Future[Result]] = {}
        self._udp: DatagramListener | None = None
        self._tcp: StreamListener[bytes] | None = None
        self._control: ControlServer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> dict[str, int]:
        self.loop = asyncio.get_running_loop()
        cfg = self.config
        self._tcp = StreamListener(
            lambda conn: StubTcp(conn, self),
            tcp_limits(max_connections=cfg.max_tcp_connections, idle_timeout=cfg.tcp_idle_timeout),
            throttle=self.throttle,
            tasks=self.tasks,
        )
        tcp = self._tcp
        sock = await bind_pair(self.host, self.port, lambda p: tcp.start(self.host, p))
        udp = StubUdp(self)
        self._udp = udp.listener = DatagramListener(
            sock, udp.datagrams, throttle=self.throttle, max_datagram=MAX_QUERY
        )
        self._udp.start()
        self._tick()
        ports = {"dns": self._udp.port}
        if cfg.control:
            self._control = ControlServer(
                {name: self._command(name) for name in control.COMMANDS}, throttle=self.throttle
            )
            ports["control"] = await self._control.start(*parse_hostport(cfg.control))
        mode = (
            "forwarding to " + ", ".join(cfg.forward)
            if cfg.forward
            else (
                f"iterating from {len(self.core.hints.ns_names)} root hints, "
                f"upstream port {cfg.upstream_port}"
            )
        )
        log.info("resolver on %s:%d, %s", self.host, ports["dns"], mode)
        return ports

    @property
    def tcp_connections(self) -> list[Connection]:
        return list(self._tcp.connections) if self._tcp is not None else []

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._control is not None:
            self._control.close()
        if self._tcp is not None:
            self._tcp.close()
        await self.tasks.cancel_all(timeout=2.0)
        for closing in (self._tcp, self._control):
            if closing is not None:
                await closing.wait_closed()
        self._udp = self._tcp = self._control = None

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

    def admit(self, client: str, now: float) -> bool:
        """The per-client rate limit (Stub interface): False drops the query."""
        if self.policy.admit(client, now):
            return True
        self.stats.ratelimited += 1
        self.throttle(log, "ratelimit", "rate limit: dropping queries from %s", client)
        return False

    def shed_early(self, data: bytes, qk: QuestionKey, client: str, now: float) -> bytes | None:
        """SERVFAIL, cut from the query's bytes, if `admit` would shed this keyed query and the
        cache cannot answer it; None to go on. A flood is shed here, unparsed."""
        if not qk.rd:
            return None  # answered from the cache alone, never resolved
        name, qtype = question(qk)
        reason = self.admission.would_shed(client, self._zone_of(name, now), now)
        if reason is None or self.frontend.answerable(name, qtype, now):
            return None
        self._shed_log(reason, client)
        return self.frontend.shed_keyed(data, qk)

    def begin(
        self, data: bytes, client: str, qk: QuestionKey | None, limit: int | None, now: float
    ) -> bytes | Pending | None:
        step = self.frontend.begin(data, client, qk, limit, now)
        if isinstance(step, Answered):
            if step.problem is not None:
                self.throttle(log, step.problem, "%s from %s", step.problem, client)
            return step.wire
        zone = None if step.priming else self._zone_of(step.name, now)
        got = self.admission.admit(client, zone, now)
        if isinstance(got, str):
            self._shed_log(got, client)
            return self.frontend.shed(step, now)
        if got.jostled is not None:
            self._jostle(got.jostled, now)
        return Pending(step, got.ticket)

    async def complete(self, pending: Pending, reply: Callable[[bytes | None], None]) -> None:
        assert self.loop is not None
        step, ticket = pending.step, pending.ticket
        if not self.admission.holds(ticket):  # jostled out before it began
            reply(self.frontend.shed(step, self.loop.time()))
            return
        ticket.handle = (asyncio.current_task(), reply, step)
        try:
            res = await self._resolve_shared(step.name, step.qtype)
        finally:
            self.admission.done(ticket)
        reply(self.frontend.finish(step, res, self.loop.time()))

    def _zone_of(self, name: Name, now: float) -> Name | None:
        """The zone whose budget resolving `name` spends: None for the root (and forwarding)."""
        if self.forwarding:
            return None
        memo = self._zone_memo
        if memo is not None and memo[0] == name and memo[1] == now:
            return memo[2]
        zone = self.core.closest_zone(name, now) or None
        self._zone_memo = (name, now, zone)
        return zone

    def _jostle(self, victim: Ticket, now: float) -> None:
        """`victim` lost its place: SERVFAIL to its client, and its work stops."""
        self._shed_log(admission.JOSTLED, victim.client)
        if victim.handle is None:
            return  # not begun: `complete` sees it is gone
        task, reply, step = victim.handle
        victim.handle = None
        reply(self.frontend.shed(step, now))
        task.cancel()

    def _shed_log(self, reason: str, client: str) -> None:
        field = SHED_STAT[reason]
        setattr(self.stats, field, getattr(self.stats, field) + 1)
        self.throttle(log, "shed", "shedding queries (%s: %s), e.g. from %s",
                      reason, SHED_WHY[reason], client)  # fmt: skip

    def _unwanted(self, count: int) -> None:
        """Unbound's defensive action: so many unmatched answers came that one may have been a
        forgery that matched; forget every cached answer, in case it poisoned one."""
        n = self.cache.flush()
        self.frontend.flush()
        self.stats.unwanted_flushes += 1
        log.warning("%d unmatched upstream answers (spoofing?): cache flushed, %d entries",
                    count, n)  # fmt: skip

    def _tick(self) -> None:
        """Once a second: the per-second rates `stats` shows."""
        assert self.loop is not None
        self.rates.tick(self.stats, {"resolutions": len(self.admission)})
        self._ticker = self.loop.call_later(1.0, self._tick)

    async def _resolve_shared(self, name: Name, qtype: int) -> Result:
        """One resolution per (name, type) at a time; concurrent askers share its result."""
        key = (name, qtype)
        fut = self._inflight.get(key)
        if fut is not None:
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if fut.cancelled() and task is not None and not task.cancelling():
                    # the query that ran it lost its place (jostled): so does this one
                    return Result(rcode=RCODE.SERVFAIL, reason="jostled")
                raise
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
        try:
            res = await drive(
                self.core.resolve(name, qtype, self.loop.time()), self.upstream.exchange
            )
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
            self.throttle(
                log,
                "servfail",
                "SERVFAIL for %s %s: %s",
                to_text(name),
                type_text(qtype),
                res.reason or "no answer",
            )
        return res

    # -- control endpoint ---------------------------------------------------------------------

    def _command(self, name: str) -> Any:
        def run(args: list[str]) -> Any:
            line = " ".join([name, *args])
            if name == "dump":
                # a full cache takes seconds to format: off the event loop, which keeps
                # answering queries (the dump only reads a snapshot of the cache)
                return asyncio.to_thread(self.control_command, line)
            return self.control_command(line)

        return run

    def control_command(self, line: str) -> dict[str, Any]:
        """One control line -> a JSON-able reply (see resolver/control.py)."""
        assert self.loop is not None
        out = control.execute(line, cache=self.cache, stats=self.stats, now=self.loop.time())
        if out.flushed:
            self.frontend.flush()
        if out.log:
            log.info("%s", out.log)
        reply = dict(out.reply)
        if "stats" in reply:
            reply["answer_cache_entries"] = len(self.frontend.answers)
            reply["upstream_ports_in_use"] = sorted(self.upstream.active_ports)
            reply["resolutions_in_progress"] = len(self.admission)
            reply["last_second"] = dict(self.rates.last_second)
        return reply
