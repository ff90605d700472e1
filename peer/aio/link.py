"""One connection to another peer over asyncio streams: the handshakes, then a read loop that
hands every message to the torrent, and the writes (blocks without copying, keep-alives).

`open_link` (we dial) and `accept_link` (it dialled us) do the BEP 3 handshake with the
peer/wire.py decoder: a first byte that is not 19 (an encrypted MSE/PE handshake, as aria2c
sends first) closes the connection at once, without a word, so that aria2c retries in plain;
the info-hash must be ours and the peer id not our own (a connection to ourselves, through
the tracker's list). Each side's reserved bits say whether both speak the Fast Extension.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from peer.rate import RateMeter
from peer.session import PeerSession
from peer.wire import (
    HANDSHAKE_LEN,
    Decoder,
    Handshake,
    KeepAlive,
    Message,
    WireError,
    encode,
    encode_handshake,
    piece_header,
)

__all__ = ["HANDSHAKE_TIMEOUT", "READ", "Link", "handshake"]

log = logging.getLogger("peer")

READ = 256 * 1024  # bytes asked of the socket per read
HANDSHAKE_TIMEOUT = 10.0  # seconds for the other side's 68 bytes


@dataclass(frozen=True, slots=True)
class Hello:
    """What we say in our handshake."""

    info_hash: bytes
    peer_id: bytes
    reserved: bytes


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    hello: Hello,
    decoder: Decoder,
    *,
    we_start: bool,
) -> Handshake:
    """Exchange handshakes (we first when we dialled); WireError when theirs is not for us."""
    ours = encode_handshake(Handshake(hello.reserved, hello.info_hash, hello.peer_id))
    if we_start:
        writer.write(ours)
    theirs = None
    while theirs is None:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            data = await reader.read(HANDSHAKE_LEN)
        if not data:
            raise ConnectionError("closed during the handshake")
        decoder.feed(data)
        event = decoder.next_event()
        if event is not None:
            assert isinstance(event, Handshake)  # the decoder gives the handshake first
            theirs = event
    if theirs.info_hash != hello.info_hash:
        raise WireError(f"handshake for another torrent ({theirs.info_hash.hex()})")
    if theirs.peer_id == hello.peer_id:
        raise WireError("a connection to ourselves")
    if not we_start:
        writer.write(ours)
    return theirs


class Link:
    """A connection past its handshakes: the session's state, rate meters each way, and the
    stream to write to. `name` is its address as the log shows it."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: Decoder,
        theirs: Handshake,
        session: PeerSession,
        *,
        now: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = decoder
        self.peer_id = theirs.peer_id
        self.session = session
        host, port = writer.get_extra_info("peername")[:2]
        self.address = (host, port)
        self.name = f"{host}:{port}"
        self.down = RateMeter(now)  # what it sends us
        self.up = RateMeter(now)  # what we send it
        self.last_sent = now
        self.last_heard = now  # when a byte last came from it
        self.uploading = False
        self.received = 0  # bytes read from it
        self.strikes = 0
        self.closed = False

    def __str__(self) -> str:
        return self.name

    def send(self, messages: Sequence[Message], now: float) -> None:
        if not messages or self.closed:
            return
        self.writer.write(b"".join(encode(m) for m in messages))
        self.last_sent = now

    def send_block(self, index: int, begin: int, data: bytes | memoryview, now: float) -> None:
        """A piece message: its header, then the block as it is (no join, no copy)."""
        if self.closed:
            return
        self.writer.writelines((piece_header(index, begin, len(data)), data))
        self.up.add(len(data), now)
        self.last_sent = now

    def keep_alive(self, now: float) -> None:
        self.send([KeepAlive()], now)

    async def drained(self) -> None:
        await self.writer.drain()

    @property
    def backed_up(self) -> bool:
        """Whether what we wrote waits past the buffer's high-water mark (a drain would wait)."""
        transport = self.writer.transport
        return transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    async def messages(self, now: Callable[[], float]) -> list[object] | None:
        """The messages in the next bytes that arrive (maybe none yet: part of one), or None
        once the other side closed; WireError for a broken stream. (A peer that sends nothing
        for too long is closed by the torrent's timer, from `last_heard`: one check a second
        for every connection costs less than a timer armed and cancelled at every read.)"""
        data = await self.reader.read(READ)
        if not data:
            return None
        self.last_heard = now()
        self.received += len(data)
        self.decoder.feed(data)
        out: list[object] = []
        while (event := self.decoder.next_event()) is not None:
            out.append(event)
        return out
