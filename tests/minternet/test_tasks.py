"""Background work that is never lost: spawned tasks are kept and their errors logged; a
periodic job survives its own errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from minternet.tasks import Tasks, every, stop

pytestmark = pytest.mark.both_loops


async def test_a_spawned_task_is_kept_and_its_error_logged_with_what_it_did(caplog) -> None:
    tasks = Tasks(logging.getLogger("test.tasks"))

    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.set()

    tasks.spawn(work(), "some work")
    tasks.spawn(fail(), "answering a query from 127.0.0.1")
    assert len(tasks) == 2  # held: not collected mid-flight
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0.05)
    assert len(tasks) == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "internal error in answering a query from 127.0.0.1: ValueError('boom')"
    ]
    assert errors[0].exc_info is not None  # with its traceback, for whoever fixes it


async def test_cancel_all_ends_every_task() -> None:
    tasks = Tasks()
    for _ in range(3):
        tasks.spawn(asyncio.sleep(60), "sleeping")
    await tasks.cancel_all(timeout=2)
    await asyncio.sleep(0)
    assert len(tasks) == 0


async def test_every_runs_on_time_and_survives_its_errors(caplog) -> None:
    calls: list[int] = []

    def job() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("a bug in one run")

    task = every(0.02, job, what="peer expiry")
    await asyncio.sleep(0.15)
    await stop(task)
    assert len(calls) >= 4  # the error in the second run did not end it
    assert task.cancelled()
    assert any("internal error in peer expiry" in r.getMessage() for r in caplog.records)


async def test_every_awaits_a_coroutine_job() -> None:
    seen = asyncio.Event()

    async def job() -> None:
        seen.set()

    task = every(0.01, job, what="async job")
    await asyncio.wait_for(seen.wait(), 5)
    await stop(task)
    await stop(None)  # nothing to stop is fine
