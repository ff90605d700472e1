"""The HTTP tracker core: golden bencoded replies and every failure reason (always HTTP 200)."""

from __future__ import annotations

import ipaddress
import json
import random

import bencodepy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minternet.bounded import BoundedMap
from tests.tracker.conftest import IH, announce_query, enc, make_app, pid
from tracker import http_app
from tracker.config import TrackerConfig
from tracker.http_app import TrackerApp
from tracker.registry import Registry


def get(
    app: TrackerApp, target: str, ip: str = "10.0.0.1", xff: bytes | None = None, now: float = 100.0
) -> bytes:
    reply = app.handle(b"GET", target.encode(), ip, xff, now)
    assert reply.status == 200
    return reply.body


def failure(body: bytes) -> str:
    return bencodepy.decode(body)[b"failure reason"].decode()


def test_first_announce_golden_reply(app: TrackerApp) -> None:
    body = get(app, "/announce?" + announce_query())
    assert body == (
        b"d8:completei0e10:downloadedi0e10:incompletei1e8:intervali300e"
        b"12:min intervali60e5:peers0:e"
    )


def test_second_peer_gets_the_first_compact(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=6881), ip="10.0.0.1")
    body = get(app, "/announce?" + announce_query(peer_id=pid(2), port=6882, left=0), ip="10.0.0.2")
    assert body == (
        b"d8:completei1e10:downloadedi0e10:incompletei1e8:intervali300e"
        b"12:min intervali60e5:peers6:\n\x00\x00\x01\x1a\xe1e"
    )


def test_reply_decodes_with_bencodepy_and_matches_the_hand_encoding(app: TrackerApp) -> None:
    for n in range(10):
        get(
            app,
            "/announce?" + announce_query(peer_id=pid(n), port=7000 + n, left=n % 2),
            ip=f"10.0.0.{n + 1}",
        )
    body = get(app, "/announce?" + announce_query(peer_id=pid(99)))
    d = bencodepy.decode(body)
    assert d[b"complete"] == 5 and d[b"incomplete"] == 6
    assert len(d[b"peers"]) == 60
    assert bencodepy.encode(d) == body  # canonical bencoding: sorted keys, exact lengths


def test_compact_zero_gives_dictionaries_with_peer_ids(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=6881), ip="10.0.0.1")
    d = bencodepy.decode(
        get(app, "/announce?" + announce_query(peer_id=pid(2), compact=0), ip="10.0.0.2")
    )
    assert d[b"peers"] == [{b"ip": b"10.0.0.1", b"peer id": pid(1), b"port": 6881}]
    d = bencodepy.decode(
        get(
            app,
            "/announce?" + announce_query(peer_id=pid(2), compact=0, no_peer_id=1),
            ip="10.0.0.2",
        )
    )
    assert d[b"peers"] == [{b"ip": b"10.0.0.1", b"port": 6881}]


def test_ipv6_peers_are_listed_in_peers6(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=6881), ip="2001:db8::1")
    d = bencodepy.decode(get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2"))
    assert d[b"peers"] == b""
    assert d[b"peers6"] == bytes.fromhex("20010db8000000000000000000000001") + b"\x1a\xe1"
    get(app, "/announce?" + announce_query(peer_id=pid(4), left=0), ip="2001:db8::3")  # seeder
    d = bencodepy.decode(get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2"))
    assert sorted(d[b"peers6"][i : i + 18] for i in range(0, 36, 18)) == [
        bytes.fromhex("20010db8000000000000000000000001") + b"\x1a\xe1",
        bytes.fromhex("20010db8000000000000000000000003") + b"\x1a\xe1",
    ]
    d = bencodepy.decode(
        get(app, "/announce?" + announce_query(peer_id=pid(3)), ip="::ffff:10.0.0.3")
    )
    assert sorted([d[b"peers"]]) == [b"\n\x00\x00\x02\x1a\xe1"]  # v4-mapped counts as IPv4


def test_stopped_removes_and_completed_counts(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1)))
    get(app, "/announce?" + announce_query(peer_id=pid(1), left=0, event="completed"))
    d = bencodepy.decode(get(app, "/scrape?info_hash=" + enc(IH)))
    assert d == {b"files": {IH: {b"complete": 1, b"downloaded": 1, b"incomplete": 0}}}
    body = get(app, "/announce?" + announce_query(peer_id=pid(1), left=0, event="stopped"))
    assert bencodepy.decode(body)[b"complete"] == 0
    d = bencodepy.decode(get(app, "/scrape?info_hash=" + enc(IH)))
    assert d[b"files"][IH][b"complete"] == 0 and d[b"files"][IH][b"downloaded"] == 1


