"""The outbound queue on disk: one message file and one envelope file per queued message.

    queue/data/ID           the message as submitted (written once, never changed)
    queue/entries/ID.json   its envelope (retry.Entry), replaced whole after every attempt
    queue/corrupt/          entries that could not be read, set aside for a person to look at

`put` writes the message, then the envelope, each to a temporary file that is fsynced and
renamed into place, with the folder fsynced after (users.write_atomically): when it returns,
the message survives a crash or a power cut, and only then may the server say 250 (DESIGN.md).
A crash before the envelope's rename leaves a message file without an envelope, which was never
acknowledged: `load` removes it. `update` replaces the envelope the same way, so a restart sees
the recipients an attempt left, not those before it (a recipient delivered is never tried
again, unless the crash came between the remote server's 250 and the update: then it is tried
once more, as RFC 5321 §6.1 prefers to losing it). `remove` unlinks the envelope first.

`load` reads every envelope at start; one that is damaged, or whose message file is gone, is
moved to corrupt/ with its message file (as ID.message) and reported (never silently dropped,
never a crash). Temporary files left by a crash are removed. The spool holds envelopes in
memory only as the caller keeps them; the messages stay on disk (100,000 deferred messages cost
their envelopes, not their content).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mailserver.queue.retry import Entry, QueueError, from_json, to_json
from mailserver.users import write_atomically

__all__ = ["Loaded", "Spool"]

_ID = re.compile(r"[0-9A-Za-z]{1,64}")


@dataclass(frozen=True, slots=True)
class Loaded:
    """What `load` found: the entries, and what it set aside or cleaned up (for the log)."""

    entries: list[Entry]
    corrupt: list[str]  # "ID: why", each moved to corrupt/
    orphans: int  # message files without an envelope (never acknowledged), removed


class Spool:
    """The queue's folder (created on first use)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.data = self.root / "data"
        self.entries = self.root / "entries"
        self.corrupt = self.root / "corrupt"
        for folder in (self.data, self.entries, self.corrupt):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _check(self, ident: str) -> str:
        if not _ID.fullmatch(ident):
            raise QueueError(f"bad queue id {ident!r}")
        return ident

    def put(self, entry: Entry, message: bytes) -> None:
        """Queue a message durably (see the module docstring)."""
        ident = self._check(entry.id)
        if (self.entries / f"{ident}.json").exists():
            raise QueueError(f"queue id {ident} is taken")
        write_atomically(self.data / ident, message)
        write_atomically(self.entries / f"{ident}.json", to_json(entry))

    def update(self, entry: Entry) -> None:
        """Replace a queued message's envelope (after an attempt, or `queue retry`)."""
        write_atomically(self.entries / f"{self._check(entry.id)}.json", to_json(entry))

    def remove(self, ident: str) -> None:
        """Forget a message: its envelope, then its content."""
        self._check(ident)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.entries / f"{ident}.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.data / ident)

    def message(self, ident: str) -> bytes:
        """A queued message's content; FileNotFoundError when it is not queued."""
        return (self.data / self._check(ident)).read_bytes()

    def header(self, ident: str, limit: int = 64 * 1024) -> bytes:
        """The start of a queued message (its header, for a notice), at most `limit` octets."""
        with open(self.data / self._check(ident), "rb") as f:
            head = f.read(limit)
        # the blank line after the fields; with a CRLF before, also a message without fields
        end = (b"\r\n" + head).find(b"\r\n\r\n")
        return head if end < 0 else head[: end + 2]

    def load(self) -> Loaded:
        """Every readable entry, in arrival order; the damaged ones set aside."""
        entries: list[Entry] = []
        corrupt: list[str] = []
        names = set()
        for path in sorted(self.entries.iterdir()):
            ident = path.name.removesuffix(".json")
            if path.name.startswith("."):  # a temporary file of write_atomically
                with contextlib.suppress(OSError):
                    os.unlink(path)
                continue
            try:
                if not path.name.endswith(".json") or not _ID.fullmatch(ident):
                    raise QueueError("not a queue entry's name")
                entry = from_json(path.read_bytes())
                if entry.id != ident:
                    raise QueueError(f"it names another id, {entry.id}")
                if not (self.data / ident).is_file():
                    raise QueueError("its message file is missing")
            except (QueueError, OSError) as e:
                corrupt.append(f"{path.name}: {e}")
                with contextlib.suppress(OSError):
                    os.replace(path, self.corrupt / path.name)
                with contextlib.suppress(OSError):  # its message, if any, goes with it (named
                    # apart: an envelope without its suffix has the message's own name)
                    os.replace(self.data / ident, self.corrupt / f"{ident}.message")
                continue
            entries.append(entry)
            names.add(ident)
        orphans = 0
        for path in self.data.iterdir():
            if path.name not in names:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    orphans += not path.name.startswith(".")
        entries.sort(key=lambda e: (e.arrival, e.id))
        return Loaded(entries, corrupt, orphans)
