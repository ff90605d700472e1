"""The control endpoint every daemon can mount: one text line in, one JSON line out, then close.

The server side runs on the stream layer: a line of at most MAX_LINE octets, answered within
TIMEOUT, at most MAX_CONNECTIONS at once, a new one closing the oldest (so idle connections
can neither eat the descriptors the daemon needs nor lock the operator out). A command is a
function of its arguments returning a JSON-able dict, or a coroutine of one (run as a task:
a `dump` of a full cache formats off the event loop). `stats` is every daemon's: `minternet
status` shows it for each service. It has no authentication: bind it to loopback only.

The client (`request`) is what `minternet status`, `dnsserver stats` and the like use.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from minternet.framing import FramingError, Lines, LiteralRequest
from minternet.listen import parse_hostport
from minternet.logs import Throttle
from minternet.stream import Connection, StreamHandler, StreamLimits, StreamListener

log = logging.getLogger(__name__)

MAX_REPLY = 64 << 20  # a full cache dump is large, but never unbounded
MAX_LINE = 4096
MAX_CONNECTIONS = 16
TIMEOUT = 10.0

Reply = dict[str, Any]
Command = Callable[[list[str]], Reply | Awaitable[Reply]]


def request(address: str, command: str, timeout: float = 10.0) -> dict[str, Any]:
    """Send `command` to the control endpoint at ADDR:PORT; returns the decoded JSON reply.

    Raises OSError when the endpoint cannot be reached and ValueError on a malformed reply.
    """
    host, port = parse_hostport(address)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(command.encode() + b"\n")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if chunk.endswith(b"\n") or size > MAX_REPLY:
                break
    reply = json.loads(b"".join(chunks))
    if not isinstance(reply, dict):
        raise ValueError(f"control reply is not a JSON object: {reply!r:.80}")
    return reply


def flat_stats(reply: dict[str, Any]) -> dict[str, Any]:
    """A `stats` reply as one flat mapping: the counters, then whatever else the daemon adds."""
    return {**reply["stats"], **{k: v for k, v in reply.items() if k != "stats"}}


class _Session(StreamHandler[bytes | LiteralRequest]):
    def __init__(self, conn: Connection, server: ControlServer) -> None:
        super().__init__(conn)
        self.server = server
        self.framer = Lines(max_line=MAX_LINE, bare_lf=True)

    def frame_received(self, frame: bytes | LiteralRequest) -> Coroutine[Any, Any, None] | None:
        assert isinstance(frame, bytes)  # no literals in this protocol
        text = frame.decode("utf-8", "replace").strip()
        words = text.split()
        name = words[0].lower() if words else ""
        command = self.server.commands.get(name)
        if command is None:
            known = ", ".join(sorted(self.server.commands))
            self._answer({"error": f"unknown command {name!r} (commands: {known})"})
            return None
        try:
            result = command(words[1:])
        except Exception as e:  # a bad argument and the like: the operator gets the reason
            self._answer({"error": str(e) or type(e).__name__})
            return None
        if isinstance(result, dict):
            self._answer(result)
            return None
        return self._later(result)

    async def _later(self, result: Awaitable[Reply]) -> None:
        try:
            reply = await result
        except Exception as e:
            reply = {"error": str(e) or type(e).__name__}
        self._answer(reply)

    def _answer(self, reply: Reply) -> None:
        self.conn.write(json.dumps(reply).encode() + b"\n")
        self.conn.close()

    def framing_error(self, error: FramingError) -> None:
        self.conn.write(json.dumps({"error": error.reason}).encode() + b"\n")


class ControlServer:
    """A daemon's control endpoint; `commands` maps a command name to its function."""

    def __init__(self, commands: Mapping[str, Command], *, throttle: Throttle) -> None:
        self.commands = dict(commands)
        self.listener = StreamListener(
            lambda conn: _Session(conn, self),
            StreamLimits(
                max_connections=MAX_CONNECTIONS, idle_timeout=TIMEOUT, at_cap="evict-oldest"
            ),
            throttle=throttle,
        )

    async def start(self, host: str, port: int) -> int:
        return await self.listener.start(host, port)

    def close(self) -> None:
        self.listener.close()

    async def wait_closed(self) -> None:
        await self.listener.wait_closed()
