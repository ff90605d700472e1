"""The tracker client's core: announce URLs and UDP packets byte for byte, replies in every form
trackers use, hostile replies, BEP 12 tiers and the re-announce schedule."""

from __future__ import annotations

import random
import struct
from urllib.parse import urlsplit

import bencodepy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.announce import (
    PROTOCOL_ID,
    RETRY_MAX,
    AnnounceReply,
    AnnounceRequest,
    Schedule,
    Tiers,
    TrackerError,
    TrackerFailure,
    http_url,
    read_http,
    read_udp_announce,
    read_udp_connect,
    udp_address,
    udp_announce,
    udp_connect,
)
from tracker.query import parse_query

HASH = bytes(range(19)) + b"/"  # controls, and a slash, which must be escaped too
PEER_ID = b"-MN0100-" + b"abc def~.%/&"


def request(**kw: object) -> AnnounceRequest:
    values: dict[str, object] = {
        "info_hash": HASH,
        "peer_id": PEER_ID,
        "port": 6881,
        "uploaded": 1,
        "downloaded": 2,
        "left": 3,
    }
    values.update(kw)
    return AnnounceRequest(**values)  # type: ignore[arg-type]


# -- the request ---------------------------------------------------------------------------------


def test_http_url_byte_for_byte() -> None:
    url = http_url("http://t.example:6969/announce", request(event="started", key=0xBEEF))
    assert url == (
        "http://t.example:6969/announce?info_hash=%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D"
        "%0E%0F%10%11%12%2F&peer_id=-MN0100-abc%20def~.%25%2F%26&port=6881&uploaded=1"
        "&downloaded=2&left=3&compact=1&numwant=50&key=0000beef&event=started"
    )


def test_a_regular_announce_has_no_event_and_a_query_is_extended() -> None:
    url = http_url("http://t.example/announce?passkey=x", request(), tracker_id=b"t/1")
    assert "event=" not in url
    assert url.startswith("http://t.example/announce?passkey=x&info_hash=")
    assert url.endswith("&key=00000000&trackerid=t%2F1")


def test_a_peer_behind_a_published_port_tells_the_tracker_its_address() -> None:
    url = http_url("http://t/announce", request(ip="127.0.0.60"))
    assert url.endswith("&key=00000000&ip=127.0.0.60")
    query, _ = parse_query(urlsplit(url).query.encode())
    assert query[b"ip"] == b"127.0.0.60"
    packet = udp_announce(1, 1, request(ip="127.0.0.60"))
    assert packet[84:88] == bytes([127, 0, 0, 60])  # BEP 15's IP address field
    assert udp_announce(1, 1, request())[84:88] == bytes(4)  # 0: the sender's


@pytest.mark.parametrize("ip", ["", "::1", "127.0.0.256", "example.org"])
def test_the_announced_address_is_an_ipv4_address(ip: str) -> None:
    with pytest.raises(ValueError, match=r"^announce address .* is not an IPv4 address$"):
        request(ip=ip)


def test_our_own_tracker_reads_what_we_send() -> None:
    url = http_url("http://t/announce", request(event="completed", numwant=7, key=1 << 31))
    query, hashes = parse_query(urlsplit(url).query.encode())
    assert hashes == [HASH]
    assert query[b"peer_id"] == PEER_ID
    assert query[b"event"] == b"completed"
    assert query[b"numwant"] == b"7"
    assert query[b"key"] == b"80000000"
    assert query[b"compact"] == b"1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"info_hash": b"x" * 19}, "^info_hash and peer_id are 20 bytes each$"),
        ({"peer_id": b"x" * 21}, "^info_hash and peer_id are 20 bytes each$"),
        ({"event": "paused"}, "^unknown announce event 'paused'$"),
        ({"port": 0}, "^port 0 is not 1-65535$"),
        ({"port": 65536}, "^port 65536 is not 1-65535$"),
        ({"key": -1}, "^key is a 32-bit unsigned number$"),
        ({"key": 1 << 32}, "^key is a 32-bit unsigned number$"),
    ],
)
def test_a_request_that_cannot_be_sent(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**change)


