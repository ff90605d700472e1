"""Running one daemon: event loop choice, signals, graceful shutdown, readiness reporting.

Every daemon is an object with `async start() -> ports`, `async stop()` and optionally
`reload()`. `run()` starts it, reports readiness (the bound ports, as JSON in a ready file that
`minternet up` waits for, and one log line), reloads on SIGHUP and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Daemon(Protocol):
    name: str

    async def start(self) -> dict[str, int]:
        """Bind every listener; return the real bound port of each, by kind ("dns", "http")."""

    async def stop(self) -> None:
        """Close listeners and wait (bounded) for work in flight."""


def install_uvloop() -> bool:
    """Use uvloop for new event loops when it is installed; say whether it is."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def write_ready_file(path: str | Path, info: dict[str, object]) -> None:
    """Write `info` as JSON atomically, so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


async def serve(daemon: Daemon, *, ready_file: str | None = None) -> None:
    """Start `daemon`, report readiness, and run until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    reload: Callable[[], object] | None = getattr(daemon, "reload", None)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload_safely, daemon.name, reload)
    ports = await daemon.start()
    log.info(
        "ready (pid %d, %s)",
        os.getpid(),
        ", ".join(f"{k} port {v}" for k, v in ports.items()),
    )
    if ready_file:
        write_ready_file(ready_file, {"pid": os.getpid(), "ports": ports})
    try:
        await stopping.wait()
    finally:
        log.info("stopping")
        await daemon.stop()
        if ready_file:
            Path(ready_file).unlink(missing_ok=True)
        log.info("stopped")


_pending: set[asyncio.Future[object]] = set()  # reloads in progress, kept alive until done


def _reload_safely(name: str, reload: Callable[[], object]) -> None:
    log.info("SIGHUP: reloading")
    try:
        result = reload()
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            _pending.add(task)
            task.add_done_callback(_pending.discard)
    except Exception:  # a bad reload must never take the daemon down
        log.exception("reload failed; still serving the old configuration")


def tune_gc() -> None:
    """Move what start-up built (zones, tables, code) out of the cyclic collector's view, and
    collect the young generation less often: every datagram or request allocates tuples the
    collector would otherwise scan (measured on the DNS servers' query rate)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run(daemon: Daemon, *, ready_file: str | None = None, use_uvloop: bool = True) -> int:
    """Blocking entry point for a daemon's CLI: returns the process exit status."""
    tune_gc()
    if use_uvloop:
        install_uvloop()
    try:
        asyncio.run(serve(daemon, ready_file=ready_file))
    except OSError as e:  # most often: address in use, or not permitted (port < 1024)
        log.error("cannot start: %s", e)
        return 1
    return 0
