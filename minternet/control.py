"""Client of a daemon's control endpoint: one command line out, one JSON line back.

The resolver serves `stats`, `dump`, `flush` this way; `minternet status` uses it to show the
counters of every service that reports a `control` port.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from minternet.listen import parse_hostport

MAX_REPLY = 64 << 20  # a full cache dump is large, but never unbounded


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
