"""The one loop that runs a resolution: it feeds the core's upstream queries to an exchange.

`Resolver.resolve` is a generator (sans-I/O): it yields an UpstreamQuery and is sent the
UpstreamReply. `run` drives it with a synchronous exchange (the tests' in-memory hierarchy,
with a fake clock), `drive` with an asynchronous one (the daemon's and `dnsserver trace`'s
upstream over real sockets). Both return the Result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dnsserver.resolver.iterate import Driver, Result, UpstreamQuery, UpstreamReply


def run(gen: Driver, exchange: Callable[[UpstreamQuery], UpstreamReply]) -> Result:
    try:
        query = next(gen)
        while True:
            query = gen.send(exchange(query))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive(
    gen: Driver, exchange: Callable[[UpstreamQuery], Awaitable[UpstreamReply]]
) -> Result:
    try:
        query = next(gen)
        while True:
            query = gen.send(await exchange(query))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
