"""Tracker statistics for people (`/`, an HTML page) and scripts (`/stats.json`)."""

from __future__ import annotations

import heapq
import html
import json
from dataclasses import dataclass

from tracker.registry import Registry

MAX_LISTED = 1000  # swarms listed on the page: the busiest ones


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmStats:
    info_hash: str  # hex
    name: str | None
    seeders: int
    leechers: int
    completed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    swarms: int
    peers: int
    seeders: int
    leechers: int
    completed: int
    announces: int
    listed: tuple[SwarmStats, ...]


def collect(registry: Registry, names: dict[str, str]) -> Stats:
    seeders = leechers = completed = 0
    for swarm in registry.swarms.values():
        seeders += swarm.seeders
        leechers += swarm.leechers
        completed += swarm.completed
    busiest = heapq.nlargest(
        MAX_LISTED, registry.swarms.items(), key=lambda item: len(item[1].peers)
    )
    listed = tuple(
        SwarmStats(
            info_hash=h.hex(),
            name=names.get(h.hex()),
            seeders=s.seeders,
            leechers=s.leechers,
            completed=s.completed,
        )
        for h, s in sorted(busiest, key=lambda item: item[0])
    )
    return Stats(
        swarms=len(registry.swarms),
        peers=registry.peer_count,
        seeders=seeders,
        leechers=leechers,
        completed=completed,
        announces=registry.announces,
        listed=listed,
    )


def to_json(stats: Stats, age: float) -> bytes:
    """The statistics for scripts; `age_seconds` says how long ago they were computed."""
    return json.dumps(
        {
            "age_seconds": round(age, 1),
            "swarms": stats.swarms,
            "peers": stats.peers,
            "seeders": stats.seeders,
            "leechers": stats.leechers,
            "completed": stats.completed,
            "announces": stats.announces,
            "torrents": [
                {
                    "info_hash": s.info_hash,
                    "name": s.name,
                    "seeders": s.seeders,
                    "leechers": s.leechers,
                    "completed": s.completed,
                }
                for s in stats.listed
            ],
        },
        indent=1,
    ).encode()


def to_html(stats: Stats, age: float, title: str) -> bytes:
    rows = "\n".join(
        f"<tr><td><code>{s.info_hash}</code></td><td>{html.escape(s.name or '')}</td>"
        f"<td>{s.seeders}</td><td>{s.leechers}</td><td>{s.completed}</td></tr>"
        for s in stats.listed
    )
    t = html.escape(title)
    more = (
        f"<p>Showing the {len(stats.listed)} busiest of {stats.swarms} swarms.</p>"
        if len(stats.listed) < stats.swarms
        else ""
    )
    as_of = f" (as of {age:.1f} s ago)" if age >= 0.05 else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{t}</title>
<style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:left}}</style></head>
<body><h1>{t}</h1>
<p>{stats.swarms} swarms, {stats.peers} peers ({stats.seeders} seeders, {stats.leechers} leechers),
{stats.completed} completed downloads, {stats.announces} announces{as_of}.
Scripts: <a href="/stats.json">/stats.json</a>.</p>{more}
<table><tr><th>info-hash</th><th>name</th><th>seeders</th><th>leechers</th><th>completed</th></tr>
{rows}
</table></body></html>
"""
    return page.encode()
