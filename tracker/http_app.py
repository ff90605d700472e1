"""The HTTP tracker as a function (sans-I/O): request target + client address -> reply bytes.

Routes: `/announce`, `/scrape` (and `/<passkey>/announce`, `/<passkey>/scrape`), `/` (HTML
statistics), `/stats.json`. Every refused announce or scrape is HTTP 200 with a bencoded
`failure reason` (BEP 3), never an error page.
"""

from __future__ import annotations

from typing import NamedTuple

from tracker import replies, stats
from tracker.addr import pack_ip_into, packed_cache, parse_ip_param, unpack
from tracker.announce import Announce, event_note, parse_announce, parse_scrape
from tracker.config import TrackerConfig
from tracker.errors import RefusedError, TrackerError
from tracker.query import parse_query
from tracker.registry import Registry

BENCODE = b"text/plain"
HTML = b"text/html; charset=utf-8"
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"

#: The statistics are recomputed whenever the registry has changed since they were last
#: computed, except on a big tracker (more swarms than STATS_FRESH_SWARMS, where one pass costs
#: milliseconds): there a page is at most STATS_CACHE_SECONDS old, so that a client reloading
#: the page in a loop cannot make the tracker walk every swarm on every request. The page and
#: the JSON say how old the figures are.
STATS_CACHE_SECONDS = 2.0
STATS_FRESH_SWARMS = 10_000


class HttpReply(NamedTuple):
    status: int
    content_type: bytes
    body: bytes
    fault: TrackerError | None = None  # for the shell's (rate-limited) log line
    note: str | None = None  # an event worth one log line (a completed download)


_new_reply = tuple.__new__  # skips the NamedTuple's Python-level __new__ on the hot path


class TrackerApp:
    """Dispatches HTTP requests to the registry. `name` titles the stats page."""

    def __init__(self, registry: Registry, name: str = "tracker") -> None:
        self.registry = registry
        self.config: TrackerConfig = registry.config
        self.name = name
        self.trusted = frozenset(self.config.trusted_proxies)
        self._stats: tuple[float, tuple[int, int], stats.Stats] | None = None
        self._packed = packed_cache()  # client address text -> packed, for the hot path

    def handle(
        self,
        method: bytes,
        target: bytes,
        client_ip: str,
        forwarded_for: bytes | None,
        now: float,
    ) -> HttpReply:
        path, _, query = target.partition(b"?")
        if path == b"/announce":
            return self.announce(None, query, client_ip, forwarded_for, now)
        if path.endswith(b"/announce") and path.count(b"/") == 2:
            return self.announce(path[1:-9], query, client_ip, forwarded_for, now)
        if path == b"/scrape":
            return self.scrape(None, query)
        if path.endswith(b"/scrape") and path.count(b"/") == 2:
            return self.scrape(path[1:-7], query)
        if path == b"/":
            return HttpReply(200, HTML, stats.to_html(*self.stats(now), self.name))
        if path == b"/stats.json":
            return HttpReply(200, JSON, stats.to_json(*self.stats(now)))
        return HttpReply(404, TEXT, b"not found\n")

    def stats(self, now: float) -> tuple[stats.Stats, float]:
        """The statistics and how many seconds old they are (0 unless big and busy)."""
        registry = self.registry
        version = (registry.announces, registry.changes)
        cached = self._stats
        if cached is not None and cached[1] == version and now >= cached[0]:
            cached = self._stats = (now, version, cached[2])  # nothing changed: still exact
        elif (
            cached is None
            or now < cached[0]
            or len(registry.swarms) <= STATS_FRESH_SWARMS
            or now - cached[0] >= STATS_CACHE_SECONDS
        ):
            cached = self._stats = (now, version, stats.collect(registry, self.config.names))
        return cached[2], now - cached[0]

    def announce(
        self,
        passkey: bytes | None,
        query: bytes,
        client_ip: str,
        forwarded_for: bytes | None,
        now: float,
    ) -> HttpReply:
        try:
            params, hashes = parse_query(query)
            req = parse_announce(params, hashes)
            registry = self.registry
            if passkey is not None or registry.passkeys:
                registry.check_passkey(passkey)
            ip = self.source_ip(client_ip, req, forwarded_for)
            if registry.limiter.rate:
                registry.check_rate(ip, now)
            addr = ip + req.port.to_bytes(2, "big")
            swarm, me = registry.announce(req, addr, now)
        except TrackerError as e:
            return HttpReply(200, BENCODE, replies.failure(e.reason), e)
        config = self.config
        numwant = req.numwant
        if numwant is None:
            numwant = config.numwant_default
        elif numwant > config.numwant_max:
            numwant = config.numwant_max
        event = event_note(req)
        note = None if event is None else f"{client_ip} {event}"
        if swarm is None:
            body = replies.announce_compact(0, 0, 0, config.interval, config.min_interval, b"", b"")
            return HttpReply(200, BENCODE, body, None, note)
        rng = registry.rng
        if me is None:  # stopped: the client wants no peers
            numwant = 0
        leechers, seeders = swarm.counts()
        if req.compact:
            peers4 = swarm.compact(swarm.seeders4, swarm.leechers4, me, numwant, rng)
            peers6 = (
                swarm.compact(swarm.seeders6, swarm.leechers6, me, numwant, rng)
                if swarm.seeders6 is not None
                else []
            )
            body = replies.announce_compact(
                seeders,
                swarm.completed,
                leechers,
                config.interval,
                config.min_interval,
                b"".join(peers4),
                b"".join(peers6),
            )
        else:
            win4 = swarm.select(swarm.seeders4, swarm.leechers4, me, numwant, rng)
            win6 = (
                swarm.select(swarm.seeders6, swarm.leechers6, me, numwant, rng)
                if swarm.seeders6 is not None
                else []
            )
            peers = [
                (*unpack(p.addr), None if req.no_peer_id else p.peer_id)
                for p in replies.window_peers(win4 + win6)
            ]
            body = replies.announce_dicts(
                seeders, swarm.completed, leechers, config.interval, config.min_interval, peers
            )
        return _new_reply(HttpReply, (200, BENCODE, body, None, note))

    def source_ip(self, client_ip: str, req: Announce, forwarded_for: bytes | None) -> bytes:
        """The peer's packed IP: the socket's, unless a trusted proxy names another."""
        if client_ip in self.trusted:
            if req.ip is not None:
                return parse_ip_param(req.ip)
            if forwarded_for:
                return parse_ip_param(forwarded_for.rsplit(b",", 1)[-1].strip())
        packed = self._packed.get(client_ip)
        return packed if packed is not None else pack_ip_into(self._packed, client_ip)

    def scrape(self, passkey: bytes | None, query: bytes) -> HttpReply:
        try:
            self.registry.check_passkey(passkey)
            _, hashes = parse_query(query)
            hashes = parse_scrape(hashes, self.config.max_scrape_hashes)
            if not hashes:
                if not self.config.full_scrape:
                    raise RefusedError("full scrape disabled: name at least one info_hash")
                hashes = list(self.registry.swarms)
            wl = self.registry.whitelist
            if wl is not None:
                for h in hashes:
                    if h not in wl:
                        raise RefusedError("info_hash not on this tracker's whitelist")
        except TrackerError as e:
            return HttpReply(200, BENCODE, replies.failure(e.reason), e)
        files = [(h, *self.registry.scrape(h)) for h in hashes]
        return HttpReply(200, BENCODE, replies.scrape(files))
