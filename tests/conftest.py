"""Suite-wide settings: hypothesis profiles, and a state pointer that is not the user's.

CI (the `CI` environment variable is set) runs hypothesis derandomized, so a submission's run
is repeatable and a failure can be reproduced; every profile drops the per-example deadline,
because timing on a shared 2-core machine says nothing about correctness. Locally, examples
are random and the example database keeps what failed. `make mutation` (tools/mutation.py sets
MINTERNET_MUTATION) runs derandomized and without shrinking.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping

import pytest
import uvloop
from hypothesis import Phase, settings

from minternet import pointer

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
# `make mutation`: a mutant that breaks a property fails at its first counterexample, unshrunk
# (shrinking is for a person reading a failure; under a mutant it only spends minutes), and
# the same examples every run, so a verdict does not depend on luck.
settings.register_profile(
    "mutation",
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
if os.environ.get("MINTERNET_MUTATION"):
    settings.load_profile("mutation")
else:
    settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _no_state_pointer() -> Iterator[None]:
    """The suite runs with the state pointer off; a test that needs one names its own file.

    `up` writes a pointer that `status`, `down` and `restart` follow from any directory
    (minternet/pointer.py). The suite must never move, read or clear the user's own (as root or
    not, while the user's `make up` runs), and one test must not follow another's: a `down`
    without --state-dir would stop the topology the end-to-end tests share. Subprocesses
    inherit the setting.
    """
    previous = os.environ.get(pointer.ENV)
    os.environ[pointer.ENV] = ""
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(pointer.ENV, None)
        else:
            os.environ[pointer.ENV] = previous


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests marked both_loops run on the stock asyncio loop and on uvloop (what daemons use)."""
    if item.get_closest_marker("both_loops") is not None:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


#: Longest a single test may take, its fixtures' set-up and tear-down included.
WATCHDOG_SECONDS = 300


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """End the run, with every thread's stack, if one test (tear-down included) hangs.

    pytest-timeout covers a test's call but not the tear-down of fixtures scoped above it, and
    its alarm never reaches a main thread stuck in C code (an event loop whose close waits for a
    transport that will never finish). faulthandler's timer is a C thread: it always fires.
    It writes to the process's real stderr: a runner that captures sys.stderr into memory
    (mutmut's) leaves no file descriptor for faulthandler to write to.
    """
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# Tests of the daemons over real sockets and processes. `make mutation` uses the core and
# in-process tests only (issue 17): under a mutant of the store these wait for replies that
# never come, two minutes each, and they add nothing the store's own tests do not check. The
# SIGKILL test runs a writer process to kill it; under mutmut's trampolines it took 7-8 s for
# each of a thousand store mutants.
_SOCKET_TESTS = (
    "tests/mailserver/test_server",
    "tests/mailserver/test_serve_cli.py",
    "tests/mailserver/smtp_net/",
    "tests/mailserver/store/test_durability.py::test_sigkill_mid_stream",
    # the peer's shells over real sockets and processes: a mutant of a core that breaks a
    # transfer leaves each of these waiting for its timeout (tens of seconds a test)
    "tests/peer/test_swarm.py",
    "tests/peer/test_signals.py",
    "tests/peer/test_tracker_client.py",
    "tests/peer/test_experiment.py",  # (34 processes a run)
    "tests/peer/test_cli.py::test_the_console_entry_point",
)


_durations: tuple[float, dict[str, float]] = (0.0, {})


def _test_durations() -> dict[str, float]:
    """How long each test took in mutmut's clean run (mutants/mutmut-stats.json; the tests run
    from mutants/), read again only when the file changes: the workers fork from the process
    that read it last."""
    global _durations
    try:
        mtime = os.stat("mutmut-stats.json").st_mtime
        if mtime != _durations[0]:
            with open("mutmut-stats.json") as f:
                _durations = (mtime, dict(json.load(f).get("duration_by_test", {})))
    except (OSError, ValueError):
        return {}
    return _durations[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("MINTERNET_MUTATION"):
        return
    # mutmut runs each mutant's tests in a process forked from one that has run the tests
    # already: a function's results kept by functools.lru_cache would answer for the mutant
    # without running it, and every mutant of a cached function (or of one it calls) survived
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):
            obj.cache_clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("MINTERNET_MUTATION"):
        return
    skip = pytest.mark.skip(reason="sockets or processes: make mutation runs the in-process tests")
    for item in items:
        if item.nodeid.startswith(_SOCKET_TESTS):
            item.add_marker(skip)
    # mutmut runs a mutant's tests with -x in no set order: the fastest first, so that a killed
    # mutant (most of them) stops at its cheapest failing test. No verdict depends on the
    # order: the tests are independent (they run in random order in make test).
    durations = _test_durations()
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
