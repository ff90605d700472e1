"""The statistics page and JSON: exact figures, the busiest swarms, how old the figures are."""

from __future__ import annotations

import json
import random

import pytest

from tests.tracker.test_registry import addr, req
from tracker import stats
from tracker.config import TrackerConfig
from tracker.registry import Registry

H1, H2, H3 = (bytes([n]) * 20 for n in (1, 2, 3))


def registry() -> Registry:
    """Swarm 1: two seeders (one completed here), a leecher; swarm 2: one leecher (an IPv6
    peer); swarm 3: a seeder."""
    reg = Registry(TrackerConfig(), random.Random(1))
    reg.announce(req(1, left=0, info_hash=H1), addr(1), 1.0)
    reg.announce(req(2, left=0, event=1, info_hash=H1), addr(2), 1.0)
    reg.announce(req(3, info_hash=H1), addr(3), 1.0)
    reg.announce(req(4, info_hash=H2), bytes(15) + b"\x01\x1a\xe1", 1.0)
    reg.announce(req(5, left=0, info_hash=H3), addr(5), 1.0)
    return reg


def test_collect_counts_every_swarm_and_lists_them_by_info_hash() -> None:
    got = stats.collect(registry(), {H2.hex(): "two"})
    assert got == stats.Stats(
        swarms=3,
        peers=5,
        seeders=3,
        leechers=2,
        completed=1,
        announces=5,
        listed=(
            stats.SwarmStats(info_hash=H1.hex(), name=None, seeders=2, leechers=1, completed=1),
            stats.SwarmStats(info_hash=H2.hex(), name="two", seeders=0, leechers=1, completed=0),
            stats.SwarmStats(info_hash=H3.hex(), name=None, seeders=1, leechers=0, completed=0),
        ),
    )


def test_only_the_busiest_swarms_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "MAX_LISTED", 1)
    got = stats.collect(registry(), {})
    assert [s.info_hash for s in got.listed] == [H1.hex()] and got.swarms == 3  # 3 peers
    page = stats.to_html(got, 0.0, "t").decode()
    assert "<p>Showing the 1 busiest of 3 swarms.</p>" in page


def test_the_json_golden() -> None:
    got = stats.collect(registry(), {H1.hex(): "one"})
    js = json.loads(stats.to_json(got, 1.25))
    assert js == {
        "age_seconds": 1.2,
        "swarms": 3,
        "peers": 5,
        "seeders": 3,
        "leechers": 2,
        "completed": 1,
        "announces": 5,
        "torrents": [
            {"info_hash": H1.hex(), "name": "one", "seeders": 2, "leechers": 1, "completed": 1},
            {"info_hash": H2.hex(), "name": None, "seeders": 0, "leechers": 1, "completed": 0},
            {"info_hash": H3.hex(), "name": None, "seeders": 1, "leechers": 0, "completed": 0},
        ],
    }


def test_the_page_golden_rows_and_summary() -> None:
    got = stats.collect(registry(), {H1.hex(): "<one>"})
    page = stats.to_html(got, 0.0, "tracker & co").decode()
    assert "<title>tracker &amp; co</title>" in page and "<h1>tracker &amp; co</h1>" in page
    assert (
        "<p>3 swarms, 5 peers (3 seeders, 2 leechers),\n1 completed downloads, 5 announces.\n"
    ) in page
    rows = (
        f"<tr><td><code>{H1.hex()}</code></td><td>&lt;one&gt;</td>"
        "<td>2</td><td>1</td><td>1</td></tr>\n"
        f"<tr><td><code>{H2.hex()}</code></td><td></td><td>0</td><td>1</td><td>0</td></tr>\n"
        f"<tr><td><code>{H3.hex()}</code></td><td></td><td>1</td><td>0</td><td>0</td></tr>\n"
        "</table>"
    )
    assert rows in page
    # Every swarm is listed: nothing between the summary and the table.
    assert '<a href="/stats.json">/stats.json</a>.</p>\n<table>' in page


@pytest.mark.parametrize(
    ("age", "said"),
    [(0.0, ""), (0.049, ""), (0.05, " (as of 0.1 s ago)"), (1.5, " (as of 1.5 s ago)")],
)
def test_the_page_says_how_old_figures_are_from_a_twentieth_of_a_second(
    age: float, said: str
) -> None:
    page = stats.to_html(stats.collect(registry(), {}), age, "t").decode()
    assert f"5 announces{said}.\n" in page


def test_the_json_text_golden() -> None:
    empty = stats.collect(Registry(TrackerConfig(), random.Random(1)), {})
    assert stats.to_json(empty, 0.04) == (
        b'{\n "age_seconds": 0.0,\n "swarms": 0,\n "peers": 0,\n "seeders": 0,\n'
        b' "leechers": 0,\n "completed": 0,\n "announces": 0,\n "torrents": []\n}'
    )
