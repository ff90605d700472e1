"""The control endpoint any daemon mounts: commands, errors, limits, and the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from minternet.control import MAX_LINE, ControlServer, request
from minternet.logs import Throttle

pytestmark = pytest.mark.both_loops


async def slow(args: list[str]) -> dict[str, object]:
    await asyncio.sleep(0.05)
    return {"slept": args}


def boom(args: list[str]) -> dict[str, object]:
    raise ValueError(f"bad name {args[0]!r}")


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = ControlServer(
        {"stats": lambda args: {"stats": {"queries": 3}}, "slow": slow, "boom": boom},
        throttle=Throttle(),
    )
    port = await server.start("127.0.0.1", 0)
    yield f"127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def ask(address: str, line: str) -> dict[str, object]:
    return await asyncio.to_thread(request, address, line, 5.0)


async def test_a_command_gets_its_json_reply(address: str) -> None:
    assert await ask(address, "stats") == {"stats": {"queries": 3}}
    assert await ask(address, "STATS  ") == {"stats": {"queries": 3}}  # case, spaces


async def test_a_coroutine_command_answers_when_done(address: str) -> None:
    assert await ask(address, "slow a b") == {"slept": ["a", "b"]}


async def test_errors_are_replies_with_the_reason(address: str) -> None:
    assert await ask(address, "boom a..b") == {"error": "bad name 'a..b'"}
    reply = await ask(address, "nope")
    assert reply == {"error": "unknown command 'nope' (commands: boom, slow, stats)"}
    assert (await ask(address, "")) == {"error": "unknown command '' (commands: boom, slow, stats)"}


async def test_a_line_over_the_limit_is_refused_with_a_reason(address: str) -> None:
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"x" * (MAX_LINE + 10))
    reply = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert reply == {"error": f"line longer than {MAX_LINE} octets"}
    writer.close()


async def test_the_client_says_when_nothing_listens() -> None:
    with pytest.raises(OSError):
        await asyncio.to_thread(request, "127.0.0.1:1", "stats", 2.0)
