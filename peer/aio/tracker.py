"""Announcing one torrent to its trackers, over HTTP (aiohttp) and UDP (BEP 15), from our own
address: the shell around peer/announce.py.

`Announcer.announce(event, ...)` tries the trackers in BEP 12 order (peer/announce.py `Tiers`)
and returns the first reply; a tracker that does not answer within `timeout`, answers with
something that is not a reply, or refuses (its failure reason) is logged and the next one is
tried; when none answers, the last error is raised (TrackerError). Every request leaves from
`host` (the peer's --listen address), so the tracker sees the peer where other peers can reach
it. An HTTP reply is read up to MAX_REPLY bytes. Over UDP each announce connects first, from a
socket of its own (a tracker may tie a connection id to the address and port it was given to,
as ours does, so an id is not kept past its socket); a request that gets no answer is sent
again once before the tracker counts as down (BEP 15's 15 * 2^n s schedule is for the
Internet; a tracker on our loopback either answers at once or is not there).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import aiohttp

from peer.announce import (
    AnnounceReply,
    AnnounceRequest,
    Tiers,
    TrackerError,
    http_url,
    read_http,
    read_udp_announce,
    read_udp_connect,
    udp_address,
    udp_announce,
    udp_connect,
)

__all__ = ["MAX_REPLY", "Announcer"]

log = logging.getLogger("peer")

MAX_REPLY = 1 << 20  # bytes of an HTTP reply: 200 peers are 1.2 KB compact, 20 KB as dictionaries
UDP_TRIES = 2  # sends of one UDP request before the tracker counts as down

T = TypeVar("T")


class Announcer:
    """One torrent's announces. `request` is the announce without event and counts (they are
    given to each `announce`)."""

    def __init__(
        self,
        tiers: Tiers,
        request: AnnounceRequest,
        *,
        host: str,
        rng: random.Random,
        timeout: float = 15.0,
    ) -> None:
        self.tiers = tiers
        self.request = request
        self.host = host
        self.rng = rng
        self.timeout = timeout
        self.tracker_ids: dict[str, bytes] = {}  # BEP 3's `tracker id`, sent back to its tracker
        self._session: aiohttp.ClientSession | None = None

    async def announce(
        self, event: str, *, uploaded: int, downloaded: int, left: int
    ) -> tuple[str, AnnounceReply]:
        """The first tracker that answers, and its reply (see the module docstring)."""
        req = replace(
            self.request, event=event, uploaded=uploaded, downloaded=downloaded, left=left
        )
        error: TrackerError | None = None
        for url in self.tiers.order():
            try:
                reply = await asyncio.wait_for(self._one(url, req), self.timeout)
            except (TrackerError, OSError, aiohttp.ClientError) as e:  # TimeoutError: an OSError
                reason = e.reason if isinstance(e, TrackerError) else _why(e)
                log.warning("tracker %s: %s", url, reason)
                error = e if isinstance(e, TrackerError) else TrackerError(f"{url}: {reason}")
                continue
            self.tiers.answered(url)
            if reply.tracker_id is not None:
                self.tracker_ids[url] = reply.tracker_id
            if reply.warning:
                log.warning("tracker %s warns: %s", url, reply.warning)
            return url, reply
        raise error or TrackerError("the torrent lists no tracker we can use")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _one(self, url: str, req: AnnounceRequest) -> AnnounceReply:
        if url.startswith("udp://"):
            return await self._udp(url, req)
        return await self._http(url, req)

    def prepare(self) -> None:
        """Make the HTTP client now rather than at the first announce (its connector and TLS
        context take tens of milliseconds of CPU: a held peer pays them before it is
        released, not in the time the experiment measures)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(local_addr=(self.host, 0), use_dns_cache=False)
            self._session = aiohttp.ClientSession(connector=connector)

    async def _http(self, url: str, req: AnnounceRequest) -> AnnounceReply:
        self.prepare()
        assert self._session is not None
        target = aiohttp.client.URL(http_url(url, req, self.tracker_ids.get(url)), encoded=True)
        async with self._session.get(target, allow_redirects=False) as response:
            body = bytearray()
            while len(body) <= MAX_REPLY:  # (read(n) gives what has come, up to n)
                chunk = await response.content.read(MAX_REPLY + 1 - len(body))
                if not chunk:
                    break
                body += chunk
            if response.status != 200:
                raise TrackerError(f"HTTP {response.status} {response.reason or ''}".strip())
        if len(body) > MAX_REPLY:
            raise TrackerError(f"a reply of more than {MAX_REPLY} bytes")
        return read_http(bytes(body))

    async def _udp(self, url: str, req: AnnounceRequest) -> AnnounceReply:
        address = udp_address(url)
        wait = self.timeout / (UDP_TRIES + 1)  # each try's share, the connect exchange's too
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            _Replies, local_addr=(self.host, 0), remote_addr=address
        )
        try:
            tid = self.rng.getrandbits(32)
            connection_id = await _exchange(
                transport, protocol, udp_connect(tid), lambda d: read_udp_connect(d, tid), wait
            )
            tid = self.rng.getrandbits(32)
            packet = udp_announce(connection_id, tid, req)
            ipv6 = ":" in address[0]
            return await _exchange(
                transport, protocol, packet, lambda d: read_udp_announce(d, tid, ipv6=ipv6), wait
            )
        finally:
            transport.close()


class _Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
        self.error: OSError | None = None

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.queue.full():
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: nobody there
        if isinstance(exc, OSError):
            self.error = exc
            self.queue.put_nowait(b"")


async def _exchange(
    transport: asyncio.DatagramTransport,
    protocol: _Replies,
    packet: bytes,
    read: Callable[[bytes], T | None],
    wait: float,
) -> T:
    """Send `packet` (UDP_TRIES times at most, `wait` s apart) until `read` finds the reply
    among what comes back."""
    for _ in range(UDP_TRIES):
        transport.sendto(packet)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    data = await protocol.queue.get()
            except TimeoutError:
                break
            if protocol.error is not None:
                raise protocol.error
            got = read(data)
            if got is not None:
                return got
    raise TrackerError(f"no UDP answer after {UDP_TRIES} tries")


def _why(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "no answer in time"
    return str(e) or type(e).__name__
