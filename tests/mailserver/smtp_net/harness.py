"""What the MX tests over loopback sockets share: a users and a delivery double, and a client
that speaks SMTP line by line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from mailserver.aio.smtp import MxServer

HOST = "mail.hamburger.edu"
NOW = 1795982746.0  # Sun, 29 Nov 2026 20:05:46 +0000
USERS = {"bob@hamburger.edu", "carol@hamburger.edu", "bøb@hamburger.edu"}


class Users:
    def exists(self, address: str) -> bool:
        return address in USERS


@dataclass
class Delivery:
    recipients: list[str]
    data: bytes
    envelope_from: str
    received_header: bytes


@dataclass
class Store:
    """A Deliver double: records each call; can fail, or hold every delivery until released."""

    calls: list[Delivery] = field(default_factory=list)
    fail: bool = False
    gate: asyncio.Event | None = None
    started: int = 0

    async def deliver(
        self, recipients: list[str], data: bytes, *, envelope_from: str, received_header: bytes
    ) -> None:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError(28, "No space left on device")
        self.calls.append(Delivery(recipients, data, envelope_from, received_header))


Start = Callable[..., Coroutine[Any, Any, MxServer]]


_writers: list[asyncio.StreamWriter] = []


def port(server: MxServer) -> int:
    assert server.listener is not None
    return server.listener.port


async def connect(server: MxServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    _writers.append(writer)
    return reader, writer


async def reply(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """One whole reply, its lines joined."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


async def session(
    server: MxServer, ehlo: bool = True
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await connect(server)
    assert await reply(reader) == b"220 mail.hamburger.edu ESMTP minternet\r\n"
    if ehlo:
        writer.write(b"EHLO client.crepes.fr\r\n")
        assert (await reply(reader)).startswith(b"250-mail.hamburger.edu\r\n")
    return reader, writer


async def say(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> bytes:
    writer.write(line + b"\r\n")
    return await reply(reader)


async def transaction(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes,
    rcpt: bytes = b"bob@hamburger.edu", sender: bytes = b"alice@crepes.fr",
) -> bytes:  # fmt: skip
    """MAIL, RCPT, DATA with `body` sent as is (it must end the DATA itself); the final reply."""
    assert await say(reader, writer, b"MAIL FROM:<" + sender + b">") == b"250 2.1.0 Ok\r\n"
    assert await say(reader, writer, b"RCPT TO:<" + rcpt + b">") == b"250 2.1.5 Ok\r\n"
    assert await say(reader, writer, b"DATA") == b"354 End data with <CR><LF>.<CR><LF>\r\n"
    writer.write(body)
    return await reply(reader)


async def closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Everything until the server closes."""
    return await asyncio.wait_for(reader.read(), timeout)