def test_stopped_for_an_unknown_torrent_creates_nothing(app: TrackerApp) -> None:
    query = announce_query(event="stopped")
    reply = app.handle(b"GET", b"/announce?" + query.encode(), "10.0.0.1", None, 100.0)
    assert (reply.status, reply.content_type, reply.fault) == (200, b"text/plain", None)
    assert reply.body == (
        b"d8:completei0e10:downloadedi0e10:incompletei0e8:intervali300e"
        b"12:min intervali60e5:peers0:e"
    )
    assert reply.note == f"10.0.0.1 stopped {IH.hex()} port 6881 (leecher)"
    assert app.registry.swarms == {}


def test_stopped_gets_no_peers(app: TrackerApp) -> None:
    for n in range(1, 4):
        get(app, "/announce?" + announce_query(peer_id=pid(n), left=n % 2), ip=f"10.0.0.{n}")
    body = get(app, "/announce?" + announce_query(peer_id=pid(1), event="stopped"), ip="10.0.0.1")
    assert bencodepy.decode(body) == {
        b"complete": 1,
        b"downloaded": 0,
        b"incomplete": 1,
        b"interval": 300,
        b"min interval": 60,
        b"peers": b"",
    }


BASE = announce_query()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("peer_id=" + enc(pid(1)) + "&port=1", "missing info_hash"),
        (
            "info_hash=" + enc(b"x" * 19) + "&peer_id=" + enc(pid(1)) + "&port=1",
            "invalid info_hash: must be 20 bytes",
        ),
        (
            "info_hash=" + enc(b"x" * 21) + "&peer_id=" + enc(pid(1)) + "&port=1",
            "invalid info_hash: must be 20 bytes",
        ),
        ("info_hash=" + enc(IH) + "&port=1", "missing peer_id"),
        ("info_hash=" + enc(IH) + "&peer_id=short&port=1", "invalid peer_id: must be 20 bytes"),
        ("info_hash=" + enc(IH) + "&peer_id=" + enc(pid(1)), "missing port"),
        (announce_query(port="http"), "invalid port"),  # type: ignore[arg-type]
        (announce_query(port=0), "invalid port"),
        (announce_query(port=65536), "invalid port"),
        (announce_query(port=-1), "invalid port"),
        (announce_query(left="-5"), "invalid left"),  # type: ignore[arg-type]
        (announce_query(left="1e3"), "invalid left"),  # type: ignore[arg-type]
        (BASE.replace("uploaded=0", "uploaded=x"), "invalid uploaded"),
        (BASE.replace("downloaded=0", "downloaded=99999999999999999999"), "invalid downloaded"),
        (announce_query(event="paused"), "invalid event"),
        (announce_query(numwant="lots"), "invalid numwant"),
        (announce_query(compact=2), "invalid compact"),
        (BASE + "&info_hash=" + enc(IH), "duplicate parameter 'info_hash'"),
        (BASE + "&port=2", "duplicate parameter 'port'"),
        (BASE + "&key=%zz", "malformed query string: bad percent escape"),
        ("", "missing info_hash"),
    ],
)
def test_every_bad_announce_gets_its_failure_reason(
    app: TrackerApp, query: str, reason: str
) -> None:
    reply = app.handle(b"GET", b"/announce?" + query.encode(), "10.0.0.1", None, 100.0)
    assert (reply.status, reply.content_type) == (200, b"text/plain")
    assert failure(reply.body) == reason
    assert reply.fault is not None and reply.fault.reason == reason  # the shell's log line
    assert app.registry.swarms == {}


def test_failure_reason_golden_bytes(app: TrackerApp) -> None:
    assert get(app, "/announce?port=1") == b"d14:failure reason17:missing info_hashe"


def test_whitelist_refuses_other_hashes() -> None:
    app = TrackerApp(Registry(TrackerConfig(rate_per_ip=0.0), random.Random(1), whitelist=[IH]))
    other = b"\x01" * 20
    assert failure(get(app, "/announce?" + announce_query(info_hash=other))) == (
        "info_hash not on this tracker's whitelist"
    )
    assert b"peers" in get(app, "/announce?" + announce_query())
    assert failure(get(app, "/scrape?info_hash=" + enc(other))).startswith("info_hash not on")


def test_passkeys_in_the_path() -> None:
    app = TrackerApp(Registry(TrackerConfig(passkeys=("s3cret",)), random.Random(1)))
    assert failure(get(app, "/announce?" + announce_query())).startswith("passkey required")
    assert failure(get(app, "/wrong/announce?" + announce_query())) == "unknown passkey"
    assert b"peers" in get(app, "/s3cret/announce?" + announce_query())
    assert b"files" in get(app, "/s3cret/scrape?info_hash=" + enc(IH))
    assert failure(get(app, "/scrape?info_hash=" + enc(IH))).startswith("passkey required")
    open_app = TrackerApp(Registry(TrackerConfig(), random.Random(1)))
    assert failure(get(open_app, "/abc/announce?" + announce_query())).startswith(
        "this tracker uses no passkeys"
    )


