"""Fixtures of the MX tests over loopback sockets: a CA, the delivery double, servers to start,
and every client connection closed after each test."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme

from mailserver import smtp
from mailserver.aio.smtp import MxServer
from tests.mailserver.smtp_net.harness import HOST, NOW, Start, Store, Users, _writers


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
async def start(store: Store, ca: trustme.CA) -> AsyncIterator[Start]:
    servers: list[MxServer] = []
    ids = iter(f"ID{n}" for n in range(1000))

    async def make(tls: bool = False, **kw: Any) -> MxServer:
        settings = smtp.MxSettings(hostname=HOST, domains=("hamburger.edu",), **kw)
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
        server = MxServer(
            settings, Users(), store, tls_context=context, clock=lambda: NOW,
            new_id=lambda: next(ids),
        )  # fmt: skip
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    for w in _writers:
        # abort, not close: a close waits for a write buffer that a stalled test left full,
        # and the loop would end with the transport open (a ResourceWarning in a later test)
        w.transport.abort()
    _writers.clear()
    await asyncio.sleep(0)
