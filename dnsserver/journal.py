"""The journal of a dynamic zone, and the zone file it is compacted into (sans-I/O text).

Every update that changes a zone is appended to `<zone file>.jnl` and fsynced before the
client hears NOERROR; now and then the zone is written back to its file (atomically) and the
journal keeps only its last entries, which IXFR serves. One entry is one line:

    <crc32 of the JSON, 8 hex digits> {"from": 5, "to": 6, "removed": [...], "added": [...]}

where `removed` and `added` are records as master-file lines with absolute names, the old and
the new SOA first (the order of an IXFR difference sequence, RFC 1995 §4). A line that does not
end in a newline, or whose checksum does not match, is an entry that was being written when
the process died: it was never acknowledged, and it is dropped with the rest of the file after
it (`read` says where the good part ends, and the shell truncates the file there).

Loading a dynamic zone: read the zone file (serial S), then replay the entries that follow
from S in order; entries that end at or before S are history, already in the file. A gap (an
entry from another serial once replay began) stops the replay with a warning: the zone file
was edited by hand with a new serial, and the file wins, as with BIND after `rndc thaw`.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from dnsserver.masterfile import Record, name_text, parse_record, record_text
from dnsserver.update import Content, JournalMismatch, apply_difference

KEEP = 1000  # entries kept after compaction (the IXFR history)


@dataclass(frozen=True, slots=True)
class Entry:
    """One update's difference: serial `start` -> `end`."""

    start: int
    end: int
    removed: tuple[Record, ...]
    added: tuple[Record, ...]


def encode(entry: Entry) -> bytes:
    body = json.dumps(
        {
            "from": entry.start,
            "to": entry.end,
            "removed": [record_text(r) for r in entry.removed],
            "added": [record_text(r) for r in entry.added],
        },
        separators=(",", ":"),  # (ASCII: json's default escapes anything else)
    ).encode()
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def entry_of(removed: Sequence[Record], added: Sequence[Record]) -> Entry:
    """The entry of an update's difference (the SOAs first, as `apply_update` gives it)."""
    start = int(removed[0].rdata.times[0])  # type: ignore[attr-defined]
    end = int(added[0].rdata.times[0])  # type: ignore[attr-defined]
    return Entry(start, end, tuple(removed), tuple(added))


@dataclass(frozen=True, slots=True)
class Read:
    """A journal read back: its good entries, the length of the good part, and why the rest
    (if any) was dropped."""

    entries: tuple[Entry, ...]
    good_length: int
    problem: str | None = None


def read(data: bytes, zone: tuple[bytes, ...] | None = None) -> Read:
    """Decode a journal; stops at the first torn or damaged line."""
    entries: list[Entry] = []
    pos = 0
    number = 0
    while pos < len(data):
        number += 1
        end = data.find(b"\n", pos)
        if end < 0:
            return Read(tuple(entries), pos, f"entry {number} is incomplete (a torn write)")
        line = data[pos:end]
        try:
            entry = _decode(line, zone)
        except ValueError as e:
            return Read(tuple(entries), pos, f"entry {number} is damaged: {e}")
        entries.append(entry)
        pos = end + 1
    return Read(tuple(entries), pos)


def _decode(line: bytes, zone: tuple[bytes, ...] | None) -> Entry:
    if len(line) < 10 or line[8:9] != b" ":
        raise ValueError("no checksum")
    body = line[9:]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        raise ValueError("no checksum") from None
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    try:
        obj = json.loads(body)
        start, end = int(obj["from"]), int(obj["to"])
        removed = tuple(parse_record(t, zone) for t in obj["removed"])
        added = tuple(parse_record(t, zone) for t in obj["added"])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"not an entry ({e})") from None
    if not removed or not added:
        raise ValueError("an entry without its SOAs")
    return Entry(start, end, removed, added)


@dataclass(frozen=True, slots=True)
class Replayed:
    content: Content
    applied: int
    warning: str | None = None


def replay(content: Content, entries: Sequence[Entry]) -> Replayed:
    """Apply the entries that follow from the zone's serial (see the module docstring)."""
    applied = 0
    for entry in entries:
        if applied == 0 and entry.start != content.serial:
            continue  # history the zone file already holds, or before a hand edit
        if entry.start != content.serial:
            return Replayed(
                content,
                applied,
                f"journal entry {entry.start} -> {entry.end} does not follow serial "
                f"{content.serial}: the rest of the journal is not applied",
            )
        try:
            content = apply_difference(content, entry.removed, entry.added)
        except JournalMismatch as e:
            return Replayed(content, applied, f"journal entry {entry.start} -> {entry.end}: {e}")
        applied += 1
    return Replayed(content, applied)


def history(entries: Sequence[Entry], serial: int) -> list[Entry]:
    """The entries that lead from `serial` to the end of the journal, in order (IXFR); [] if
    the journal does not reach back to `serial`."""
    for i, entry in enumerate(entries):
        if entry.start == serial:
            chain = list(entries[i:])
            if all(a.end == b.start for a, b in itertools.pairwise(chain)):
                return chain
            return []
    return []


def zone_text(content: Content, why: str) -> str:
    """The zone as a master file with absolute names (compaction, a secondary's copy)."""
    head = [
        f"; zone {name_text(content.origin_labels)} -- {why}",
        f"$ORIGIN {name_text(content.origin_labels)}",
    ]
    return "\n".join([*head, *(record_text(r) for r in content.records())]) + "\n"