def test_numwant_default_and_cap() -> None:
    app = TrackerApp(
        Registry(TrackerConfig(rate_per_ip=0.0, numwant_default=3, numwant_max=5), random.Random(1))
    )
    for n in range(20):
        get(app, "/announce?" + announce_query(peer_id=pid(n), port=7000 + n), ip=f"10.0.1.{n}")
    me = announce_query(peer_id=pid(100))
    assert len(bencodepy.decode(get(app, "/announce?" + me))[b"peers"]) == 18
    assert len(bencodepy.decode(get(app, "/announce?" + me + "&numwant=50"))[b"peers"]) == 30
    assert len(bencodepy.decode(get(app, "/announce?" + me + "&numwant=1"))[b"peers"]) == 6
    assert len(bencodepy.decode(get(app, "/announce?" + me + "&numwant=0"))[b"peers"]) == 0


def test_ip_parameter_and_forwarded_for_only_from_trusted_proxies() -> None:
    app = TrackerApp(Registry(TrackerConfig(trusted_proxies=("10.9.9.9",)), random.Random(1)))
    get(app, "/announce?" + announce_query(peer_id=pid(1), ip="1.2.3.4"), ip="10.0.0.1")
    get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2", xff=b"5.6.7.8")
    get(app, "/announce?" + announce_query(peer_id=pid(3), ip="1.1.1.1"), ip="10.9.9.9")
    get(app, "/announce?" + announce_query(peer_id=pid(4)), ip="10.9.9.9", xff=b"7.7.7.7, 8.8.8.8")
    addrs = {p.peer_id: p.addr[:4] for p in app.registry.swarms[IH].peers.values()}
    assert addrs == {
        pid(1): bytes([10, 0, 0, 1]),
        pid(2): bytes([10, 0, 0, 2]),
        pid(3): bytes([1, 1, 1, 1]),
        pid(4): bytes([8, 8, 8, 8]),
    }
    assert (
        failure(
            get(app, "/announce?" + announce_query(peer_id=pid(5), ip="nonsense"), ip="10.9.9.9")
        )
        == "invalid ip"
    )


def test_rate_limit_per_ip() -> None:
    app = TrackerApp(Registry(TrackerConfig(rate_per_ip=1.0, rate_burst=3), random.Random(1)))
    q = "/announce?" + announce_query()
    assert [b"failure" in get(app, q, now=10.0) for _ in range(4)] == [False, False, False, True]
    other = "/announce?" + announce_query(peer_id=pid(2))
    assert b"failure" not in get(app, other, ip="10.0.0.2", now=10.0)  # another address
    assert b"failure" not in get(app, q, now=11.5)  # a token came back


def test_scrape_many_unknown_and_full_scrape() -> None:
    app = TrackerApp(Registry(TrackerConfig(), random.Random(1)))
    get(app, "/announce?" + announce_query())
    other = b"\x02" * 20
    d = bencodepy.decode(get(app, f"/scrape?info_hash={enc(IH)}&info_hash={enc(other)}"))
    assert d[b"files"] == {
        IH: {b"complete": 0, b"downloaded": 0, b"incomplete": 1},
        other: {b"complete": 0, b"downloaded": 0, b"incomplete": 0},
    }
    assert failure(get(app, "/scrape")).startswith("full scrape disabled")
    assert failure(get(app, "/scrape?info_hash=abc")) == "invalid info_hash: must be 20 bytes"
    many = "&".join(f"info_hash={enc(bytes([n]) * 20)}" for n in range(75))
    assert failure(get(app, "/scrape?" + many)).startswith("too many info_hash")
    full = TrackerApp(Registry(TrackerConfig(full_scrape=True), random.Random(1)))
    get(full, "/announce?" + announce_query())
    assert bencodepy.decode(get(full, "/scrape"))[b"files"].keys() == {IH}


def test_stats_pages() -> None:
    app = TrackerApp(
        Registry(TrackerConfig(names={IH.hex(): "course <notes>.pdf"}), random.Random(1)),
        name="tracker.networkutopia.com",
    )
    get(app, "/announce?" + announce_query(peer_id=pid(1), left=0))
    get(app, "/announce?" + announce_query(peer_id=pid(2), event="completed", left=0))
    get(app, "/announce?" + announce_query(peer_id=pid(3)))
    page = app.handle(b"GET", b"/", "10.0.0.1", None, 200.0)
    assert page.status == 200 and page.content_type.startswith(b"text/html")
    assert b"<title>tracker.networkutopia.com</title>" in page.body
    assert IH.hex().encode() in page.body and b"course &lt;notes&gt;.pdf" in page.body
    assert b"<td>2</td><td>1</td><td>1</td>" in page.body
    js = json.loads(app.handle(b"GET", b"/stats.json", "10.0.0.1", None, 300.0).body)
    assert js["torrents"] == [
        {
            "info_hash": IH.hex(),
            "name": "course <notes>.pdf",
            "seeders": 2,
            "leechers": 1,
            "completed": 1,
        }
    ]
    assert js["peers"] == 3 and js["swarms"] == 1
    assert app.handle(b"GET", b"/nope", "10.0.0.1", None, 1.0).status == 404


