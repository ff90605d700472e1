"""The control protocol's commands (one text line in, one JSON object out), without I/O.

stats                 counters, cache sizes, upstream source ports in use
dump [NAME]           cached records (zone-file lines), all or one owner name
flush [NAME]          drop the whole cache, or one name's entries
flush-tree NAME       drop NAME and everything below it
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dnsserver.resolver.cache import NXDOMAIN_KEY, Cache
from dnsserver.resolver.rrset import RRset, to_text, type_text
from dnsserver.resolver.stats import Stats
from dnsserver.text import TextError, parse_name

MAX_DUMP_LINES = 100_000
COMMANDS = ("stats", "dump", "flush", "flush-tree")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    reply: dict[str, Any]
    flushed: bool = False  # the shell must also drop its packed answers
    log: str = ""  # a line worth logging, if any
    extra: dict[str, Any] = field(default_factory=dict)


def entries(n: int) -> str:
    """'1 entry', '2 entries'."""
    return f"{n} entry" if n == 1 else f"{n} entries"


def execute(line: str, *, cache: Cache, stats: Stats, now: float) -> Outcome:
    words = line.split()
    if not words:
        return Outcome(reply={"error": "empty command"})
    cmd, args = words[0].lower(), words[1:]
    try:
        want = parse_name(args[0]) if args else None
    except TextError as e:
        return Outcome(reply={"error": str(e)})
    if cmd == "stats":
        return Outcome(
            reply={
                "stats": stats.as_dict(),
                "cache_entries": len(cache),
                "cache_evictions": cache.evictions,
            }
        )
    if cmd == "dump":
        rows: list[str] = []
        for owner, rtype, ttl, _rank, rdatas, negative in cache.entries(now):
            if want is not None and owner != want:
                continue
            if negative:
                kind = "NXDOMAIN" if rtype == NXDOMAIN_KEY else f"NODATA {type_text(rtype)}"
                rows.append(f"{to_text(owner)} {ttl} {kind}")
            else:
                rows.extend(rr.toZone() for rr in RRset(owner, rtype, ttl, rdatas).to_rrs())
            if len(rows) >= MAX_DUMP_LINES:
                break
        return Outcome(reply={"entries": rows})
    if cmd in ("flush", "flush-tree"):
        if cmd == "flush-tree" and want is None:
            return Outcome(reply={"error": "flush-tree needs a NAME"})
        n = cache.flush(want, subtree=cmd == "flush-tree")
        what = to_text(want) if want is not None else "everything"
        return Outcome(
            reply={"flushed": n}, flushed=True, log=f"cache {cmd} {what}: {entries(n)} removed"
        )
    return Outcome(reply={"error": f"unknown command {cmd!r} ({', '.join(COMMANDS)})"})
