"""Outgoing connections: from the host's own address, within caps, through a wait queue.

Every host of the miniature Internet has its own 127.0.0.N address, and a mail server or a
peer must connect *from* it: the other side sees (and logs, and checks) who is calling, and
a tracker or a DNSBL-like check would otherwise see every host as 127.0.0.1. A `Connector`
binds each socket to its `source` address before connecting, and keeps two caps: at most
`max_total` connections open and at most `max_per_destination` to one (host, port). A caller
over a cap waits its turn (first come, first served) for up to `queue_timeout`; the connect
itself has `connect_timeout`. TLS (with the topology's CA, or any context) is optional.

    async with connector.connection("127.0.0.41", 10025) as (reader, writer):
        ...

`socket()` gives a connected socket instead, for libraries that take one (aiosmtplib's
`sock=`, `loop.create_connection(sock=...)` for a protocol of our own).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

from minternet.listen import family_of


class ConnectError(OSError):
    """No connection: refused, unreachable, timed out or queued too long; says which and where."""


class Connector:
    def __init__(
        self,
        *,
        source: str | None,
        max_total: int = 100,
        max_per_destination: int = 10,
        connect_timeout: float = 10.0,
        queue_timeout: float = 60.0,
    ) -> None:
        if max_total < 1 or max_per_destination < 1:
            raise ValueError("connection caps must be at least 1")
        self.source = source
        self.max_per_destination = max_per_destination
        self.connect_timeout = connect_timeout
        self.queue_timeout = queue_timeout
        self._total = asyncio.Semaphore(max_total)
        self._per: dict[tuple[str, int], tuple[asyncio.Semaphore, list[int]]] = {}
        self.open = 0  # connections open now

    @contextlib.asynccontextmanager
    async def slot(self, host: str, port: int) -> AsyncIterator[None]:
        """Hold one place under both caps for (host, port), waiting for it if need be."""
        key = (host, port)
        entry = self._per.get(key)
        if entry is None:
            entry = self._per[key] = (asyncio.Semaphore(self.max_per_destination), [0])
        sem, users = entry
        users[0] += 1  # the semaphore of a destination lives while someone uses or waits
        try:
            try:
                async with asyncio.timeout(self.queue_timeout):
                    await sem.acquire()
                    try:
                        await self._total.acquire()
                    except BaseException:
                        sem.release()
                        raise
            except TimeoutError:
                raise ConnectError(
                    f"{host}:{port}: waited {self.queue_timeout:g} s for a free connection"
                ) from None
            self.open += 1
            try:
                yield
            finally:
                self.open -= 1
                self._total.release()
                sem.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._per[key]

    async def _connected(self, host: str, port: int) -> socket.socket:
        loop = asyncio.get_running_loop()
        sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if self.source is not None and family_of(self.source) == family_of(host):
                sock.bind((self.source, 0))
            async with asyncio.timeout(self.connect_timeout):
                await loop.sock_connect(sock, (host, port))
        except TimeoutError:
            sock.close()
            raise ConnectError(
                f"{host}:{port}: no answer within {self.connect_timeout:g} s"
            ) from None
        except OSError as e:
            sock.close()
            raise ConnectError(e.errno, f"{host}:{port}: {e.strerror or e}") from None
        except BaseException:
            sock.close()
            raise
        return sock

    @contextlib.asynccontextmanager
    async def socket(self, host: str, port: int) -> AsyncIterator[socket.socket]:
        """A connected socket from our source address; closed when the block ends."""
        async with self.slot(host, port):
            sock = await self._connected(host, port)
            try:
                yield sock
            finally:
                sock.close()

    @contextlib.asynccontextmanager
    async def connection(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """Streams over a new connection (TLS from the start if `tls`); closed at the end."""
        async with self.slot(host, port):
            sock = await self._connected(host, port)
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(
                        sock=sock,
                        ssl=tls,
                        server_hostname=(server_hostname or host) if tls else None,
                    )
            except TimeoutError:
                sock.close()
                raise ConnectError(f"{host}:{port}: TLS handshake timed out") from None
            except (OSError, ssl.SSLError) as e:
                sock.close()
                raise ConnectError(f"{host}:{port}: {e}") from None
            try:
                yield reader, writer
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError, ConnectionError):
                    await writer.wait_closed()