def test_the_stats_page_is_titled_tracker_unless_named(app: TrackerApp) -> None:
    page = app.handle(b"GET", b"/", "10.0.0.1", None, 1.0).body
    assert b"<title>tracker</title>" in page and b"<h1>tracker</h1>" in page


def stats_json(app: TrackerApp, now: float) -> dict:
    return json.loads(app.handle(b"GET", b"/stats.json", "10.0.0.1", None, now).body)


def test_stats_are_fresh_right_after_an_announce(app: TrackerApp) -> None:
    # The page used to be cached for 2 s: a user's curl right after an announce showed an
    # empty tracker (and the end-to-end tests depended on each other's timing).
    assert stats_json(app, 100.0)["swarms"] == 0
    get(app, "/announce?" + announce_query(), now=100.1)
    js = stats_json(app, 100.2)
    assert (js["swarms"], js["peers"], js["announces"], js["age_seconds"]) == (1, 1, 1, 0.0)
    get(app, "/announce?" + announce_query(event="stopped"), now=100.3)
    js = stats_json(app, 100.4)
    assert (js["peers"], js["announces"]) == (0, 2)


def test_stats_follow_expiry_and_a_new_whitelist(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(), now=100.0)
    assert stats_json(app, 100.0)["peers"] == 1
    app.registry.expire_all(100.0 + 2 * 300 + 1)
    assert stats_json(app, 701.5)["swarms"] == 0
    get(app, "/announce?" + announce_query(), now=702.0)
    assert stats_json(app, 702.0)["swarms"] == 1
    app.registry.set_whitelist([bytes(20)])
    assert stats_json(app, 702.0)["swarms"] == 0


def test_a_big_tracker_caches_its_stats_and_says_how_old_they_are(
    monkeypatch: pytest.MonkeyPatch, app: TrackerApp
) -> None:
    monkeypatch.setattr("tracker.http_app.STATS_FRESH_SWARMS", 1)
    for n in range(2):
        get(app, "/announce?" + announce_query(info_hash=bytes([n]) * 20), now=100.0)
    assert stats_json(app, 100.0)["swarms"] == 2
    get(app, "/announce?" + announce_query(info_hash=b"\x07" * 20), now=101.0)
    js = stats_json(app, 101.5)  # changed, but within STATS_CACHE_SECONDS: the cached figures
    assert (js["swarms"], js["age_seconds"]) == (2, 1.5)
    page = app.handle(b"GET", b"/", "10.0.0.1", None, 101.5).body
    assert b"2 announces (as of 1.5 s ago)" in page
    js = stats_json(app, 102.0)  # STATS_CACHE_SECONDS later: recomputed
    assert (js["swarms"], js["age_seconds"]) == (3, 0.0)
    assert stats_json(app, 500.0)["age_seconds"] == 0.0  # nothing changed: still exact
    assert stats_json(app, 501.0)["age_seconds"] == 0.0  # still nothing: exact, not 1 s old
    get(app, "/announce?" + announce_query(info_hash=b"\x08" * 20), now=501.0)
    js = stats_json(app, 501.0)  # a reload at the same instant does not walk every swarm again
    assert (js["swarms"], js["age_seconds"]) == (3, 0.0)
    assert stats_json(app, 503.0)["swarms"] == 4


def test_up_to_stats_fresh_swarms_the_figures_are_always_fresh(
    monkeypatch: pytest.MonkeyPatch, app: TrackerApp
) -> None:
    monkeypatch.setattr("tracker.http_app.STATS_FRESH_SWARMS", 2)
    get(app, "/announce?" + announce_query(info_hash=b"\x01" * 20), now=100.0)
    assert stats_json(app, 100.0)["swarms"] == 1
    get(app, "/announce?" + announce_query(info_hash=b"\x02" * 20), now=100.5)
    js = stats_json(app, 100.5)  # 2 swarms: STATS_FRESH_SWARMS, still fresh
    assert (js["swarms"], js["age_seconds"]) == (2, 0.0)
    get(app, "/announce?" + announce_query(info_hash=b"\x03" * 20), now=101.0)
    js = stats_json(app, 101.0)  # 3: more, so the figures of 0.5 s ago
    assert (js["swarms"], js["age_seconds"]) == (2, 0.5)


