"""Terminal output of the command-line programs: no traceback for text a terminal cannot take."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path


def setup() -> None:
    """Print bytes that are not UTF-8 (a path or name from argv) as they came, not as an error.

    Python hands such bytes over as lone surrogates (PEP 383), and a strict UTF-8 stdout raises
    UnicodeEncodeError when they are printed back: `minternet status --state-dir $'\\xff'` ended in
    a traceback. Writing them back with surrogateescape shows the user the bytes they typed.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")


def program(name: str) -> str:
    """How to type the console script `name` (dnsserver, minternet, ...) so that it runs as shown.

    `make up` runs .venv/bin/minternet from a shell where .venv is not active, so a bare
    `dnsserver` in the "Try:" block was "command not found". Bare when the shell's PATH finds this
    very script, else its path: relative to the working directory when below it, else absolute.
    """
    script = Path(sys.executable).parent / name  # not resolved: a venv's python is a symlink
    if not script.exists():
        return name
    found = shutil.which(name)
    if found is not None and Path(found).resolve() == script.resolve():
        return name
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)


def piped(main: Callable[[], int]) -> int:
    """Run a command's `main`; a reader that goes away (`minternet zones | head`) ends it quietly.

    Without this, the write into the closed pipe ended in a BrokenPipeError traceback. Exit
    status 1; stdout then points at /dev/null so that the interpreter's last flush is quiet too.
    """
    try:
        status = main()
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