def test_the_edges_of_a_request() -> None:
    assert request(port=1).port == 1
    assert request(port=65535).port == 65535
    assert request(key=(1 << 32) - 1).key == (1 << 32) - 1
    for event in ("", "started", "completed", "stopped"):
        assert request(event=event).event == event


# -- HTTP replies --------------------------------------------------------------------------------


def reply(**fields: object) -> bytes:
    return bencodepy.encode({k.replace("_", " ").encode(): v for k, v in fields.items()})


def test_a_compact_reply() -> None:
    port0 = bytes([127, 0, 0, 9, 0, 0])
    peers = port0 + bytes([127, 0, 0, 2, 0x1A, 0xE1]) + port0 + bytes([10, 0, 0, 1, 0, 80])
    six = bytes(15) + b"\x01" + b"\x00\x00"  # [::1] port 0: left out, counted with the rest
    body = reply(interval=1800, min_interval=60, complete=3, incomplete=4, peers=peers, peers6=six)
    assert read_http(body) == AnnounceReply(
        interval=1800,
        peers=(("127.0.0.2", 6881), ("10.0.0.1", 80)),
        min_interval=60,
        complete=3,
        incomplete=4,
        dropped=3,
    )


def test_dictionary_peers_and_ipv6_peers() -> None:
    v6 = bytes(15) + b"\x01" + b"\x00\x50" + bytes(16) + b"\x00\x00"  # [::1]:80, then port 0
    body = reply(
        interval=5,
        peers=[
            {b"ip": b"127.0.0.9", b"port": 51413, b"peer id": b"x" * 20},
            {b"ip": b"::1", b"port": 1},
            {b"ip": b"example.com", b"port": 1},  # a name: not an address we can use
            {b"ip": b"127.0.0.1", b"port": 0},
            {b"ip": b"127.0.0.1", b"port": 65536},
            {b"ip": b"127.0.0.1", b"port": b"1"},
            {b"ip": b"\xff", b"port": 1},
            {b"port": 1},
            b"127.0.0.1:1",
        ],
        peers6=v6,
        warning_message=b"slow down",
        tracker_id=b"abc",
    )
    got = read_http(body)
    assert got.peers == (("127.0.0.9", 51413), ("::1", 1), ("::1", 80))
    assert got.dropped == 8
    assert got.warning == "slow down"
    assert got.tracker_id == b"abc"
    assert got.min_interval is None and got.complete is None and got.incomplete is None


def test_a_reply_without_peers_has_none() -> None:
    assert read_http(reply(interval=0)) == AnnounceReply(interval=0, peers=())


def test_a_refusal() -> None:
    with pytest.raises(TrackerFailure, match=r"^Requested download is not authorized$"):
        read_http(reply(failure_reason=b"Requested download is not authorized", interval=5))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", r"^the reply is not bencoded \(BencodeDecodeError\)$"),
        (b"<html>", r"^the reply is not bencoded \(BencodeDecodeError\)$"),
        (b"d8:intervali5ee trailing", "^the reply is not bencoded"),
        (b"l" * 2000 + b"e" * 2000, "^the reply is not bencoded"),
        (b"li1ee", "^the reply is not a bencoded dictionary$"),
        (reply(peers=b""), "^the reply has no interval$"),
        (reply(interval=-1), "^interval is not a non-negative integer$"),
        (reply(interval=b"5"), "^interval is not a non-negative integer$"),
        (reply(interval=5, complete=-2), "^complete is not a non-negative integer$"),
        (reply(interval=5, min_interval=b"x"), "^min interval is not a non-negative integer$"),
        (reply(interval=5, peers=b"1234567"), "^peers is 7 bytes, not a multiple of 6$"),
        (reply(interval=5, peers=5), "^peers is neither a string nor a list$"),
        (reply(interval=5, peers6=b"x" * 17), "^peers6 is 17 bytes, not a multiple of 18$"),
        (reply(interval=5, peers6=[]), "^peers6 is not a string$"),
        (reply(interval=5, tracker_id=5), "^tracker id is not a string$"),
        (reply(interval=5, warning_message=[]), "^warning message is not a string$"),
        (reply(failure_reason=5), "^failure reason is not a string$"),
    ],
)
def test_replies_that_are_not_replies(body: bytes, message: str) -> None:
    with pytest.raises(TrackerError, match=message) as caught:
        read_http(body)
    assert type(caught.value) is TrackerError  # not a refusal: a broken reply
    assert caught.value.reason == str(caught.value)