_TARGET_PIECES = st.sampled_from(
    [
        b"/announce",
        b"/scrape",
        b"/x/announce",
        b"/",
        b"/stats.json",
        b"?",
        b"&",
        b"=",
        b"%",
        b"%4",
        b"%41",
        b"+",
        b"info_hash=",
        b"peer_id=",
        b"port=",
        b"left=",
        b"event=",
        b"compact=",
        b"numwant=",
        b"ip=",
        b"1",
        b"-1",
        b"stopped",
        b"completed",
        b"\xff",
        b"\\x",
    ]
)


@given(
    st.lists(_TARGET_PIECES, max_size=30).map(b"".join) | st.binary(max_size=100),
    st.sampled_from(["10.0.0.1", "::1", "10.9.9.9"]),
)
def test_random_targets_always_get_a_reply(target: bytes, ip: str) -> None:
    app = TrackerApp(
        Registry(TrackerConfig(trusted_proxies=("10.9.9.9",), full_scrape=True), random.Random(1))
    )
    reply = app.handle(b"GET", b"/" + target, ip, b"1.2.3.4", 1.0)
    assert reply.status in (200, 404)
    if reply.content_type == b"text/plain" and reply.status == 200:
        bencodepy.decode(reply.body)  # every tracker reply is valid bencoding


def test_churn_events_are_worth_a_log_line_and_re_announces_are_not(app: TrackerApp) -> None:
    def note(**extra: object) -> str | None:
        return app.handle(b"GET", f"/announce?{announce_query(**extra)}".encode(), "10.0.0.9",
                          None, 100.0).note  # fmt: skip

    assert note(event="started") == f"10.0.0.9 started {IH.hex()} port 6881 (leecher)"
    assert note() is None
    assert note(event="completed", left=0) == f"10.0.0.9 completed {IH.hex()} port 6881 (seeder)"
    assert note(event="stopped", left=0) == f"10.0.0.9 stopped {IH.hex()} port 6881 (seeder)"


def peers_of(body: bytes) -> list[tuple[str, int]]:
    """The compact IPv4 peers of an announce reply, as (ip, port)."""
    blob = bencodepy.decode(body)[b"peers"]
    return [(".".join(map(str, blob[i : i + 4])), int.from_bytes(blob[i + 4 : i + 6], "big"))
            for i in range(0, len(blob), 6)]  # fmt: skip


@pytest.mark.parametrize("port", [1, 9, 10, 99, 999, 6881, 9999, 10000, 51413, 65535])
def test_every_port_of_one_to_five_digits_is_accepted_and_handed_out(port: int) -> None:
    # A limit of four digits once refused every 5-digit port (51413 is Transmission's default).
    app = make_app()
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=port), ip="10.0.0.1")
    body = get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2")
    assert peers_of(body) == [("10.0.0.1", port)]


@pytest.mark.parametrize("port", ["051413", "006881", "0000001", "65536", "99999"])
def test_a_port_of_six_digits_or_out_of_range_is_refused(port: str) -> None:
    app = make_app()
    assert failure(get(app, "/announce?" + announce_query(port=port))) == "invalid port"  # type: ignore[arg-type]
    assert app.registry.swarms == {}


def numwant_app() -> TrackerApp:
    app = make_app(numwant_default=3, numwant_max=5)
    for n in range(20):
        get(app, "/announce?" + announce_query(peer_id=pid(n), port=7000 + n), ip=f"10.0.1.{n}")
    return app


@pytest.mark.parametrize(
    ("numwant", "peers"),
    [("-1", 3), ("0", 0), ("1", 1), ("4", 4), ("5", 5), ("6", 5), ("999999999", 5)],
)
def test_numwant_minus_one_is_the_default_zero_is_none_and_more_is_capped(
    numwant: str, peers: int
) -> None:
    app = numwant_app()
    body = get(app, "/announce?" + announce_query(peer_id=pid(100), numwant=numwant))
    assert len(peers_of(body)) == peers
    d = bencodepy.decode(body)
    assert (d[b"complete"], d[b"incomplete"]) == (0, 21)  # the counts do not depend on it


@pytest.mark.parametrize("numwant", ["-2", "-0", "1000000000", "+5", " 5", "5.0", ""])
def test_numwant_that_is_not_minus_one_or_up_to_nine_digits_is_refused(numwant: str) -> None:
    app = make_app()
    query = announce_query(numwant=numwant).replace("+", "%2B").replace(" ", "%20")
    assert failure(get(app, "/announce?" + query)) == "invalid numwant"


