"""What a foreground `minternet up` sees of its services: which died and how, or a `down`."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from minternet import logs, supervisor
from minternet.supervisor import Service, SupervisorError


@dataclass
class Look:
    """One look at the state directory."""

    died: list[tuple[Service, str]] = field(default_factory=list)  # new deaths, and how
    all_dead: bool = False  # no recorded service runs any more
    state_removed: bool = False  # the state file is gone: `minternet down` stopped them
    left_running: list[int] = field(default_factory=list)  # our children still running then


class Watcher:
    """Looks at the services recorded in `state_dir`, as the `up` that started them.

    A service this process started is its child: its exit status or signal is known (and
    written into the service's own log, which otherwise ends without a word). One started
    again by `minternet restart` is not: it is watched through the state file, and only its
    being gone is known. Services that `down` or `restart` are stopping (as the state file
    says) are not reported.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.reported: set[tuple[str, int]] = set()

    def look(self) -> Look:
        # Reap first, then read the state: `down` and `restart` mark the state file before
        # they signal, so a death seen here is always seen with the mark that explains it.
        codes = supervisor.poll_children()
        try:
            state = supervisor.load_state(self.state_dir)
        except SupervisorError:
            return Look()  # nothing to go by; `status` and `down` report the broken file
        if state is None:
            running = [pid for pid, code in codes.items() if code is None]
            return Look(state_removed=True, left_running=running)
        if state.stopping:
            return Look()
        recorded = {s.pid for s in state.services}
        supervisor.forget_children(pid for pid in codes if pid not in recorded)
        look = Look()
        alive = 0
        for s in state.services:
            if s.name in state.restarting:
                alive += 1
                continue
            if s.pid in codes:
                code = codes[s.pid]
                how = supervisor.describe_exit(code) if code is not None else ""
            else:
                how = "" if supervisor.running(s) else "is no longer running"
            if not how:
                alive += 1
            elif (s.name, s.pid) not in self.reported:
                self.reported.add((s.name, s.pid))
                look.died.append((s, how))
                note_in_log(s, how)
        look.all_dead = bool(state.services) and alive == 0
        return look


def note_in_log(s: Service, how: str) -> None:
    """Append one line saying how the service ended to its own log."""
    line = logs.format_line(
        s.name, "minternet.supervisor", logging.ERROR, f"pid {s.pid} {how} (seen by minternet up)"
    )
    with contextlib.suppress(OSError), open(s.log, "a") as f:
        f.write(line + "\n")