def test_a_failure_reason_that_is_not_utf8_is_still_shown() -> None:
    with pytest.raises(TrackerFailure, match=r"^bad \ufffd$"):
        read_http(reply(failure_reason=b"bad \xff"))


@given(st.binary(max_size=300))
def test_any_body_is_a_reply_or_a_tracker_error(body: bytes) -> None:
    try:
        got = read_http(body)
    except TrackerError as e:
        assert e.reason
    else:
        assert got.interval >= 0


@given(
    st.dictionaries(
        st.sampled_from([b"interval", b"peers", b"peers6", b"min interval", b"tracker id"]),
        st.one_of(
            st.integers(-5, 5),
            st.binary(max_size=40),
            st.lists(
                st.dictionaries(
                    st.sampled_from([b"ip", b"port"]),
                    st.one_of(st.integers(-1, 70000), st.binary(max_size=10)),
                ),
                max_size=3,
            ),
        ),
    )
)
def test_any_reply_shaped_body_is_a_reply_or_a_tracker_error(fields: dict[bytes, object]) -> None:
    try:
        got = read_http(bencodepy.encode(fields))
    except TrackerError as e:
        assert e.reason
    else:
        assert all(0 < port < 65536 for _, port in got.peers)


# -- UDP -----------------------------------------------------------------------------------------


def test_udp_requests_byte_for_byte() -> None:
    assert udp_connect(0x01020304) == (
        b"\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00\x01\x02\x03\x04"
    )
    packet = udp_announce(0x1122334455667788, 9, request(event="stopped", key=5, numwant=-1))
    assert len(packet) == 98
    assert packet == struct.pack(
        ">QII20s20sQQQIIIiH", 0x1122334455667788, 1, 9, HASH, PEER_ID, 2, 3, 1, 3, 0, 5, -1, 6881
    )
    codes = [udp_announce(1, 1, request(event=e))[80:84] for e in ("", "completed", "started")]
    assert codes == [b"\x00\x00\x00\x00", b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]
    assert PROTOCOL_ID == 0x41727101980


def test_udp_connect_replies() -> None:
    ok = struct.pack(">IIQ", 0, 7, 0xDEADBEEFCAFEF00D)
    assert read_udp_connect(ok, 7) == 0xDEADBEEFCAFEF00D
    assert read_udp_connect(ok, 8) is None  # another request's
    with pytest.raises(TrackerFailure, match=r"^go away$"):
        read_udp_connect(struct.pack(">II", 3, 7) + b"go away", 7)
    with pytest.raises(TrackerFailure, match=r"^go \ufffd$"):
        read_udp_connect(struct.pack(">II", 3, 7) + b"go \xff", 7)
    assert read_udp_connect(struct.pack(">II", 0, 8), 7) is None  # 8 bytes, another's
    assert read_udp_connect(ok + b"\x01", 7) == 0xDEADBEEFCAFEF00D  # bytes after: not the id
    with pytest.raises(TrackerError, match="action 1, expected 0"):
        read_udp_connect(struct.pack(">IIQ", 1, 7, 0), 7)
    with pytest.raises(TrackerError, match="a UDP reply of 15 bytes, at least 16 expected"):
        read_udp_connect(ok[:15], 7)
    with pytest.raises(TrackerError, match=r"^a UDP reply of 7 bytes$"):
        read_udp_connect(ok[:7], 7)
    assert read_udp_connect(ok[:8] + bytes(8), 7) == 0