@pytest.mark.parametrize("field", ["uploaded=0", "downloaded=0", "left=100"])
def test_counters_of_eighteen_digits_are_accepted_and_nineteen_refused(field: str) -> None:
    name = field.split("=")[0]
    app = make_app()
    assert b"failure" not in get(app, "/announce?" + BASE.replace(field, f"{name}={'9' * 18}"))
    nineteen = BASE.replace(field, f"{name}={'9' * 19}")
    assert failure(get(app, "/announce?" + nineteen)) == f"invalid {name}"


def test_an_announce_without_left_counts_as_a_leecher(app: TrackerApp) -> None:
    body = get(app, "/announce?" + BASE.replace("&left=100", ""))
    assert (bencodepy.decode(body)[b"complete"], bencodepy.decode(body)[b"incomplete"]) == (0, 1)


def test_a_scrape_names_at_most_max_scrape_hashes() -> None:
    app = make_app(max_scrape_hashes=3)
    get(app, "/announce?" + announce_query(info_hash=b"\x02" * 20))
    three = "&".join(f"info_hash={enc(bytes([n]) * 20)}" for n in range(1, 4))
    files = bencodepy.decode(get(app, "/scrape?" + three))[b"files"]
    assert files == {
        b"\x01" * 20: {b"complete": 0, b"downloaded": 0, b"incomplete": 0},
        b"\x02" * 20: {b"complete": 0, b"downloaded": 0, b"incomplete": 1},
        b"\x03" * 20: {b"complete": 0, b"downloaded": 0, b"incomplete": 0},
    }
    four = three + "&info_hash=" + enc(b"\x04" * 20)
    assert failure(get(app, "/scrape?" + four)) == "too many info_hash values (at most 3)"


def test_the_key_parameter_lets_a_peer_move_and_keeps_others_from_taking_its_place(
    app: TrackerApp,
) -> None:
    # BEP 3's `key` proves a peer's identity when its address changes; peer_ids are public.
    get(app, "/announce?" + announce_query(peer_id=pid(1), key="s3cr%2Bt"), ip="10.0.0.1")
    hijack = announce_query(peer_id=pid(1), port=9999, key="guess")
    assert failure(get(app, "/announce?" + hijack, ip="10.6.6.6")) == (
        "peer_id in use from another address (send the same key)"
    )
    stop = announce_query(peer_id=pid(1), event="stopped")
    assert failure(get(app, "/announce?" + stop, ip="10.6.6.6")).startswith("peer_id in use")
    unkeyed = announce_query(peer_id=pid(1), port=9999)
    assert failure(get(app, "/announce?" + unkeyed, ip="10.6.6.6")).startswith("peer_id in use")
    other = announce_query(peer_id=pid(2))
    assert peers_of(get(app, "/announce?" + other, ip="10.0.0.2")) == [("10.0.0.1", 6881)]
    # The real peer, on a new address with its key (percent-decoded as sent): it moves.
    moved = announce_query(peer_id=pid(1), port=7000, key="s3cr+t".replace("+", "%2B"))
    assert b"failure" not in get(app, "/announce?" + moved, ip="10.0.0.7")
    assert peers_of(get(app, "/announce?" + other, ip="10.0.0.2")) == [("10.0.0.7", 7000)]
    # `+` in a query is a space: "s3cr t" is another key.
    plus = announce_query(peer_id=pid(1), port=7000, key="s3cr+t")
    assert failure(get(app, "/announce?" + plus, ip="10.0.0.8")).startswith("peer_id in use")


def test_a_v4_mapped_address_is_an_ipv4_peer_from_the_socket_or_a_trusted_proxy() -> None:
    app = make_app(trusted_proxies=("10.9.9.9",))
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=7001), ip="::ffff:10.0.0.3")
    mapped = announce_query(peer_id=pid(2), port=7002, ip="%3A%3Affff%3A1.2.3.4")
    get(app, "/announce?" + mapped, ip="10.9.9.9")
    get(app, "/announce?" + announce_query(peer_id=pid(3), port=7003), ip="10.9.9.9",
        xff=b"::ffff:5.6.7.8")  # fmt: skip
    body = get(app, "/announce?" + announce_query(peer_id=pid(4)), ip="10.0.0.4")
    assert sorted(peers_of(body)) == [("1.2.3.4", 7002), ("10.0.0.3", 7001), ("5.6.7.8", 7003)]
    assert b"peers6" not in body


def test_compact_zero_lists_ipv6_peers_as_text() -> None:
    app = make_app()
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=7001), ip="2001:db8::1")
    get(app, "/announce?" + announce_query(peer_id=pid(2), port=7002), ip="10.0.0.2")
    query = announce_query(peer_id=pid(3), compact=0, no_peer_id=1)
    d = bencodepy.decode(get(app, "/announce?" + query, ip="10.0.0.3"))
    assert sorted(d[b"peers"], key=lambda p: p[b"port"]) == [
        {b"ip": b"2001:db8::1", b"port": 7001},
        {b"ip": b"10.0.0.2", b"port": 7002},
    ]


