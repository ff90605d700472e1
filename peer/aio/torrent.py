"""One torrent, seeding or downloading: the cores (picker, choker, sessions) driven by sockets,
the tracker and the clock.

- Start: the files are prepared and every piece already on disk is verified (resume; a seed
  must have them all), then the listener opens on our address, the tracker hears `started`,
  and the peers it lists are dialled (at most MAX_CONNECTIONS connections, MAX_HALF_OPEN dials
  at once) from our address.
- Each connection: our bitfield (have-all / have-none with the Fast Extension), then every
  message goes through its PeerSession; what it has goes to the picker, which chooses what to
  ask for (rarest first after the first random pieces, endgame at the end), at most a pipeline
  of requests sized to the peer's rate outstanding. Blocks are gathered per piece; a complete
  piece is hashed and written in a worker thread, then announced with `have` to everyone. A
  peer that sent a piece that failed gets a strike, and is dropped after MAX_STRIKES.
- Every TICK: the choker's round when due (4 slots by rate every 10 s, an optimistic unchoke
  every 30 s: the log shows each round's decisions and rates), requests older than
  REQUEST_TIMEOUT cancelled and asked of others, keep-alives, silent connections closed.
- The tracker hears again at its interval, `completed` when the last piece is verified, and
  `stopped` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from peer.aio.disk import Disk
from peer.aio.link import Hello, Link, handshake
from peer.aio.tracker import Announcer
from peer.announce import AnnounceRequest, Schedule, Tiers, TrackerError
from peer.bitfield import Bitfield
from peer.blocks import BLOCK, Block
from peer.choker import Candidate, Choker
from peer.layout import BlockError, Layout
from peer.metainfo import Metainfo
from peer.picker import Arrival, Picker
from peer.rate import Pacer
from peer.session import Block as Arrived
from peer.session import (
    BlockRef,
    Choked,
    Dropped,
    Has,
    InterestChanged,
    PeerSession,
    Rejected,
)
from peer.wire import (
    BitfieldMsg,
    Decoder,
    HaveAll,
    HaveNone,
    Message,
    NotPlainHandshake,
    WireError,
    message_limit,
    reserved_bits,
)

__all__ = ["Torrent"]

log = logging.getLogger("peer")

MAX_CONNECTIONS = 200  # as libtorrent's default connections_limit
MAX_HALF_OPEN = 8
MAX_WAITING = 400  # addresses kept to dial once a dial or a connection ends
MAX_STRIKES = 3  # pieces that failed their hash, from one peer alone, before it is dropped
TICK = 1.0  # seconds between the timers' checks
REQUEST_TIMEOUT = 20.0  # seconds a request may stay unanswered before others are asked
IDLE = 180.0  # seconds without a byte from a peer before the connection is closed
KEEP_ALIVE = 90.0  # seconds without a byte to a peer before we send a keep-alive
PIPELINE_MIN, PIPELINE_MAX = 8, 256  # outstanding requests per peer, by its rate
PIPELINE_SECONDS = 1.0  # ... enough to keep this long of its rate in flight
CACHED = 16  # pieces kept in memory for uploads (4 MiB of 256 KiB pieces)
UPLOAD_BATCH = 4  # blocks sent per pacer wait (64 KiB)


class Torrent:
    """One torrent under `root` (its folder), listening and dialling from `host`."""

    def __init__(
        self,
        meta: Metainfo,
        root: Path,
        *,
        host: str,
        port: int,
        peer_id: bytes,
        seed_only: bool = False,
        rng: random.Random | None = None,
        choker: Choker[Link] | None = None,
        on_event: Callable[[str, dict[str, object]], None] | None = None,
        max_up: float | None = None,
        max_down: float | None = None,
        rarest_first: bool = True,
        announce_ip: str | None = None,
    ) -> None:
        self.meta = meta
        self.root = root
        self.host = host
        self.port = port
        self.peer_id = peer_id
        self.seed_only = seed_only
        self.announce_ip = announce_ip  # the address peers reach us at, if not our own
        self.rng = rng or random.Random()
        self.layout = Layout([(f.path, f.length) for f in meta.files], meta.piece_length)
        self.disk = Disk(root, meta, self.layout)
        self.have = Bitfield(meta.num_pieces)
        # rarest_first=False: every piece drawn at random (the experiment's --picker random)
        self.picker: Picker[Link] = Picker(
            meta.num_pieces,
            meta.piece_length,
            meta.total_length,
            rng=self.rng,
            **({} if rarest_first else {"random_first": meta.num_pieces}),
        )
        self.choker: Choker[Link] = choker or Choker(rng=self.rng)
        self.hello = Hello(meta.info_hash, peer_id, reserved_bits(fast=True))
        self.links: dict[bytes, Link] = {}  # by peer id
        self.dialling: set[tuple[str, int]] = set()
        # addresses the tracker gave while MAX_HALF_OPEN dials (or MAX_CONNECTIONS links) were
        # under way: dialled in turn as those end, oldest first, not forgotten until the next
        # announce (a downloader told of 16 peers would otherwise try only the first 8, and
        # might never meet the one seed among the rest)
        self.waiting: dict[tuple[str, int], None] = {}
        self.handshaking = 0  # connections in their handshake
        self.banned: set[str] = set()
        self.pending: dict[int, bytearray] = {}  # pieces being gathered
        self._cache: OrderedDict[int, bytes] = OrderedDict()  # pieces read for uploads
        # bytes/s (--max-up, --max-down); None: no limit; max_up 0: we upload nothing, to
        # anyone (no peer is ever unchoked: a free-rider, or the experiment's client-server case)
        self.max_up, self.max_down = max_up, max_down
        self._up: Pacer | None = None  # made at start, on the loop's clock
        self._down: Pacer | None = None
        self.downloaded = self.uploaded = 0
        self.done = asyncio.Event()  # every piece verified
        self.on_event = on_event or (lambda kind, fields: None)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.announcer: Announcer | None = None  # made at start, once the port is known
        self.schedule = Schedule()
        self.next_announce = 0.0

    # -- life -------------------------------------------------------------------------------

    @property
    def left(self) -> int:
        """Bytes we do not have yet (whole pieces, and the last one's shorter size)."""
        held = self.have.count * self.meta.piece_length
        last = self.meta.num_pieces - 1
        if last in self.have:
            held -= self.meta.piece_length - self.layout.piece_size(last)
        return self.meta.total_length - held

    async def start(self, *, join: bool = True) -> None:
        """Check what is on disk and listen; then, unless `join` is False (the caller calls
        `join` later), announce and start trading."""
        loop = asyncio.get_running_loop()
        self._up = Pacer(self.max_up, loop.time()) if self.max_up else None  # (0: no uploads)
        self._down = Pacer(self.max_down, loop.time()) if self.max_down else None
        empty = await loop.run_in_executor(
            None, lambda: self.disk.prepare(create=not self.seed_only)
        )
        worth = self.disk.worth_verifying(empty)  # a new download: nothing to verify
        found = await loop.run_in_executor(None, self.disk.verify_all, worth)
        for index in found:
            self.have.add(index)
            self.picker.have(index)
        if self.seed_only and not self.have.complete:
            raise ValueError(
                f"{self.root}: {self.meta.num_pieces - self.have.count} of "
                f"{self.meta.num_pieces} pieces are missing or damaged: not seeding"
            )
        self._event("verified", pieces=self.have.count, of=self.meta.num_pieces)
        if self.have.complete:
            self.done.set()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # port 0: the one given
        request = AnnounceRequest(
            self.meta.info_hash,
            self.peer_id,
            self.port,
            0,
            0,
            self.left,
            key=self.rng.getrandbits(32),
            ip=self.announce_ip,
        )
        tiers = Tiers(self.meta.trackers, self.rng)
        self.announcer = Announcer(tiers, request, host=self.host, rng=self.rng)
        if any(url.startswith("http") for tier in self.meta.trackers for url in tier):
            self.announcer.prepare()
        if join:
            self.join()

    def join(self) -> None:
        """Announce to the tracker (then on its schedule) and run the timers: the swarm finds
        us, and we it. Once, after `start`."""
        self._spawn(self._announcing())
        self._spawn(self._ticking())

    def progress(self) -> dict[str, float]:
        """What a progress line shows: pieces, rates each way (bytes/s), peers."""
        now = asyncio.get_running_loop().time()
        return {
            "have": self.have.count,
            "of": self.meta.num_pieces,
            "left": self.left,
            "down": sum(link.down.rate(now) for link in self.links.values()),
            "up": sum(link.up.rate(now) for link in self.links.values()),
            "peers": len(self.links),
        }

    def stats(self, args: list[str]) -> dict[str, object]:
        """The control endpoint's `stats`: what `minternet status` shows for a peer."""
        now = self.progress()
        return {
            "stats": {
                "peers": len(self.links),
                "pieces": self.have.count,
                "of": self.meta.num_pieces,
                "uploaded": self.uploaded,
                "downloaded": self.downloaded,
                "upload_rate": round(now["up"]),
                "download_rate": round(now["down"]),
                "banned": len(self.banned),
            }
        }

    async def stop(self) -> None:
        """Close everything and tell the tracker `stopped` (a few seconds at most)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for link in list(self.links.values()):
            link.close()
        if self.announcer is not None:
            with contextlib.suppress(TrackerError, TimeoutError):
                await asyncio.wait_for(self._announce("stopped"), 3.0)
            await self.announcer.close()
        self.disk.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, kind: str, **fields: object) -> None:
        self.on_event(kind, fields)

    # -- the tracker ------------------------------------------------------------------------

    async def _announce(self, event: str) -> None:
        assert self.announcer is not None  # (started)
        url, reply = await self.announcer.announce(
            event, uploaded=self.uploaded, downloaded=self.downloaded, left=self.left
        )
        self._event("announce", tracker=url, event=event or "update", peers=len(reply.peers))
        for address in reply.peers:
            self._dial(address)
        self.next_announce = self.schedule.replied(asyncio.get_running_loop().time(), reply)

    async def _announcing(self) -> None:
        loop = asyncio.get_running_loop()
        event = "started"
        while True:
            try:
                await self._announce(event)
            except TrackerError as e:
                self.next_announce = self.schedule.failed(loop.time())
                self._event("tracker-error", reason=e.reason)
            else:
                event = ""
            await asyncio.sleep(max(0.0, self.next_announce - loop.time()))

    # -- connections ------------------------------------------------------------------------

    def _dial(self, address: tuple[str, int]) -> None:
        if (
            address == (self.host, self.port)
            or address in self.dialling
            or address[0] in self.banned
            or any(link.address == address for link in self.links.values())
            or self.done.is_set()  # a seed waits for downloaders to come
        ):
            return
        if not self._room_to_dial():
            if address not in self.waiting and len(self.waiting) < MAX_WAITING:
                self.waiting[address] = None
            return
        self.waiting.pop(address, None)
        self.dialling.add(address)
        self._spawn(self._dialled(address))

    def _room_to_dial(self) -> bool:
        """Fewer than MAX_HALF_OPEN dials under way, and room for one more connection."""
        return (
            len(self.dialling) < MAX_HALF_OPEN
            and len(self.links) + len(self.dialling) + self.handshaking < MAX_CONNECTIONS
        )

    def _dial_waiting(self) -> None:
        """A dial or a connection ended: dial the addresses that wait, while there is room."""
        while self.waiting and self._room_to_dial():
            oldest = next(iter(self.waiting))
            del self.waiting[oldest]
            self._dial(oldest)  # (or nothing, if it connected to us meanwhile)

    async def _dialled(self, address: tuple[str, int]) -> None:
        try:
            # (asyncio.timeout, not wait_for: on 3.11 a wait_for cancelled as the connection
            # completes drops the connection unclosed)
            async with asyncio.timeout(10.0):
                reader, writer = await asyncio.open_connection(*address, local_addr=(self.host, 0))
        except OSError as e:  # (TimeoutError among them: no answer in 10 s)
            log.info("%s:%d: cannot connect: %s", *address, e.strerror or "no answer")
            return
        finally:
            self.dialling.discard(address)
            self._dial_waiting()
        await self._connected(reader, writer, we_start=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("peername")[0]
        if host in self.banned or len(self.links) + self.handshaking >= MAX_CONNECTIONS:
            writer.close()  # (connections still in their handshake count too)
            return
        await self._connected(reader, writer, we_start=False)

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, we_start: bool
    ) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        name = f"{host}:{port}"
        decoder = Decoder(max_length=message_limit(self.meta.num_pieces))
        self.handshaking += 1
        try:
            theirs = await handshake(reader, writer, self.hello, decoder, we_start=we_start)
        except NotPlainHandshake:
            writer.close()  # aria2c's encrypted opening: it retries in plain
            return
        except (WireError, OSError) as e:  # (TimeoutError is an OSError)
            log.info("%s: handshake failed: %s", name, getattr(e, "reason", None) or e)
            writer.close()
            return
        except BaseException:  # cancelled mid-handshake (the torrent stops): never leak it
            writer.close()
            raise
        finally:
            self.handshaking -= 1
        if theirs.peer_id in self.links:
            writer.close()  # already connected (both dialled each other)
            return
        now = asyncio.get_running_loop().time()
        session = PeerSession(self.have, self.layout.piece_size, fast=theirs.fast)
        link = Link(reader, writer, decoder, theirs, session, now=now)
        self.links[theirs.peer_id] = link
        self._event("connected", peer=link.name, incoming=not we_start, fast=theirs.fast)
        claim = self._claim(theirs.fast)
        if claim is not None:
            link.send([claim], now)
        try:
            await self._run(link)
        finally:
            self._lost(link)

    def _claim(self, fast: bool) -> Message | None:
        if fast and self.have.complete:
            return HaveAll()
        if fast and self.have.count == 0:
            return HaveNone()
        return BitfieldMsg(self.have.to_bytes()) if self.have.count else None

    async def _run(self, link: Link) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not link.closed:
                before = link.received
                messages = await link.messages(loop.time)
                if messages is None:
                    return
                if self._down is not None:  # not reading is how TCP slows the sender down
                    wait = self._down.delay(link.received - before, loop.time())
                    if wait > 0:  # (a sleep of 0 still costs a turn of the loop)
                        await asyncio.sleep(wait)
                for msg in messages:
                    self._handle(link, msg)
                self._fill(link)  # once per read: one write for the requests of many blocks
                if link.backed_up:  # a peer that does not read what we send is not read
                    async with asyncio.timeout(IDLE):
                        await link.drained()
        except (WireError, BlockError) as e:
            log.info("%s: %s: closing", link, e.reason)
        except TimeoutError:
            log.info("%s: reads nothing we send for %d s: closing", link, IDLE)
        except OSError as e:
            log.info("%s: %s", link, e.strerror or e)

    def _lost(self, link: Link) -> None:
        link.close()
        if self.links.get(link.peer_id) is link:
            del self.links[link.peer_id]
        self.picker.peer_left(link)
        if self.choker.left(link):
            self._refill()
        self._event("disconnected", peer=link.name, sent=link.up.total, received=link.down.total)
        self._dial_waiting()
        for other in self.links.values():
            self._fill(other)

    # -- messages ---------------------------------------------------------------------------

    def _handle(self, link: Link, msg: object) -> None:
        now = asyncio.get_running_loop().time()
        events, replies = link.session.receive(msg)
        link.send(replies, now)
        for event in events:
            # (what Has, Unchoked and Rejected make possible is asked for by _run's _fill,
            # once per read)
            if isinstance(event, Has):
                for index in event.indexes:
                    self.picker.peer_have(link, index)
                link.send(link.session.interested(self.picker.interesting(link)), now)
            elif isinstance(event, (Choked, Dropped)):
                if not link.session.fast:
                    self.picker.choked(link)
            elif isinstance(event, Rejected):
                self.picker.rejected(link, Block(*event.block))
            elif isinstance(event, InterestChanged) and self.max_up != 0:
                if event.interested:
                    self._refill()  # a free slot goes by rank, not to the first that asks
                elif self.choker.left(link):
                    link.send(link.session.choke(), now)
                    self._refill()
            elif isinstance(event, Arrived):
                self._arrived(link, event, now)
        if link.session.queue and not link.uploading:
            link.uploading = True
            self._spawn(self._upload(link))

    def _arrived(self, link: Link, event: Arrived, now: float) -> None:
        size = len(event.data)
        link.down.add(size, now)
        self.downloaded += size
        got = self.picker.received(link, Block(event.index, event.begin, size))
        if got.arrival is Arrival.UNREQUESTED:
            raise WireError(f"piece {event.index} at {event.begin}: a block we never asked for")
        if got.arrival is Arrival.NEW:
            buf = self.pending.get(event.index)
            if buf is None:
                buf = self.pending[event.index] = bytearray(self.layout.piece_size(event.index))
            buf[event.begin : event.begin + size] = event.data
        for other, block in got.cancels:
            other.send(other.session.cancel(block.index, block.begin, block.length), now)
        if got.piece_complete:
            self._spawn(self._verify(event.index))

    def _fill(self, link: Link) -> None:
        """Keep its pipeline of requests full while it lets us ask."""
        session = link.session
        if link.closed or session.peer_choking or not session.am_interested:
            return
        now = asyncio.get_running_loop().time()
        depth = int(link.down.rate(now) * PIPELINE_SECONDS / BLOCK)
        want = min(max(depth, PIPELINE_MIN), PIPELINE_MAX) - self.picker.outstanding(link)
        if want <= 0:
            return
        out: list[Message] = []
        for block in self.picker.pick(link, want, now):
            out += session.request(block.index, block.begin, block.length)
        link.send(out, now)
        for choice in self.picker.drain_choices():
            self._event("pick", text=choice.describe(), peer=str(choice.peer))

    async def _verify(self, index: int) -> None:
        data = self.pending.pop(index)  # hashed and written as it is: no copy of the piece
        loop = asyncio.get_running_loop()
        good = await loop.run_in_executor(
            None, lambda: hashlib.sha1(data).digest() == self.meta.pieces[index]
        )
        if not good:
            blame = self.picker.failed(index)
            self._event("hash-failed", piece=index, culprit=str(blame.culprit))
            if blame.culprit is not None:
                blame.culprit.strikes += 1
                if blame.culprit.strikes >= MAX_STRIKES:
                    self.banned.add(blame.culprit.address[0])
                    log.warning("%s: %d bad pieces: banned", blame.culprit, MAX_STRIKES)
                    blame.culprit.close()
            for link in self.links.values():
                self._fill(link)
            return
        await loop.run_in_executor(None, self.disk.write, index, data)
        self.have.add(index)
        self.picker.verified(index)
        now = loop.time()
        for link in self.links.values():
            link.send(link.session.have(index), now)
            link.send(link.session.interested(self.picker.interesting(link)), now)
        self._event("piece", piece=index, have=self.have.count, of=self.meta.num_pieces)
        if self.have.complete and not self.done.is_set():
            await loop.run_in_executor(None, self.disk.sync)
            self._event("complete", bytes=self.meta.total_length)
            with contextlib.suppress(TrackerError):
                await self._announce("completed")
            self.done.set()  # after the announce: a download that is not seeding stops now

    async def _block(self, index: int, begin: int, length: int) -> memoryview:
        """A block to send: its piece is read whole (in a worker thread) and kept among the
        last CACHED pieces, since a peer asks for a piece's blocks one after the other."""
        data = self._cache.get(index)
        if data is None:
            data = await asyncio.get_running_loop().run_in_executor(None, self.disk.read, index)
            self._cache[index] = data
            if len(self._cache) > CACHED:
                self._cache.popitem(last=False)  # the least recently used
        else:
            self._cache.move_to_end(index)
        return memoryview(data)[begin : begin + length]

    async def _upload(self, link: Link) -> None:
        """Send what the peer asked for, UPLOAD_BATCH blocks at a time: under a rate cap one
        wait and one write per batch, not per block (the experiment's 33 peers on two cores
        spent their time waking up for each 16 KiB)."""
        loop = asyncio.get_running_loop()
        session = link.session
        try:
            while not link.closed:
                refs: list[BlockRef] = []
                while len(refs) < UPLOAD_BATCH and (ref := session.next_upload()) is not None:
                    refs.append(ref)
                if not refs:
                    break
                blocks = [await self._block(*ref) for ref in refs]
                if self._up is not None:
                    size = sum(length for _, _, length in refs)
                    await asyncio.sleep(self._up.delay(size, loop.time()))
                if session.am_choking:  # choked meanwhile: the choke dropped (or rejected)
                    for ref in refs:  # the rest of its queue, and these go the same way
                        link.send(session.withdrawn(ref), loop.time())
                    break
                for (index, begin, length), data in zip(refs, blocks, strict=True):
                    link.send_block(index, begin, data, loop.time())
                    self.uploaded += length
                await link.drained()
        except OSError:
            link.close()
        finally:
            link.uploading = False

    # -- timers -----------------------------------------------------------------------------

    async def _ticking(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            if self.choker.due(now):
                self._choke_round(now)
            for link, block in self.picker.expired(now, REQUEST_TIMEOUT):
                link.send(link.session.cancel(block.index, block.begin, block.length), now)
            for link in list(self.links.values()):
                if now - link.last_heard >= IDLE:
                    log.info("%s: no exchange for %d s: closing", link, IDLE)
                    link.close()  # (its reader sees the end: _run returns, _lost tidies up)
                    continue
                if now - link.last_sent >= KEEP_ALIVE:
                    link.keep_alive(now)
                self._fill(link)

    def _refill(self) -> None:
        """A peer became interested, or a slot was given up: the choker admits the peers we
        choke that want something, in its ranking's order, while slots are free. So between
        rounds too a free slot goes to a peer that reciprocates before one that only takes (a
        free-rider)."""
        now = asyncio.get_running_loop().time()
        waiting = [
            self._candidate(link, now)
            for link in self.links.values()
            if link.session.peer_interested and link.session.am_choking and not link.closed
        ]
        for link in self.choker.refill(now, waiting, self.done.is_set()):
            link.send(link.session.unchoke(), now)

    @staticmethod
    def _candidate(link: Link, now: float) -> Candidate[Link]:
        return Candidate(
            link, link.session.peer_interested, link.down.rate(now), link.up.rate(now),
            link.down.total,
        )  # fmt: skip

    def _choke_round(self, now: float) -> None:
        if self.max_up == 0:
            return  # we upload nothing: every peer stays choked
        candidates = [self._candidate(link, now) for link in self.links.values()]
        decided = self.choker.round(now, candidates, self.done.is_set())
        for link in decided.newly_unchoked:
            link.send(link.session.unchoke(), now)
        for link in decided.newly_choked:
            link.send(link.session.choke(), now)
        if candidates:
            self._event("choke", text=decided.describe())