def test_udp_announce_replies() -> None:
    head = struct.pack(">IIIII", 1, 5, 900, 2, 1)
    peers = bytes([127, 0, 0, 3, 0x1A, 0xE2, 127, 0, 0, 4, 0, 0])
    got = read_udp_announce(head + peers, 5)
    assert got == AnnounceReply(
        interval=900, peers=(("127.0.0.3", 6882),), complete=1, incomplete=2, dropped=1
    )
    v6 = bytes(15) + b"\x01\x1a\xe1"
    assert read_udp_announce(head + v6, 5, ipv6=True) == AnnounceReply(
        interval=900, peers=(("::1", 6881),), complete=1, incomplete=2
    )
    assert read_udp_announce(head, 5) == AnnounceReply(
        interval=900, peers=(), complete=1, incomplete=2
    )
    assert read_udp_announce(head, 6) is None
    with pytest.raises(TrackerError, match="peers is 5 bytes, not a multiple of 6"):
        read_udp_announce(head + b"12345", 5)
    with pytest.raises(TrackerError, match="at least 20 expected"):
        read_udp_announce(head[:19], 5)
    with pytest.raises(TrackerError, match="action 0, expected 1"):
        read_udp_announce(struct.pack(">IIQ", 0, 5, 0) + bytes(4), 5)


@given(st.binary(max_size=60), st.booleans())
def test_any_datagram_is_a_reply_none_or_a_tracker_error(data: bytes, ipv6: bool) -> None:
    for tid in (0, 5):
        try:
            read_udp_announce(data, tid, ipv6=ipv6)
            read_udp_connect(data, tid)
        except TrackerError as e:
            assert e.reason


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("udp://tracker.example:6969/announce", ("tracker.example", 6969)),
        ("udp://127.0.0.5:1337", ("127.0.0.5", 1337)),
        ("udp://[::1]:80/x", ("::1", 80)),
    ],
)
def test_udp_addresses(url: str, address: tuple[str, int]) -> None:
    assert udp_address(url) == address


@pytest.mark.parametrize("url", ["http://t:80/announce", "udp://t/announce", "udp://:80"])
def test_not_udp_addresses(url: str) -> None:
    with pytest.raises(ValueError, match="not a udp://host:port tracker URL"):
        udp_address(url)


# -- tiers and timing ----------------------------------------------------------------------------


def test_tiers_are_tried_in_order_shuffled_within() -> None:
    tiers = Tiers([["a", "b", "c"], [], ["d"]], random.Random(1))
    order = tiers.order()
    assert sorted(order[:3]) == ["a", "b", "c"] and order[3:] == ["d"]
    assert {tuple(Tiers([["a", "b", "c"]], random.Random(s)).order()) for s in range(30)} == {
        ("a", "b", "c"),
        ("a", "c", "b"),
        ("b", "a", "c"),
        ("b", "c", "a"),
        ("c", "a", "b"),
        ("c", "b", "a"),
    }


def test_a_tracker_that_answered_moves_to_the_front_of_its_tier() -> None:
    tiers = Tiers([["a", "b", "c"], ["d", "e"]], random.Random(0))
    tiers.tiers = [["a", "b", "c"], ["d", "e"]]  # a known order
    tiers.answered("c")
    tiers.answered("e")
    tiers.answered("zzz")  # not ours: nothing moves
    assert tiers.order() == ["c", "a", "b", "e", "d"]


def test_without_a_floor_the_interval_is_the_trackers() -> None:
    assert Schedule(floor=0.0).replied(100.0, AnnounceReply(interval=0, peers=())) == 100.0


def test_the_schedule_follows_the_tracker_above_the_floor() -> None:
    s = Schedule(floor=5.0)
    assert s.replied(100.0, AnnounceReply(interval=1800, peers=())) == 1900.0
    assert s.replied(100.0, AnnounceReply(interval=60, peers=(), min_interval=120)) == 220.0
    assert s.replied(100.0, AnnounceReply(interval=0, peers=())) == 105.0
    assert s.replied(100.0, AnnounceReply(interval=5, peers=())) == 105.0
    assert s.replied(100.0, AnnounceReply(interval=6, peers=())) == 106.0


def test_failures_back_off_and_a_reply_starts_again() -> None:
    s = Schedule(retry_first=15.0, retry_max=100.0)
    assert [s.failed(0.0) for _ in range(5)] == [15.0, 30.0, 60.0, 100.0, 100.0]
    s.replied(0.0, AnnounceReply(interval=10, peers=()))
    assert s.failed(0.0) == 15.0
    d = Schedule()
    for _ in range(2000):  # a tracker down for weeks: the wait stays at the maximum
        wait = d.failed(0.0)
    assert wait == RETRY_MAX == 1800.0