def test_compact_zero_golden_reply(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1), left=0, event="completed"))
    body = get(app, "/announce?" + announce_query(peer_id=pid(2), compact=0), ip="10.0.0.2")
    assert body == (
        b"d8:completei1e10:downloadedi1e10:incompletei1e8:intervali300e12:min intervali60e"
        b"5:peersld2:ip8:10.0.0.17:peer id20:" + pid(1) + b"4:porti6881eeee"
    )


def dict_peers(body: bytes) -> list[tuple[str, int]]:
    return [(p[b"ip"].decode(), p[b"port"]) for p in bencodepy.decode(body)[b"peers"]]


def compact_peers(body: bytes, key: bytes, width: int) -> list[tuple[str, int]]:
    """The compact peers (`peers` or `peers6`) of an announce reply, as (ip text, port)."""
    blob = bencodepy.decode(body).get(key, b"")
    entries = [blob[i : i + width] for i in range(0, len(blob), width)]
    return [(str(ipaddress.ip_address(e[:-2])), int.from_bytes(e[-2:], "big")) for e in entries]


@settings(max_examples=100)
@given(
    seeders=st.integers(0, 6),
    leechers=st.integers(0, 6),
    me=st.sampled_from(["seeder", "leecher", "new seeder", "new leecher"]),
    numwant=st.integers(0, 14),
    family=st.sampled_from([4, 6]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compact_and_dictionary_replies_hand_out_the_same_peers(
    seeders: int, leechers: int, me: str, numwant: int, family: int, seed: int
) -> None:
    # Two trackers in the same state with the same random draws: the only difference is the form.
    def ip(n: int) -> str:
        return f"10.0.0.{n}" if family == 4 else f"2001:db8::{n:x}"

    def reply(compact: int) -> bytes:
        app = TrackerApp(Registry(TrackerConfig(rate_per_ip=0.0), random.Random(seed)))
        for n in range(seeders + leechers):
            query = announce_query(peer_id=pid(n), port=7000 + n, left=0 if n < seeders else 9)
            get(app, "/announce?" + query, ip=ip(n + 1))
        if not me.startswith("new"):
            mine = announce_query(peer_id=pid(99), left=0 if me == "seeder" else 9)
            get(app, "/announce?" + mine, ip=ip(99))
        query = announce_query(peer_id=pid(99), left=0 if me.endswith("seeder") else 9,
                               numwant=numwant, compact=compact)  # fmt: skip
        return get(app, "/announce?" + query, ip=ip(99))

    body = reply(1)
    compact = compact_peers(body, b"peers", 6) + compact_peers(body, b"peers6", 18)
    assert dict_peers(reply(0)) == compact
    assert len(compact) == min(numwant, seeders + leechers)
    assert (ip(99), 6881) not in compact
    assert all(ipaddress.ip_address(a).version == family for a, _ in compact)


def test_a_peer_that_moves_to_another_family_is_handed_out_in_that_family(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1), port=7001, key="k1"), ip="10.0.0.1")
    moved = announce_query(peer_id=pid(1), port=7001, key="k1")
    assert b"failure" not in get(app, "/announce?" + moved, ip="2001:db8::1")
    d = bencodepy.decode(get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2"))
    assert d[b"peers"] == b""
    assert d[b"peers6"] == bytes.fromhex("20010db8000000000000000000000001") + b"\x1b\x59"
    # and back, as a seeder now
    back = announce_query(peer_id=pid(1), port=7001, key="k1", left=0)
    assert b"failure" not in get(app, "/announce?" + back, ip="10.0.0.1")
    d = bencodepy.decode(get(app, "/announce?" + announce_query(peer_id=pid(2)), ip="10.0.0.2"))
    assert (d[b"peers"], d.get(b"peers6"), d[b"complete"]) == (b"\n\x00\x00\x01\x1b\x59", None, 1)


@pytest.mark.parametrize(("no_peer_id", "listed"), [("", True), ("0", True), ("1", False)])
def test_no_peer_id_leaves_the_peer_ids_out_unless_empty_or_zero(
    app: TrackerApp, no_peer_id: str, listed: bool
) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1)), ip="10.0.0.1")
    query = announce_query(peer_id=pid(2), compact=0, no_peer_id=no_peer_id)
    (peer,) = bencodepy.decode(get(app, "/announce?" + query, ip="10.0.0.2"))[b"peers"]
    assert (b"peer id" in peer) is listed


