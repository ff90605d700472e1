"""Background work that never gets lost: tasks kept alive until done, errors logged, not dropped.

asyncio keeps only a weak reference to a task: one nobody holds can be collected mid-flight,
and an exception in one nobody awaits surfaces, if at all, as "Task exception was never
retrieved" at exit. `Tasks` holds each task until it ends and logs its exception at once, with
what it was doing; `every` runs a callback on a period and survives its errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Tasks:
    """A set of running tasks: `spawn` adds one, `len()` counts them, `cancel_all` ends them."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = logger or log

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], what: str = "") -> asyncio.Task[T]:
        """Run `coro` in the background; an exception it raises is logged with `what`."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))
        return task

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._log.error("internal error%s: %r", f" in {what}" if what else "", exc,
                            exc_info=exc)  # fmt: skip

    async def cancel_all(self, timeout: float = 2.0) -> None:
        """Cancel every task and wait up to `timeout` for them to finish."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def every(
    interval: float,
    fn: Callable[[], object | Awaitable[object]],
    *,
    what: str,
    logger: logging.Logger | None = None,
) -> asyncio.Task[None]:
    """Call `fn` every `interval` seconds until the task is cancelled.

    An exception from one call is logged (with `what`) and the next call happens on time: a bug
    in a periodic job (the tracker's expiry, the mail queue's retries) must not stop it for good.
    """

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                result = fn()
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                (logger or log).exception("internal error in %s; it runs again in %g s",
                                          what, interval)  # fmt: skip

    return asyncio.ensure_future(loop())


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (if any) and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
