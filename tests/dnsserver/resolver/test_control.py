"""The control commands without a socket: what `dnsserver stats`, `dump` and `flush` print."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, RR

from dnsserver.resolver import control
from dnsserver.resolver.cache import Cache, CacheConfig, Rank
from dnsserver.resolver.control import Outcome, execute
from dnsserver.resolver.rrset import RRset, group, name_of
from dnsserver.resolver.stats import Stats

SOA = "t. 3600 IN SOA ns.t. h.t. 1 7200 3600 1209600 300"


def rrset(text: str) -> RRset:
    return next(iter(group(RR.fromZone(text)).values()))


@pytest.fixture
def cache() -> Cache:
    """www.t. A (two records), a.t. MX, gone.t. NXDOMAIN, www.t. NODATA for AAAA, b.www.t. A."""
    c = Cache()
    c.put_rrset(rrset("www.t. 300 IN A 127.0.0.1\nwww.t. 300 IN A 127.0.0.2"), Rank.ANSWER, 0.0)
    c.put_rrset(rrset("a.t. 600 IN MX 10 mail.t."), Rank.ANSWER, 0.0)
    c.put_rrset(rrset("b.www.t. 60 IN A 127.0.0.3"), Rank.GLUE, 0.0)
    c.put_negative(name_of("gone.t."), QTYPE.A, True, rrset(SOA), 0.0)
    c.put_negative(name_of("www.t."), QTYPE.AAAA, False, rrset(SOA), 0.0)
    return c


def run(line: str, cache: Cache, stats: Stats | None = None, now: float = 10.0) -> Outcome:
    return execute(line, cache=cache, stats=stats or Stats(), now=now)


def test_stats_reports_every_counter_and_the_cache_size() -> None:
    stats = Stats(queries=7, cache_hits=3, servfail=1, stale_answers=2)
    c = Cache(CacheConfig(max_entries=1))
    c.put_rrset(rrset("a.t. 60 IN A 127.0.0.1"), Rank.ANSWER, 0.0)
    c.put_rrset(rrset("b.t. 60 IN A 127.0.0.1"), Rank.ANSWER, 0.0)
    out = run("stats", c, stats)
    assert out.reply == {
        "stats": {**Stats().as_dict(), "queries": 7, "cache_hits": 3, "servfail": 1,
                  "stale_answers": 2},
        "cache_entries": 1,
        "cache_evictions": 1,
    }  # fmt: skip
    assert not out.flushed and out.log == ""


def test_dump_prints_zone_file_lines_and_negative_entries(cache: Cache) -> None:
    rows = run("dump", cache).reply["entries"]
    assert [" ".join(r.split()) for r in rows] == [
        "www.t. 290 IN A 127.0.0.1",
        "www.t. 290 IN A 127.0.0.2",
        "a.t. 590 IN MX 10 mail.t.",
        "b.www.t. 50 IN A 127.0.0.3",
        "gone.t. 290 NXDOMAIN",
        "www.t. 290 NODATA AAAA",
    ]


def test_dump_of_one_name_shows_that_owner_only(cache: Cache) -> None:
    rows = run("dump WWW.t", cache).reply["entries"]
    assert [" ".join(r.split()) for r in rows] == [
        "www.t. 290 IN A 127.0.0.1",
        "www.t. 290 IN A 127.0.0.2",
        "www.t. 290 NODATA AAAA",
    ]
    assert run("dump nothing.t.", cache).reply == {"entries": []}


def test_dump_leaves_out_expired_entries(cache: Cache) -> None:
    rows = run("dump", cache, now=60.0).reply["entries"]
    assert not any(r.startswith("b.www.t.") for r in rows) and len(rows) == 5


def test_dump_stops_at_its_line_limit(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "MAX_DUMP_LINES", 3)
    rows = run("dump", cache).reply["entries"]
    assert len(rows) == 3 and rows[2].startswith("a.t.")  # the A set, then the MX, then stop
    monkeypatch.setattr(control, "MAX_DUMP_LINES", 2)
    assert len(run("dump", cache).reply["entries"]) == 2  # a whole RRset is the last row


def test_flush_of_one_name(cache: Cache) -> None:
    out = run("flush www.t.", cache)
    assert out == Outcome(
        reply={"flushed": 2}, flushed=True, log="cache flush www.t.: 2 entries removed"
    )
    assert cache.get(name_of("b.www.t."), QTYPE.A, 10.0) is not None  # below it: kept
    assert run("flush a.t", cache).log == "cache flush a.t.: 1 entry removed"
    assert run("flush a.t", cache).log == "cache flush a.t.: 0 entries removed"


def test_flush_tree_and_flush_everything(cache: Cache) -> None:
    out = run("FLUSH-TREE www.t", cache)
    assert out.reply == {"flushed": 3} and out.flushed
    assert out.log == "cache flush-tree www.t.: 3 entries removed"
    out = run("flush", cache)
    assert out.reply == {"flushed": 2} and out.flushed
    assert out.log == "cache flush everything: 2 entries removed" and len(cache) == 0


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("", "empty command"),
        ("   ", "empty command"),
        ("flush-tree", "flush-tree needs a NAME"),
        ("frobnicate", "unknown command 'frobnicate' (stats, dump, flush, flush-tree)"),
        ("dump a..b", "bad name 'a..b': empty label"),
    ],
)
def test_errors_say_what_was_wrong(cache: Cache, line: str, error: str) -> None:
    out = run(line, cache)
    assert out.reply == {"error": error}
    assert not out.flushed and len(cache) == 5  # nothing was flushed


def test_entries_is_singular_for_one() -> None:
    assert [control.entries(n) for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