def test_a_peer_that_sent_no_key_cannot_be_moved_by_anyone(app: TrackerApp) -> None:
    get(app, "/announce?" + announce_query(peer_id=pid(1)), ip="10.0.0.1")
    for key in (None, "", "anything"):  # None: no key either
        extra = {} if key is None else {"key": key}
        for event in ("", "stopped"):
            query = announce_query(peer_id=pid(1), event=event, **extra)
            body = get(app, "/announce?" + query, ip="10.0.0.9")
            assert failure(body) == "peer_id in use from another address (send the same key)"
    (peer,) = app.registry.swarms[IH].peers.values()
    assert peer.addr == bytes([10, 0, 0, 1, 0x1A, 0xE1])


def test_scrape_failures_are_bencoded_and_logged() -> None:
    app = make_app(passkeys=("alice",))
    for target, reason in [
        (b"/scrape?info_hash=" + enc(IH).encode(), "passkey required: use /<passkey>/announce"),
        (b"/bob/scrape?info_hash=" + enc(IH).encode(), "unknown passkey"),
        (b"/alice/scrape?info_hash=abc", "invalid info_hash: must be 20 bytes"),
        (b"/alice/scrape", "full scrape disabled: name at least one info_hash"),
    ]:
        reply = app.handle(b"GET", target, "10.0.0.1", None, 1.0)
        assert (reply.status, reply.content_type) == (200, b"text/plain")
        assert failure(reply.body) == reason
        assert reply.fault is not None and reply.fault.reason == reason
    target = b"/alice/scrape?info_hash=" + enc(IH).encode()
    reply = app.handle(b"GET", target, "10.0.0.1", None, 1.0)
    assert (reply.content_type, reply.fault) == (b"text/plain", None)
    assert reply.body == b"d5:filesd20:" + IH + b"d8:completei0e10:downloadedi0e10:incompletei0eeee"


@pytest.mark.parametrize(
    "path", [b"/a/b", b"/a/b/scrape", b"/a/b/announce", b"/scrape/x", b"/announcex", b"//"]
)
def test_other_paths_are_not_found(app: TrackerApp, path: bytes) -> None:
    reply = app.handle(b"GET", path + b"?info_hash=" + enc(IH).encode(), "10.0.0.1", None, 1.0)
    assert (reply.status, reply.content_type, reply.body) == (
        404,
        b"text/plain; charset=utf-8",
        b"not found\n",
    )


def test_a_passkey_announce_from_behind_a_trusted_proxy() -> None:
    app = make_app(passkeys=("alice",), trusted_proxies=("10.9.9.9",), rate_per_ip=1.0)
    query = "/alice/announce?" + announce_query(peer_id=pid(1))
    assert b"failure" not in get(app, query, ip="10.9.9.9", xff=b"1.2.3.4", now=50.0)
    assert b"failure" not in get(app, query, ip="10.9.9.9", xff=b"1.2.3.4", now=51.0)
    (peer,) = app.registry.swarms[IH].peers.values()
    assert (peer.addr, peer.seen) == (bytes([1, 2, 3, 4, 0x1A, 0xE1]), 51.0)


@pytest.mark.parametrize(
    "xff", [b"1.1.1.1,2.2.2.2", b"7.7.7.7, 1.1.1.1,  2.2.2.2 ", b"2.2.2.2", b"::1, 2.2.2.2"]
)
def test_the_last_forwarded_for_address_is_the_peer(xff: bytes) -> None:
    # The proxy appends the address it saw; earlier entries are what the client claimed.
    app = make_app(trusted_proxies=("10.9.9.9",))
    get(app, "/announce?" + announce_query(), ip="10.9.9.9", xff=xff)
    (peer,) = app.registry.swarms[IH].peers.values()
    assert peer.addr[:4] == bytes([2, 2, 2, 2])


def test_a_client_address_is_packed_once_then_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hot path's promise (tracker/addr.py): address text -> packed bytes, remembered.
    packed: list[str] = []
    real = http_app.pack_ip_into

    def counting(cache: BoundedMap[str, bytes], ip: str) -> bytes:
        packed.append(ip)
        return real(cache, ip)

    monkeypatch.setattr(http_app, "pack_ip_into", counting)
    app = make_app()
    for n in range(3):
        for ip in ("10.0.0.1", "2001:db8::1"):
            query = announce_query(peer_id=pid(n if ip[0] == "1" else n + 10), port=7000 + n)
            assert b"failure" not in get(app, "/announce?" + query, ip=ip)
    assert packed == ["10.0.0.1", "2001:db8::1"]
    v6 = bytes.fromhex("20010db8000000000000000000000001")
    assert sorted(p.addr for p in app.registry.swarms[IH].peers.values()) == sorted(
        ip + (7000 + n).to_bytes(2, "big") for n in range(3) for ip in (bytes([10, 0, 0, 1]), v6)
    )
