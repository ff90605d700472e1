"""The swarm registry (sans-I/O): peers keyed by (info_hash, peer_id), limits, expiry.

Time comes in as `now` (seconds, any monotonic origin) and randomness from an injected
random.Random, so every rule here is tested without sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

from minternet.ratelimit import TokenBuckets
from tracker.announce import COMPLETED, STOPPED, Announce
from tracker.config import TrackerConfig
from tracker.errors import RefusedError
from tracker.swarm import KEY_BYTES, Peer, Swarm


class Registry:
    """All swarms of the tracker. `announce` applies one announce and returns what a reply needs."""

    def __init__(
        self,
        config: TrackerConfig,
        rng: random.Random,
        whitelist: Iterable[bytes] | None = None,
    ) -> None:
        self.config = config
        self.rng = rng
        self.swarms: dict[bytes, Swarm] = {}
        self.whitelist: frozenset[bytes] | None = (
            None if whitelist is None else frozenset(whitelist)
        )
        self.passkeys = frozenset(k.encode() for k in config.passkeys)
        self.limiter = TokenBuckets(config.rate_per_ip, config.rate_burst, config.rate_tracked_ips)
        self.peer_count = 0
        self.announces = 0
        #: Changes other than announces (expiry, a new whitelist): with `announces`, tells a
        #: reader of statistics whether anything changed since it last looked.
        self.changes = 0
        self._sweep: Iterator[bytes] | None = None

    def set_whitelist(self, whitelist: Iterable[bytes] | None) -> None:
        """Replace the whitelist (SIGHUP); swarms no longer listed are dropped."""
        self.whitelist = None if whitelist is None else frozenset(whitelist)
        self.changes += 1
        if self.whitelist is not None:
            for h in [h for h in self.swarms if h not in self.whitelist]:
                self.peer_count -= len(self.swarms.pop(h).peers)

    def check_passkey(self, passkey: bytes | None) -> None:
        """With passkeys configured, every request must carry a known one (/<passkey>/announce)."""
        if self.passkeys:
            if passkey is None:
                raise RefusedError("passkey required: use /<passkey>/announce")
            if passkey not in self.passkeys:
                raise RefusedError("unknown passkey")
        elif passkey is not None:
            raise RefusedError("this tracker uses no passkeys: use /announce")

    def check_rate(self, ip: bytes, now: float) -> None:
        # An IPv6 host is given a whole /64 and may announce from any address in it: per
        # address, one host would have 2^64 buckets. IPv4 is limited per address (4 bytes:
        # the first 8 of it are all of it).
        if not self.limiter.allow(ip[:8], now):
            raise RefusedError("rate limited: announcing too often, slow down")

    def announce(self, req: Announce, addr: bytes, now: float) -> tuple[Swarm | None, Peer | None]:
        """Apply `req` from the peer reachable at `addr` (packed IP + port, 6 or 18 bytes).

        Returns the swarm (None if it does not exist: a `stopped` for an unknown torrent) and
        the peer's record (None after `stopped`). Raises RefusedError for policy refusals.
        """
        info_hash = req.info_hash
        wl = self.whitelist
        if wl is not None and info_hash not in wl:
            raise RefusedError("info_hash not on this tracker's whitelist")
        self.announces += 1
        swarm = self.swarms.get(info_hash)
        event = req.event
        if swarm is None:
            if event == STOPPED:
                return None, None
            if len(self.swarms) >= self.config.max_swarms:
                raise RefusedError("tracker full: too many torrents")
            swarm = self.swarms[info_hash] = Swarm()
        peer = swarm.peers.get(req.peer_id)
        # Another address announcing a known peer_id (peer_ids are public: compact=0 replies
        # list them) must show the `key` the peer registered with (BEP 3: "to prove their
        # identity should their IP address change"); otherwise it is someone else trying to
        # evict the peer with `stopped` or to redirect its address to theirs.
        if (
            peer is not None
            and addr[:-2] != peer.addr[:-2]
            and (not peer.key or req.key[:KEY_BYTES] != peer.key)
        ):
            raise RefusedError("peer_id in use from another address (send the same key)")
        seeding = req.left == 0
        # A download completed when a known leecher reports left=0, whatever the event: some
        # clients (aria2 over UDP) leave with `stopped` and never send `completed`. A
        # `completed` from a peer we did not know (expired, or tracker restarted) counts too.
        if peer is None:
            if event == COMPLETED:
                swarm.completed += 1
        elif seeding and not peer.seeding:
            swarm.completed += 1
        if event == STOPPED:
            if peer is not None:
                swarm.remove(peer)
                self.peer_count -= 1
            return swarm, None
        if peer is None:
            if len(swarm.peers) >= self.config.max_peers_per_swarm:
                raise RefusedError("swarm full: too many peers")
            peer = Peer(req.peer_id, addr, seeding, now, req.key[:KEY_BYTES])
            swarm.add(peer, self.rng)
            self.peer_count += 1
            return swarm, peer
        peer.seen = now
        if seeding != peer.seeding or addr != peer.addr:
            swarm.update(peer, addr, seeding, self.rng)
        return swarm, peer

    def expire(self, now: float, budget: int) -> int:
        """Drop peers silent for longer than expiry_multiple * interval, and empty swarms.

        Visits at most `budget` swarms per call, resuming where the last call stopped, so a
        periodic caller never blocks the event loop for long. Returns the peers removed.
        """
        deadline = now - self.config.expiry_multiple * self.config.interval
        removed = 0
        visited = 0
        while visited < budget:
            if self._sweep is None:
                self._sweep = iter(list(self.swarms))
            h = next(self._sweep, None)
            if h is None:
                self._sweep = None
                break
            visited += 1
            swarm = self.swarms.get(h)
            if swarm is None:
                continue
            stale = [p for p in swarm.peers.values() if p.seen < deadline]
            for p in stale:
                swarm.remove(p)
            removed += len(stale)
            if not swarm.peers:
                del self.swarms[h]
                self.changes += 1
        self.peer_count -= removed
        self.changes += removed
        return removed

    def expire_all(self, now: float) -> int:
        """One full sweep (tests, shutdown statistics)."""
        self._sweep = None
        return self.expire(now, budget=len(self.swarms) + 1)

    def scrape(self, info_hash: bytes) -> tuple[int, int, int]:
        """(complete, downloaded, incomplete) for one info-hash; zeros when unknown (BEP 48)."""
        swarm = self.swarms.get(info_hash)
        if swarm is None:
            return 0, 0, 0
        return swarm.seeders, swarm.completed, swarm.leechers
