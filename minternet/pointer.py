"""Where the user's topology is: `up` records its state directory for `status`/`down`/`restart`.

The pointer is one line, the state directory's absolute path, in `$MINTERNET_STATE_POINTER`
if set, else `$XDG_RUNTIME_DIR/minternet/current`, else `~/.local/state/minternet/current`.
An empty `MINTERNET_STATE_POINTER` turns the pointer off: the test suite runs so, and a test
that needs one names its own file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ENV = "MINTERNET_STATE_POINTER"


def location() -> Path | None:
    """The pointer file; None when it is turned off or has no place (no HOME)."""
    explicit = os.environ.get(ENV)
    if explicit is not None:
        return Path(explicit) if explicit else None
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "minternet" / "current"
    try:
        return Path.home() / ".local" / "state" / "minternet" / "current"
    except RuntimeError:  # no HOME and no password entry
        return None


def record(state_dir: Path) -> Path | None:
    """Point at `state_dir`; returns the pointer file. Raises OSError when it cannot be written."""
    path = location()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{state_dir.resolve()}\n")
    os.replace(tmp, path)
    return path


def read() -> Path | None:
    """The state directory pointed at, if any."""
    path = location()
    if path is None:
        return None
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text.startswith("/") else None


def clear(state_dir: Path) -> None:
    """Remove the pointer if it points at `state_dir` (another topology's is left alone)."""
    path = location()
    if path is not None and read() == state_dir.resolve():
        with contextlib.suppress(OSError):
            path.unlink()
